/**
 * /etc/nsswitch.conf awareness: which resolver can give the right answer for a name. A pure parser of the
 * `hosts:` line, a pure decision (`hostLookupPlan`) that follows Go's `net` package (src/net/conf.go,
 * `hostLookupOrder`), and a loader that re-reads the file when it changes (`WatchedTextFile`).
 *
 * netdial's own resolver is /etc/hosts ("files") and DNS ("dns"). When the `hosts:` line asks for sources
 * that these cannot stand in for, or for criteria that change when the next source is asked, the only
 * correct answer is the system's `getaddrinfo` (`dns.lookup`), which runs the NSS modules themselves.
 */
import { WatchedTextFile } from './hosts-file.js';

/** One `[STATUS=action]` item of nsswitch.conf(5); `negate` for `[!STATUS=action]`. Lowercase. */
export interface NssCriterion {
  negate: boolean;
  status: string;
  action: string;
}

/** One service of a database line, with the criteria written after it. `source` is lowercase. */
export interface NssSource {
  source: string;
  criteria: NssCriterion[];
}

/** What netdial reads of nsswitch.conf: the `hosts:` services; undefined when there is no `hosts:` line. */
export interface NsswitchConf {
  hosts: NssSource[] | undefined;
}

/**
 * Parses nsswitch.conf(5) text. `#` starts a comment anywhere on a line; a line is `database: services`,
 * database names compare case-insensitively, the last line for a database wins (as glibc's nss_database
 * reads it: a later line replaces the earlier). Services are words; `[...]` after a service holds its
 * criteria, `STATUS=action` items separated by blanks, `!` negating the status. A malformed `[...]` (no
 * closing bracket, an item without `=`) makes the whole line unusable, like glibc, which then ignores the
 * line: `hosts` is reported as undefined in that case.
 */
export function parseNsswitch(text: string): NsswitchConf {
  let hosts: NssSource[] | undefined;
  for (const rawLine of text.split('\n')) {
    const hash = rawLine.indexOf('#');
    const line = (hash === -1 ? rawLine : rawLine.slice(0, hash)).trim();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    if (line.slice(0, colon).trim().toLowerCase() !== 'hosts') continue;
    hosts = parseServices(line.slice(colon + 1));
  }
  return { hosts };
}

