// got: netdial's agents (full race), or only netdial's resolution with `dnsLookup: lookup`.
// Run: npm run build && node examples/got.mjs
import got from 'got';
import { Agent, HttpsAgent, lookup } from 'netdial';
import { startHttpServer } from './support/servers.mjs';

const server = await startHttpServer();
const agent = { http: new Agent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };

console.log('agent: ', (await got(`${server.url}/`, { agent }).text()).trim());
console.log('lookup:', (await got(`${server.url}/`, { dnsLookup: lookup }).text()).trim());

agent.http.destroy();
agent.https.destroy();
await server.close();
