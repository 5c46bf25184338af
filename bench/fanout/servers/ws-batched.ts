// Peer: `ws` with frames built once and socket writes batched per tick: the messages of a tick
// are framed once into one buffer, and each receiver's socket gets one corked write per tick.
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

const port = Number(process.argv[2]);
const sockets = new Set<Socket>();
let pending: Buffer[] = [];
let scheduled = false;

function frame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x82, n]) : Buffer.from([0x82, 126, n >> 8, n & 0xff]);
  return Buffer.concat([head, payload]);
}

function flush(): void {
  scheduled = false;
  const batch = Buffer.concat(pending);
  pending = [];
  for (const s of sockets) {
    s.cork();
    s.write(batch);
    s.uncork();
  }
}

const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws: WebSocket, req) => {
  if (req.url?.startsWith('/source')) {
    ws.on('message', (data) => {
      pending.push(frame(data as Buffer));
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    });
  } else {
    const s = (ws as unknown as { _socket: Socket })._socket;
    sockets.add(s);
    ws.on('close', () => sockets.delete(s));
  }
});
wss.on('listening', () => console.log('ready'));
