// RFC 6455 §5.2, the base framing: the bits of a frame's first two bytes that the frames we make
// (serverFrame.ts, transport/node/clientFrame.ts) and read (transport/node/directFrames.ts) use.

/** First byte: the final fragment of a message. */
export const FIN = 0x80;
export const OPCODE_TEXT = 0x1;
export const OPCODE_BINARY = 0x2;
export const OPCODE_CLOSE = 0x8;
/** Second byte: the payload is masked (every client frame, no server frame; §5.3). */
export const MASKED = 0x80;
/** Payload lengths up to 125 fit in the second byte; 126 and 127 say that 2 or 8 bytes follow. */
export const MAX_SHORT_LENGTH = 125;
export const LENGTH_16 = 126;
export const LENGTH_64 = 127;
