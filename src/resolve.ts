/**
 * Resolution shell: turns a host name into one answer (or one error) per address family, each reported
 * the moment it is known so the race can start early (RFC 8305 §3). Sources, in order: IP literal,
 * /etc/hosts, `localhost` (RFC 6761 §6.3), DNS through c-ares (A and AAAA in parallel, resolv.conf
 * search list), and the system resolver as a fallback; or a caller's function.
 */
import dns from 'node:dns';
import net from 'node:net';
import { HostsFile } from './hosts-file.js';
import type { ResolveFunction, ResolverChoice } from './options.js';
import { ResolvConfFile, searchCandidates } from './resolv-conf.js';
import type { AddressSource, Family, ResolvedAddress } from './types.js';

/** What resolution tells the dialer, as it happens. Each family gets exactly one `answer` or `error`. */
export type ResolutionEvent =
  | { type: 'query'; family: Family; name: string; source: AddressSource }
  | { type: 'answer'; family: Family; name: string; source: AddressSource; addresses: ResolvedAddress[] }
  | { type: 'error'; family: Family; name: string; source: AddressSource; code: string; message: string };

export interface ResolverSettings {
  /** Hosts file to honour; null to ignore it. Default '/etc/hosts'. */
  hostsPath?: string | null | undefined;
  /** resolv.conf for search/ndots (and nameservers when it is not the system's). Default '/etc/resolv.conf'. */
  resolvConfPath?: string | undefined;
  /** DNS servers ('127.0.0.1', '[::1]:5353', …) instead of resolv.conf's. */
  nameservers?: readonly string[] | undefined;
  /** c-ares per-try timeout in ms. Default: resolv.conf `timeout`, else c-ares' own. */
  dnsTimeoutMs?: number | undefined;
  /** c-ares tries per server. Default: resolv.conf `attempts`, else c-ares' own. */
  dnsTries?: number | undefined;
}

/** A running resolution; `cancel()` stops every outstanding query (the dial is over). */
export interface Resolution {
  cancel(): void;
}

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA']);

/** Whether a name is for the system resolver only: multicast DNS (RFC 6762 §3) is not for unicast servers. */
function isMulticastName(name: string): boolean {
  return name === 'local' || name.endsWith('.local');
}

/** RFC 6761 §6.3: `localhost` and names below it are loopback, without asking DNS. */
function isLocalhostName(name: string): boolean {
  return name === 'localhost' || name.endsWith('.localhost');
}

export class NameResolver {
  readonly #settings: ResolverSettings;
  readonly #hosts: HostsFile | undefined;
  readonly #resolvConf: ResolvConfFile;

  constructor(settings: ResolverSettings = {}) {
    this.#settings = settings;
    this.#hosts =
      settings.hostsPath === null ? undefined : new HostsFile({ path: settings.hostsPath ?? '/etc/hosts' });
    this.#resolvConf = new ResolvConfFile({ path: settings.resolvConfPath ?? '/etc/resolv.conf' });
  }

