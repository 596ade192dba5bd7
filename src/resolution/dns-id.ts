/**
 * DNS message IDs: 16 bits each from a cryptographically strong source, so that an off-path attacker
 * cannot predict them (RFC 5452 §4.3 and §9.2; the source port, fresh per transmission, adds the rest).
 *
 * Read from the kernel's random source, /dev/urandom, 256 IDs at a time (one open, one read, one close;
 * ~20 µs), or from node:crypto's `randomFillSync` where that file cannot be read (Windows, a chroot
 * without /dev). Why not `crypto.randomInt` for every ID as before: loading node:crypto costs ~1.5–2.5 ms
 * of CPU in a fresh process — more than the rest of a first dial's DNS exchange — and nothing else on a
 * dial's path needs it (issue 16, cold start). Both sources are the kernel's CSPRNG on Linux.
 */
import { crypto, fs } from '../builtins.js';

const IDS_PER_READ = 256;

/** A source of DNS IDs in [0, 65535] reading `randomPath` (tests name a missing file to take node:crypto). */
export function dnsIdSource(randomPath: string): () => number {
  const ids = new Uint16Array(IDS_PER_READ);
  const bytes = new Uint8Array(ids.buffer);
  let next = IDS_PER_READ;
  return () => {
    if (next === IDS_PER_READ) {
      if (!readFully(randomPath, bytes)) crypto().randomFillSync(bytes);
      next = 0;
    }
    return ids[next++]!;
  };
}

/** Fills `into` from the file at `path`; false when it cannot (missing, unreadable, short). */
function readFully(path: string, into: Uint8Array): boolean {
  let fd: number;
  try {
    fd = fs.openSync(path, 'r');
  } catch {
    return false;
  }
  try {
    let filled = 0;
    while (filled < into.length) {
      const n = fs.readSync(fd, into, filled, into.length - filled, null);
      if (n <= 0) return false;
      filled += n;
    }
    return true;
  } catch {
    return false;
  } finally {
    fs.closeSync(fd);
  }
}

/** The DNS client's IDs. */
export const randomDnsId: () => number = dnsIdSource('/dev/urandom');
