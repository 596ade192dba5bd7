/**
 * Cold start (issue 16), pinned by structure, never by time: what `import 'netdial'` and a fresh
 * process's first dial load (Node's `process.moduleLoadList` names every built-in loaded), the agents'
 * base classes taken on first construction, and the DNS client's IDs without node:crypto.
 * Each claim about a fresh process runs in a child process of its own (tsc's dist/src; the packed
 * bundle's import is pinned in package.test.ts).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { LabDnsServer } from '../lab/dns-server.js';
import { dnsIdSource } from '../src/resolution/dns-id.js';

const INDEX = fileURLToPath(new URL('../src/index.js', import.meta.url));

/** Runs an ESM script in a fresh Node process; resolves with its last stdout line parsed as JSON. */
function child(script: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', script],
      { timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error !== null) {
          reject(new Error(`child failed: ${error.message}\n${stderr}`));
          return;
        }
        resolve(JSON.parse(stdout.trim().split('\n').pop() ?? ''));
      },
    );
  });
}

/** Script text: the public built-ins (not internal/…) loaded so far, sorted. */
const LOADED = `() => process.moduleLoadList
  .filter((m) => m.startsWith('NativeModule ') && !m.startsWith('NativeModule internal/'))
  .map((m) => m.slice('NativeModule '.length)).sort()`;

describe("import 'netdial'", () => {
  test('loads none of the built-ins a plain dial does not need: http, https, tls, crypto, dns, perf_hooks', async () => {
    const loaded = (await child(`
      const loaded = ${LOADED};
      await import(${JSON.stringify(INDEX)});
      console.log(JSON.stringify(loaded()));`)) as string[];
    for (const name of ['http', 'https', 'tls', 'crypto', 'dns', 'perf_hooks']) {
      assert.ok(!loaded.includes(name), `node:${name} loaded at import: ${loaded.join(' ')}`);
    }
    // What it does need (the claim above is not true of an import that failed to run).
    for (const name of ['net', 'dgram', 'stream', 'diagnostics_channel']) {
      assert.ok(loaded.includes(name), `node:${name} not loaded: ${loaded.join(' ')}`);
    }
  });
});

describe('Agent and HttpsAgent: Node base classes taken on first construction', () => {
  test('before any construction: a subclass, statics, EventEmitter methods; http not loaded', async () => {
    const result = (await child(`
      const loaded = ${LOADED};
      const { Agent, HttpsAgent } = await import(${JSON.stringify(INDEX)});
      class Mine extends Agent {
        constructor(options) { super(options); this.mine = true; }
      }
      const out = {
        httpBefore: loaded().includes('http'),
        staticName: Agent.name,
        once: typeof Agent.once,
        on: typeof Agent.prototype.on,
        httpsDefaultMaxSockets: HttpsAgent.defaultMaxSockets,
      };
      out.httpAfterStatic = loaded().includes('http');
      const http = process.getBuiltinModule('node:http');
      out.defaultMaxSockets = Agent.defaultMaxSockets === http.Agent.defaultMaxSockets;
      Mine.defaultMaxSockets = 7; // an own property of the subclass, as with Node's class as base
      out.ownStatic = [Object.hasOwn(Mine, 'defaultMaxSockets'), Mine.defaultMaxSockets, Agent.defaultMaxSockets === http.Agent.defaultMaxSockets];
      const mine = new Mine({ keepAlive: true });
      out.mine = [mine instanceof Mine, mine instanceof Agent, mine instanceof http.Agent, mine.mine, mine.keepAlive];
      out.bases = [Object.getPrototypeOf(Agent) === http.Agent, Object.getPrototypeOf(Agent.prototype) === http.Agent.prototype];
      out.httpsLoaded = loaded().includes('https') || loaded().includes('tls');
      const https = process.getBuiltinModule('node:https');
      const secure = new HttpsAgent();
      out.secure = [secure instanceof https.Agent, secure instanceof http.Agent, Object.getPrototypeOf(HttpsAgent) === https.Agent];
      class Later extends HttpsAgent {}
      out.later = new Later() instanceof https.Agent;
      mine.destroy(); secure.destroy();
      console.log(JSON.stringify(out));`)) as Record<string, unknown>;
    assert.deepEqual(result, {
      httpBefore: false,
      staticName: 'Agent',
      once: 'function',
      on: 'function',
      httpsDefaultMaxSockets: null, // Infinity, as JSON
      httpAfterStatic: true, // reading defaultMaxSockets loads node:http: the value is Node's
      defaultMaxSockets: true,
      ownStatic: [true, 7, true],
      mine: [true, true, true, true, true],
      bases: [true, true],
      httpsLoaded: false,
      secure: [true, true, true],
      later: true,
    });
  });

  test("a subclass's keep-alive pool works as Node's (sockets, freeSockets, reuse, destroy) when it is the first construction", async () => {
    const result = (await child(`
      const http = process.getBuiltinModule('node:http');
      const server = http.createServer((req, res) => res.end(String(req.socket.remotePort)));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address();
      const { Agent } = await import(${JSON.stringify(INDEX)});
      class Pool extends Agent {}
      const agent = new Pool({ keepAlive: true, maxSockets: 1 });
      const get = () => new Promise((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, agent }, (res) => {
          let body = ''; res.on('data', (d) => { body += d; }); res.on('end', () => resolve(body));
        }).on('error', reject);
      });
      const first = await get();
      await new Promise((r) => setImmediate(r));
      const free = Object.values(agent.freeSockets).flat().length;
      const second = await get();
      await new Promise((r) => setImmediate(r));
      const pooled = Object.values(agent.freeSockets).flat();
      agent.destroy();
      server.close();
      console.log(JSON.stringify({ reused: first === second, free, destroyed: pooled.map((s) => s.destroyed) }));`)) as Record<
      string,
      unknown
    >;
    assert.deepEqual(result, { reused: true, free: 1, destroyed: [true] });
  });
});

