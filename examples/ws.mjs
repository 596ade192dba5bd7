// ws: pass netdial's createConnection; wss:// gets TLS on the won connection (SNI = host name).
// Run: npm run build && node examples/ws.mjs
import { createConnection } from 'netdial';
import { WebSocket, WebSocketServer } from 'ws';
import { startHttpServer } from './support/servers.mjs';

const server = await startHttpServer();
const wss = new WebSocketServer({ server: server.server });
wss.on('connection', (socket) => socket.on('message', (m) => socket.send(`echo: ${m}`)));

const ws = new WebSocket(server.url.replace('http:', 'ws:'), { createConnection });
ws.on('open', () => ws.send('hello'));
ws.on('message', (message) => {
  console.log(String(message));
  ws.close();
});
ws.on('close', async () => {
  wss.close();
  await server.close();
});
