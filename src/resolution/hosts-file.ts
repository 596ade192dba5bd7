/**
 * The hosts file (hosts(5)): a pure parser, and a loader that re-reads the file when it changes,
 * checking at most once per interval on a clock the caller passes in.
 *
 * `WatchedTextFile`, the change-checking loader, is shared with `resolv-conf.ts`.
 */
import { fs, url } from '../builtins.js';
import { inputError } from '../errors.js';
import { canonicalIP } from '../target.js';

/** One address of a hosts-file name. `address` is canonical (see `canonicalIP`), zone id kept. */
export interface HostsEntry {
  address: string;
  family: 4 | 6;
}

/** Made once (a literal in a function body is a new RegExp on every call). */
const ASCII_ONLY = /^[\x00-\x7f]*$/;

/** Lowercase, drop one trailing dot, IDNA-convert non-ASCII; '' when nothing usable is left. */
function normalizeName(raw: string): string {
  const name = raw.endsWith('.') ? raw.slice(0, -1) : raw;
  if (name === '' || name.endsWith('.')) return '';
  if (ASCII_ONLY.test(name)) return name.toLowerCase();
  // Targets are in IDNA ASCII form (target.ts), so a Unicode name in the file is compared in that form.
  return url.domainToASCII(name);
}

/**
 * Parses hosts(5) text: `address canonical_name [aliases...]`, `#` starts a comment. Returns a map from
 * each name (lowercased, one trailing dot removed, non-ASCII names converted to IDNA ASCII) to its
 * addresses in file order, duplicates removed.
 *
 * Addresses are canonicalised with `canonicalIP`: IPv4 in four-part decimal, IPv6 in RFC 5952 form
 * with any `%zone` kept. Lines whose first field is not such an address are ignored, as are lines
 * without a name. Deviation from glibc: glibc reads IPv4 with inet_aton and so would also take `127.1`
 * or `0x7f.0.0.1`; such lines are ignored here, as target.ts refuses those spellings too.
 */
export function parseHosts(text: string): Map<string, HostsEntry[]> {
  const table = new Map<string, HostsEntry[]>();
  for (const rawLine of text.split('\n')) {
    const hash = rawLine.indexOf('#');
    const line = hash === -1 ? rawLine : rawLine.slice(0, hash);
    const fields = line.split(/[ \t\r\f\v]+/).filter((f) => f !== '');
    if (fields.length < 2) continue;
    const ip = canonicalIP(fields[0]!);
    if (ip === undefined) continue;
    for (const rawName of fields.slice(1)) {
      const name = normalizeName(rawName);
      if (name === '') continue;
      let list = table.get(name);
      if (list === undefined) {
        list = [];
        table.set(name, list);
      }
      if (!list.some((e) => e.address === ip.address)) list.push({ address: ip.address, family: ip.family });
    }
  }
  return table;
}

/** Options of {@link WatchedTextFile}. */
export interface WatchedFileOptions {
  /** File to read. */
  path: string;
  /** Minimum time between two `stat` calls, in ms (0 = on every call). */
  checkIntervalMs: number;
  /** Read at most this many bytes; the rest of a longer file is ignored. */
  maxBytes: number;
}

const READ_CHUNK_BYTES = 64 * 1024;

function checkOptions(owner: string, options: WatchedFileOptions): void {
  const bad = (name: string, expected: string, got: unknown) =>
    inputError(
      'ERR_NETDIAL_INVALID_OPTION',
      `${owner}: invalid ${name} ${String(got)}: expected ${expected}`,
    );
  if (typeof options.path !== 'string' || options.path === '') {
    throw bad('path', 'a non-empty string', options.path);
  }
  if (
    typeof options.checkIntervalMs !== 'number' ||
    !Number.isFinite(options.checkIntervalMs) ||
    options.checkIntervalMs < 0
  ) {
    throw bad('checkIntervalMs', 'a finite number >= 0', options.checkIntervalMs);
  }
  if (!Number.isSafeInteger(options.maxBytes) || options.maxBytes < 1) {
    throw bad('maxBytes', 'an integer >= 1', options.maxBytes);
  }
}

/**
 * Reads up to `maxBytes` of a file as UTF-8. When the file is longer, the text is cut after the last
 * newline inside the limit, so a half line is never parsed as a whole one.
 */
