/**
 * The package's JavaScript: one esbuild bundle of tsc's output (dist/src, dist/lab) into dist/pkg/, with
 * code splitting, so the entry points — `netdial`, `netdial/undici`, `netdial/register`, `netdial/redis`
 * and the `netdial` bin — share ONE copy of every module (DialError, Dialer, DialMemory…: `instanceof`
 * holds across entries) in chunks they import.
 *
 * Why a bundle (issue 16): `import('netdial')` from tsc's 58 modules and dns-packet's 7 CommonJS files
 * costs ~60 ms of CPU on the project's machine kind, a good part of it resolving, reading and linking one
 * module at a time; the bundle's main entry is two files (its re-exports and one chunk): about 23–30 ms of
 * CPU, built-ins included (see ENTRIES).
 * Why esbuild (a devDependency, never a runtime one): it bundles ESM with code splitting across several
 * entries and inlines a CommonJS dependency (dns-packet) in one step, in well under a second, with no
 * configuration file and no transitive dependencies beyond its own platform binary.
 *
 * What the bundle changes, nothing else:
 * - dns-packet is inlined (no `require` at run time);
 * - dns-packet's loader, whose tsc form requires it at run time, is swapped for a bundle form that
 *   esbuild follows (SWAPS below); the undici integration's loader decides by its own URL at run time;
 * - entries and import() targets load the main entry's modules first (ENTRIES, DYNAMIC_WITH_MAIN), so
 *   esbuild keeps them in one chunk;
 * - not minified: a stack trace names `Dialer.dial` and `#failed` as the sources do, and Node's print of
 *   an uncaught error quotes one short source line, not a 100 KB minified one (minifying measured 0–2 ms
 *   less CPU at import: within the noise here, and not worth unreadable errors);
 * - without esbuild's `keepNames`: it wraps every function and class in a `__name(fn, "name")` call — at
 *   import, and for a closure each time one is made — which cost ~1.4 ms of CPU at import and ~1.2 ms in
 *   a fresh process's first dial (issue 16). What it kept: (1) the name of a class whose body refers to
 *   itself, which esbuild writes `var X = class _X {…}` (its name would be `_X`) — fixed below
 *   (CLASS_SELF_NAMES) to `var X = class X {…}`, the same binding under the source's name; (2) the name
 *   of a function esbuild renames to keep two modules' top-level names apart (`checkName` -> `checkName2`
 *   in the one scope of a chunk): such a function now shows as `checkName2` in a stack trace. The
 *   exports keep their source names (the package test compares each exported function's and class's
 *   `name` with tsc's build), and keep them in an application's bundle too, which renames colliding
 *   names again (src/export-names.ts gives each exported function its name back at import).
 * NETDIAL_BUNDLE_META=file writes esbuild's metafile (what each output holds).
 * The optional peers (undici, ioredis) stay external, required lazily as in the sources.
 *
 * Layout: entries at dist/pkg/{index,undici,register,redis}.js, the bin at dist/pkg/cli/main.js (the depth
 * of dist/src/cli/main.js: it reads ../../../package.json for --version), the lab's router script at
 * dist/pkg/router.js (the CLI's lab demo spawns `new URL('./router.js', import.meta.url)` from a chunk;
 * the package test checks every such path is shipped), chunks at dist/pkg/chunk-*.js. Type declarations
 * stay tsc's (dist/src/*.d.ts).
 *
 * Usage: node scripts/bundle.mjs (after tsc). Run by `npm run build`, `build:package` and so `prepack`.
 */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DIST = join(ROOT, 'dist');
const OUT = join(DIST, 'pkg');

/**
 * The entry points. Each one but the lab's router script loads the main entry's modules first
 * (`withMain`): every module of `import 'netdial'` is then reached from the same set of entries and
 * esbuild puts them all in ONE shared chunk, so `import 'netdial'` reads two files (index and the chunk), not nine (about
 * 0.35 ms each at import). The other entries load what they loaded before plus the rest of the main
 * entry's modules, which have no side effects (the undici and redis entries used most of them anyway).
 */
const ENTRIES = [
  { in: 'dist/src/index.js', out: 'index' },
  { in: withMain('dist/src/undici.js', 'export'), out: 'undici' },
  { in: withMain('dist/src/register.js', 'run'), out: 'register' },
  { in: withMain('dist/src/redis.js', 'export'), out: 'redis' },
  { in: withMain('dist/src/cli/main.js', 'run'), out: 'cli/main' },
];
/** The lab's router script, built on its own (see below). */
const ROUTER = 'dist/lab/router.js';

/** A virtual entry: the main entry's modules, then `file`'s exports (`export`) or its side effects (`run`). */
function withMain(file, kind) {
  return `netdial-entry:${kind}:${file}`;
}

