/**
 * NETDIAL_MEMORY_FILE: the default Dialer's memory (DNS answers, SRV/HTTPS ones too, with their remaining TTLs, failed
 * endpoints with their backoff, RTTs) loaded at start and saved at exit, so a short-lived process starts
 * warm. Built on the memory's own snapshot API (`Dialer#exportMemory`, `DialMemory.fromJSON`), which
 * carries times as durations plus a wall-clock stamp, so what expired between two runs is dropped.
 *
 * - Synchronous on purpose: loading runs while `--import`/`--require` preloads (before the app), saving
 *   runs in the process's 'exit' event, where nothing asynchronous completes.
 * - Bounded: a file larger than MAX_MEMORY_FILE_BYTES is not read; a snapshot that would be larger is cut
 *   (least recently used DNS names and endpoints first) before it is written.
 * - Atomic: written to a temporary file next to it (mode 0600: it lists the hosts the process talked to)
 *   and renamed over it, so a reader never sees half a file and a crash leaves the old one.
 * - A file that is missing (or empty) is an empty memory. One that is not a netdial memory netdial reads —
 *   someone else's file (a package.json), corrupt, truncated, from another version, too big, unreadable —
 *   is neither loaded nor ever overwritten: one warning at start says so, and nothing is saved.
 * - A symlink is followed: the file read and replaced is its target (made absolute at start), written
 *   atomically in the target's own directory, so the link stays a link. A link to a file not made yet is
 *   followed to where it points (created at exit); a link loop or a target in a missing directory is
 *   refused at start.
 * Several processes sharing one file: each starts from what the last one to exit saved.
 */
import { fs, path } from '../builtins.js';
import { DialMemory, type MemoryJson } from '../memory/dial-memory.js';
import { invalidEnv } from './environment.js';

const {
  closeSync,
  lstatSync,
  realpathSync,
  fsyncSync,
  openSync,
  readlinkSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} = fs;
const { basename, dirname, join, resolve } = path;

/** The largest memory file read or written: 1 MiB (the default memory limits fit well within it). */
export const MAX_MEMORY_FILE_BYTES = 1024 * 1024;

/**
 * Checks at start that the memory file can be kept where NETDIAL_MEMORY_FILE says: its directory exists
 * and the path is not a directory. Returns the file to use: `file`, or its target when it is a symlink.
 * (Whether it is writable shows at exit, as a warning.)
 * @throws TypeError (code ERR_NETDIAL_INVALID_ENV) naming NETDIAL_MEMORY_FILE.
 */
