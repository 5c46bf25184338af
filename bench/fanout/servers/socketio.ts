// Peer: Socket.IO room broadcast over the websocket transport only.
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
const http = createServer();
const io = new Server(http, { transports: ['websocket'], perMessageDeflate: false, serveClient: false });
io.on('connection', (socket) => {
  if (socket.handshake.query.role === 'source') socket.on('p', (d: string) => io.to('r').emit('m', d));
  else void socket.join('r');
});
http.listen(port, '127.0.0.1', () => console.log('ready'));