/** esbuild plugin: the virtual entries of withMain. */
const entriesWithMain = {
  name: 'netdial-entries-with-main',
  setup(b) {
    b.onResolve({ filter: /^netdial-entry:/ }, (args) => ({ path: args.path, namespace: 'netdial-entry' }));
    b.onLoad({ filter: /.*/, namespace: 'netdial-entry' }, (args) => {
      const [, kind, file] = args.path.split(':');
      const path = join(ROOT, file);
      const target = JSON.stringify(path);
      // The bin's `#!/usr/bin/env node` line: esbuild keeps an entry's hashbang, here the virtual one's.
      const hashbang = /^#!.*\n/.exec(readFileSync(path, 'utf8'))?.[0] ?? '';
      const main = JSON.stringify(join(DIST, 'src/index.js'));
      const body = kind === 'export' ? `export * from ${target};` : `import ${target};`;
      const contents = `${hashbang}import ${main};\n${body}\n`;
      return { contents, loader: 'js', resolveDir: ROOT };
    });
  },
};

/** tsc module (dist-relative) -> the module the bundle loads in its place (see each file's comment). */
const SWAPS = new Map([['src/resolution/dns-packet.js', 'src/resolution/dns-packet-bundled.js']]);

/**
 * Modules the sources load with a dynamic `import()`: esbuild makes each the entry of a chunk of its own.
 * They are loaded only after the main entry (by the Dialer, or the bin), so they load the main entry's
 * modules too (already evaluated: nothing runs twice): the main chunk is then shared by the same set of
 * entries as before and is not split further. The build fails on a dynamic import not listed here.
 */
const DYNAMIC_WITH_MAIN = new Set(['src/proxy/proxy-dial.js', 'src/cli/demo.js', 'src/cli/loopback-dns.js']);

/** esbuild plugin: loads each SWAPS module's replacement instead (its imports resolve from its own place). */
const swapModules = {
  name: 'netdial-swap-modules',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      if (!args.path.startsWith(`${DIST}/`)) return undefined;
      const relative = args.path.slice(DIST.length + 1);
      if (DYNAMIC_WITH_MAIN.has(relative)) {
        const main = JSON.stringify(join(DIST, 'src/index.js'));
        const contents = `import ${main};\n${readFileSync(args.path, 'utf8')}`;
        return { contents, loader: 'js', resolveDir: dirname(args.path) };
      }
      const swap = SWAPS.get(relative);
      if (swap === undefined) return undefined;
      const path = join(DIST, swap);
      return { contents: readFileSync(path, 'utf8'), loader: 'js', resolveDir: dirname(path) };
    });
  },
};

/**
 * esbuild plugin: a Node builtin that an inlined CommonJS package requires (dns-packet's `require('buffer')`)
 * becomes `process.getBuiltinModule(...)` (Node >= 20.16; engines says >= 20.19): an ESM bundle has no
 * `require`, and esbuild's fallback throws "Dynamic require … is not supported".
 */
const builtinsForCommonJs = {
  name: 'netdial-builtins-for-commonjs',
  setup(b) {
    b.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (args) => {
      if (args.kind !== 'require-call' || !isBuiltin(args.path)) return undefined;
      return { path: args.path.replace(/^node:/, ''), namespace: 'node-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'node-builtin' }, (args) => ({
      contents: `module.exports = process.getBuiltinModule(${JSON.stringify(`node:${args.path}`)});`,
      loader: 'js',
    }));
  },
};

for (const entry of [...ENTRIES, { in: ROUTER }]) {
  const file = entry.in.split(':').pop();
  if (!existsSync(join(ROOT, file)))
    throw new Error(`bundle: ${file} is missing: run tsc first (npm run build)`);
}
for (const swap of SWAPS.values()) {
  if (!existsSync(join(DIST, swap))) throw new Error(`bundle: dist/${swap} is missing: run tsc first`);
}

rmSync(OUT, { recursive: true, force: true });
/** What both builds share. */
const common = {
  absWorkingDir: ROOT,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external: ['undici', 'ioredis'],
  minify: false,
  keepNames: false,
  legalComments: 'none',
  // package.json `sideEffects` speaks of the bundle's files (for an application's bundler), not of
  // dist/src: honoured here, it would drop the entries' bare imports.
  ignoreAnnotations: true,
  sourcemap: false,
  metafile: true,
  logLevel: 'warning',
  plugins: [entriesWithMain, swapModules, builtinsForCommonJs],
};
const result = await build({
  ...common,
  entryPoints: ENTRIES,
  outdir: OUT,
  splitting: true,
  chunkNames: 'chunk-[hash]',
});
// The lab's router script (spawned by the bin's lab demo) on its own, without splitting: it shares no
// module with the rest, and built with them it would share esbuild's helpers in a chunk of their own,
// one more file for `import 'netdial'`.
const router = await build({ ...common, entryPoints: [ROUTER], outfile: join(OUT, 'router.js') });
/**
 * esbuild writes a top-level class whose body names itself as `var X = class _X {…}` (the inner binding
 * refers to the class even if X were reassigned); its `name` would then be `_X`. The inner binding gets
 * the source's name instead: inside the class, `X` is then the class's own binding (the same object as
 * the outer X, which is never reassigned). `_X` is an identifier esbuild made unique in its chunk, so
 * every `_X` in the file is that binding; a build where that cannot be checked fails.
 */