export function checkMemoryFilePath(file: string): string {
  try {
    file = memoryFileTarget(file);
  } catch (err) {
    throw invalidEnv(
      'NETDIAL_MEMORY_FILE',
      `${file} is a symlink whose target cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  let dir: ReturnType<typeof statSync>;
  try {
    dir = statSync(dirname(file));
  } catch (err) {
    throw invalidEnv(
      'NETDIAL_MEMORY_FILE',
      `the directory of ${file} cannot be used (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (!dir.isDirectory()) {
    throw invalidEnv('NETDIAL_MEMORY_FILE', `${dirname(file)} (the directory of ${file}) is not a directory`);
  }
  let stat: ReturnType<typeof statSync> | undefined;
  try {
    stat = statSync(file);
  } catch {
    stat = undefined; // missing: created at exit
  }
  if (stat?.isDirectory() === true) throw invalidEnv('NETDIAL_MEMORY_FILE', `${file} is a directory`);
  return file;
}

/**
 * The file a memory is written to for `file`: `file` itself, or when it is a symlink its target (a saved
 * memory replaces the target, the link stays), one level at a time while the target does not exist yet
 * (the first run). Used by NETDIAL_MEMORY_FILE and the CLI's --memory-file alike.
 * @throws the file system's error when the link's target cannot be resolved for another reason (ELOOP…).
 */
export function memoryFileTarget(file: string): string {
  let link: ReturnType<typeof lstatSync> | undefined;
  try {
    link = lstatSync(file);
  } catch {
    return file; // missing: created when saved
  }
  if (!link.isSymbolicLink()) return file;
  try {
    return realpathSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return memoryFileTarget(linkTarget(file));
    throw err;
  }
}

/** Where symlink `link` points, absolute (one level). */
function linkTarget(link: string): string {
  return resolve(dirname(link), readlinkSync(link));
}

/** What loading found: a memory, or none (missing file) and, when the file was unusable, why. */
export interface LoadedMemory {
  memory: DialMemory | undefined;
  /** Set when the file existed but was ignored: the warning to show. */
  warning: string | undefined;
  /** Whether the file may be written at exit: it is missing, empty, or a netdial memory read now. */
  saveable: boolean;
}

/**
 * Reads the memory file. `nowMs` is the Dialer's clock (performance.now()), `wallClockMs` Date.now().
 * Never throws: a missing or empty file gives no memory and no warning (saveable); an unreadable,
 * oversized or malformed one gives no memory, a warning naming the file and the reason, and not saveable.
 */
export function loadMemoryFile(
  file: string,
  nowMs: number,
  wallClockMs: number,
  maxBytes = MAX_MEMORY_FILE_BYTES,
): LoadedMemory {
  const ignored = (why: string): LoadedMemory => ({
    memory: undefined,
    warning: `NETDIAL_MEMORY_FILE ${file} is not a netdial memory file (${why}): not loaded, and not saved at exit (it is left as it is); starting with an empty memory`,
    saveable: false,
  });
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > maxBytes) return ignored(`${size} bytes, more than the ${maxBytes}-byte bound`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { memory: undefined, warning: undefined, saveable: true };
    return ignored(`it cannot be read (${code ?? (err as Error).message})`);
  }
  // The size may have changed between stat and read (another process saving): bound the text itself too.
  if (Buffer.byteLength(text) > maxBytes) return ignored(`more than the ${maxBytes}-byte bound`);
  if (text.trim() === '') return { memory: undefined, warning: undefined, saveable: true };
  try {
    return {
      memory: DialMemory.fromJSON(JSON.parse(text) as MemoryJson, nowMs, wallClockMs),
      warning: undefined,
      saveable: true,
    };
  } catch (err) {
    return ignored((err as Error).message);
  }
}

/**
 * `json` as file text of at most `maxBytes` bytes: when the whole snapshot is larger, the least recently
 * used DNS names, endpoints and service record answers (the front of each list: snapshots are in LRU order) are dropped, in
 * proportion, until it fits. Pure.
 */
export function boundedMemoryText(json: MemoryJson, maxBytes = MAX_MEMORY_FILE_BYTES): string {
  let text = `${JSON.stringify(json)}\n`;
  let keep = 1;
  while (Buffer.byteLength(text) > maxBytes) {
    // Shrink by the overshoot, and at least by a tenth, so a few rounds always suffice.
    keep *= Math.min(0.9, (maxBytes / Buffer.byteLength(text)) * 0.95);
    const cut: MemoryJson = {
      ...json,
      dns: { ...json.dns, entries: newest(json.dns.entries, keep) },
      endpoints: { ...json.endpoints, endpoints: newest(json.endpoints.endpoints, keep) },
      ...(json.services === undefined
        ? {}
        : { services: { ...json.services, entries: newest(json.services.entries, keep) } }),
    };
    text = `${JSON.stringify(cut)}\n`;
    if (
      cut.dns.entries.length === 0 &&
      cut.endpoints.endpoints.length === 0 &&
      (cut.services?.entries.length ?? 0) === 0
    )
      break;
  }
  return text;
}

/** The most recently used `share` (0–1) of a snapshot list, LRU order kept: its tail. */
function newest<T>(list: readonly T[], share: number): T[] {
  return list.slice(list.length - Math.floor(list.length * share));
}

/**
 * Writes `text` to `file` atomically: a temporary file in the same directory (mode 0600), flushed, then
 * renamed over `file`. On failure the temporary file is removed and the error thrown; `file` is untouched.
 */
export function writeFileAtomically(file: string, text: string): void {
  const temporary = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temporary, 'w', 0o600);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw err;
  }
}