function parseServices(text: string): NssSource[] | undefined {
  const sources: NssSource[] = [];
  let rest = text.trim();
  while (rest !== '') {
    if (rest.startsWith('[')) {
      const close = rest.indexOf(']');
      const last = sources.at(-1);
      if (close === -1 || last === undefined) return undefined;
      for (const item of rest.slice(1, close).trim().split(/\s+/)) {
        if (item === '') continue;
        const negate = item.startsWith('!');
        const [status, action, extra] = (negate ? item.slice(1) : item).split('=');
        if (!status || !action || extra !== undefined) return undefined;
        last.criteria.push({ negate, status: status.toLowerCase(), action: action.toLowerCase() });
      }
      rest = rest.slice(close + 1).trim();
      continue;
    }
    const word = /^[^\s[]+/.exec(rest)![0];
    sources.push({ source: word.toLowerCase(), criteria: [] });
    rest = rest.slice(word.length).trim();
  }
  return sources;
}

/**
 * How a name is resolved:
 * - 'files-dns': /etc/hosts, then DNS (netdial's own resolver; the usual `hosts: files dns`);
 * - 'dns-files': DNS, then /etc/hosts for names DNS has no address for;
 * - 'files': /etc/hosts only; 'dns': DNS only;
 * - 'system': the system resolver (`dns.lookup`, getaddrinfo with its NSS modules).
 */
export type HostLookupOrder = 'files-dns' | 'dns-files' | 'files' | 'dns' | 'system';

/** The decision and the one-line reason for it (shown in reports). */
export interface HostLookupPlan {
  order: HostLookupOrder;
  reason: string;
}

/** What the decision needs to know besides the `hosts:` line. */
export interface HostLookupContext {
  /** The machine's host name (os.hostname()), for `myhostname`. */
  machineHostname: string;
  /**
   * Whether the C library is glibc (reads nsswitch.conf) or another one (musl reads /etc/hosts, then DNS,
   * and has no nsswitch.conf): decides what a missing `hosts:` line means.
   */
  glibc: boolean;
  /** Whether /etc/mdns.allow exists (it can let mDNS modules answer names other than `.local`). */
  mdnsAllow?: boolean | undefined;
}

/**
 * glibc's `hosts` services when nsswitch.conf is missing or has no `hosts:` line (nsswitch.conf(5),
 * "NOTES"/defaults; glibc nss/nss_database.c): `dns [!UNAVAIL=return] files` — /etc/hosts only when DNS is
 * unavailable.
 */
export const GLIBC_DEFAULT_HOSTS = 'dns [!UNAVAIL=return] files';

/**
 * nss-myhostname(8): names the module answers itself. `localhost` and `*.localhost` (RFC 6761 §6.3)
 * netdial answers with the same loopback addresses, so only the others need the module: the local host
 * name, `localhost.localdomain` (and names under it), `_gateway` and `_outbound` (systemd), and
 * `gateway` (older systemd; Go's `isGateway`).
 */
function myhostnameAnswers(name: string, machineHostname: string): string | undefined {
  if (name === 'localhost.localdomain' || name.endsWith('.localhost.localdomain'))
    return `${name} is a localhost.localdomain name`;
  if (name === '_gateway' || name === 'gateway' || name === '_outbound') return `${name} is a gateway name`;
  if (machineHostname !== '' && name === machineHostname.toLowerCase())
    return `${name} is this machine's host name`;
  return undefined;
}

/**
 * Go's `nssSource.standardCriteria`: criteria that change nothing compared with writing none — SUCCESS=return,
 * NOTFOUND/UNAVAIL/TRYAGAIN=continue; on the last service any action is `return` in effect. Anything else
 * (`[NOTFOUND=return]` before another service, a negation, an unknown status, `merge`) alters which service
 * answers, and netdial does not model it.
 */
function standardCriteria(source: NssSource, isLast: boolean): boolean {
  return source.criteria.every((c) => {
    if (c.negate) return false;
    let standard: string;
    if (c.status === 'success') standard = 'return';
    else if (c.status === 'notfound' || c.status === 'unavail' || c.status === 'tryagain')
      standard = 'continue';
    else return false;
    return (isLast && c.action === 'return') || c.action === standard;
  });
}

const described = new WeakMap<readonly NssSource[], string>();

/** The `hosts:` services as text (memoised per parsed line: reasons are built on every dial). */
function describe(sources: readonly NssSource[]): string {
  let text = described.get(sources);
  if (text === undefined) {
    text = describeUncached(sources);
    described.set(sources, text);
  }
  return text;
}

function describeUncached(sources: readonly NssSource[]): string {
  return sources
    .map((s) =>
      s.criteria.length === 0
        ? s.source
        : `${s.source} [${s.criteria.map((c) => `${c.negate ? '!' : ''}${c.status.toUpperCase()}=${c.action}`).join(' ')}]`,
    )
    .join(' ');
}

/**
 * Which resolver gives the right answer for `name` (lowercase, no trailing dot) under the `hosts:` services
 * `hosts` (undefined: no nsswitch.conf, or no `hosts:` line). Go's rules (src/net/conf.go,
 * `hostLookupOrder`), with netdial's own DNS client in the role of Go's pure resolver:
 * - no `hosts:` line: on glibc its default `dns [!UNAVAIL=return] files` → 'dns' (the files part, used
 *   only when DNS is unavailable, is what the 'auto' fallback to the system resolver gives when no DNS
 *   server can be reached); elsewhere (musl: no nsswitch.conf, /etc/hosts then DNS) → 'files-dns'.
 *   Deviation from Go, which takes 'files-dns' in both cases.
 * - `myhostname`: names the module answers itself (the local host name, `localhost.localdomain`,
 *   `_gateway`…) → 'system'; other names skip it (it answers nothing else).
 * - `mdns*` (`mdns4_minimal`, `mdns`…): skipped — they answer `.local` names only, which netdial already
 *   sends to the system resolver; but with /etc/mdns.allow (which may allow any domain) → 'system'.
 * - `files`/`dns` with criteria that are not the standard ones (e.g. `dns [NOTFOUND=return] files`,
 *   `[!UNAVAIL=return]`) → 'system'.
 * - any other service (`resolve`, `ldap`, `wins`, `sss`, `nis`, `mymachines`, `libvirt`…) → 'system':
 *   netdial cannot stand in for it.
 * - otherwise the order of `files` and `dns` as written; neither → 'system'.
 */
export function hostLookupPlan(
  hosts: readonly NssSource[] | undefined,
  name: string,
  context: HostLookupContext,
): HostLookupPlan {
  if (hosts === undefined || hosts.length === 0) {
    return context.glibc
      ? {
          order: 'dns',
          reason: `no hosts line in nsswitch.conf: glibc's default "${GLIBC_DEFAULT_HOSTS}" (hosts file only when DNS is unavailable)`,
        }
      : {
          order: 'files-dns',
          reason: 'no nsswitch.conf hosts line and not glibc: hosts file, then DNS (as musl)',
        };
  }
  const line = `nsswitch.conf "hosts: ${describe(hosts)}"`;
  let files = false;
  let dns = false;
  let first: 'files' | 'dns' | undefined;
  let mdns = false;
  for (const [i, source] of hosts.entries()) {
    const isLast = i === hosts.length - 1;
    if (source.source === 'myhostname') {
      const why = myhostnameAnswers(name, context.machineHostname);
      if (why !== undefined) return { order: 'system', reason: `${line}: myhostname answers it (${why})` };
      continue;
    }
    if (source.source === 'files' || source.source === 'dns') {
      if (!standardCriteria(source, isLast)) {
        return { order: 'system', reason: `${line}: ${source.source} has criteria netdial does not model` };
      }
      if (source.source === 'files') files = true;
      else dns = true;
      first ??= source.source;
      continue;
    }
    if (source.source.startsWith('mdns')) {
      mdns = true;
      continue;
    }
    return { order: 'system', reason: `${line}: ${source.source} is a source netdial cannot stand in for` };
  }
  if (mdns && context.mdnsAllow === true) {
    return { order: 'system', reason: `${line}: /etc/mdns.allow may let mDNS answer any name` };
  }
  if (files && dns) {
    return first === 'files'
      ? { order: 'files-dns', reason: `${line}: hosts file, then DNS` }
      : { order: 'dns-files', reason: `${line}: DNS, then hosts file` };
  }
  if (files) return { order: 'files', reason: `${line}: hosts file only` };
  if (dns) return { order: 'dns', reason: `${line}: DNS only` };
  return { order: 'system', reason: `${line}: neither files nor dns` };
}

/** Options of {@link NsswitchFile}; every field optional. */
export interface NsswitchFileOptions {
  /** Default '/etc/nsswitch.conf'. */
  path?: string | undefined;
  /** Minimum time between two checks of the file, in ms. Default 1000. */
  checkIntervalMs?: number | undefined;
}

const MISSING: NsswitchConf = Object.freeze({ hosts: undefined });

/**
 * nsswitch.conf, re-read when it changes (checked at most once per `checkIntervalMs` of the caller's
 * clock). A missing or unreadable file reads as no `hosts:` line (deviation: Go sends every name to the
 * system resolver when the file exists but cannot be read).
 */
export class NsswitchFile {
  readonly #file: WatchedTextFile<NsswitchConf>;

  /** @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad option. */
  constructor(options: NsswitchFileOptions = {}) {
    this.#file = new WatchedTextFile(
      {
        path: options.path ?? '/etc/nsswitch.conf',
        checkIntervalMs: options.checkIntervalMs ?? 1000,
        maxBytes: 64 * 1024,
      },
      (text) => Object.freeze(parseNsswitch(text)),
      MISSING,
    );
  }

  /** The `hosts:` services as of the last check; undefined without a `hosts:` line or file. */
  hosts(nowMs: number): readonly NssSource[] | undefined {
    return this.#file.get(nowMs).hosts;
  }
}
