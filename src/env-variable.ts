/**
 * The one place netdial reads an environment variable — curl's proxy variables (http_proxy, https_proxy,
 * all_proxy, no_proxy in both cases) for `proxy: 'env'` and the CLI, the NETDIAL_* variables of
 * `netdial/register`, the CLI's NO_COLOR / FORCE_COLOR / TERM: OWN keys only.
 *
 * `process.env` is an object whose prototype is Object.prototype: a variable that is not set falls
 * through to it, so after prototype pollution (`Object.prototype.http_proxy = 'http://attacker'`, from a
 * vulnerable merge of JSON) `process.env.http_proxy` answers the attacker's proxy, and
 * `Object.prototype.no_proxy = '*'` would silently skip a legitimate egress proxy. An own-key lookup
 * (Object.hasOwn, which process.env answers from the real environment) sees only what the environment
 * holds. It costs no more than the plain lookup: an unset variable stops at the own-key check instead of
 * walking the prototype chain.
 */

/** An environment record: `process.env`, or a plain object standing in for it (tests, the CLI's overrides). */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The value of the variable `name` if `env` itself holds it as a string (never an inherited one), else undefined. */
export function envVariable(env: Environment, name: string): string | undefined {
  if (!Object.hasOwn(env, name)) return undefined;
  const value = env[name];
  return typeof value === 'string' ? value : undefined;
}
