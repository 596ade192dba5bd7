// node:https with netdial's HttpsAgent: TLS is Node's own (certificate checks, SNI, session cache), on
// the TCP connection netdial won. The second connection resumes the first one's TLS session.
// Run: npm run build && node examples/https-agent.mjs
import https from 'node:https';
import { HttpsAgent } from 'netdial';
import { startHttpsServer } from './support/servers.mjs';

const server = await startHttpsServer();
const agent = new HttpsAgent({ ca: server.ca, keepAlive: false });

for (let i = 0; i < 2; i++) {
  await new Promise((resolve, reject) => {
    https
      .get(`${server.url}/`, { agent }, (res) => {
        res.setEncoding('utf8');
        res.on('data', (text) => process.stdout.write(text));
        res.on('end', resolve);
      })
      .on('error', reject);
  });
}

agent.destroy();
await server.close();
