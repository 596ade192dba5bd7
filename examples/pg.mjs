// pg: its `stream` option takes a function that returns the socket; netdial's DialSocket is a socket
// that pg connects itself (stream.connect(port, host)) — by name, through netdial. SSL works on top.
// Run: npm run build && node examples/pg.mjs   (a tiny fake server stands in for PostgreSQL here)
import { DialSocket } from 'netdial';
import pg from 'pg';
import { startFakePostgres } from './support/servers.mjs';

const server = await startFakePostgres();

const client = new pg.Client({
  host: 'localhost',
  port: server.port,
  user: 'demo',
  stream: () => new DialSocket(),
});
await client.connect();
const { rows } = await client.query('SELECT 1');
console.log(rows);
await client.end();
await server.close();
