// node-fetch: its `agent` option takes an agent, or a function choosing one per URL.
// Run: npm run build && node examples/node-fetch.mjs
import { Agent, HttpsAgent } from 'netdial';
import fetch from 'node-fetch';
import { startHttpServer } from './support/servers.mjs';

const server = await startHttpServer();
const httpAgent = new Agent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });
const agent = (url) => (url.protocol === 'http:' ? httpAgent : httpsAgent);

const res = await fetch(`${server.url}/`, { agent });
console.log(res.status, await res.text());

httpAgent.destroy();
httpsAgent.destroy();
await server.close();
