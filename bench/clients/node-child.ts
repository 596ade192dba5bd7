/**
 * Client process for Node's own connectors: `net.connect` with its defaults (autoSelectFamily on, 250 ms),
 * `net.connect` with `autoSelectFamily: false`, and the global `fetch` (bundled undici) to the lab's HTTP
 * listener (with the job's CA: `tls.connect` and https instead). `process.argv[2]` is 'net-default' | 'net-no-asf' | 'fetch'; the job is the last argument.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import type { RunResult } from '../types.js';
import { type ChildJob, dialUntilMoved, errorCode, finish, readJob, waitForGo } from './protocol.js';

type Api = 'net-default' | 'net-no-asf' | 'fetch';

/**
 * One connect. With a CA (`ca`): `tls.connect` (same family options; SNI and certificate check against the
 * name) until 'secureConnect', and fetch over https (the parent trusts the CA with NODE_EXTRA_CA_CERTS).
 */
function connectOnce(
  api: Api,
  host: string,
  port: number,
  capMs: number,
  ca: string | undefined = undefined,
): Promise<RunResult> {
  if (api === 'fetch') return fetchOnce(host, port, capMs, false, ca !== undefined);
  return new Promise<RunResult>((resolve) => {
    const started = performance.now();
    const family = api === 'net-no-asf' ? { autoSelectFamily: false } : {};
    const socket =
      ca === undefined
        ? net.connect({ host, port, ...family })
        : tls.connect({ host, port, ...family, ca, servername: host });
    const done = (result: RunResult): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        done({ ok: false, ms: performance.now() - started, error: 'no connection by the cap', capped: true }),
      capMs,
    );
    socket.once(ca === undefined ? 'connect' : 'secureConnect', () =>
      done({ ok: true, ms: performance.now() - started, address: socket.remoteAddress }),
    );
    socket.once('error', (error) =>
      done({ ok: false, ms: performance.now() - started, error: errorCode(error) }),
    );
  });
}

/** Time to the response headers; the lab's listener answers with its own address as the body. */
async function fetchOnce(
  host: string,
  port: number,
  capMs: number,
  closeAfter: boolean,
  https = false,
): Promise<RunResult> {
  const started = performance.now();
  try {
    const response = await fetch(`${https ? 'https' : 'http'}://${host}:${port}/`, {
      signal: AbortSignal.timeout(capMs),
      headers: closeAfter ? { connection: 'close' } : {},
    });
    const ms = performance.now() - started;
    const body = (await response.text()).trim();
    return { ok: response.ok, ms, address: body, error: response.ok ? undefined : `HTTP ${response.status}` };
  } catch (error) {
    const ms = performance.now() - started;
    const timedOut = (error as Error).name === 'TimeoutError';
    return { ok: false, ms, error: timedOut ? 'no response by the cap' : errorCode(error), capped: timedOut };
  }
}

async function batch(api: Api, names: readonly string[], port: number, capMs: number): Promise<RunResult> {
  const started = performance.now();
  const results = await Promise.all(names.map((name) => connectOnce(api, name, port, capMs)));
  const connected = results.filter((r) => r.ok).length;
  return {
    ok: connected === names.length,
    ms: performance.now() - started,
    address: results.find((r) => r.ok)?.address,
    error: results.find((r) => !r.ok)?.error,
    capped: results.some((r) => r.capped === true),
    connected,
    total: names.length,
  };
}

async function main(api: Api, job: ChildJob): Promise<never> {
  // Node 20 loads undici on the first fetch call: load it before timing (a data: URL needs no network).
  if (api === 'fetch') await (await fetch('data:,warm-up')).text();
  const name = job.names[0]!;
  const ca = job.caFile === undefined ? undefined : readFileSync(job.caFile, 'utf8');
  switch (job.mode) {
    case 'single':
      return finish({ first: await connectOnce(api, name, job.port, job.capMs, ca) });
    case 'dns-stop': {
      // fetch: close the first connection so the next request needs a new connection (and a lookup).
      const first =
        api === 'fetch'
          ? await fetchOnce(name, job.port, job.capMs, true)
          : await connectOnce(api, name, job.port, job.capMs);
      await waitForGo();
      return finish({ first, second: await connectOnce(api, name, job.port, job.capMs) });
    }
    case 'renumber': {
      // fetch: every request on a new connection (and a lookup), as a moved service needs.
      const once = (): Promise<RunResult> =>
        api === 'fetch'
          ? fetchOnce(name, job.port, job.capMs, true)
          : connectOnce(api, name, job.port, job.capMs);
      const first = await once();
      await waitForGo();
      return finish({ first, second: await dialUntilMoved(once, job) });
    }
    case 'concurrent':
      return finish({ first: await batch(api, job.names, job.port, job.capMs) });
  }
}

const api = process.argv[2] as Api;
if (api !== 'net-default' && api !== 'net-no-asf' && api !== 'fetch') throw new Error(`unknown api ${api}`);
await main(api, readJob(process.argv));
