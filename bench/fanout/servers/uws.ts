// Peer: uWebSockets.js pub/sub. `plain`: one app.publish per message. `batched`: the messages of
// a tick are concatenated and published as one WebSocket message (receivers count 100-byte units).
import uWS from '@trufflesuite/uws-js-unofficial';

const port = Number(process.argv[2]);
const batched = process.argv[3] === 'batched';
const app = uWS.App();
let pending: Buffer[] = [];
let scheduled = false;

app
  .ws<{ role: string }>('/*', {
    compression: uWS.DISABLED,
    maxPayloadLength: 16 * 1024 * 1024,
    maxBackpressure: 256 * 1024 * 1024,
    idleTimeout: 0,
    upgrade: (res, req, context) => {
      res.upgrade(
        { role: req.getUrl().startsWith('/source') ? 'source' : 'receiver' },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open: (ws) => {
      if (ws.getUserData().role === 'receiver') ws.subscribe('t');
    },
    message: (_ws, msg) => {
      if (!batched) {
        app.publish('t', msg, true);
        return;
      }
      pending.push(Buffer.from(new Uint8Array(msg))); // the ArrayBuffer is only valid in this call
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          const all = Buffer.concat(pending);
          pending = [];
          app.publish('t', all, true);
        });
      }
    },
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      console.error('listen failed');
      process.exit(1);
    }
    console.log('ready');
  });
