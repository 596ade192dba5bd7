// fetch, one request at a time: pass a netdial-backed undici Agent as `dispatcher`.
// Also shows TLS (undici's own TLS on the socket netdial won) and connectTimeout (one deadline for
// DNS, the race and the handshake).
// Run: npm run build && node examples/fetch-dispatcher.mjs
import { createDispatcher } from 'netdial/undici';
import { startHttpsServer } from './support/servers.mjs';

const server = await startHttpsServer();

const dispatcher = createDispatcher({ connectTimeout: 5000, tls: { ca: server.ca } });
const res = await fetch(`${server.url}/`, { dispatcher });
console.log(res.status, await res.text());

await dispatcher.close();
await server.close();
