/**
 * Run under `prlimit --nofile=64`: uses up the file descriptors, dials (must fail with EMFILE), frees
 * them, dials again (must connect). Prints one JSON line with what happened.
 */
import { closeSync, openSync } from 'node:fs';
import net from 'node:net';
import { Dialer, isDialError } from '../../src/index.js';

const server = net.createServer((s) => s.resume());
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as net.AddressInfo).port;
const dialer = new Dialer({ resolver: async (_n, f) => (f === 4 ? ['127.0.0.1'] : []), timeout: 5000 });

const fds: number[] = [];
for (let i = 0; i < 1000; i++) {
  try {
    fds.push(openSync('/dev/null', 'r'));
  } catch {
    break;
  }
}
let starved: { code: string; message: string } = { code: 'none', message: 'the dial connected' };
try {
  (await dialer.dial(`starved.test:${port}`)).destroy();
} catch (err) {
  starved = isDialError(err)
    ? { code: err.code, message: err.message }
    : { code: 'other', message: String(err) };
}
for (const fd of fds) closeSync(fd);
let recovered = false;
try {
  const s = await dialer.dial(`starved.test:${port}`);
  recovered = s.remoteAddress === '127.0.0.1';
  s.destroy();
} catch {
  recovered = false;
}
server.close();
console.log(JSON.stringify({ starved, recovered }));
