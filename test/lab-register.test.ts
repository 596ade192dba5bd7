/**
 * `netdial/register` in the network lab: an unmodified application — a file that only calls `fetch` and
 * `http.get` — run as a child process with `--import netdial/register` (or `NODE_OPTIONS`, or
 * `--require` for CommonJS), inheriting the lab's namespaces and resolv.conf. Its second connection to a
 * name whose first address is dead skips that address (memory shared by fetch and http.get), NETDIAL_TRACE
 * lines appear (for global WebSocket too), NETDIAL_POLICY=public refuses a loopback listener, NETDIAL_MEMORY_FILE makes a second run
 * start warm (and survives SIGTERM; a corrupt file is left alone), and a bad NETDIAL_POLICY stops the app at start.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { WebSocketServer } from 'ws';
import { DEFAULT_ZONE, enterLab, LAB, withLab } from '../lab/index.js';
import type { MemoryJson } from '../src/memory/dial-memory.js';

/** The package root: `netdial/register` resolves from here (the package's self-reference). */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The application, unmodified: fetch, then http.get, of the URL it is given; it prints what it got. */
const APP_ESM = `import http from 'node:http';
const url = process.argv[2];
try {
  const res = await fetch(url);
  console.log('fetch', res.status, (await res.text()).trim());
} catch (err) {
  console.log('fetch error', err.cause?.code ?? err.code);
}
await new Promise((resolve) => {
  http
    .get(url, (res) => {
      let body = '';
      res.on('data', (chunk) => (body += chunk));
      res.on('end', () => {
        console.log('http.get', res.statusCode, body.trim());
        resolve();
      });
    })
    .on('error', (err) => {
      console.log('http.get error', err.code);
      resolve();
    });
});
if (process.argv[3] === 'wait') {
  console.log('waiting');
  setInterval(() => {}, 60_000);
}
`;

/** The same application as a CommonJS file. */
const APP_CJS = `const http = require('node:http');
const url = process.argv[2];
fetch(url)
  .then(async (res) => console.log('fetch', res.status, (await res.text()).trim()))
  .catch((err) => console.log('fetch error', err.cause?.code ?? err.code))
  .then(() => {
    http
      .get(url, (res) => {
        let body = '';
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => console.log('http.get', res.statusCode, body.trim()));
      })
      .on('error', (err) => console.log('http.get error', err.code));
  });
`;

interface AppRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

interface RunOptions {
  /** Node options before the app: default `--import netdial/register`. */
  preload?: readonly string[];
  env?: Record<string, string | undefined>;
  /** Extra arguments after the URL ('wait': the app stays up after its requests). */
  args?: readonly string[];
  /** Called with the child once its stdout says 'waiting'. */
  onWaiting?: (pid: number) => void;
  timeoutMs?: number;
}

/** Runs `app` with node; killed by PID after timeoutMs (default 20 s). Never rejects. */
function runApp(app: string, url: string, options: RunOptions = {}): Promise<AppRun> {
  const child = spawn(
    process.execPath,
    [...(options.preload ?? ['--import', 'netdial/register']), app, url, ...(options.args ?? [])],
    {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_OPTIONS: undefined,
        NETDIAL_TRACE: undefined,
        NETDIAL_POLICY: undefined,
        NETDIAL_MEMORY_FILE: undefined,
        NETDIAL_PROXY: undefined,
        http_proxy: undefined,
        https_proxy: undefined,
        HTTPS_PROXY: undefined,
        all_proxy: undefined,
        ALL_PROXY: undefined,
        no_proxy: undefined,
        NO_PROXY: undefined,
        ...options.env,
      } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => {
    out.push(c);
    if (options.onWaiting && Buffer.concat(out).toString().includes('waiting\n')) {
      const cb = options.onWaiting;
      options.onWaiting = undefined;
      cb(child.pid!);
    }
  });
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      });
    });
  });
}