const CLASS_SELF_NAMES = /^var ([A-Za-z_$][\w$]*) = class _\1\b/gm;
/**
 * Every character outside ASCII as a `\uXXXX` escape. esbuild already writes strings, templates, regular
 * expressions and identifiers in ASCII (`charset: 'ascii'`, its default) but copies comments as they are,
 * and one `—` or `§` in a comment makes Node decode the whole file into a two-byte string: the main
 * chunk's source, which V8 keeps for the process's life (lazy compilation), took 1 MB of heap instead of
 * 0.5 MB. In a comment the escape is only text; anywhere else it would mean the same character.
 */
const NON_ASCII = /[^\0-\x7f]/g;
const escapeNonAscii = (code) =>
  code.replace(NON_ASCII, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
/**
 * esbuild's `__export` helper (it builds the namespace objects of `import * as self`) walks its table with
 * `for (var name in all)`, which visits enumerable properties of Object.prototype too: after prototype
 * pollution (`Object.prototype.http_proxy = '…'`, a merge gadget in the application) importing netdial,
 * or register() loading the undici entry, threw "Getter must be a function" (and a polluted function
 * would have become an export). It walks the table's own keys instead. A build whose helper no longer
 * reads as expected fails, rather than ship the for…in again.
 */
const EXPORT_FOR_IN =
  'for (var name in all)\n    __defProp(target, name, { get: all[name], enumerable: true });';
const EXPORT_OWN_KEYS =
  'for (var name of Object.keys(all))\n    __defProp(target, name, { get: all[name], enumerable: true });';
for (const file of [...Object.keys(result.metafile.outputs), ...Object.keys(router.metafile.outputs)]) {
  if (!file.endsWith('.js')) continue;
  const path = join(ROOT, file);
  let code = escapeNonAscii(readFileSync(path, 'utf8'));
  if (code.includes('var __export = ')) {
    if (!code.includes(EXPORT_FOR_IN)) throw new Error(`bundle: ${file}: esbuild's __export helper changed`);
    code = code.replace(EXPORT_FOR_IN, EXPORT_OWN_KEYS);
  }
  const names = [...code.matchAll(CLASS_SELF_NAMES)].map((m) => m[1]);
  for (const name of names) {
    // Declared once (as the class's inner name), never quoted (a property key or text would be changed too).
    const declared = new RegExp(`\\b(var|let|const|function|class)\\s+_${name}\\b`, 'g');
    const quoted = new RegExp(`["'\`.]_${name}\\b`);
    if ((code.match(declared) ?? []).length !== 1 || quoted.test(code))
      throw new Error(`bundle: ${file}: _${name} is not only the inner name of class ${name}`);
    code = code.replace(`var ${name} = class _${name}`, `var ${name} = class ${name}`);
    code = code.replace(new RegExp(`(?<![\\w$.])_${name}(?![\\w$])`, 'g'), name);
  }
  writeFileSync(path, code);
}
if (process.env.NETDIAL_BUNDLE_META)
  writeFileSync(process.env.NETDIAL_BUNDLE_META, JSON.stringify(result.metafile));
// Every swapped module must have been reached, or the swap is stale (a renamed file).
const inputs = Object.keys(result.metafile.inputs);
for (const [from] of [...SWAPS, ...[...DYNAMIC_WITH_MAIN].map((d) => [d])]) {
  if (!inputs.includes(`dist/${from}`)) throw new Error(`bundle: dist/${from} was not in the bundle`);
}
// A dynamic import() not in DYNAMIC_WITH_MAIN would split the main chunk again.
// (esbuild names a virtual entry with its namespace in front: netdial-entry:netdial-entry:run:…)
const entryNames = new Set(
  ENTRIES.map((e) => e.in.replace(/^netdial-entry:/, 'netdial-entry:netdial-entry:')),
);
for (const output of Object.values(result.metafile.outputs)) {
  const entry = output.entryPoint;
  if (entry === undefined || entryNames.has(entry) || DYNAMIC_WITH_MAIN.has(entry.replace(/^dist\//, '')))
    continue;
  throw new Error(`bundle: ${entry} is loaded with import(): list it in DYNAMIC_WITH_MAIN`);
}
