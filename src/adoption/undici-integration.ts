/**
 * The `netdial/undici` integration, loaded synchronously for register() — only when undici is installed
 * (netdial/undici throws ERR_NETDIAL_UNDICI_MISSING at import without it, so it cannot be a static import).
 *
 * Which module that is depends on where this code runs, and this file's own URL says it:
 * - tsc's layout (dist/src/adoption/undici-integration.js): `../undici.js`, the integration next to it;
 * - anywhere else — the package bundle, where this code sits in a chunk whose place esbuild chooses, or
 *   an application's bundle: the package's own name, `netdial/undici`, which resolves the entry through
 *   the package's `exports` (self-reference) — the very module an application's `import 'netdial/undici'`
 *   gets: one copy of every class. (In an application's CommonJS bundle `import.meta.url` is undefined and
 *   the package is found from the application's place: peer-require.ts.)
 */
import type * as UndiciIntegration from '../undici.js';
import { requireFrom } from '../peer-require.js';

/** This module's path in tsc's layout (dist/src/…), where the integration is a relative file. */
const TSC_PLACE = '/src/adoption/undici-integration.js';

/** netdial/undici, loaded now (synchronously) when undici is installed; undefined when it is not. */
export function loadUndiciIntegration(): typeof UndiciIntegration | undefined {
  const url: string | undefined = import.meta.url;
  try {
    return requireFrom(
      url,
      url?.endsWith(TSC_PLACE) ? '../undici.js' : 'netdial/undici',
    ) as typeof UndiciIntegration;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_NETDIAL_UNDICI_MISSING') return undefined;
    throw err;
  }
}