function show(r: AppRun): string {
  return `exit ${r.code} ${r.signal ?? ''}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

/** The NETDIAL_TRACE lines of a run. */
function traceLines(r: AppRun): string[] {
  return r.stderr.split('\n').filter((l) => l.startsWith('netdial: '));
}

/** A trace line's attempt count and duration. */
function parseLine(line: string): { attempts: number; durationMs: number } {
  const m = /^netdial: \S+ via \S+ in ([\d.]+) ms, (\d+) attempts?: /.exec(line);
  assert.ok(m, `not a trace line of a connected dial: ${line}`);
  return { durationMs: Number(m[1]), attempts: Number(m[2]) };
}

const { good, blackholed } = LAB.addresses;
const NAME = 'aaaa-blackholed.lab.test'; // AAAA blackholed (tried first, RFC 6724), A good
const URL_DEAD_FIRST = `http://${NAME}/`;

/**
 * A warm dial of NAME: one attempt (the good address) with the blackholed one demoted — or, one dial in
 * 20, the blackholed one explored (memory's exploreProbability), which also only happens when it is
 * remembered as failed.
 */
function assertWarm(line: string): void {
  const v6 = blackholed.v6[0];
  if (line.includes(`${v6} explored`)) return;
  assert.match(line, new RegExp(`remembered: ${v6.replaceAll(':', '\\:')} demoted`), line);
  const { attempts, durationMs } = parseLine(line);
  assert.equal(attempts, 1, line);
  // About one round trip on the lab's veth (well under a millisecond); generous for a loaded machine.
  assert.ok(durationMs < 150, `warm dial took ${durationMs} ms: ${line}`);
}

/** The cold dial of NAME: the blackholed AAAA first, the good A after the 250 ms attempt delay. */
function assertCold(line: string): void {
  const { attempts, durationMs } = parseLine(line);
  assert.equal(attempts, 2, line);
  assert.ok(durationMs >= 245, `cold dial took only ${durationMs} ms: ${line}`);
  assert.match(line, new RegExp(`${blackholed.v6[0].replaceAll(':', '\\:')} cancelled`));
  assert.match(line, new RegExp(`${good.v4[0].replaceAll('.', '\\.')} connected`));
}

if (await enterLab(import.meta.url)) {
  test('netdial/register in the lab', { timeout: 180_000 }, (t) =>
    withLab(
      DEFAULT_ZONE,
      async () => {
        const dir = mkdtempSync(join(tmpdir(), 'netdial-register-lab-'));
        t.after(() => rmSync(dir, { recursive: true, force: true }));
        const appEsm = join(dir, 'app.mjs');
        const appCjs = join(dir, 'app.cjs');
        writeFileSync(appEsm, APP_ESM);
        writeFileSync(appCjs, APP_CJS);

        await t.test(
          'NODE_OPTIONS=--import: fetch then http.get; the second connection skips the dead first address',
          async () => {
            const r = await runApp(appEsm, URL_DEAD_FIRST, {
              preload: [],
              env: { NODE_OPTIONS: '--import netdial/register', NETDIAL_TRACE: '1' },
            });
            assert.equal(r.code, 0, show(r));
            assert.equal(r.stdout, `fetch 200 ${good.v4[0]}\nhttp.get 200 ${good.v4[0]}\n`, show(r));
            const lines = traceLines(r);
            assert.equal(lines.length, 2, show(r)); // one line per dial: fetch's, then http.get's
            assert.ok(
              lines.every((l) => l.startsWith(`netdial: ${NAME}:80 via ${good.v4[0]} in `)),
              show(r),
            );
            assertCold(lines[0]!);
            assertWarm(lines[1]!);
          },
        );

        await t.test('--require for a CommonJS app', async () => {
          const r = await runApp(appCjs, URL_DEAD_FIRST, {
            preload: ['--require', 'netdial/register'],
            env: { NETDIAL_TRACE: '1' },
          });
          assert.equal(r.code, 0, show(r));
          assert.equal(r.stdout, `fetch 200 ${good.v4[0]}\nhttp.get 200 ${good.v4[0]}\n`, show(r));
          const lines = traceLines(r);
          assert.equal(lines.length, 2, show(r));
          assertCold(lines[0]!);
          assertWarm(lines[1]!);
        });

        await t.test('global WebSocket dials through netdial too', async () => {
          const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
          await once(wss, 'listening');
          wss.on('connection', (socket) => socket.send('hello over ws'));
          const app = join(dir, 'ws-app.mjs');
          writeFileSync(
            app,
            `const ws = new WebSocket(process.argv[2]);
ws.onmessage = (e) => { console.log('message', e.data); ws.close(); };
ws.onerror = () => console.log('error');
`,
          );
          try {
            const url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}/`;
            const r = await runApp(app, url, {
              // Node 20's WebSocket is behind a flag (on by default from Node 22).
              preload: ['--experimental-websocket', '--no-warnings', '--import', 'netdial/register'],
              env: { NETDIAL_TRACE: '1' },
            });
            assert.equal(r.code, 0, show(r));
            assert.equal(r.stdout, 'message hello over ws\n', show(r));
            const lines = traceLines(r);
            assert.equal(lines.length, 1, show(r));
            assert.match(lines[0]!, /^netdial: 127\.0\.0\.1:\d+ via 127\.0\.0\.1 in [\d.]+ ms, 1 attempt: /);
          } finally {
            for (const client of wss.clients) client.terminate();
            wss.close();
          }
        });

        await t.test('without NETDIAL_TRACE: no line on stderr', async () => {
          const r = await runApp(appEsm, URL_DEAD_FIRST);
          assert.equal(r.code, 0, show(r));
          assert.equal(r.stderr, '');
        });

        await t.test('NETDIAL_TRACE: a failed dial gets its one-line error', async () => {
          const r = await runApp(appEsm, 'http://all-refused.lab.test/', { env: { NETDIAL_TRACE: '1' } });
          assert.equal(r.code, 0, show(r));
          assert.equal(r.stdout, 'fetch error ECONNREFUSED\nhttp.get error ECONNREFUSED\n', show(r));
          const lines = traceLines(r);
          assert.equal(lines.length, 2, show(r));
          for (const line of lines) {
            assert.match(
              line,
              /^netdial: connect all-refused\.lab\.test:80 failed after \d attempts? in .*ECONNREFUSED/,
            );
          }
        });

        await t.test('NETDIAL_POLICY=public refuses a loopback listener; nothing connects', async () => {
          let accepted = 0;
          const server = net.createServer((s) => {
            accepted++;
            s.destroy();
          });
          server.listen(0, '127.0.0.1');
          await once(server, 'listening');
          try {
            const port = (server.address() as net.AddressInfo).port;
            const url = `http://127.0.0.1:${port}/`;
            const r = await runApp(appEsm, url, { env: { NETDIAL_POLICY: 'public', NETDIAL_TRACE: '1' } });
            assert.equal(r.code, 0, show(r));
            assert.equal(
              r.stdout,
              'fetch error ERR_NETDIAL_DENIED\nhttp.get error ERR_NETDIAL_DENIED\n',
              show(r),
            );
            assert.equal(accepted, 0);
            assert.match(
              traceLines(r)[0] ?? '',
              /refused by the address policy: 1 address denied by policy \(loopback\)/,
            );
            // The same app without the variable reaches the listener: the refusal is the policy's.
            const open = await runApp(appEsm, url);
            assert.equal(open.code, 0, show(open));
            assert.ok(accepted >= 1);
          } finally {
            server.close();
          }
        });

        await t.test('an invalid NETDIAL_POLICY stops the app at start, naming the variable', async () => {
          const r = await runApp(appEsm, URL_DEAD_FIRST, { env: { NETDIAL_POLICY: 'public,intranet' } });
          assert.equal(r.code, 1, show(r));
          assert.equal(r.stdout, '', 'the app did not run');
          assert.match(
            r.stderr,
            /^netdial\/register: NETDIAL_POLICY: item 2 of "public,intranet": expected 'public', an address class .* got "intranet"\n$/,
          );
        });

        await t.test(
          'NETDIAL_PROXY=env: fetch and http.get go through the http_proxy (CONNECT)',
          async () => {
            // A CONNECT proxy on loopback that answers the tunnelled request itself: what the app prints
            // can only come from it.
            const connects: string[] = [];
            const proxy = net.createServer((socket) => {
              socket.on('error', () => {});
              let head = '';
              const onData = (chunk: Buffer): void => {
                head += chunk.toString('latin1');
                if (!head.includes('\r\n\r\n')) return;
                socket.off('data', onData);
                connects.push(head.split('\r\n')[0]!);
                socket.write('HTTP/1.1 200 Connection established\r\n\r\n');
                socket.once('data', () =>
                  socket.end('HTTP/1.1 200 OK\r\ncontent-length: 7\r\nconnection: close\r\n\r\nproxied'),
                );
              };
              socket.on('data', onData);
            });
            proxy.listen(0, '127.0.0.1');
            await once(proxy, 'listening');
            try {
              const port = (proxy.address() as net.AddressInfo).port;
              const r = await runApp(appEsm, URL_DEAD_FIRST, {
                env: { NETDIAL_PROXY: 'env', http_proxy: `http://127.0.0.1:${port}` },
              });
              assert.equal(r.code, 0, show(r));
              assert.equal(r.stdout, 'fetch 200 proxied\nhttp.get 200 proxied\n', show(r));
              assert.equal(connects.length, 2, connects.join('\n'));
              for (const line of connects)
                assert.match(line, new RegExp(`^CONNECT ${NAME.replace(/\./g, '\\.')}:80 HTTP/1\\.1$`));
            } finally {
              proxy.close();
            }
          },
        );

        await t.test('an invalid NETDIAL_PROXY stops the app at start, naming the variable', async () => {
          const r = await runApp(appEsm, URL_DEAD_FIRST, {
            env: { NETDIAL_PROXY: 'socks4://127.0.0.1:1080' },
          });
          assert.equal(r.code, 1, show(r));
          assert.equal(r.stdout, '');
          assert.match(
            r.stderr,
            /^netdial\/register: NETDIAL_PROXY: proxy scheme must be .*SOCKS4 is not supported\)\n$/,
          );
        });

        await t.test('NETDIAL_MEMORY_FILE: the second run starts warm', async () => {
          const file = join(dir, 'memory.json');
          const env = { NETDIAL_MEMORY_FILE: file, NETDIAL_TRACE: '1' };
          const first = await runApp(appEsm, URL_DEAD_FIRST, { env });
          assert.equal(first.code, 0, show(first));
          assertCold(traceLines(first)[0]!);
          const saved = JSON.parse(readFileSync(file, 'utf8')) as MemoryJson;
          const dead = saved.endpoints.endpoints.find((e) => e.address === blackholed.v6[0]);
          assert.equal(dead?.lastOutcome, 'failure', 'the dead address is remembered');
          assert.ok(
            saved.dns.entries.some((e) => e.name === NAME),
            'the answer is remembered',
          );
          const second = await runApp(appEsm, URL_DEAD_FIRST, { env });
          assert.equal(second.code, 0, show(second));
          const lines = traceLines(second);
          assert.equal(lines.length, 2, show(second));
          assertWarm(lines[0]!); // the first dial of the second run
        });

        await t.test('NETDIAL_MEMORY_FILE: saved when SIGTERM ends a waiting app', async () => {
          const file = join(dir, 'memory-sigterm.json');
          const r = await runApp(appEsm, URL_DEAD_FIRST, {
            env: { NETDIAL_MEMORY_FILE: file },
            args: ['wait'],
            onWaiting: (pid) => process.kill(pid, 'SIGTERM'),
          });
          assert.equal(r.signal, 'SIGTERM', show(r)); // the signal still ends it, as without netdial
          const saved = JSON.parse(readFileSync(file, 'utf8')) as MemoryJson;
          assert.ok(saved.endpoints.endpoints.some((e) => e.address === blackholed.v6[0]));
        });

        await t.test(
          "NETDIAL_MEMORY_FILE: a corrupt file is ignored with a warning and left as it is (not netdial's to replace)",
          async () => {
            const file = join(dir, 'memory-corrupt.json');
            const corrupt = '{"version": 1, "dns": ';
            writeFileSync(file, corrupt);
            const r = await runApp(appEsm, URL_DEAD_FIRST, { env: { NETDIAL_MEMORY_FILE: file } });
            assert.equal(r.code, 0, show(r));
            assert.equal(r.stdout, `fetch 200 ${good.v4[0]}\nhttp.get 200 ${good.v4[0]}\n`);
            assert.match(
              r.stderr,
              /\[NETDIAL_MEMORY_FILE_IGNORED\] Warning: NETDIAL_MEMORY_FILE .*memory-corrupt\.json is not a netdial memory file \(.*JSON.*\): not loaded, and not saved at exit/,
            );
            assert.equal(readFileSync(file, 'utf8'), corrupt);
            assert.equal(existsSync(`${file}.tmp`), false);
          },
        );
      },
      { slowPathDelayMs: false },
    ),
  );

  // Node 20's http.globalAgent has `timeout: 5000`, an idle timeout: Node's own agent connects past it.
  // register copies it onto netdial's agent, where it must stay an idle timeout and not cut the dial.
  test(
    'netdial/register: a server 6 s away connects through http.globalAgent (the copied 5 s agent timeout is idle only)',
    { timeout: 120_000 },
    (t) =>
      withLab(
        DEFAULT_ZONE,
        async () => {
          const dir = mkdtempSync(join(tmpdir(), 'netdial-register-slow-'));
          t.after(() => rmSync(dir, { recursive: true, force: true }));
          const app = join(dir, 'get.mjs');
          writeFileSync(
            app,
            `import http from 'node:http';
const started = performance.now();
http
  .get(process.argv[2], (res) => {
    res.resume();
    res.on('end', () => console.log('http.get', res.statusCode, Math.round(performance.now() - started)));
  })
  .on('error', (err) => console.log('http.get error', err.code, Math.round(performance.now() - started)));
`,
          );
          const r = await runApp(app, `http://${LAB.addresses.slow.v4[0]}/`, {
            env: { NETDIAL_TRACE: '1' },
            timeoutMs: 60_000,
          });
          assert.equal(r.code, 0, show(r));
          const m = /^http\.get 200 (\d+)\n$/.exec(r.stdout);
          assert.ok(m, show(r));
          // One round trip to connect (6 s), one for the request: more than the 5 s it was cut at before.
          assert.ok(Number(m[1]) >= 11_000, show(r));
          const { durationMs } = parseLine(traceLines(r)[0] ?? '');
          assert.ok(durationMs >= 5_900, `the dial took ${durationMs} ms: ${show(r)}`);
        },
        { slowPathDelayMs: 6000 },
      ),
  );
}
