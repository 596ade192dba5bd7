/**
 * The package as a user gets it, not the clone: a copy of the project's sources is packed with `npm pack`
 * (so its prepack/prepare scripts build it from nothing), the tarball's contents are checked against what runs,
 * and the tarball is installed into a fresh temporary project (a CommonJS package, as `npm init -y` makes)
 * where ESM import, `require('netdial')`, `npx netdial --version`, `netdial/undici` without undici,
 * `netdial/register` under `--import` and `--require` (and `register()` from the main entry; a policy
 * without undici refused at start), and
 * the TypeScript checker (as `tsc --noEmit`) under the module settings the README names are tried. The registry is reachable in CI;
 * npm is told to prefer its cache. Everything lives in one temporary directory, removed afterwards.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { join, posix, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TYPE_ROOTS = join(ROOT, 'node_modules', '@types');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command; kills it by PID after `timeoutMs`. Never rejects: the caller asserts on the result. */
function run(
  command: string,
  args: readonly string[],
  cwd: string,
  timeoutMs: number,
  env: Record<string, string | undefined> = {},
): Promise<Run> {
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, NODE_OPTIONS: undefined, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => out.push(c));
  child.stderr.on('data', (c: Buffer) => err.push(c));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.on('error', (e) => err.push(Buffer.from(String(e))));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
}

function show(r: Run): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout.slice(-4000)}\n--- stderr\n${r.stderr.slice(-4000)}`;
}

/** Relative module specifiers a built file loads: static and dynamic imports, and `new URL('./x.js', import.meta.url)` scripts. */
function relativeImports(source: string, loadedLater = true): string[] {
  const found: string[] = [];
  // Either quote: tsc keeps the sources' single quotes, esbuild's bundle prints double quotes.
  const patterns = [
    /\bfrom\s*['"](\.\.?\/[^'"]+)['"]/g,
    /\bimport\s*['"](\.\.?\/[^'"]+)['"]/g,
    // What is loaded on demand (import()) or spawned (new URL): shipped, but not read by the import.
    ...(loadedLater
      ? [
          /\bimport\(\s*['"](\.\.?\/[^'"]+)['"]\s*\)/g,
          /new URL\(\s*['"](\.\.?\/[^'"]+\.js)['"]\s*,\s*import\.meta\.url\s*\)/g,
        ]
      : []),
  ];
  for (const p of patterns) for (const m of source.matchAll(p)) found.push(m[1]!);
  return found;
}

/** Every package file reachable from `entries` (package-relative paths) through relative imports. */
function closure(packageDir: string, entries: readonly string[], loadedLater = true): Set<string> {
  const seen = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(join(packageDir, file), 'utf8');
    for (const spec of relativeImports(text, loadedLater)) {
      let next = posix.normalize(posix.join(posix.dirname(file), spec));
      if (file.endsWith('.d.ts')) next = next.replace(/\.js$/, '.d.ts');
      if (next.startsWith('..') || next === 'package.json') continue;
      queue.push(next);
    }
  }
  return seen;
}

/** The typed file every TypeScript setting compiles: the public API as the README shows it, with type assertions. */
const TYPED_USE = `import { dial, Dialer, getReport, isDialError, type AttemptError } from 'netdial';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

