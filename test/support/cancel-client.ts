/**
 * The client side of the cancellation matrix (test/lab-cancellation.test.ts), run as a child process in
 * the lab: `node cancel-client.js <client> <cases JSON>`. For each case it starts one request with the
 * named client, cancels it the way the case says, and prints one JSON line: how long until the request
 * closed / the promise rejected, the error's name and code (and its cause's code), and which of the
 * process's active resources (sockets, timers, DNS requests) had not gone 1 s later. Then it prints
 * `{"done":true}` and returns without calling process.exit: the parent times how long the process takes
 * to exit by itself, which is what a leftover dial would prolong.
 */
import http from 'node:http';
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { Dialer } from '../../src/index.js';
import { Agent, HttpsAgent } from '../../src/integrations/agent.js';
import { createDispatcher, installGlobalDispatcher } from '../../src/undici.js';

export type ClientName = 'node-agent' | 'agent' | 'fetch' | 'undici' | 'got' | 'axios' | 'node-fetch';
/**
 * destroy: the client's own way to drop a request (req.destroy(), got's cancel(), an AbortController for
 * the rest). socket-timeout: a client timeout whose timer starts when the request gets its socket —
 * axios's `timeout` with redirects on (its default: follow-redirects' timer), got's `timeout.connect`.
 */
export type CancelHow = 'destroy' | 'signal' | 'timeout' | 'socket-timeout';

export interface CancelCase {
  id: string;
  url: string;
  how: CancelHow;
  /** When to cancel (destroy, signal) or the client's timeout option (timeout), ms. */
  afterMs: number;
}

export interface CancelOutcome {
  id: string;
  /** ms from the request's start to its 'close' (node:http) or the promise's rejection. */
  ms: number;
  /** ms from then until the client's agent or dispatcher was closed (undici's close() waits for its connects). */
  cleanupMs: number;
  /** 'resolved' when the request did not fail (a bug in the matrix's setting). */
  name: string;
  code: string | undefined;
  causeCode: string | undefined;
  message: string;
  /** Active resources above the case's baseline 1 s after it settled: what would keep the process alive. */
  leftover: string[];
}

const dialer = new Dialer({ resolver: 'dns', memory: false });
/** When the running case's request settled (performance.now()). */
let settledAt = 0;
function settled(): void {
  settledAt = performance.now();
}
const dial = { dialer };

function errorFields(err: unknown): Pick<CancelOutcome, 'name' | 'code' | 'causeCode' | 'message'> {
  const e = err as { name?: unknown; code?: unknown; message?: unknown; cause?: { code?: unknown } };
  return {
    name: String(e?.name),
    code: e?.code === undefined ? undefined : String(e.code),
    causeCode: e?.cause?.code === undefined ? undefined : String(e.cause.code),
    message: String(e?.message),
  };
}

