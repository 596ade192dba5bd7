/**
 * `require` from netdial's ES modules, for what they load synchronously and only on use: the optional peer
 * undici (undici-peer.ts) and the undici integration for `register()` (adoption/undici-integration.ts).
 *
 * It resolves from `moduleUrl`, the calling module's `import.meta.url`, as `createRequire` does. In an
 * application's CommonJS bundle (esbuild, webpack… with CommonJS output, netdial's code inlined in it)
 * `import.meta` is empty: the application has no netdial file to resolve from, and `createRequire(undefined)`
 * throws. The peers are then the application's: they are installed next to it, so the fallback resolves
 * from the application's entry script (process.argv[1]: `node dist/app.cjs` run from anywhere), then from
 * the working directory (`node -e`, a REPL, an entry that is not a file). A module found by neither is
 * the last one's MODULE_NOT_FOUND, as a plain require's.
 */
import { nodeModule, path } from './builtins.js';

/** `require(id)` from `moduleUrl` (the caller's import.meta.url), or as the file comment says when it is undefined. */
export function requireFrom(moduleUrl: string | undefined, id: string): unknown {
  const { createRequire } = nodeModule();
  if (moduleUrl !== undefined) return createRequire(moduleUrl)(id);
  const entry = process.argv[1];
  const bases = [
    ...(entry !== undefined && path.isAbsolute(entry) ? [entry] : []),
    // A file name in the directory (it need not exist): createRequire resolves from its directory.
    path.join(process.cwd(), 'noop.js'),
  ];
  let notFound: unknown;
  for (const base of bases) {
    try {
      return createRequire(base)(id);
    } catch (error) {
      // Only `id` itself missing from here tries the next place; any other failure is the module's own.
      const e = error as { code?: string; message?: string };
      if (e.code !== 'MODULE_NOT_FOUND' || !e.message?.includes(`'${id}'`)) throw error;
      notFound = error;
    }
  }
  throw notFound;
}
