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
