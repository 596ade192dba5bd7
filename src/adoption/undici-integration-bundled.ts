/**
 * The `netdial/undici` integration, loaded synchronously for register() when undici is installed — the
 * package bundle's loader (scripts/bundle.mjs loads this module in place of undici-integration.ts). In the
 * bundle, register()'s code sits in a shared chunk whose place esbuild chooses, so a path relative to this
 * file would be a guess: the package's own name resolves the `netdial/undici` entry through its `exports`
 * (package self-reference), the very module an application's `import 'netdial/undici'` gets — one copy of
 * every class.
 */
import { nodeModule } from '../builtins.js';
import type * as UndiciIntegration from '../undici.js';

/** netdial/undici, loaded now (synchronously) when undici is installed; undefined when it is not. */
export function loadUndiciIntegration(): typeof UndiciIntegration | undefined {
  try {
    return nodeModule().createRequire(import.meta.url)('netdial/undici') as typeof UndiciIntegration;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_NETDIAL_UNDICI_MISSING') return undefined;
    throw err;
  }
}