function readPrefix(path: string, maxBytes: number): string {
  const fd = fs.openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    // Read one byte past the limit to learn whether the file is longer than maxBytes.
    while (total <= maxBytes) {
      const chunk = Buffer.allocUnsafe(Math.min(READ_CHUNK_BYTES, maxBytes + 1 - total));
      const n = fs.readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      chunks.push(chunk.subarray(0, n));
      total += n;
    }
    const bytes = Buffer.concat(chunks, total);
    if (total <= maxBytes) return bytes.toString('utf8');
    const cut = bytes.subarray(0, maxBytes).lastIndexOf(0x0a);
    return cut === -1 ? '' : bytes.subarray(0, cut + 1).toString('utf8');
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * A parsed view of a small text file that follows changes: `get(nowMs)` calls `fs.statSync` at most once
 * per `checkIntervalMs` (measured on the caller's clock `nowMs`) and re-reads and re-parses the file
 * when its device, inode, size, mtime or ctime changed (nanosecond stat fields). A missing or unreadable
 * file gives `empty`. A file longer than `maxBytes` is parsed up to the last newline within `maxBytes`.
 * The first `get` always checks; so does a `nowMs` earlier than the last check (the clock went back).
 *
 * Limitation: an in-place rewrite with the same size within one tick of the filesystem's timestamp
 * clock (a few ms on Linux) cannot be told from no change; replacing by rename changes the inode and
 * is always seen.
 */
export class WatchedTextFile<T> {
  readonly #options: WatchedFileOptions;
  readonly #parse: (text: string) => T;
  readonly #empty: T;
  #value: T;
  #signature: string | undefined;
  #lastCheckMs: number | undefined;

  /**
   * @param options path, check interval (ms) and size limit (bytes); validated, TypeError with code
   *   ERR_NETDIAL_INVALID_OPTION when bad.
   * @param parse pure parser of the file's text.
   * @param empty the value for a missing or unreadable file.
   */
  constructor(options: WatchedFileOptions, parse: (text: string) => T, empty: T) {
    checkOptions('WatchedTextFile', options);
    this.#options = { ...options };
    this.#parse = parse;
    this.#empty = empty;
    this.#value = empty;
  }

  /** The parsed file as of the last check; re-checks when `checkIntervalMs` has passed since then. */
  get(nowMs: number): T {
    if (typeof nowMs !== 'number' || !Number.isFinite(nowMs)) {
      throw inputError(
        'ERR_NETDIAL_INVALID_OPTION',
        `invalid nowMs ${String(nowMs)}: expected a finite number`,
      );
    }
    const last = this.#lastCheckMs;
    if (last === undefined || nowMs < last || nowMs - last >= this.#options.checkIntervalMs) {
      this.#lastCheckMs = nowMs;
      this.#refresh();
    }
    return this.#value;
  }

  #refresh(): void {
    let signature: string;
    try {
      const st = fs.statSync(this.#options.path, { bigint: true, throwIfNoEntry: false });
      signature = st === undefined ? 'missing' : `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    } catch {
      signature = 'unstatable';
    }
    if (signature === this.#signature) return;
    this.#signature = signature;
    if (signature === 'missing' || signature === 'unstatable') {
      this.#value = this.#empty;
      return;
    }
    let text: string;
    try {
      text = readPrefix(this.#options.path, this.#options.maxBytes);
    } catch {
      // Unreadable (EACCES, EISDIR, vanished between stat and open): treat as empty until it changes.
      this.#value = this.#empty;
      return;
    }
    this.#value = this.#parse(text);
  }
}

/** Options of {@link HostsFile}; every field optional. */
export interface HostsFileOptions {
  /** Default '/etc/hosts'. */
  path?: string | undefined;
  /** Minimum time between two checks of the file, in ms. Default 1000. */
  checkIntervalMs?: number | undefined;
  /** Only the first maxBytes bytes are parsed (cut at the last newline). Default 4 MiB. */
  maxBytes?: number | undefined;
}

const EMPTY_HOSTS: Map<string, HostsEntry[]> = new Map();

/**
 * The hosts file, re-read when it changes. `lookup` checks the file (`fs.statSync`) at most once per
 * `checkIntervalMs` of the caller's clock; a missing or unreadable file is an empty table; a file larger
 * than `maxBytes` is parsed only up to its last complete line within the first `maxBytes` bytes.
 * Defaults: path '/etc/hosts', checkIntervalMs 1000, maxBytes 4 MiB.
 */
export class HostsFile {
  readonly #file: WatchedTextFile<Map<string, HostsEntry[]>>;
  /** The name `lookup` was last asked for, and its normalised key. */
  #lastName: string | undefined;
  #lastKey = '';

  /** @throws TypeError (code ERR_NETDIAL_INVALID_OPTION) for a bad option. */
  constructor(options: HostsFileOptions = {}) {
    this.#file = new WatchedTextFile(
      {
        path: options.path ?? '/etc/hosts',
        checkIntervalMs: options.checkIntervalMs ?? 1000,
        maxBytes: options.maxBytes ?? 4 * 1024 * 1024,
      },
      parseHosts,
      EMPTY_HOSTS,
    );
  }

  /**
   * Addresses of `name` (case-insensitive, a trailing dot ignored) in file order, as a fresh array, or
   * undefined when the file does not list the name. `nowMs` is the caller's clock in ms (e.g.
   * `performance.now()` or `Date.now()`), used only to decide whether to check the file again.
   */
  lookup(name: string, nowMs: number): HostsEntry[] | undefined {
    return this.entries(name, nowMs)?.map((e) => ({ address: e.address, family: e.family }));
  }

  /**
   * As {@link lookup}, but the file's own list (frozen), not a copy: the same array while the file is
   * unchanged, so what is derived from it can be kept with it (resolve.ts; issue 16: a hosts-file dial
   * copied it twice per dial).
   */
  entries(name: string, nowMs: number): readonly HostsEntry[] | undefined {
    const table = this.#file.get(nowMs);
    if (typeof name !== 'string') return undefined;
    // Every dial of a name looks it up here first: the last name's key is kept, not normalised again.
    if (name !== this.#lastName) {
      this.#lastKey = normalizeName(name);
      this.#lastName = name;
    }
    const key = this.#lastKey;
    if (key === '') return undefined;
    const list = table.get(key);
    if (list !== undefined && !Object.isFrozen(list)) {
      for (const e of list) Object.freeze(e);
      Object.freeze(list);
    }
    return list;
  }
}
