/**
 * A DNS server on 127.0.0.1 at a free high port, for the loopback demo and the CLI's tests: the lab's
 * LabDnsServer (UDP and TCP on one port), started on random ports until one is free on both.
 */
import { LabDnsServer } from '../../lab/dns-server.js';
import type { Zone } from '../../lab/zone.js';

/** Lowest and highest port tried (inclusive, exclusive). */
const PORT_RANGE = [20_000, 60_000] as const;

/**
 * Starts a LabDnsServer on 127.0.0.1 serving `zone` (apex `apex`) at a random free port; tries up to
 * `tries` ports (default 20), then rethrows the last EADDRINUSE. The caller must `close()` it.
 */
export async function startLoopbackDns(zone: Zone, apex: string, tries = 20): Promise<LabDnsServer> {
  let lastError: unknown;
  for (let i = 0; i < tries; i++) {
    const port = PORT_RANGE[0] + Math.floor(Math.random() * (PORT_RANGE[1] - PORT_RANGE[0]));
    const server = new LabDnsServer({ host: '127.0.0.1', port, zone, apex, soaMinimumSeconds: 5 });
    try {
      await server.start();
      return server;
    } catch (error) {
      lastError = error;
      await server.close().catch(() => {});
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    }
  }
  throw lastError;
}
