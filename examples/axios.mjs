// axios: netdial's agents as httpAgent / httpsAgent (full race), or `lookup` alone.
// Run: npm run build && node examples/axios.mjs
import axios from 'axios';
import { Agent, HttpsAgent, lookup } from 'netdial';
import { startHttpServer } from './support/servers.mjs';

const server = await startHttpServer();
const client = axios.create({
  httpAgent: new Agent({ keepAlive: true }),
  httpsAgent: new HttpsAgent({ keepAlive: true }),
});

console.log('agent: ', (await client.get(`${server.url}/`)).data.trim());
console.log('lookup:', (await axios.get(`${server.url}/`, { lookup })).data.trim());

client.defaults.httpAgent.destroy();
client.defaults.httpsAgent.destroy();
await server.close();
