/**
 * Peer for the cluster benchmark: the minimal Socket.IO room broadcast of
 * `bench/fanout/servers/socketio.ts`, with the Redis adapter a user would add to run several
 * Socket.IO nodes (`@socket.io/redis-adapter`, classic pub/sub, node-redis clients).
 *
 *   node --import tsx bench/cluster/socketio-redis.ts PORT REDIS_URL KEY
 *
 * KEY is the adapter's channel prefix, unique per run so that concurrent runs share one Redis.
 */
import { createServer } from 'node:http';
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient } from 'redis';
import { Server } from 'socket.io';

const [portArg, url, key] = process.argv.slice(2);

// node-redis (v5+) gives up on a command after 5 s by default. When this node falls seconds
// behind, a PUBLISH the adapter never awaits then rejects, and Node would exit on the unhandled
// rejection: report them and keep serving, so that the run measures the overload.
let unhandled = 0;
process.on('unhandledRejection', (e) => {
  if (unhandled++ % 1000 === 0) console.error(`unhandled rejection #${unhandled}: ${String(e)}`);
});
const pub = createClient({ url: url! });
const sub = pub.duplicate();
pub.on('error', (e: Error) => console.error('redis pub:', e.message));
sub.on('error', (e: Error) => console.error('redis sub:', e.message));
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false, adapter: createAdapter(pub, sub, { key: key! }) });
io.on('connection', (socket) => {
  if (socket.handshake.query.role === 'source') socket.on('p', (d: string) => io.to('r').emit('m', d));
  else void socket.join('r');
});
http.listen(Number(portArg), '127.0.0.1', () => console.log('ready'));
