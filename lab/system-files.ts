/**
 * Points the system resolver (getaddrinfo, `dns.lookup`, curl, Python) at the lab: private copies of
 * /etc/resolv.conf and /etc/hosts (and, when a lab asks for one, /etc/nsswitch.conf) bind-mounted over the real paths inside the lab's own mount namespace.
 * The copies are unlinked right after mounting, so nothing is left on disk even after SIGKILL; the host's
 * files are never written.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChecked } from './exec.js';

/** Paths the lab covers. */
export const RESOLV_CONF_PATH = '/etc/resolv.conf';
export const HOSTS_PATH = '/etc/hosts';
/** Covered only when a lab asks for its own `hosts:` line (`LabOptions.nsswitchHosts`). */
export const NSSWITCH_PATH = '/etc/nsswitch.conf';

/** Renders nsswitch.conf(5) text with the given `hosts:` services (other databases: files). */
export function renderNsswitch(hostsLine: string): string {
  return [
    '# netdial lab (private to the lab mount namespace)',
    'passwd: files',
    'group: files',
    'shadow: files',
    `hosts: ${hostsLine}`,
    'networks: files',
    'services: files',
    'protocols: files',
    '',
  ].join('\n');
}

/** Contents of the lab's resolv.conf. */
export interface ResolvConfSettings {
  nameserver: string;
  /** Search list, in order. */
  search: readonly string[];
  /** `options ndots:N`. */
  ndots: number;
  /** Further `options` words, e.g. 'timeout:1', 'attempts:1', 'single-request'. */
  options: readonly string[];
}

/** Renders resolv.conf text (resolv.conf(5)). */
export function renderResolvConf(settings: ResolvConfSettings): string {
  const lines = ['# netdial lab (private to the lab mount namespace)', `nameserver ${settings.nameserver}`];
  if (settings.search.length > 0) lines.push(`search ${settings.search.join(' ')}`);
  lines.push(['options', `ndots:${settings.ndots}`, ...settings.options].join(' '));
  return `${lines.join('\n')}\n`;
}

/** Extra /etc/hosts entries: name -> one address or several. */
export type HostsEntries = Readonly<Record<string, string | readonly string[]>>;

/** Renders hosts(5) text: the usual localhost lines, then one line per (address, name) of `entries`. */
export function renderHosts(entries: HostsEntries = {}): string {
  const lines = [
    '# netdial lab (private to the lab mount namespace)',
    '127.0.0.1 localhost',
    '::1 localhost ip6-localhost ip6-loopback',
  ];
  for (const [name, value] of Object.entries(entries)) {
    for (const address of typeof value === 'string' ? [value] : value) lines.push(`${address} ${name}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Mounted private system files; `unmount()` restores the view of the real files. */
export interface SystemFilesMount {
  unmount(): Promise<void>;
}

/** Prefix of the temporary directory that holds the private copies for a moment (unique per process:
 * every lab process is PID 1, so the PID cannot tell them apart). */
export const PRIVATE_COPY_PREFIX = `netdial-lab-${randomBytes(4).toString('hex')}-`;

let madePrivate: Promise<string> | undefined;

/**
 * Bind-mounts private resolv.conf and hosts contents (and nsswitch.conf, when given) over the real paths. Callers must be inside the lab's
 * private mount namespace (`withLab` checks that). Makes `/` recursively private first (once per process),
 * so no mount can propagate out even if the namespace was created with shared propagation.
 */
export async function mountSystemFiles(
  resolvConf: string,
  hosts: string,
  nsswitch?: string,
): Promise<SystemFilesMount> {
  madePrivate ??= runChecked('mount', ['--make-rprivate', '/']);
  await madePrivate;
  const dir = mkdtempSync(join(tmpdir(), PRIVATE_COPY_PREFIX));
  const copies = [
    { source: join(dir, 'resolv.conf'), target: RESOLV_CONF_PATH, text: resolvConf },
    { source: join(dir, 'hosts'), target: HOSTS_PATH, text: hosts },
  ];
  if (nsswitch !== undefined)
    copies.push({ source: join(dir, 'nsswitch.conf'), target: NSSWITCH_PATH, text: nsswitch });
  const mounted: string[] = [];
  try {
    for (const copy of copies) writeFileSync(copy.source, copy.text, { mode: 0o644 });
    for (const copy of copies) {
      await runChecked('mount', ['--bind', copy.source, copy.target]);
      mounted.push(copy.target);
      if (readFileSync(copy.target, 'utf8') !== copy.text)
        throw new Error(`bind mount over ${copy.target} not effective`);
    }
  } catch (error) {
    if (mounted.length > 0) await runChecked('umount', mounted).catch(() => {});
    throw error;
  } finally {
    for (const copy of copies) {
      try {
        unlinkSync(copy.source);
      } catch {
        // not written
      }
    }
    rmdirSync(dir);
  }
  return {
    async unmount() {
      await runChecked('umount', mounted);
    },
  };
}
