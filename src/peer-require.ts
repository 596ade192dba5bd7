/**
 * `require` from netdial's ES modules, for what they load synchronously and only on use: the optional peer
 * undici (undici-peer.ts) and the undici integration for `register()` (adoption/undici-integration.ts).
 *
 * It resolves from `moduleUrl`, the calling module's `import.meta.url`, as `createRequire` does. Two
 * places an application's bundle leaves netdial without a usable URL of its own:
 * - CommonJS output of esbuild (and others): `import.meta` is empty, `moduleUrl` undefined;
 * - webpack: it writes the BUILD machine's `import.meta.url` into the bundle, a path in the build tree
 *   that, once the application is deployed elsewhere, holds no undici (or another one).
 * The peers are then the application's, installed next to it: when `moduleUrl` is undefined, or `id`
 * itself is not found from it (MODULE_NOT_FOUND naming `id`), `id` is required from the application's
 * entry script — process.argv[1], when it is an absolute path to a file (`node dist/app.cjs`, from any
 * working directory) — as the application's own `require` would find it.
 *
 * Never from the working directory: a plain `require` from a file never looks there, and a directory the
 * application merely runs in may hold a planted `node_modules/undici` (or `node_modules/netdial`) that
 * would then run inside the application. So with no entry script (`node -e`, the REPL, stdin) only
 * `moduleUrl` is tried; nothing found is a MODULE_NOT_FOUND naming `id`, as a plain require's.
 */
import { fs, nodeModule, path } from './builtins.js';

/** process.argv[1] when it is an absolute path to an existing file (the application's entry script). */
function entryScript(): string | undefined {
  const entry = process.argv[1];
  if (entry === undefined || !path.isAbsolute(entry)) return undefined;
  return fs.statSync(entry, { throwIfNoEntry: false })?.isFile() ? entry : undefined;
}

/** Whether `error` is `id` itself not found (not a file inside it, or a module it requires). */
export function isNotFound(error: unknown, id: string): boolean {
  const e = error as { code?: string; message?: string };
  return e.code === 'MODULE_NOT_FOUND' && e.message?.includes(`'${id}'`) === true;
}

/** `require(id)` from `moduleUrl` (the caller's import.meta.url), or from the entry script as the file comment says. */
export function requireFrom(moduleUrl: string | undefined, id: string): unknown {
  const { createRequire } = nodeModule();
  if (moduleUrl !== undefined) {
    try {
      return createRequire(moduleUrl)(id);
    } catch (error) {
      // Any failure but `id` itself missing is the module's own; without an entry, nowhere else to look.
      // (The entry is looked up — a stat — only now: the usual require needs no file system call more.)
      if (!isNotFound(error, id) || entryScript() === undefined) throw error;
    }
  }
  const entry = entryScript();
  if (entry === undefined) {
    throw Object.assign(
      new Error(
        `Cannot find module '${id}': netdial runs inside an application bundle with no entry script to require it from (node -e, a REPL)`,
      ),
      { code: 'MODULE_NOT_FOUND' },
    );
  }
  return createRequire(entry)(id);
}

/**
 * Whether `meta` (the caller's `import.meta`) is Node's own for an ES module file: a null-prototype object
 * with a file: `url`. Not so when an application's bundler has compiled netdial's code into its own
 * output: esbuild's CommonJS output makes `import.meta` an empty `{}`, webpack an object literal (with
 * the build machine's URL). Only then is `import.meta.url` the file this code runs from.
 */
export function isOwnFile(meta: ImportMeta | undefined): boolean {
  return (
    meta !== undefined &&
    meta !== null &&
    Object.getPrototypeOf(meta) === null &&
    typeof meta.url === 'string' &&
    meta.url.startsWith('file:')
  );
}
