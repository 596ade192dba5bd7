/**
 * undici, loaded for `netdial/undici` when that entry point is imported. undici is an optional peer
 * dependency: a static `import … from 'undici'` would fail at link time with Node's bare
 * `ERR_MODULE_NOT_FOUND`, before any code could say what to do. undici is CommonJS (no `exports` map), so
 * `require` loads the same module instance an application's own `import 'undici'` gets. In an
 * application's CommonJS bundle it is required from the application's place (peer-require.ts).
 */
import type * as Undici from 'undici';
import { isNotFound, isOwnFile, requireFrom } from './peer-require.js';

/** The message when undici is not installed. */
export const UNDICI_MISSING =
  'netdial/undici needs the undici package: npm install undici (^6.21 or ^7, an optional peer dependency of netdial)';

/**
 * The message when undici is not found while netdial runs inside an application's bundle: undici may
 * well be compiled into that bundle, but a module inside a bundle cannot be required by name.
 */
export const UNDICI_MISSING_IN_APP_BUNDLE =
  'netdial/undici needs the undici package installed beside the application: netdial runs inside an application bundle, and an undici compiled into the bundle cannot be required by name; install undici next to the app (npm install undici, ^6.21 or ^7) or mark it external in the bundler';

function loadUndici(): typeof Undici {
  try {
    return requireFrom(import.meta.url, 'undici') as typeof Undici;
  } catch (error) {
    // Only undici itself missing; a broken undici (or one of its files missing) keeps its own error.
    if (isNotFound(error, 'undici')) {
      const message = isOwnFile(import.meta) ? UNDICI_MISSING : UNDICI_MISSING_IN_APP_BUNDLE;
      throw Object.assign(new Error(message, { cause: error }), {
        code: 'ERR_NETDIAL_UNDICI_MISSING',
      });
    }
    throw error;
  }
}

const undici = loadUndici();

export const Agent: typeof Undici.Agent = undici.Agent;
export type Agent = Undici.Agent;
export declare namespace Agent {
  type Options = Undici.Agent.Options;
}
export const buildConnector: typeof Undici.buildConnector = undici.buildConnector;
export declare namespace buildConnector {
  type connector = Undici.buildConnector.connector;
  type Options = Undici.buildConnector.Options;
  type Callback = Undici.buildConnector.Callback;
}
export const errors: typeof Undici.errors = undici.errors;
export const getGlobalDispatcher: typeof Undici.getGlobalDispatcher = undici.getGlobalDispatcher;
export const setGlobalDispatcher: typeof Undici.setGlobalDispatcher = undici.setGlobalDispatcher;
export type { Dispatcher } from 'undici';
