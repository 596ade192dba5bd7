/**
 * One worker thread of the fleet DNS test: a Dialer resolving over DNS only (a test server on loopback,
 * never the host's resolver) whose memory shares through a BroadcastMemoryStore, with `shareDns` as
 * workerData says. Driven by messages from the parent ('dial', 'close'); answers with the dial's report.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BroadcastMemoryStore, Dialer, getReport, isDialError } from '../../src/index.js';

const { channel, dnsPort, name, port, shareDns } = workerData as {
  channel: string;
  dnsPort: number;
  name: string;
  port: number;
  shareDns: boolean;
};
const store = new BroadcastMemoryStore(channel);
const dialer = new Dialer({
  resolver: 'dns',
  nameservers: [`127.0.0.1:${dnsPort}`],
  hostsPath: null,
  dnsTries: 1,
  dnsTimeoutMs: 1000,
  family: 4,
  memory: { store, shareDns },
});

parentPort!.on('message', async (message: unknown) => {
  if (message === 'dial') {
    try {
      const socket = await dialer.dial(`${name}:${port}`);
      const report = getReport(socket);
      socket.destroy();
      parentPort!.postMessage({ ok: true, report });
    } catch (err) {
      parentPort!.postMessage({ ok: false, code: isDialError(err) ? err.code : String(err) });
    }
  } else if (message === 'close') {
    store.close();
    parentPort!.close();
  }
});
parentPort!.postMessage('ready');
