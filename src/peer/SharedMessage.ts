import { utf8Length } from '../internal/bytes.js';
import { serverFrame, serverTextFrames } from './serverFrame.js';
import type { SharedFrame } from './Transport.js';

/**
 * @internal One message on its way to many peers (`broadcast()`), already checked: its payload,
 * and its frames, each made the first time a transport takes it as it is. A string or bytes go as
 * each peer's write mode says, so a message may need a text frame and a binary frame (the same
 * payload, one opcode apart); a `Packet` goes as its own kind to every peer.
 */
export class SharedMessage {
  private length: number | undefined;
  private text: Frame | undefined;
  private binary: Frame | undefined;

  /**
   * @param payload what `Transport.send()` takes: a string, or bytes (the caller's: a frame copies them).
   * @param isString a `Packet`'s kind; `undefined` for a string or bytes, which go by each peer's write mode.
   */
  constructor(
    readonly payload: string | Uint8Array,
    readonly isString: boolean | undefined,
  ) {}

  /** The payload's size in bytes: a string's UTF-8 length, counted once. */
  get payloadLength(): number {
    return (this.length ??= typeof this.payload === 'string' ? utf8Length(this.payload) : this.payload.byteLength);
  }

  /** The message as a text (`asText`) or binary frame, for `Transport.sendFrame()`. */
  frame(asText: boolean): SharedFrame {
    return asText ? (this.text ??= new Frame(this, true)) : (this.binary ??= new Frame(this, false));
  }
}

class Frame implements SharedFrame {
  private made: Uint8Array | undefined;

  constructor(
    private readonly message: SharedMessage,
    private readonly asText: boolean,
  ) {}

  get payloadLength(): number {
    return this.message.payloadLength;
  }

  bytes(): Uint8Array {
    return (this.made ??= serverFrame(this.message.payload, this.asText, this.message.payloadLength));
  }
}

/**
 * @internal Several text messages on their way, in order, to the same peers: framed once, one
 * after the other, so that a server's peer gets them in one write (see `broadcastTexts()`).
 */
export class SharedTexts implements SharedFrame {
  readonly payloadLength: number;
  private readonly lengths: number[];
  private made: Uint8Array | undefined;

  constructor(readonly texts: readonly string[]) {
    this.lengths = texts.map(utf8Length);
    let total = 0;
    for (const length of this.lengths) total += length;
    this.payloadLength = total;
  }

  bytes(): Uint8Array {
    return (this.made ??= serverTextFrames(this.texts, this.lengths));
  }
}