export async function use(): Promise<boolean> {
  const plain: Socket = await dial('example.com:80');
  // @ts-expect-error a plain TCP dial is not typed as TLS
  plain.authorized;
  const secure: TLSSocket = await dial('example.com:443', { tls: { ALPNProtocols: ['h2'] } });
  const alsoSecure: TLSSocket = await dial({ host: 'example.com', port: 443 }, { tls: true });
  const https: TLSSocket = await dial('https://example.com/');
  const wss: TLSSocket = await new Dialer({ memory: false }).dial('wss://example.com/socket');
  const notTls = await dial('https://example.com/', { tls: false });
  // @ts-expect-error tls: false dials plain TCP even for an https URL
  notTls.authorized;
  // @ts-expect-error a port is a number or a service name
  await dial({ host: 'example.com', port: [443] });
  try {
    await dial('example.com:443');
  } catch (err) {
    if (isDialError(err)) {
      const first: AttemptError | undefined = err.attempts[0];
      return first?.phase === 'dns' && err.report !== undefined;
    }
  }
  return secure.authorized && alsoSecure.authorized && https.authorized && wss.authorized && getReport(plain) !== undefined;
}
`;

/** Parsed declaration files shared by the checks (the Node.js types take seconds to parse). */
const parsedLibraries = new Map<string, ts.SourceFile>();

/**
 * \`tsc --noEmit\` in-process: the declarations of the package and the given files are checked (as with
 * \`skipLibCheck: false\`), the Node.js and TypeScript library declarations are trusted (as
 * \`skipDefaultLibCheck\` does for the latter). Returns "file(line,col): error TSnnnn: text" lines.
 */
function typeCheck(dir: string, files: readonly string[], settings: Record<string, string>): string[] {
  const { options, errors } = ts.convertCompilerOptionsFromJson(
    { ...settings, target: 'es2022', strict: true, noEmit: true, types: ['node'], typeRoots: [TYPE_ROOTS] },
    dir,
  );
  assert.deepEqual(errors, []);
  const trusted = (fileName: string) => fileName.startsWith(join(ROOT, 'node_modules'));
  const host = ts.createCompilerHost(options);
  const read = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, languageVersion, onError, shouldCreate) => {
    if (!trusted(fileName)) return read(fileName, languageVersion, onError, shouldCreate);
    const key = `${fileName} ${JSON.stringify(languageVersion)}`;
    let file = parsedLibraries.get(key);
    if (file === undefined) {
      file = read(fileName, languageVersion, onError, shouldCreate);
      if (file !== undefined) parsedLibraries.set(key, file);
    }
    return file;
  };
  const program = ts.createProgram({
    rootNames: files.map((f) => join(dir, f)),
    options,
    host,
  });
  const diagnostics = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()];
  for (const file of program.getSourceFiles()) {
    if (trusted(file.fileName)) continue;
    diagnostics.push(...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file));
  }
  return diagnostics.map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (d.file === undefined || d.start === undefined) return `error TS${d.code}: ${text}`;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${relative(dir, d.file.fileName)}(${line + 1},${character + 1}): error TS${d.code}: ${text}`;
  });
}

/**
 * Fleet memory as the README shows it, typed without ioredis installed (netdial/redis names only the client
 * methods it uses): the built-in stores, a store of one's own implementing MemoryStore, and one wrong use.
 */
const TYPED_FLEET = `import { BroadcastMemoryStore, Dialer, type EndpointObservation, type MemoryStore } from 'netdial';
import { RedisMemoryStore, type RedisClientLike } from 'netdial/redis';

class MyStore implements MemoryStore {
  sent: EndpointObservation[] = [];
  publish(observations: readonly EndpointObservation[]): void {
    this.sent.push(...observations);
  }
  subscribe(onMessage: (batch: unknown) => void): () => void {
    void onMessage;
    return () => {};
  }
}

export function fleet(client: RedisClientLike): Dialer[] {
  const threads = new Dialer({ memory: { store: new BroadcastMemoryStore() } });
  const redis = new Dialer({ memory: { store: new RedisMemoryStore({ client, prefix: 'app:' }) } });
  const own = new Dialer({ memory: { store: new MyStore() } });
  // @ts-expect-error a store needs publish and subscribe
  new Dialer({ memory: { store: { publish() {} } } });
  return [threads, redis, own];
}
`;

/** A plain dial typed as TLS: must not compile. */
const WRONG_USE = `import { dial } from 'netdial';
import type { TLSSocket } from 'node:tls';

export async function wrong(): Promise<TLSSocket> {
  return dial('example.com:80');
}
`;

/** TypeScript settings the README documents, each with the file it compiles. */
const TS_SETTINGS: ReadonlyArray<{ name: string; file: string; options: Record<string, string> }> = [
  {
    name: 'nodenext',
    file: 'use-nodenext.mts',
    options: { module: 'nodenext', moduleResolution: 'nodenext' },
  },
  {
    name: 'nodenext (CommonJS .cts)',
    file: 'use-cjs.cts',
    options: { module: 'nodenext', moduleResolution: 'nodenext' },
  },
  { name: 'bundler', file: 'use-bundler.ts', options: { module: 'preserve', moduleResolution: 'bundler' } },
  {
    name: 'node16 (.mts in a CommonJS package)',
    file: 'use-node16.mts',
    options: { module: 'node16', moduleResolution: 'node16' },
  },
  { name: 'node10', file: 'use-node10.ts', options: { module: 'commonjs', moduleResolution: 'node10' } },
];

