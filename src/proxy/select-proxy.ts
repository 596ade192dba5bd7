/**
 * Which proxy one dial goes through: the `proxy` option's URL as it is, or under `'env'` what curl's
 * environment rules give for this target (env-proxy.ts). Pure: the environment is an argument.
 */
import type { Target } from '../target.js';
import { type Environment, proxyFromEnv } from './env-proxy.js';
import type { ProxySetting, ProxySpec } from './proxy-option.js';

/**
 * The proxy for a dial of `target` (`tls`: the dial runs TLS on the connection), or undefined for a
 * direct dial. Throws a TypeError naming the variable when the environment holds a bad proxy URL.
 */
export function proxyFor(
  setting: ProxySetting,
  target: Target,
  tls: boolean,
  env: Environment,
): ProxySpec | undefined {
  if (setting === undefined) return undefined;
  if (setting !== 'env') return setting;
  return proxyFromEnv(env, { host: target.host, port: target.port, scheme: target.scheme, tls });
}

/** The proxy URL of `spec` with its credentials, percent-encoded: what parseProxyUrl reads back to `spec`. */
export function proxyUrlOf(spec: ProxySpec): string {
  const host = spec.host.includes(':') ? `[${spec.host}]` : spec.host;
  const user =
    spec.username === undefined
      ? ''
      : `${encodeURIComponent(spec.username)}${spec.password === undefined ? '' : `:${encodeURIComponent(spec.password)}`}@`;
  return `${spec.protocol}://${user}${host}:${spec.port}`;
}

/**
 * For integrations that dial plain TCP and run TLS themselves (the undici connector): the dial's
 * `proxy` option with `'env'` decided for the request's URL scheme (`https:` → https_proxy…), since the
 * dial itself only sees `{ host, port }` and `tls: false`. Other values pass through.
 */
export function proxyOptionForScheme(
  proxy: unknown,
  protocol: string,
  hostname: string,
  port: number,
  env: Environment = process.env,
): unknown {
  if (proxy !== 'env') return proxy;
  const host = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const scheme = protocol.replace(/:$/, '').toLowerCase();
  const spec = proxyFromEnv(env, { host: host.toLowerCase(), port, scheme, tls: false });
  return spec === undefined ? false : proxyUrlOf(spec);
}
