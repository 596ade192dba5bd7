/**
 * One worker thread of the fleet-memory thread test: a Dialer whose memory shares through a
 * BroadcastMemoryStore, driven by messages from the parent ('dial', 'close'); answers with the dial's
 * report. The name resolves (a resolver function, no DNS) to workerData.addresses in that order.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { BroadcastMemoryStore, Dialer, getReport, isDialError } from '../../src/index.js';

const { channel, port, addresses } = workerData as { channel: string; port: number; addresses: string[] };
const store = new BroadcastMemoryStore(channel);
const dialer = new Dialer({
  resolver: async (_name, family) => (family === 4 ? addresses : []),
  hostsPath: null,
  memory: { store, loadSharing: false, exploreProbability: 0 },
});

parentPort!.on('message', async (message: unknown) => {
  if (message === 'dial') {
    const started = performance.now();
    try {
      const socket = await dialer.dial(`svc.fleet.test:${port}`);
      const report = getReport(socket);
      socket.destroy();
      parentPort!.postMessage({ ok: true, ms: performance.now() - started, report });
    } catch (err) {
      parentPort!.postMessage({ ok: false, code: isDialError(err) ? err.code : String(err) });
    }
  } else if (message === 'close') {
    store.close();
    parentPort!.close();
  }
});
parentPort!.postMessage('ready');
