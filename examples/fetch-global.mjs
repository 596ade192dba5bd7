// fetch, all of it: every connection of Node's global fetch is dialed by netdial.
// Run: npm run build && node examples/fetch-global.mjs
import { installGlobalDispatcher } from 'netdial/undici';
import { startHttpServer } from './support/servers.mjs';

const server = await startHttpServer();

const installed = installGlobalDispatcher(); // setGlobalDispatcher(new undici.Agent({ connect: netdial }))
const res = await fetch(`${server.url}/`);
console.log(res.status, await res.text());

await installed.restore(); // the previous global dispatcher, back
await server.close();
