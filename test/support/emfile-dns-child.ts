/**
 * Run under `prlimit --nofile=64`: uses up the file descriptors, asks two DNS servers on loopback (each
 * socket fails with EMFILE), frees them and asks a real one. Prints one JSON line with what happened;
 * an uncaught exception exits with code 3.
 */
import dgram from 'node:dgram';
import { closeSync, openSync } from 'node:fs';
import dnsPacket from 'dns-packet';
import { queryAddresses } from '../../src/resolution/dns-client.js';

process.on('uncaughtException', (e) => {
  console.log(JSON.stringify({ uncaught: String(e) }));
  process.exit(3);
});

const server = dgram.createSocket('udp4');
await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
server.on('message', (raw, rinfo) => {
  const query = dnsPacket.decode(raw);
  const name = query.questions?.[0]?.name ?? '';
  const answer = dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: dnsPacket.RECURSION_AVAILABLE,
    questions: query.questions,
    answers: [{ type: 'A', name, ttl: 60, data: '192.0.2.1' }],
  });
  server.send(answer, rinfo.port, rinfo.address);
});
const at = `127.0.0.1:${server.address().port}`;

const fds: number[] = [];
for (let i = 0; i < 1000; i++) {
  try {
    fds.push(openSync('/dev/null', 'r'));
  } catch {
    break;
  }
}
let starved: { code: string; tries: string[] } = { code: 'none', tries: [] };
try {
  await queryAddresses('x.test', 'A', { servers: [at, '127.0.0.2:9'], timeoutMs: 2000 }).promise;
} catch (e) {
  const err = e as { code: string; tries?: Array<{ code: string }> };
  starved = { code: err.code, tries: (err.tries ?? []).map((t) => t.code) };
}
for (const fd of fds) closeSync(fd);
const answer = await queryAddresses('x.test', 'A', { servers: [at], timeoutMs: 2000 }).promise;
server.close();
console.log(JSON.stringify({ starved, recovered: answer.addresses[0]?.address === '192.0.2.1' }));