  /**
   * Starts resolving `host` for `families` and calls `emit` as answers come. `nowMs` is read only to
   * decide whether the hosts and resolv.conf files need a re-check.
   */
  resolve(
    host: string,
    absolute: boolean,
    families: readonly Family[],
    choice: ResolverChoice,
    nowMs: number,
    emit: (event: ResolutionEvent) => void,
  ): Resolution {
    const literal = net.isIP(host);
    if (literal !== 0) {
      for (const family of families) {
        if (family === literal) {
          emit({
            type: 'answer',
            family,
            name: host,
            source: 'literal',
            addresses: [{ address: host, family, source: 'literal' }],
          });
        } else {
          emit({
            type: 'error',
            family,
            name: host,
            source: 'literal',
            code: 'ENODATA',
            message: `${host} is an IPv${literal} address`,
          });
        }
      }
      return { cancel() {} };
    }
    if (typeof choice === 'function') return resolveCustom(choice, host, families, emit);

    if (choice !== 'system') {
      const fromHosts = this.#hosts?.lookup(host, nowMs);
      if (fromHosts && fromHosts.length > 0) {
        emitList(host, 'hosts', families, fromHosts, emit);
        return { cancel() {} };
      }
      if (isLocalhostName(host)) {
        const loopback = [
          { address: '::1', family: 6 as const },
          { address: '127.0.0.1', family: 4 as const },
        ];
        emitList(host, 'hosts', families, loopback, emit);
        return { cancel() {} };
      }
    }
    if (choice === 'system' || (choice === 'auto' && isMulticastName(host))) {
      return resolveSystem(host, families, emit);
    }
    const conf = this.#resolvConf.get(nowMs);
    const candidates = searchCandidates(host, absolute, conf);
    const nameservers =
      this.#settings.nameservers ??
      (this.#settings.resolvConfPath !== undefined ? conf.nameservers : undefined);
    const resolver = new dns.promises.Resolver({
      timeout: this.#settings.dnsTimeoutMs ?? conf.timeoutMs ?? -1,
      tries: this.#settings.dnsTries ?? conf.attempts ?? 4,
    });
    if (nameservers && nameservers.length > 0) resolver.setServers([...nameservers]);
    return new SearchListQuery(resolver, host, candidates, families, choice === 'auto', emit);
  }
}

function emitList(
  name: string,
  source: AddressSource,
  families: readonly Family[],
  list: ReadonlyArray<{ address: string; family: Family; ttlSeconds?: number | undefined }>,
  emit: (event: ResolutionEvent) => void,
): void {
  for (const family of families) {
    const addresses = list
      .filter((a) => a.family === family)
      .map((a) => ({ address: a.address, family, ttlSeconds: a.ttlSeconds, source }));
    if (addresses.length > 0) emit({ type: 'answer', family, name, source, addresses });
    else
      emit({
        type: 'error',
        family,
        name,
        source,
        code: 'ENODATA',
        message: `${name} has no IPv${family} address`,
      });
  }
}

function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.length > 0 ? code : 'EAI_FAIL';
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function resolveCustom(
  fn: ResolveFunction,
  host: string,
  families: readonly Family[],
  emit: (event: ResolutionEvent) => void,
): Resolution {
  const controller = new AbortController();
  let over = false;
  for (const family of families) {
    emit({ type: 'query', family, name: host, source: 'custom' });
    Promise.resolve()
      .then(() => fn(host, family, { signal: controller.signal }))
      .then(
        (list) => {
          if (over) return;
          const addresses: ResolvedAddress[] = [];
          for (const item of list ?? []) {
            const address = typeof item === 'string' ? item : item?.address;
            if (typeof address !== 'string' || net.isIP(address) !== family) continue;
            const ttlSeconds = typeof item === 'string' ? undefined : item.ttlSeconds;
            addresses.push({ address, family, ttlSeconds, source: 'custom' });
          }
          if (addresses.length > 0) emit({ type: 'answer', family, name: host, source: 'custom', addresses });
          else
            emit({
              type: 'error',
              family,
              name: host,
              source: 'custom',
              code: 'ENODATA',
              message: `${host} has no IPv${family} address`,
            });
        },
        (err: unknown) => {
          if (over) return;
          emit({
            type: 'error',
            family,
            name: host,
            source: 'custom',
            code: errorCode(err),
            message: errorMessage(err),
          });
        },
      );
  }
  return {
    cancel() {
      over = true;
      controller.abort();
    },
  };
}

function resolveSystem(
  host: string,
  families: readonly Family[],
  emit: (event: ResolutionEvent) => void,
): Resolution {
  let over = false;
  const family = families.length === 1 ? families[0]! : 0;
  for (const f of families) emit({ type: 'query', family: f, name: host, source: 'system' });
  // getaddrinfo answers both families at once, so the system resolver cannot start early (RFC 8305 §3).
  dns.lookup(host, { all: true, family, order: 'verbatim' }, (err, list) => {
    if (over) return;
    if (err) {
      for (const f of families)
        emit({
          type: 'error',
          family: f,
          name: host,
          source: 'system',
          code: errorCode(err),
          message: err.message,
        });
      return;
    }
    emitList(host, 'system', families, list as Array<{ address: string; family: Family }>, emit);
  });
  return {
    cancel() {
      over = true;
    },
  };
}

interface FamilyResult {
  ok: boolean;
  code?: string;
  message?: string;
}

/**
 * DNS with a resolv.conf search list. Candidates are tried in order (resolv.conf(5)); for each, A and
 * AAAA go out in parallel and a positive answer is passed on at once. The first candidate with a positive
 * answer is the name; NXDOMAIN for either type moves on at once (RFC 8020: nothing exists below it, so
 * the other type cannot exist either); other failures move on when both types have failed.
 */
class SearchListQuery implements Resolution {
  readonly #resolver: dns.promises.Resolver;
  readonly #host: string;
  readonly #candidates: readonly string[];
  readonly #families: readonly Family[];
  readonly #systemFallback: boolean;
  readonly #emit: (event: ResolutionEvent) => void;
  readonly #done = new Set<Family>();
  /** Errors per family of the most telling candidate so far: the name as written, else the last tried. */
  #lastErrors = new Map<Family, FamilyResult>();
  #reportedErrorsFromHost = false;
  #index = -1;
  #outstanding = 0;
  #over = false;
  #fallback: Resolution | undefined;

