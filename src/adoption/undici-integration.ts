/**
 * The `netdial/undici` integration, loaded synchronously for register() — only when undici is installed
 * (netdial/undici throws ERR_NETDIAL_UNDICI_MISSING at import without it, so it cannot be a static import).
 * This is the tsc layout's loader (dist/src: the integration is `../undici.js` from here); the package
 * bundle swaps in undici-integration-bundled.ts (see scripts/bundle.mjs), whose files have another layout.
 */
import { nodeModule } from '../builtins.js';
import type * as UndiciIntegration from '../undici.js';

/** netdial/undici, loaded now (synchronously) when undici is installed; undefined when it is not. */
export function loadUndiciIntegration(): typeof UndiciIntegration | undefined {
  try {
    return nodeModule().createRequire(import.meta.url)('../undici.js') as typeof UndiciIntegration;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_NETDIAL_UNDICI_MISSING') return undefined;
    throw err;
  }
}
