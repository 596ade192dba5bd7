/**
 * NETDIAL_MEMORY_FILE: the default Dialer's memory (DNS answers with their remaining TTLs, failed
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
 * - A file that is missing is an empty memory; one that is not a netdial memory (corrupt, truncated, from
 *   an incompatible version, too big) is ignored with a warning and replaced at exit.
 * Several processes sharing one file: each starts from what the last one to exit saved.
 */
import {
  closeSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { DialMemory, type MemoryJson } from '../memory/dial-memory.js';
import { invalidEnv } from './environment.js';

/** The largest memory file read or written: 1 MiB (the default memory limits fit well within it). */
export const MAX_MEMORY_FILE_BYTES = 1024 * 1024;

/**
 * Checks at start that the memory file can be kept where NETDIAL_MEMORY_FILE says: its directory exists
 * and the path is not a directory. (Whether it is writable shows at exit, as a warning.)
 * @throws TypeError (code ERR_NETDIAL_INVALID_ENV) naming NETDIAL_MEMORY_FILE.
 */
export function checkMemoryFilePath(file: string): void {
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
}

/** What loading found: a memory, or none (missing file) and, when the file was unusable, why. */
export interface LoadedMemory {
  memory: DialMemory | undefined;
  /** Set when the file existed but was ignored: the warning to show. */
  warning: string | undefined;
}

/**
 * Reads the memory file. `nowMs` is the Dialer's clock (performance.now()), `wallClockMs` Date.now().
 * Never throws: a missing file gives no memory and no warning; an unreadable, oversized or malformed one
 * gives no memory and a warning naming the file and the reason.
 */
export function loadMemoryFile(
  file: string,
  nowMs: number,
  wallClockMs: number,
  maxBytes = MAX_MEMORY_FILE_BYTES,
): LoadedMemory {
  const ignored = (why: string): LoadedMemory => ({
    memory: undefined,
    warning: `NETDIAL_MEMORY_FILE ${file} ignored: ${why}; starting with an empty memory`,
  });
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > maxBytes) return ignored(`${size} bytes, more than the ${maxBytes}-byte bound`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { memory: undefined, warning: undefined };
    return ignored(`it cannot be read (${code ?? (err as Error).message})`);
  }
  // The size may have changed between stat and read (another process saving): bound the text itself too.
  if (Buffer.byteLength(text) > maxBytes) return ignored(`more than the ${maxBytes}-byte bound`);
  try {
    return {
      memory: DialMemory.fromJSON(JSON.parse(text) as MemoryJson, nowMs, wallClockMs),
      warning: undefined,
    };
  } catch (err) {
    return ignored(`not a netdial memory (${(err as Error).message})`);
  }
}

/**
 * `json` as file text of at most `maxBytes` bytes: when the whole snapshot is larger, the least recently
 * used DNS names and endpoints (the front of each list: snapshots are in LRU order) are dropped, in
 * proportion, until it fits. Pure.
 */
export function boundedMemoryText(json: MemoryJson, maxBytes = MAX_MEMORY_FILE_BYTES): string {
  let text = `${JSON.stringify(json)}\n`;
  let keep = 1;
  while (Buffer.byteLength(text) > maxBytes) {
    // Shrink by the overshoot, and at least by a tenth, so a few rounds always suffice.
    keep *= Math.min(0.9, (maxBytes / Buffer.byteLength(text)) * 0.95);
    const dns = json.dns.entries;
    const endpoints = json.endpoints.endpoints;
    const cut: MemoryJson = {
      ...json,
      dns: { ...json.dns, entries: dns.slice(dns.length - Math.floor(dns.length * keep)) },
      endpoints: {
        ...json.endpoints,
        endpoints: endpoints.slice(endpoints.length - Math.floor(endpoints.length * keep)),
      },
    };
    text = `${JSON.stringify(cut)}\n`;
    if (cut.dns.entries.length === 0 && cut.endpoints.endpoints.length === 0) break;
  }
  return text;
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
