// For clients that only take a lookup function: netdial's resolution and order behind `lookup`
// (Node still connects, with its own autoSelectFamily racing). Node never calls lookup for an IP
// literal, so an address policy given this way covers names only: for a policy, use the agents.
// Run: npm run build && node examples/lookup.mjs
import http from 'node:http';
import { lookup } from 'netdial';
import { startHttpServer } from './support/servers.mjs';

const server = await startHttpServer();

lookup('localhost', { all: true }, (err, addresses) => console.log('lookup localhost:', err ?? addresses));

await new Promise((resolve, reject) => {
  http
    .get(`${server.url}/`, { lookup }, (res) => {
      res.setEncoding('utf8');
      res.on('data', (text) => process.stdout.write(text));
      res.on('end', resolve);
    })
    .on('error', reject);
});

await server.close();