describe('the packed package', { timeout: 600_000 }, () => {
  let work = '';
  let consumer = '';
  let tarball = '';
  let packedFiles: string[] = [];

  // Packing builds the project and npm may fetch dependencies: minutes on a loaded machine, not hours.
  before(
    async () => {
      work = mkdtempSync(join(tmpdir(), 'netdial-package-'));
      // A copy of the project without dist/: packing it must build it (prepack/prepare), as a git install does.
      const copy = join(work, 'project');
      mkdirSync(copy);
      const files = [
        'package.json',
        'package-lock.json',
        'tsconfig.json',
        'tsconfig.build.json',
        'README.md',
        'LICENSE',
      ];
      for (const entry of files) cpSync(join(ROOT, entry), join(copy, entry));
      for (const dir of ['src', 'lab', 'scripts']) {
        cpSync(join(ROOT, dir), join(copy, dir), { recursive: true });
      }
      symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'), 'dir');
      const pack = await run('npm', ['pack', '--json', '--pack-destination', work], copy, 240_000);
      assert.equal(pack.code, 0, `npm pack failed\n${show(pack)}`);
      // Lifecycle script output may precede the JSON, which starts a line with '['.
      const json = pack.stdout.slice(pack.stdout.search(/^\[/m));
      const [info] = JSON.parse(json) as Array<{ filename: string; files: Array<{ path: string }> }>;
      tarball = join(work, info!.filename);
      packedFiles = info!.files.map((f) => f.path).sort();

      consumer = join(work, 'consumer');
      mkdirSync(consumer);
      writeFileSync(
        join(consumer, 'package.json'),
        JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, license: 'MIT' }, null, 2),
      );
      const install = await run(
        'npm',
        [
          'install',
          tarball,
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--ignore-scripts',
          '--loglevel=error',
        ],
        consumer,
        240_000,
      );
      assert.equal(install.code, 0, `npm install of the tarball failed\n${show(install)}`);
    },
    { timeout: 480_000 },
  );

  after(() => {
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  test('ships what runs: the modules the entry points load, their types, LICENSE and README; no maps', () => {
    const pkgDir = join(consumer, 'node_modules', 'netdial');
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
      exports: Record<string, string | Record<string, string>>;
    };
    const strip = (p: string) => p.replace(/^\.\//, '');
    const jsEntries: string[] = [...Object.values(pkg.bin).map(strip)];
    const typeEntries: string[] = [];
    for (const target of Object.values(pkg.exports)) {
      if (typeof target === 'string') continue;
      jsEntries.push(strip(target.default!));
      typeEntries.push(strip(target.types!));
    }
    const js = closure(pkgDir, jsEntries);
    const types = closure(pkgDir, typeEntries);
    const shippedJs = packedFiles.filter((f) => f.endsWith('.js'));
    const shippedTypes = packedFiles.filter((f) => f.endsWith('.d.ts'));
    assert.deepEqual(
      shippedJs.filter((f) => !js.has(f)),
      [],
      'shipped modules that no entry point (bin, exports) loads',
    );
    assert.deepEqual(
      [...js].filter((f) => !shippedJs.includes(f)),
      [],
      'modules an entry point loads that are not shipped',
    );
    assert.deepEqual(
      [...types].filter((f) => !shippedTypes.includes(f)),
      [],
      'declarations the exported types need that are not shipped',
    );
    assert.deepEqual(
      shippedTypes.filter((t) => t.startsWith('dist/src/cli/') || t.startsWith('dist/lab/')),
      [],
      'no declarations of the CLI and the lab',
    );
    // Maps are not shipped (the sources are not either), so the modules must not point at any.
    for (const file of shippedJs) {
      assert.doesNotMatch(readFileSync(join(pkgDir, file), 'utf8'), /sourceMappingURL/, file);
    }
    const other = packedFiles.filter((f) => !f.endsWith('.js') && !f.endsWith('.d.ts')).sort();
    assert.deepEqual(other, ['LICENSE', 'README.md', 'package.json']);
    assert.match(readFileSync(join(pkgDir, 'LICENSE'), 'utf8'), /^MIT License[\s\S]*netdial contributors/);
  });

  test('the README on the package page: install first, links and images absolute (the package has no docs/)', () => {
    const readme = readFileSync(join(consumer, 'node_modules', 'netdial', 'README.md'), 'utf8');
    const relative = [...readme.matchAll(/!?\[[^\]]*\]\(([^)\s]+)\)/g)]
      .map((m) => m[1]!)
      .filter((target) => !/^(https:\/\/|#)/.test(target));
    assert.deepEqual(relative, [], 'relative links break on the npm package page');
    const install = readme.indexOf('npm install netdial');
    assert.ok(install > 0 && install < readme.indexOf('## Usage'), 'the install line comes before usage');
    assert.ok(
      install < readme.indexOf('npm start') && readme.indexOf('npm start') < readme.indexOf('npm test'),
    );
  });

  test('the entry points are the esbuild bundle: a few chunks, dns-packet inlined, optional peers external', () => {
    const pkgDir = join(consumer, 'node_modules', 'netdial');
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
      main: string;
      bin: Record<string, string>;
      exports: Record<string, string | Record<string, string>>;
    };
    const targets = [pkg.main, ...Object.values(pkg.bin)];
    for (const target of Object.values(pkg.exports))
      if (typeof target !== 'string') targets.push(target.default!);
    for (const target of targets) assert.match(target, /^\.\/dist\/pkg\//, target);
    const shippedJs = packedFiles.filter((f) => f.endsWith('.js'));
    assert.deepEqual(
      shippedJs.filter((f) => !f.startsWith('dist/pkg/')),
      [],
      "only the bundle ships JavaScript (tsc's dist/src and dist/lab do not)",
    );
    assert.ok(shippedJs.length < 30, `a bundle is a few files, not ${shippedJs.length}`);
    // `import 'netdial'` reads its re-exports and one chunk (each file costs a resolve, a read and a compile step).
    const mainGraph = closure(pkgDir, ['dist/pkg/index.js'], false);
    assert.equal(
      mainGraph.size,
      2,
      `import 'netdial' loads ${mainGraph.size} files: ${[...mainGraph].join(' ')}`,
    );
    const code = shippedJs.map((f) => readFileSync(join(pkgDir, f), 'utf8')).join('\n');
    // (ok(test) rather than match: a failure must not print the whole bundle)
    // dns-packet is compiled in: no require of it at run time; its code is there instead.
    assert.ok(!/\(\s*["']dns-packet["']\s*\)/.test(code), 'dns-packet is not loaded at run time');
    assert.ok(/RECURSION_DESIRED/.test(code), "dns-packet's code is in the bundle");
    // The optional peers stay outside, required lazily as in the sources (never imported statically).
    // (requireFrom(import.meta.url, "undici"): src/peer-require.ts)
    assert.ok(/[(,]\s*["']undici["']\s*\)/.test(code), 'undici is required at run time');
    assert.ok(!/\bfrom\s*["'](undici|ioredis)["']/.test(code), 'no static import of an optional peer');
    // ASCII only (comments' non-ASCII characters escaped by scripts/bundle.mjs): Node then reads each file
    // into a one-byte string, which V8 keeps for the process's life — half the heap of a two-byte one.
    assert.ok(!/[^\0-\x7f]/.test(code), 'the bundle is ASCII');
  });

  test("import 'netdial' loads no built-in a plain dial does not need; the agents load node:http/https on first construction", async () => {
    // Issue 16: an ESM import of node:http/https/tls, crypto, dns, perf_hooks and module cost ~7 ms of
    // the import; src/builtins.ts loads them on first use, the agents take their base class then.
    const script = `
      const loaded = () => process.moduleLoadList
        .filter((m) => m.startsWith('NativeModule ') && !m.startsWith('NativeModule internal/'))
        .map((m) => m.slice('NativeModule '.length));
      const lazy = ['http', 'https', 'tls', 'crypto', 'dns', 'perf_hooks', 'module'];
      const { Agent, HttpsAgent } = await import('netdial');
      const atImport = lazy.filter((m) => loaded().includes(m));
      const agent = new Agent();
      const afterAgent = lazy.filter((m) => loaded().includes(m));
      const secure = new HttpsAgent();
      const http = process.getBuiltinModule('node:http');
      const https = process.getBuiltinModule('node:https');
      console.log(JSON.stringify([atImport, afterAgent, agent instanceof http.Agent, secure instanceof https.Agent]));
    `;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer, 30_000);
    assert.equal(r.code, 0, show(r));
    const [atImport, afterAgent, ...kinds] = JSON.parse(r.stdout.trim().split('\n').pop()!) as unknown[];
    assert.deepEqual(atImport, []);
    assert.ok((afterAgent as string[]).includes('http'), `after new Agent(): ${String(afterAgent)}`);
    assert.deepEqual(kinds, [true, true]);
  });

  test("classes keep their own names though the bundle is built without esbuild's keepNames", async () => {
    // scripts/bundle.mjs gives `var X = class _X {…}` (esbuild's form of a class that names itself) its
    // own name back: none is left in what ships, so a class's constructor.name and stack frames are X.
    const pkg = join(consumer, 'node_modules', 'netdial', 'dist', 'pkg');
    const shipped = readdirSync(pkg, { recursive: true }).filter((f) => String(f).endsWith('.js'));
    for (const file of shipped) {
      const code = readFileSync(join(pkg, String(file)), 'utf8');
      assert.ok(!/^var ([A-Za-z_$][\w$]*) = class _\1\b/m.test(code), `${String(file)}: a class _X is left`);
    }
    // And the exports (keepExportNames, at import) keep their source names.
    const script = `
      const names = async (entry) => Object.fromEntries(Object.entries(await import(entry))
        .filter(([, v]) => typeof v === 'function').map(([k, v]) => [k, v.name]));
      console.log(JSON.stringify([await names('netdial'), await names('netdial/redis')]));
    `;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer, 30_000);
    assert.equal(r.code, 0, show(r));
    const [main, redis] = JSON.parse(r.stdout.trim().split('\n').pop()!) as Array<Record<string, string>>;
    const source = async (file: string): Promise<Record<string, string>> =>
      Object.fromEntries(
        Object.entries((await import(join(ROOT, 'dist', 'src', file))) as Record<string, unknown>)
          .filter(([, v]) => typeof v === 'function')
          .map(([k, v]) => [k, (v as { name: string }).name]),
      );
    assert.deepEqual(main, await source('index.js'));
    assert.deepEqual(redis, await source('redis.js'));
    assert.ok(Object.keys(main!).length > 20, 'the exports were read');
  });

  test("import 'netdial' loads neither node:worker_threads nor its channel until a BroadcastMemoryStore is made", async () => {
    // The store uses the global BroadcastChannel (Node's internal/worker/io, loaded when first touched).
    const script = `
      const loaded = () => ['worker_threads', 'internal/worker/io'].filter((m) => process.moduleLoadList.includes('NativeModule ' + m));
      const { BroadcastMemoryStore } = await import('netdial');
      const before = loaded();
      const store = new BroadcastMemoryStore('pkg-lazy');
      store.close();
      console.log(JSON.stringify([before, loaded()]));
    `;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer, 30_000);
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(JSON.parse(r.stdout), [[], ['internal/worker/io']]);
  });

  test('one copy of every class across the entries: register, undici and the main entry share them', async () => {
    // undici for this child only: a folder on NODE_PATH holding just undici (CommonJS require honours it;
    // the consumer itself stays without the optional peer for the tests that need it absent).
    const peers = join(work, 'peers');
    mkdirSync(peers, { recursive: true });
    if (!existsSync(join(peers, 'undici'))) {
      symlinkSync(join(ROOT, 'node_modules', 'undici'), join(peers, 'undici'), 'dir');
    }
    const script = `
      import http from 'node:http';
      import https from 'node:https';
      import net from 'node:net';
      import { Agent, HttpsAgent, DialError, Dialer, getDefaultDialer } from 'netdial';
      import { createDispatcher } from 'netdial/undici';
      const closed = net.createServer();
      await new Promise((r) => closed.listen(0, '127.0.0.1', r));
      const port = closed.address().port;
      await new Promise((r) => closed.close(r));
      const checks = {
        httpAgent: http.globalAgent instanceof Agent && http.globalAgent instanceof http.Agent,
        httpsAgent: https.globalAgent instanceof HttpsAgent && new HttpsAgent() instanceof https.Agent,
        dialer: getDefaultDialer() instanceof Dialer,
      };
      const dispatcher = createDispatcher({ connectTimeout: 5000 });
      try {
        await fetch('http://127.0.0.1:' + port + '/', { dispatcher });
      } catch (err) {
        let e = err;
        while (e !== undefined && !(e instanceof DialError)) e = e.cause;
        checks.undiciError = e instanceof DialError && e.code === 'ECONNREFUSED';
      }
      await dispatcher.close();
      console.log(JSON.stringify(checks));
    `;
    const r = await run(
      process.execPath,
      ['--import', 'netdial/register', '--input-type=module', '-e', script],
      consumer,
      30_000,
      { NODE_PATH: peers },
    );
    assert.equal(r.code, 0, show(r));
    assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), {
      httpAgent: true,
      httpsAgent: true,
      dialer: true,
      undiciError: true,
    });
  });

  test('an Agent request and the CLI bin dial through the bundle', async () => {
    const server = createServer((q, s) => s.end(`hello ${q.url}`));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      const script = `
        import http from 'node:http';
        import { Agent, getReport } from 'netdial';
        const agent = new Agent({ keepAlive: false });
        http.get('http://localhost:${port}/agent', { agent }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => console.log(text, getReport(res.socket)?.winner?.address));
        });
      `;
      const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer, 30_000);
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout.trim(), 'hello /agent 127.0.0.1');
      // The bin (netcat mode): connects, copies the server's greeting to stdout, -v says where it went.
      const greeter = createNetServer((socket) => socket.end('hello from the server\n'));
      await new Promise<void>((r) => greeter.listen(0, '127.0.0.1', r));
      try {
        const cli = await run(
          join(consumer, 'node_modules', '.bin', 'netdial'),
          ['-v', `localhost:${(greeter.address() as AddressInfo).port}`],
          consumer,
          30_000,
        );
        assert.equal(cli.code, 0, show(cli));
        assert.equal(cli.stdout, 'hello from the server\n');
        assert.match(cli.stderr, /127\.0\.0\.1/);
      } finally {
        greeter.close();
      }
      // The loopback demo: the bin's lazily imported chunks (the demo, its loopback DNS server on the
      // inlined dns-packet) load from the bundle.
      const demo = await run(
        join(consumer, 'node_modules', '.bin', 'netdial'),
        ['demo', '--loopback', '--no-color'],
        consumer,
        60_000,
      );
      assert.equal(demo.code, 0, show(demo));
      assert.match(demo.stdout, /naive connected \d of \d; netdial (\d) of \1\./);
    } finally {
      server.close();
    }
  });

  test('an ESM import dials', async () => {
    const script = `
      import net from 'node:net';
      import { dial, isDialError } from 'netdial';
      const server = net.createServer((s) => s.end('hello'));
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const socket = await dial({ host: '127.0.0.1', port: server.address().port });
      let text = '';
      for await (const chunk of socket) text += chunk;
      server.close();
      console.log(text, typeof isDialError);
    `;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer, 30_000);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim(), 'hello function');
  });

  test('an uncaught DialError prints a short, readable error: source names in the stack, no minified line', async () => {
    // Nothing listens on port 1 of loopback: the dial is refused at once.
    const script = `import { dial } from 'netdial'; await dial('127.0.0.1:1');`;
    const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer, 30_000);
    assert.equal(r.code, 1, show(r));
    assert.ok(r.stderr.length < 8_000, `stderr is ${r.stderr.length} bytes:\n${r.stderr.slice(0, 2000)}`);
    assert.match(r.stderr, /DialError: connect 127\.0\.0\.1:1 failed/);
    assert.match(r.stderr, /at #failed /, r.stderr);
    const bad = `import { Dialer } from 'netdial'; await new Dialer().dial('bad host name:80');`;
    const t = await run(process.execPath, ['--input-type=module', '-e', bad], consumer, 30_000);
    assert.equal(t.code, 1, show(t));
    assert.ok(t.stderr.length < 8_000, `stderr is ${t.stderr.length} bytes:\n${t.stderr.slice(0, 2000)}`);
    assert.match(t.stderr, /at parseTarget .*\n.*at Dialer\.dial /, t.stderr);
  });

  test("require('netdial') works in a CommonJS project (Node >= 20.19)", async () => {
    const script = `
      const net = require('node:net');
      const { dial, DialError } = require('netdial');
      const server = net.createServer((s) => s.end('hello'));
      server.listen(0, '127.0.0.1', async () => {
        const socket = await dial('127.0.0.1:' + server.address().port);
        let text = '';
        for await (const chunk of socket) text += chunk;
        server.close();
        console.log(text, typeof DialError);
      });
    `;
    const r = await run(process.execPath, ['-e', script], consumer, 30_000);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim(), 'hello function');
  });

  test('npx netdial --version runs the installed bin', async () => {
    const r = await run('npx', ['--no-install', 'netdial', '--version'], consumer, 60_000);
    assert.equal(r.code, 0, show(r));
    assert.match(r.stdout.trim(), new RegExp(`^netdial ${VERSION.replaceAll('.', '\\.')}\\b`));
  });

  test('netdial/undici without undici installed says to install it', async () => {
    assert.equal(existsSync(join(consumer, 'node_modules', 'undici')), false, 'undici is an optional peer');
    const esm = await run(
      process.execPath,
      ['--input-type=module', '-e', "await import('netdial/undici')"],
      consumer,
      30_000,
    );
    assert.notEqual(esm.code, 0);
    assert.match(esm.stderr, /netdial\/undici needs the undici package: npm install undici/);
    assert.match(esm.stderr, /code: 'ERR_NETDIAL_UNDICI_MISSING'/);
    const cjs = await run(process.execPath, ['-e', "require('netdial/undici')"], consumer, 30_000);
    assert.notEqual(cjs.code, 0);
    assert.match(cjs.stderr, /npm install undici/);
  });

  test('netdial/register: --import for ESM, --require for CommonJS; without undici fetch is left alone with a warning', async () => {
    const app = `
      const http = require('node:http');
      const server = http.createServer((q, s) => s.end('hello'));
      server.listen(0, '127.0.0.1', () => {
        http.get('http://127.0.0.1:' + server.address().port + '/', (res) => {
          res.resume();
          res.on('end', () => {
            console.log(res.statusCode, http.globalAgent.constructor.name, res.req.socket.constructor.name);
            server.close();
          });
        });
      });
    `;
    writeFileSync(join(consumer, 'register-app.cjs'), app);
    writeFileSync(
      join(consumer, 'register-app.mjs'),
      `import { createRequire } from 'node:module';\ncreateRequire(import.meta.url)('./register-app.cjs');\n`,
    );
    for (const [flag, file] of [
      ['--import', 'register-app.mjs'],
      ['--require', 'register-app.cjs'],
    ] as const) {
      const r = await run(process.execPath, [flag, 'netdial/register', file], consumer, 30_000, {
        NETDIAL_TRACE: '1',
      });
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout.trim(), '200 Agent AgentDialSocket', show(r));
      assert.match(r.stderr, /^netdial: 127\.0\.0\.1:\d+ via 127\.0\.0\.1 in [\d.]+ ms, 1 attempt: /m);
      assert.match(
        r.stderr,
        /\[NETDIAL_UNDICI_MISSING\] Warning: netdial\/register: global fetch and WebSocket keep Node's own connector: the undici package is not installed/,
      );
    }
    const bad = await run(
      process.execPath,
      ['--import', 'netdial/register', 'register-app.cjs'],
      consumer,
      30_000,
      {
        NETDIAL_POLICY: 'nowhere',
      },
    );
    assert.equal(bad.code, 1, show(bad));
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^netdial\/register: NETDIAL_POLICY: item 1 of "nowhere": /);
    // register() from the main entry, CommonJS.
    const code = await run(
      process.execPath,
      [
        '-e',
        "const { register } = require('netdial'); const http = require('node:http'); const before = http.globalAgent; const restore = register(); const during = http.globalAgent; restore().then(() => console.log(during !== before, http.globalAgent === before));",
      ],
      consumer,
      30_000,
    );
    assert.equal(code.code, 0, show(code));
    assert.equal(code.stdout.trim(), 'true true');
  });

  test('netdial/register without undici: a policy global fetch would bypass stops the app at start, unless accepted', async () => {
    // The app would fetch a loopback URL the policy denies: it must not run at all.
    const fetchApp = `fetch('http://127.0.0.1:9/').catch(() => {}); console.log('app ran');\n`;
    writeFileSync(join(consumer, 'fetch-app.mjs'), fetchApp);
    const refused = await run(
      process.execPath,
      ['--import', 'netdial/register', 'fetch-app.mjs'],
      consumer,
      30_000,
      {
        NETDIAL_POLICY: 'public',
      },
    );
    assert.equal(refused.code, 1, show(refused));
    assert.equal(refused.stdout, '', 'the app did not run');
    assert.equal(
      refused.stderr,
      'netdial/register: NETDIAL_POLICY: global fetch and WebSocket would bypass the policy: they can only be covered with the undici package installed (npm install undici, ^6.21 or ^7); to start anyway with http/https covered and fetch not, set NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH=1\n',
    );
    const accepted = await run(
      process.execPath,
      ['--import', 'netdial/register', 'fetch-app.mjs'],
      consumer,
      30_000,
      {
        NETDIAL_POLICY: 'public',
        NETDIAL_POLICY_ALLOW_UNCOVERED_FETCH: '1',
      },
    );
    assert.equal(accepted.code, 0, show(accepted));
    assert.equal(accepted.stdout, 'app ran\n');
    assert.match(accepted.stderr, /\[NETDIAL_UNDICI_MISSING\] Warning: .*are NOT held to the policy/);
    // register() from code: the same refusal, thrown (and nothing replaced); allowed with the option.
    const code = await run(
      process.execPath,
      [
        '-e',
        "const { register } = require('netdial'); const http = require('node:http'); const before = http.globalAgent; try { register({ policy: 'public' }); } catch (err) { console.log(err.code, http.globalAgent === before, err.message); } register({ policy: 'public', allowUncoveredFetch: true })().then(() => console.log('allowed'));",
      ],
      consumer,
      30_000,
    );
    assert.equal(code.code, 0, show(code));
    assert.match(
      code.stdout,
      /^ERR_NETDIAL_UNCOVERED_FETCH true policy: global fetch and WebSocket would bypass the policy: .*npm install undici.*set allowUncoveredFetch: true\nallowed\n$/,
    );
  });

  test('netdial/redis loads without ioredis installed (the client is passed in)', async () => {
    assert.equal(existsSync(join(consumer, 'node_modules', 'ioredis')), false, 'ioredis is an optional peer');
    const script =
      "const { RedisMemoryStore } = await import('netdial/redis'); const { BroadcastMemoryStore } = await import('netdial');" +
      'const s = new BroadcastMemoryStore("pkg-test"); s.close();' +
      'try { new RedisMemoryStore({}); } catch (e) { console.log(typeof RedisMemoryStore, e.code); }';
    const r = await run(process.execPath, ['--input-type=module', '-e', script], consumer, 30_000);
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout.trim(), 'function ERR_NETDIAL_INVALID_ARGUMENT');
  });

  // node10 resolution knows no `exports` subpaths (netdial/redis): the settings that do.
  for (const setting of TS_SETTINGS.filter((s) => s.name !== 'node10')) {
    test(`the TypeScript checker accepts fleet memory's typed use under ${setting.name}`, () => {
      const dir = join(consumer, `ts-fleet-${setting.name.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      const file = setting.file.replace(/^use-/, 'fleet-');
      writeFileSync(join(dir, file), TYPED_FLEET);
      assert.deepEqual(typeCheck(dir, [file], setting.options), []);
    });
  }

  for (const setting of TS_SETTINGS) {
    test(`the TypeScript checker accepts the typed use under ${setting.name}`, () => {
      const dir = join(consumer, `ts-${setting.name.replace(/\W+/g, '-')}`);
      mkdirSync(dir);
      const wrongFile = setting.file.replace(/^use-/, 'wrong-');
      writeFileSync(join(dir, setting.file), TYPED_USE);
      writeFileSync(join(dir, wrongFile), WRONG_USE);
      const errors = typeCheck(dir, [setting.file, wrongFile], setting.options);
      // The @ts-expect-error lines are assertions too: a wrong type would leave them unused, an error.
      assert.deepEqual(
        errors.filter((e) => !e.startsWith(`${wrongFile}(`)),
        [],
        'the typed use compiles, the package declarations included',
      );
      // The wrong file (a plain dial typed as TLS) must fail: the checker really sees the package's types.
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(
        errors[0]!,
        /^wrong-[^(]+\(5,3\): error TS\d+: Type 'Socket' is missing .* from type 'TLSSocket'/,
      );
    });
  }
});
