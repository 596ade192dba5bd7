/**
 * The `netdial/undici` integration, loaded synchronously for register() — only when undici is installed
 * (netdial/undici throws ERR_NETDIAL_UNDICI_MISSING at import without it, so it cannot be a static import).
 *
 * Which module that is depends on where this code runs, and its own `import.meta` says it:
 * - tsc's layout (dist/src/adoption/undici-integration.js): `../undici.js`, the integration next to it;
 * - the package bundle, where this code sits in a chunk whose place esbuild chooses: the package's own
 *   name, `netdial/undici`, which resolves the entry through the package's `exports` (self-reference) —
 *   the very module an application's `import 'netdial/undici'` gets: one copy of every class;
 * - an application's bundle, where the application's bundler compiled this code into its own output
 *   (`import.meta` is then not Node's: empty in esbuild's CommonJS output, the BUILD machine's URL in
 *   webpack's, see isOwnFile; or Node's, of the application's file, in an ESM bundle): unavailable. Requiring `netdial/undici` at run time cannot reach the
 *   bundle's own modules: it would load a SECOND copy of netdial from outside the bundle (its own Dialer,
 *   DialError… classes, its own default Dialer), or fail at start when there is none. register() then
 *   does what it does without undici (fetch keeps Node's connector, with a warning; a policy refuses to
 *   start unless uncovered fetch is allowed), and the reason says why.
 */
import type * as UndiciIntegration from '../undici.js';
import { isOwnFile, requireFrom } from '../peer-require.js';

/** This module's path in tsc's layout (dist/src/…), where the integration is a relative file. */
const TSC_PLACE = '/src/adoption/undici-integration.js';
/** Where this code is in the package bundle: a chunk (scripts/bundle.mjs, chunkNames 'chunk-[hash]'). */
const PACKAGE_BUNDLE_PLACE = /\/dist\/pkg\/chunk-[\w-]+\.js$/;

/** Why the integration is unavailable inside an application's bundle (ends a warning or refusal). */
export const IN_APP_BUNDLE =
  "netdial runs inside an application bundle, where netdial/undici is not loaded from outside the bundle (it would be a second copy of netdial); import 'netdial/undici' in the application itself and install its dispatcher, or keep netdial external in the bundle";

/** Why the integration is unavailable without undici. */
export const UNDICI_NOT_INSTALLED = 'the undici package is not installed (npm install undici, ^6.21 or ^7)';

/** netdial/undici, loaded now (synchronously), or why it cannot be had here. */
type LoadedIntegration =
  | { integration: typeof UndiciIntegration; unavailable?: undefined }
  | { integration?: undefined; unavailable: string };

/** netdial/undici, loaded now when it can be (see the file comment); otherwise why not. */
export function loadUndiciIntegration(): LoadedIntegration {
  // Node's own import.meta, of one of netdial's own files (an application's ESM bundle has Node's
  // import.meta too, but with the application's URL).
  const url = isOwnFile(import.meta) ? import.meta.url : '';
  const tsc = url.endsWith(TSC_PLACE);
  if (!tsc && !PACKAGE_BUNDLE_PLACE.test(url)) return { unavailable: IN_APP_BUNDLE };
  try {
    const id = tsc ? '../undici.js' : 'netdial/undici';
    return { integration: requireFrom(url, id) as typeof UndiciIntegration };
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_NETDIAL_UNDICI_MISSING')
      return { unavailable: UNDICI_NOT_INSTALLED };
    throw err;
  }
}
