/**
 * Run under `prlimit --nofile=N` with a DNS server port and a listener port: resolves and dials a name
 * whose A answer has thousands of records (truncated over UDP, whole over TCP), then prints one JSON line:
 * how many addresses were kept, how many source-address probes failed (EMFILE shows up as `null`
 * sources), where the dial connected and how many addresses the DNS cache holds for the name.
 */
import { Dialer, getReport, isDialError } from '../../src/index.js';

const [dnsPort, listenPort, maxAddressesText] = process.argv.slice(2).map(Number);
if (dnsPort === undefined || listenPort === undefined) {
  // `node --test dist/test/` runs every file under test/ as a test: without arguments there is nothing to do.
  console.log('usage: big-answer-child DNS_PORT LISTEN_PORT [MAX_ADDRESSES] (run by test/bounds.test.ts)');
  process.exit(0);
}
const dialer = new Dialer({
  nameservers: [`127.0.0.1:${dnsPort}`],
  hostsPath: null,
  resolver: 'dns',
  timeout: 15_000,
  maxAddresses: Number.isFinite(maxAddressesText) ? maxAddressesText : undefined,
});
const out: Record<string, unknown> = {};
try {
  const resolved = await dialer.resolve('big.t.');
  out.resolved = resolved.addresses.length;
  out.nullSources = resolved.addresses.filter((a) => a.sourceAddress === null).length;
  out.first = resolved.addresses[0]?.address;
  const socket = await dialer.dial(`big.t.:${listenPort}`);
  out.dialed = socket.remoteAddress;
  out.order = getReport(socket)?.order.length;
  socket.destroy();
} catch (err) {
  out.error = isDialError(err) ? `${err.code} ${err.message}` : String(err);
}
const entry = dialer.memory?.dns.entries().find((e) => e.name === 'big.t' && e.type === 'A');
out.cached = entry?.records?.length;
console.log(JSON.stringify(out));