describe('first dial over DNS', () => {
  let dns: LabDnsServer;
  let listener: net.Server;
  let resolvConf: string;
  before(async () => {
    for (let tries = 0; ; tries++) {
      const port = 20_000 + Math.floor(Math.random() * 40_000);
      dns = new LabDnsServer({
        host: '127.0.0.1',
        port,
        zone: { 'cold.test': { A: ['127.0.0.1'], ttl: 60 } },
        apex: 'test',
        soaMinimumSeconds: 60,
      });
      try {
        await dns.start();
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== 'EADDRINUSE' || tries >= 20) throw e;
      }
    }
    listener = net.createServer((s) => s.destroy());
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    resolvConf = join(tmpdir(), `netdial-cold-${process.pid}.conf`);
    writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
  });
  after(async () => {
    await dns.close();
    listener.close();
    rmSync(resolvConf, { force: true });
  });

  test('loads neither node:crypto (DNS IDs from /dev/urandom) nor node:dns (the DNS sockets take a literal lookup)', async () => {
    const { port } = listener.address() as net.AddressInfo;
    const result = (await child(`
      const loaded = ${LOADED};
      const { Dialer } = await import(${JSON.stringify(INDEX)});
      const dialer = new Dialer({ resolver: 'dns', nameservers: ['127.0.0.1:${dns.port}'], resolvConfPath: ${JSON.stringify(resolvConf)}, hostsPath: null });
      const socket = await dialer.dial({ host: 'cold.test', port: ${port} });
      const address = socket.remoteAddress;
      socket.destroy();
      console.log(JSON.stringify({ address, loaded: loaded() }));`)) as {
      address: string;
      loaded: string[];
    };
    assert.equal(result.address, '127.0.0.1');
    assert.ok(dns.queryCount() >= 1, 'the name was asked of the DNS server');
    for (const name of ['crypto', 'dns', 'http', 'https', 'tls']) {
      assert.ok(
        !result.loaded.includes(name),
        `node:${name} loaded by the first dial: ${result.loaded.join(' ')}`,
      );
    }
  });
});

describe('DNS message IDs', () => {
  /** Draws `n` IDs; checks each is a 16-bit integer; returns how many distinct values came. */
  function distinct(next: () => number, n: number): number {
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const id = next();
      assert.ok(Number.isInteger(id) && id >= 0 && id <= 0xffff, `not a 16-bit ID: ${id}`);
      seen.add(id);
    }
    return seen.size;
  }

  // 1 000 draws from 65 536 values: ~7.6 repeats expected by chance; a stuck or short-period source
  // (a pool not refilled, a counter, the same bytes twice) gives far fewer distinct values.
  test('from /dev/urandom: uniform 16-bit values across refills (256 IDs per read)', () => {
    assert.ok(distinct(dnsIdSource('/dev/urandom'), 1000) > 960);
  });

  test('from node:crypto where the random file cannot be read', () => {
    assert.ok(distinct(dnsIdSource(join(tmpdir(), 'netdial-no-such-random-file')), 1000) > 960);
  });

  test('two sources do not repeat each other (no shared fixed seed)', () => {
    const a = dnsIdSource('/dev/urandom');
    const b = dnsIdSource('/dev/urandom');
    const as = Array.from({ length: 64 }, a);
    const bs = Array.from({ length: 64 }, b);
    assert.notDeepEqual(as, bs);
  });
});
