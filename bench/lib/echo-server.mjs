// The echo server behind every tunnel, in a process of its own:
//   node echo-server.mjs PORT
// Echoes every byte back on the same connection; ends its side when the client does.
import net from 'node:net';

const port = Number(process.argv[2]);
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (chunk) => {
    if (!socket.write(chunk)) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  });
  socket.on('error', () => undefined);
});
server.maxConnections = 20_000;
server.listen({ host: '127.0.0.1', port, backlog: 4096 }, () => {
  process.stdout.write(`listening ${port}\n`);
});
process.on('SIGTERM', () => process.exit(0));
