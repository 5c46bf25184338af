// Peer: `ws`, broadcasting naively — one ws.send per message per receiver.
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

const port = Number(process.argv[2]);
const receivers = new Set<WebSocket>();
const wss = new WebSocketServer({ host: '127.0.0.1', port, perMessageDeflate: false, clientTracking: false });
wss.on('connection', (ws, req) => {
  if (req.url?.startsWith('/source')) {
    ws.on('message', (data, isBinary) => {
      for (const r of receivers) r.send(data as Buffer, { binary: isBinary });
    });
  } else {
    receivers.add(ws);
    ws.on('close', () => receivers.delete(ws));
  }
});
wss.on('listening', () => console.log('ready'));
