// The receiving side of the throughput and round-trip cases: a raw `ws` server on 127.0.0.1,
// the same for every client, so that only the client differs between rows.
//
//   mode 'count': counts the messages and bytes it receives. The parent arms it with
//                 { type: 'arm', n } before each run; once the count reaches n it reports
//                 { type: 'reached', messages, bytes, text } (and the parent tells the sender).
//   mode 'echo':  sends each message back as it came (binary as binary, text as text).
import { WebSocketServer } from 'ws';
import { args, reportCrashes, tell } from '../memory/common.mjs';

const { mode = 'count' } = args();
reportCrashes();

let target = Infinity;
let messages = 0;
let bytes = 0;
let text = 0;

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  perMessageDeflate: false,
  maxPayload: 256 * 1024 * 1024,
});
server.on('listening', () => void tell({ type: 'listening', port: server.address().port }));
server.on('connection', (ws) => {
  ws._socket.setNoDelay(true);
  if (mode === 'echo') {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    return;
  }
  ws.on('message', (data, isBinary) => {
    messages++;
    bytes += data.length;
    if (!isBinary) text++;
    if (messages === target) {
      target = Infinity;
      void tell({ type: 'reached', messages, bytes, text });
    }
  });
});

process.on('message', (message) => {
  if (message.type === 'arm') {
    messages = 0;
    bytes = 0;
    text = 0;
    target = message.n;
    void tell({ type: 'armed' });
  } else if (message.type === 'exit') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
