/**
 * One process of the fleet DNS test over Redis (test/fleet-dns.test.ts): a Dialer resolving over DNS only
 * (a test server on loopback, never the host's resolver) with `memory: { store: RedisMemoryStore,
 * shareDns: true }`; dials `name` once, waits until what it learnt is published, and prints one JSON line:
 * the report's queries (type, source) and whether it connected. Exits 0 after printing.
 *
 * argv[2]: JSON of { redisPort, prefix, dnsPort, name, port }.
 */
import { Redis } from 'ioredis';
import { Dialer, getReport, isDialError } from '../../src/index.js';
import { RedisMemoryStore } from '../../src/redis.js';

const { redisPort, prefix, dnsPort, name, port } = JSON.parse(process.argv[2] ?? '{}') as {
  redisPort: number;
  prefix: string;
  dnsPort: number;
  name: string;
  port: number;
};
const redis = new Redis({ host: '127.0.0.1', port: redisPort });
redis.on('error', () => {});
// A service connects to its Redis before it serves (so the newcomer's load is answered within 50 ms).
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
const store = new RedisMemoryStore({ client: redis, prefix });
const dialer = new Dialer({
  resolver: 'dns',
  nameservers: [`127.0.0.1:${dnsPort}`],
  hostsPath: null,
  dnsTries: 1,
  dnsTimeoutMs: 1000,
  family: 4,
  memory: { store, shareDns: true },
});
let out: Record<string, unknown>;
try {
  const socket = await dialer.dial(`${name}:${port}`);
  const report = getReport(socket);
  socket.destroy();
  out = { ok: true, queries: report?.resolution.queries.map((q) => [q.type, q.source]) };
  // What this process learnt leaves within one 100 ms window.
  const fleet = dialer.memory?.fleet;
  const end = performance.now() + 5000;
  while ((fleet?.stats.published ?? 0) === 0 && performance.now() < end)
    await new Promise((r) => setTimeout(r, 20));
  out.published = fleet?.stats.published;
  out.adopted = fleet?.stats.adopted;
} catch (err) {
  out = { ok: false, code: isDialError(err) ? err.code : String(err) };
}
store.close();
await redis.quit().catch(() => redis.disconnect());
process.stdout.write(`${JSON.stringify(out)}\n`);