function resources(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

async function leftoverSince(baseline: Map<string, number>): Promise<string[]> {
  let grown: string[] = [];
  for (let i = 0; i < 20; i++) {
    await sleep(50);
    grown = [...resources()]
      .filter(([k, n]) => n > (baseline.get(k) ?? 0))
      .map(([k, n]) => `${k} ${baseline.get(k) ?? 0}→${n}`);
    if (grown.length === 0) break;
  }
  return grown;
}

/** A timer that runs `fn` after `ms` and is cleared once the case settles. */
function after(ms: number, fn: () => void): () => void {
  const t = setTimeout(fn, ms);
  return () => clearTimeout(t);
}

/** One request through node:http(s) with `agent`; resolves at the request's 'close'. */
function viaHttp(c: CancelCase, agent: http.Agent): Promise<unknown> {
  return new Promise((resolve) => {
    const mod = c.url.startsWith('https:') ? https : http;
    const controller = new AbortController();
    const options: https.RequestOptions = { agent, rejectUnauthorized: false };
    if (c.how === 'signal') options.signal = controller.signal;
    if (c.how === 'timeout') options.timeout = c.afterMs;
    let error: unknown = { name: 'resolved' };
    const req = mod.get(c.url, options, (res) => res.resume());
    req.on('error', (err) => {
      error = err;
    });
    const cancel =
      c.how === 'destroy'
        ? after(c.afterMs, () => req.destroy())
        : c.how === 'signal'
          ? after(c.afterMs, () => controller.abort())
          : () => {};
    req.on('close', () => {
      settled();
      cancel();
      resolve(error);
    });
  });
}

async function runCase(client: ClientName, c: CancelCase): Promise<unknown> {
  const https = c.url.startsWith('https:');
  if (client === 'node-agent') {
    const agent = https ? new (await import('node:https')).Agent() : new http.Agent();
    try {
      return await viaHttp(c, agent);
    } finally {
      agent.destroy();
    }
  }
  const agent = https ? new HttpsAgent({ dial }) : new Agent({ dial });
  const controller = new AbortController();
  const cancel =
    c.how === 'timeout' || c.how === 'socket-timeout' ? () => {} : after(c.afterMs, () => controller.abort());
  try {
    switch (client) {
      case 'agent':
        return await viaHttp(c, agent);
      case 'fetch': {
        const installed = installGlobalDispatcher({
          dialer,
          tls: { rejectUnauthorized: false },
          connectTimeout: c.how === 'timeout' ? c.afterMs : undefined,
        });
        try {
          await fetch(c.url, { signal: controller.signal });
          return { name: 'resolved' };
        } catch (err) {
          settled();
          return err;
        } finally {
          await installed.restore();
        }
      }
      case 'undici': {
        const undici = await import('undici');
        const dispatcher = createDispatcher({
          dialer,
          tls: { rejectUnauthorized: false },
          connectTimeout: c.how === 'timeout' ? c.afterMs : undefined,
        });
        try {
          const res = await undici.request(c.url, { dispatcher, signal: controller.signal });
          await res.body.dump();
          return { name: 'resolved' };
        } catch (err) {
          settled();
          return err;
        } finally {
          await dispatcher.close();
        }
      }
      case 'got': {
        const { got } = await import('got');
        const p = got(c.url, {
          agent: https ? { https: agent as https.Agent } : { http: agent },
          https: { rejectUnauthorized: false },
          retry: { limit: 0 },
          ...(c.how === 'timeout' ? { timeout: { request: c.afterMs } } : {}),
          ...(c.how === 'socket-timeout' ? { timeout: { connect: c.afterMs } } : {}),
          ...(c.how === 'signal' ? { signal: controller.signal } : {}),
        });
        const stop = c.how === 'destroy' ? after(c.afterMs, () => p.cancel()) : () => {};
        try {
          await p;
          return { name: 'resolved' };
        } catch (err) {
          settled();
          return err;
        } finally {
          stop();
        }
      }
      case 'axios': {
        const { default: axios } = await import('axios');
        try {
          await axios.get(c.url, {
            httpAgent: agent,
            httpsAgent: agent,
            // axios's timeout covers the connect through its own timer with maxRedirects: 0; with
            // redirects (follow-redirects) it starts when the request gets its socket (at once: the
            // agent's connecting socket). 'socket-timeout' is that second form, redirects on.
            ...(c.how === 'timeout'
              ? { timeout: c.afterMs, maxRedirects: 0 }
              : c.how === 'socket-timeout'
                ? { timeout: c.afterMs }
                : { signal: controller.signal }),
          });
          return { name: 'resolved' };
        } catch (err) {
          settled();
          return err;
        }
      }
      case 'node-fetch': {
        const { default: nodeFetch } = await import('node-fetch');
        try {
          await nodeFetch(c.url, {
            agent,
            signal: c.how === 'timeout' ? AbortSignal.timeout(c.afterMs) : controller.signal,
          });
          return { name: 'resolved' };
        } catch (err) {
          settled();
          return err;
        }
      }
    }
  } finally {
    cancel();
    agent.destroy();
  }
}

async function main(): Promise<void> {
  const [client, casesJson] = process.argv.slice(2) as [ClientName, string];
  const cases = JSON.parse(casesJson) as CancelCase[];
  // Load the client's modules before the first baseline: their own timers or handles are not a dial's.
  if (client === 'got') await import('got');
  if (client === 'undici') await import('undici');
  if (client === 'axios') await import('axios');
  if (client === 'node-fetch') await import('node-fetch');
  for (const c of cases) {
    const baseline = resources();
    const t0 = performance.now();
    settledAt = Number.NaN;
    const err = await runCase(client, c);
    const ms = settledAt - t0;
    const cleanupMs = performance.now() - settledAt;
    const outcome: CancelOutcome = {
      id: c.id,
      ms,
      cleanupMs,
      ...errorFields(err),
      leftover: await leftoverSince(baseline),
    };
    process.stdout.write(`${JSON.stringify(outcome)}\n`);
  }
  process.stdout.write(`${JSON.stringify({ done: true })}\n`);
}

// `node --test dist/test/` runs every file under test/, this one too, without arguments: nothing to do.
if (process.argv.length >= 4) await main();
