/**
 * What a caller's resolver function (`resolver: (host, family) => …`) returned, read defensively. The
 * function is caller code and its output may be anything — a non-iterable, a string, an endless
 * generator, items whose getters throw, Proxies, TTLs that are not numbers. Anything but an iterable of
 * IP strings / `{ address, ttlSeconds? }` becomes a resolution error for that family (EBADRESP, as a DNS
 * client says for a reply it cannot read): never an exception escaping into the process, never a family
 * that does not answer. Pure: no I/O.
 */
import { net } from '../builtins.js';
import type { Family, ResolvedAddress } from '../types.js';

/** Most items read from one answer; an answer with more is refused (an endless generator ends here). */
export const MAX_CUSTOM_ITEMS = 65_536;

/** The code of an answer that cannot be read (c-ares' ARES_EBADRESP, Node's dns.BADRESP). */
export const BAD_ANSWER_CODE = 'EBADRESP';

/** Longest error message taken from a resolver's rejection. */
const MAX_MESSAGE_LENGTH = 300;

export type CustomAnswer =
  | { ok: true; addresses: ResolvedAddress[] }
  | { ok: false; code: string; message: string };

function bad(message: string): CustomAnswer {
  return { ok: false, code: BAD_ANSWER_CODE, message: `resolver answer: ${message}` };
}

function kind(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}

/**
 * Reads `list` as `family`'s addresses. Strings that are IP addresses of the other family are skipped
 * (a resolver may return both families for each call); everything else that is not an address of this
 * family — non-IP text, a malformed item, a TTL that is not a number of seconds >= 0 — makes the whole
 * answer EBADRESP, since an answer that is partly garbage is not one to trust.
 */
export function readCustomAnswer(list: unknown, family: Family): CustomAnswer {
  if (typeof list !== 'object' || list === null) {
    return bad(`expected an array of addresses, got ${kind(list)}`);
  }
  const addresses: ResolvedAddress[] = [];
  let count = 0;
  try {
    const iterator = (list as { [Symbol.iterator]?: unknown })[Symbol.iterator];
    if (typeof iterator !== 'function') return bad(`expected an array of addresses, got ${kind(list)}`);
    for (const item of list as Iterable<unknown>) {
      if (++count > MAX_CUSTOM_ITEMS) return bad(`more than ${MAX_CUSTOM_ITEMS} items`);
      let address: unknown;
      let ttlSeconds: unknown;
      if (typeof item === 'string') address = item;
      else if (typeof item === 'object' && item !== null) {
        address = (item as { address?: unknown }).address;
        ttlSeconds = (item as { ttlSeconds?: unknown }).ttlSeconds;
      } else return bad(`item ${count - 1} is ${kind(item)}, not an address`);
      if (typeof address !== 'string') return bad(`item ${count - 1} has no address string`);
      const ipFamily = net.isIP(address);
      if (ipFamily === 0) return bad(`item ${count - 1} is not an IP address`);
      if (
        ttlSeconds !== undefined &&
        (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds < 0)
      ) {
        return bad(`item ${count - 1} has a ttlSeconds that is not a number >= 0`);
      }
      if (ipFamily !== family) continue;
      addresses.push({
        address,
        family,
        ttlSeconds: ttlSeconds === undefined ? undefined : Math.floor(ttlSeconds),
        source: 'custom',
      });
    }
  } catch {
    // A throwing getter, iterator or Proxy trap: the caller's code failed; say so without its text
    // (which might be anything, even a value whose toString throws).
    return bad('reading it threw');
  }
  return { ok: true, addresses };
}

/** The `code` of a resolver's rejection: its own string code (bounded), else EAI_FAIL. Never throws. */
export function rejectionCode(err: unknown): string {
  try {
    const code = (err as { code?: unknown } | null)?.code;
    if (typeof code === 'string' && /^[A-Za-z0-9_]{1,64}$/.test(code)) return code;
  } catch {
    // a throwing getter: fall through
  }
  return 'EAI_FAIL';
}

/** The message of a resolver's rejection, bounded to one line. Never throws. */
export function rejectionMessage(err: unknown): string {
  let text: string;
  try {
    const message = err instanceof Error ? err.message : typeof err === 'string' ? err : undefined;
    text = typeof message === 'string' ? message : 'the resolver function failed';
  } catch {
    text = 'the resolver function failed';
  }
  text = text.replace(/\s+/g, ' ');
  return text.length > MAX_MESSAGE_LENGTH ? `${text.slice(0, MAX_MESSAGE_LENGTH)}…` : text;
}
