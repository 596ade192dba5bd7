// node:http with netdial's Agent: keep-alive, pooling and maxSockets are Node's; connecting is netdial's.
// Run: npm run build && node examples/http-agent.mjs
import http from 'node:http';
import { Agent, getReport } from 'netdial';
import { startHttpServer } from './support/servers.mjs';

const server = await startHttpServer();
const agent = new Agent({ keepAlive: true, maxSocketAge: 'ttl' });

for (const path of ['/one', '/two']) {
  await new Promise((resolve, reject) => {
    const req = http.get(`${server.url}${path}`, { agent }, (res) => {
      const report = getReport(res.socket);
      console.log(path, res.statusCode, 'reused socket:', req.reusedSocket);
      console.log('  attempts:', report.attempts.map((a) => `${a.address} ${a.outcome}`).join(', '));
      res.resume().on('end', resolve);
    });
    req.on('error', reject);
  });
}

agent.destroy();
await server.close();
