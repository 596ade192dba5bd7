/**
 * The demo's "naive" client: what many programs do to connect by name — ask for A and AAAA, wait for
 * both answers, put IPv6 first (as getaddrinfo's RFC 6724 sort does when the host has IPv6), connect to
 * the FIRST address only, give up after a cap. A thin shell over node:dns (c-ares, pointed at the demo's
 * DNS server) and node:net.
 */
import * as dns from 'node:dns';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { type OutcomeKind, outcomeKind } from './format.js';
import { roundMs } from '../report.js';

/** One family's query as the naive client saw it. Times are ms since its start. */
export interface NaiveQuery {
  type: 'A' | 'AAAA';
  startMs: number;
  /** undefined: no answer before the cap. */
  endMs: number | undefined;
  addresses: string[];
  code: string | undefined;
}

/** How the naive connect went. */
export interface NaiveResult {
  queries: NaiveQuery[];
  /** The one connection attempt, if resolution produced an address before the cap. */
  attempt:
    | { address: string; startMs: number; endMs: number; outcome: OutcomeKind; code: string | undefined }
    | undefined;
  ok: boolean;
  durationMs: number;
  /** One phrase: "connected to 127.0.0.1", "timed out connecting to 198.51.100.1", "no answer for AAAA within 3 s". */
  summary: string;
}

/** Options of naiveConnect. */
export interface NaiveOptions {
  /** DNS servers for c-ares ("127.0.0.1", "127.0.0.1:5353"). */
  servers: readonly string[];
  /** Give up this many ms after the start (whole connect: DNS and the attempt). */
  capMs: number;
  signal?: AbortSignal | undefined;
}

/** Connects to `host`:`port` the naive way; never rejects (failures are results). */
export async function naiveConnect(host: string, port: number, options: NaiveOptions): Promise<NaiveResult> {
  const t0 = performance.now();
  const rel = () => roundMs(performance.now() - t0);
  const resolver = new dns.promises.Resolver();
  resolver.setServers([...options.servers]);
  const queries: NaiveQuery[] = [
    { type: 'AAAA', startMs: 0, endMs: undefined, addresses: [], code: undefined },
    { type: 'A', startMs: 0, endMs: undefined, addresses: [], code: undefined },
  ];
  let givenUp = false;
  const ask = async (q: NaiveQuery) => {
    try {
      const addresses = q.type === 'A' ? await resolver.resolve4(host) : await resolver.resolve6(host);
      if (!givenUp) q.addresses = addresses;
    } catch (error) {
      if (!givenUp) q.code = (error as NodeJS.ErrnoException).code ?? 'EFAIL';
    }
    if (!givenUp) q.endMs = rel();
  };
  let timer: NodeJS.Timeout | undefined;
  const capped = new Promise<'cap'>((resolve) => {
    timer = setTimeout(() => resolve('cap'), options.capMs);
  });
  const aborted = new Promise<'cap'>((resolve) => {
    if (options.signal?.aborted) resolve('cap');
    options.signal?.addEventListener('abort', () => resolve('cap'), { once: true });
  });
  try {
    // getaddrinfo waits for both answers before it returns anything.
    const answered = await Promise.race([
      Promise.all(queries.map(ask)).then(() => 'both' as const),
      capped,
      aborted,
    ]);
    if (answered !== 'both') {
      givenUp = true;
      resolver.cancel();
      const missing = queries.filter((q) => q.endMs === undefined).map((q) => q.type);
      return done(
        queries,
        undefined,
        false,
        rel(),
        `no answer for ${missing.join(' and ')} within ${options.capMs / 1000} s`,
      );
    }
    const first = [...queries[0]!.addresses, ...queries[1]!.addresses][0];
    if (first === undefined) {
      return done(
        queries,
        undefined,
        false,
        rel(),
        `no address (${queries.map((q) => `${q.type} ${q.code ?? 'empty'}`).join(', ')})`,
      );
    }
    const startMs = rel();
    const outcome = await connectOnce(first, port, Math.max(0, options.capMs - startMs), options.signal);
    const attempt = { address: first, startMs, endMs: rel(), ...outcome };
    const ok = outcome.outcome === 'connected';
    const summary = ok
      ? `connected to ${first}`
      : outcome.outcome === 'timed out'
        ? `gave up after ${options.capMs / 1000} s connecting to ${first}`
        : `${outcome.outcome} by ${first}`;
    return done(queries, attempt, ok, attempt.endMs, summary);
  } finally {
    clearTimeout(timer);
  }
}

function done(
  queries: NaiveQuery[],
  attempt: NaiveResult['attempt'],
  ok: boolean,
  durationMs: number,
  summary: string,
): NaiveResult {
  return { queries, attempt, ok, durationMs, summary };
}

/** One TCP connect with a bound; the socket is always destroyed. */
function connectOnce(
  address: string,
  port: number,
  boundMs: number,
  signal: AbortSignal | undefined,
): Promise<{ outcome: OutcomeKind; code: string | undefined }> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: address, port });
    const finish = (outcome: OutcomeKind, code: string | undefined) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ outcome, code });
    };
    const onAbort = () => finish('aborted', 'ABORT_ERR');
    const timer = setTimeout(() => finish('timed out', 'ETIMEDOUT'), boundMs);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish('connected', undefined));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      finish(outcomeKind('failed', error.code), error.code),
    );
  });
}