  constructor(
    resolver: dns.promises.Resolver,
    host: string,
    candidates: readonly string[],
    families: readonly Family[],
    systemFallback: boolean,
    emit: (event: ResolutionEvent) => void,
  ) {
    this.#resolver = resolver;
    this.#host = host;
    this.#candidates = candidates;
    this.#families = families;
    this.#systemFallback = systemFallback;
    this.#emit = emit;
    this.#next();
  }

  cancel(): void {
    this.#over = true;
    this.#fallback?.cancel();
    if (this.#outstanding > 0) this.#resolver.cancel();
  }

  #next(): void {
    this.#index++;
    const name = this.#candidates[this.#index];
    if (name === undefined) {
      this.#exhausted();
      return;
    }
    const results = new Map<Family, FamilyResult>();
    let movedOn = false;
    for (const family of this.#families) {
      this.#emit({ type: 'query', family, name, source: 'dns' });
      this.#outstanding++;
      const query =
        family === 4
          ? this.#resolver.resolve4(name, { ttl: true })
          : this.#resolver.resolve6(name, { ttl: true });
      query.then(
        (records) => {
          this.#outstanding--;
          if (this.#over || movedOn) return;
          results.set(family, { ok: true });
          const addresses = records.map((r) => ({
            address: r.address,
            family,
            ttlSeconds: r.ttl,
            source: 'dns' as const,
          }));
          this.#finishFamily({ type: 'answer', family, name, source: 'dns', addresses });
        },
        (err: unknown) => {
          this.#outstanding--;
          if (this.#over || movedOn) return;
          const failure = { ok: false, code: errorCode(err), message: errorMessage(err) };
          results.set(family, failure);
          if ([...results.values()].some((r) => r.ok)) {
            // The name exists (the other type answered): this failure is this family's answer.
            this.#finishFamily({
              type: 'error',
              family,
              name,
              source: 'dns',
              code: failure.code,
              message: failure.message,
            });
            return;
          }
          const nxdomain = failure.code === 'ENOTFOUND';
          if (!nxdomain && results.size < this.#families.length) return;
          movedOn = true;
          // NXDOMAIN for one type stands for every type of the name (RFC 8020).
          const errors = new Map<Family, FamilyResult>();
          for (const f of this.#families) errors.set(f, results.get(f) ?? failure);
          // The error reported in the end is the one for the name as written, else the last candidate's.
          if (name === this.#host || !this.#reportedErrorsFromHost) {
            this.#lastErrors = errors;
            this.#reportedErrorsFromHost = name === this.#host;
          }
          this.#next();
        },
      );
    }
  }

  #finishFamily(event: ResolutionEvent): void {
    if (this.#done.has(event.family)) return;
    this.#done.add(event.family);
    this.#emit(event);
    if (this.#done.size === this.#families.length) this.#over = true;
  }

  /** No candidate had an address. Fall back to the system resolver for names DNS does not know. */
  #exhausted(): void {
    const all = [...this.#lastErrors.values()];
    if (this.#systemFallback && all.every((r) => r.code !== undefined && NOT_FOUND.has(r.code))) {
      this.#fallback = resolveSystem(this.#host, this.#families, (event) => {
        if (!this.#over) this.#emit(event);
      });
      return;
    }
    for (const family of this.#families) {
      const r = this.#lastErrors.get(family) ?? {
        ok: false,
        code: 'ENOTFOUND',
        message: `${this.#host} not found`,
      };
      this.#finishFamily({
        type: 'error',
        family,
        name: this.#host,
        source: 'dns',
        code: r.code ?? 'ENOTFOUND',
        message: r.message ?? `${this.#host} not found`,
      });
    }
    this.#over = true;
  }
}
