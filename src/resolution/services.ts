/**
 * TCP service names -> port numbers, as getservbyname(3) would answer them for `proto = "tcp"`.
 *
 * The table comes from `/etc/services` (services(5)), read once, lazily and synchronously on the first
 * lookup, and from a small built-in table used when the file lacks a name or cannot be read (minimal
 * containers often ship without `/etc/services`).
 */
import { fs } from '../builtins.js';

/** Path of the system services database (services(5)). */
const SERVICES_PATH = '/etc/services';

/** Read at most this many bytes of `/etc/services` (Debian's file is about 13 KiB). */
const SERVICES_MAX_BYTES = 1024 * 1024;

/**
 * Built-in TCP ports used when `/etc/services` does not name the service. Ports are the IANA
 * registrations; `ws`/`wss` are not in IANA's port registry but RFC 6455 §3 gives them the ports of
 * http/https.
 */
const FALLBACK_PORTS: ReadonlyMap<string, number> = new Map([
  ['http', 80],
  ['https', 443],
  ['ws', 80],
  ['wss', 443],
  ['ssh', 22],
  ['smtp', 25],
  ['submission', 587],
  ['domain', 53],
  ['domain-s', 853],
  ['imap', 143],
  ['imaps', 993],
  ['pop3', 110],
  ['pop3s', 995],
  ['ftp', 21],
  ['telnet', 23],
  ['ldap', 389],
  ['ldaps', 636],
  ['postgresql', 5432],
  ['mysql', 3306],
  ['redis', 6379],
  ['mqtt', 1883],
  ['amqp', 5672],
  ['http-alt', 8080],
]);

/**
 * Parses services(5) text into a map of lowercase service name (and each alias) -> TCP port.
 *
 * Line format: `name port/protocol [aliases...] [# comment]`. Only `tcp` entries are kept; ports
 * must be decimal integers in 1..65535 (port 0 cannot be dialled). Comments, blank lines and lines
 * that do not fit the format are ignored. When a name appears more than once, the first entry wins,
 * as with getservbyname(3), which returns the first match in file order.
 */
export function parseServices(text: string): Map<string, number> {
  const table = new Map<string, number>();
  for (const rawLine of text.split('\n')) {
    const hash = rawLine.indexOf('#');
    const line = hash === -1 ? rawLine : rawLine.slice(0, hash);
    const fields = line.split(/[ \t\r\f\v]+/).filter((f) => f !== '');
    if (fields.length < 2) continue;
    const match = /^([0-9]{1,5})\/([A-Za-z0-9]+)$/.exec(fields[1]!);
    if (match === null || match[2]!.toLowerCase() !== 'tcp') continue;
    const port = Number(match[1]);
    if (port < 1 || port > 65535) continue;
    for (const name of [fields[0]!, ...fields.slice(2)]) {
      const key = name.toLowerCase();
      if (!table.has(key)) table.set(key, port);
    }
  }
  return table;
}

let fileTable: Map<string, number> | undefined;

function loadFileTable(): Map<string, number> {
  if (fileTable === undefined) {
    try {
      const bytes = fs.readFileSync(SERVICES_PATH);
      fileTable = parseServices(bytes.subarray(0, SERVICES_MAX_BYTES).toString('utf8'));
    } catch {
      // Missing or unreadable file: only the built-in table answers.
      fileTable = new Map();
    }
  }
  return fileTable;
}

/**
 * Returns the TCP port of a service name (case-insensitive), or undefined when neither `/etc/services`
 * nor the built-in table knows it. Names only: a numeric string such as `"80"` is not a service name
 * and returns undefined (callers parse numbers themselves).
 *
 * `/etc/services` is read synchronously on the first call and cached for the life of the process; a
 * missing or unreadable file leaves only the built-in table (http 80, https 443, ws 80, wss 443, ssh 22,
 * smtp 25, submission 587, domain 53, domain-s 853, imap 143, imaps 993, pop3 110, pop3s 995, ftp 21,
 * telnet 23, ldap 389, ldaps 636, postgresql 5432, mysql 3306, redis 6379, mqtt 1883, amqp 5672,
 * http-alt 8080). The file wins over the built-in table when both name a service.
 */
export function lookupService(name: string): number | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  const key = name.toLowerCase();
  return loadFileTable().get(key) ?? FALLBACK_PORTS.get(key);
}
