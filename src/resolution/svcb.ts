/**
 * The RDATA of SVCB (type 64) and HTTPS (type 65) records, RFC 9460 §2.2, read and written by hand:
 * dns-packet has neither type (it hands their RDATA over as raw bytes, type `UNKNOWN_64`/`UNKNOWN_65`).
 *
 * Decoding never throws: a record that breaks a MUST of §2.2 or of a key's value format (§7) is answered
 * as malformed with the reason, and the client ignores it (§2.2: "clients MUST consider an RR malformed
 * if…"). Encoding is for the lab's DNS server and for tests; it throws a TypeError naming the bad part.
 */

/** RFC 9460 §14.3.2 SvcParamKeys netdial knows by name. */
export const SVC_PARAM_KEYS = {
  mandatory: 0,
  alpn: 1,
  'no-default-alpn': 2,
  port: 3,
  ipv4hint: 4,
  ech: 5,
  ipv6hint: 6,
} as const;

/** Keys netdial understands when they appear in `mandatory` (§8: others make the record unusable). */
const UNDERSTOOD_KEYS: ReadonlySet<number> = new Set(Object.values(SVC_PARAM_KEYS));

/** The SvcParams of one record. Absent fields were not in the record. */
export interface SvcParams {
  /** Keys the client must understand to use the record (§8), ascending. */
  mandatory?: number[];
  /** ALPN protocol ids (§7.1.1), in record order. */
  alpn?: string[];
  /** §7.1.1: the scheme's default ALPN (http/1.1 for HTTPS) is not offered. */
  noDefaultAlpn?: boolean;
  /** §7.2: the TCP/UDP port of the alternative endpoint. */
  port?: number;
  /** §7.3: IPv4 addresses of the TargetName, usable until its own A answer is in. */
  ipv4hint?: string[];
  /** §7.3: IPv6 addresses of the TargetName, usable until its own AAAA answer is in. */
  ipv6hint?: string[];
  /** The ECHConfigList (RFC 9460 §14.3.2, draft-ietf-tls-esni), opaque here. */
  ech?: Uint8Array;
  /** Keys netdial does not interpret (including dohpath, ohttp…), ascending, with their raw values. */
  unknown?: Array<{ key: number; value: Uint8Array }>;
}

/** One SVCB or HTTPS record. */
export interface SvcbRecord {
  /** 0 = AliasMode (§2.4.2); 1..65535 = ServiceMode, lower is preferred (§2.4.3). */
  priority: number;
  /** Lowercase host name without the trailing dot; `.` is the root: "the owner" in ServiceMode (§2.5). */
  targetName: string;
  /** In AliasMode the parameters are ignored (§2.4.2) and decoded as empty. */
  params: SvcParams;
}

export type SvcbDecodeResult = { ok: true; record: SvcbRecord } | { ok: false; reason: string };

/** Longest host name (RFC 1035 §3.1: 255 octets on the wire). */
const MAX_NAME_OCTETS = 255;

/**
 * Reads one RDATA. Malformed (with the reason): truncated or trailing bytes, a compressed or invalid
 * TargetName, keys not strictly ascending (§2.2), a mandatory list that is empty, unsorted, repeats a key,
 * lists `mandatory` itself or a key absent from the record (§8), an empty alpn list or id, a
 * no-default-alpn with a value or without alpn (§7.1.1), a port that is not 2 bytes, hint lists that
 * are empty or not a whole number of addresses (§7.3), an empty ech.
 */
export function decodeSvcbRdata(rdata: Uint8Array): SvcbDecodeResult {
  const view = new DataView(rdata.buffer, rdata.byteOffset, rdata.byteLength);
  if (rdata.length < 3) return bad('shorter than SvcPriority and TargetName');
  const priority = view.getUint16(0);
  const name = readName(rdata, 2);
  if (typeof name === 'string') return bad(name);
  const record: SvcbRecord = { priority, targetName: name.name, params: {} };
  // §2.4.2: in AliasMode, SvcParams are ignored (the record is read as if it had none).
  if (priority === 0) return { ok: true, record };
  const params = record.params;
  let offset = name.end;
  let lastKey = -1;
  while (offset < rdata.length) {
    if (offset + 4 > rdata.length) return bad('truncated SvcParam header');
    const key = view.getUint16(offset);
    const length = view.getUint16(offset + 2);
    offset += 4;
    if (offset + length > rdata.length) return bad(`SvcParam ${keyName(key)} runs past the RDATA`);
    // §2.2: "SvcParamKeys SHALL appear in increasing numeric order"; duplicates are malformed too.
    if (key <= lastKey) return bad(`SvcParam ${keyName(key)} out of order or repeated`);
    lastKey = key;
    const value = rdata.subarray(offset, offset + length);
    offset += length;
    const problem = readParam(key, value, params);
    if (problem !== undefined) return bad(`${keyName(key)}: ${problem}`);
  }
  if (params.noDefaultAlpn && params.alpn === undefined) {
    return bad('no-default-alpn without alpn'); // §7.1.1
  }
  if (params.mandatory) {
    for (const k of params.mandatory) {
      if (!hasKey(params, k)) return bad(`mandatory key ${keyName(k)} is not in the record`); // §8
    }
  }
  return { ok: true, record };
}

/** The keys of a record's `mandatory` list that netdial does not understand (§8: such a record is skipped). */
export function unknownMandatoryKeys(record: SvcbRecord): number[] {
  return (record.params.mandatory ?? []).filter((k) => !UNDERSTOOD_KEYS.has(k));
}

/** Key names as RFC 9460 §14.3.2 registers them; `keyNNNNN` otherwise (§2.1 presentation format). */
export function keyName(key: number): string {
  for (const [name, value] of Object.entries(SVC_PARAM_KEYS)) if (value === key) return name;
  if (key === 7) return 'dohpath';
  if (key === 8) return 'ohttp';
  return `key${key}`;
}

function bad(reason: string): SvcbDecodeResult {
  return { ok: false, reason };
}

function hasKey(params: SvcParams, key: number): boolean {
  switch (key) {
    case 1:
      return params.alpn !== undefined;
    case 2:
      return params.noDefaultAlpn === true;
    case 3:
      return params.port !== undefined;
    case 4:
      return params.ipv4hint !== undefined;
    case 5:
      return params.ech !== undefined;
    case 6:
      return params.ipv6hint !== undefined;
    default:
      return params.unknown?.some((u) => u.key === key) ?? false;
  }
}

/** Decodes one SvcParam into `params`; returns why it is malformed, or undefined. */
function readParam(key: number, value: Uint8Array, params: SvcParams): string | undefined {
  switch (key) {
    case 0: {
      // §8: a non-empty list of keys, ascending, without repeats, not containing `mandatory` itself.
      if (value.length === 0 || value.length % 2 !== 0) return 'not a non-empty list of 2-byte keys';
      const keys: number[] = [];
      for (let i = 0; i < value.length; i += 2) {
        const k = ((value[i] as number) << 8) | (value[i + 1] as number);
        if (k === 0) return 'lists mandatory itself';
        if (keys.length > 0 && k <= (keys[keys.length - 1] as number)) return 'keys not ascending';
        keys.push(k);
      }
      params.mandatory = keys;
      return undefined;
    }
    case 1: {
      // §7.1.1: a non-empty list of non-empty length-prefixed ALPN ids.
      if (value.length === 0) return 'empty list';
      const ids: string[] = [];
      for (let i = 0; i < value.length; ) {
        const length = value[i] as number;
        if (length === 0) return 'empty protocol id';
        if (i + 1 + length > value.length) return 'protocol id runs past the value';
        ids.push(latin1(value.subarray(i + 1, i + 1 + length)));
        i += 1 + length;
      }
      params.alpn = ids;
      return undefined;
    }
    case 2:
      if (value.length !== 0) return 'must have an empty value';
      params.noDefaultAlpn = true;
      return undefined;
    case 3:
      if (value.length !== 2) return 'not a 2-byte port';
      params.port = ((value[0] as number) << 8) | (value[1] as number);
      return undefined;
    case 4:
    case 6: {
      const size = key === 4 ? 4 : 16;
      if (value.length === 0 || value.length % size !== 0)
        return `not a non-empty list of ${size}-byte addresses`;
      const addresses: string[] = [];
      for (let i = 0; i < value.length; i += size) {
        addresses.push(key === 4 ? ipv4Text(value, i) : ipv6Text(value, i));
      }
      if (key === 4) params.ipv4hint = addresses;
      else params.ipv6hint = addresses;
      return undefined;
    }
    case 5:
      if (value.length === 0) return 'empty ECHConfigList';
      params.ech = Uint8Array.from(value);
      return undefined;
    default:
      params.unknown ??= [];
      params.unknown.push({ key, value: Uint8Array.from(value) });
      return undefined;
  }
}

/**
 * An uncompressed domain name at `offset` (§2.2: TargetName "MUST NOT be compressed"). Labels must be host
 * name labels (letters, digits, `-`, `_`): anything else cannot name a host to connect to.
 */
function readName(bytes: Uint8Array, offset: number): { name: string; end: number } | string {
  const labels: string[] = [];
  let octets = 0;
  for (let i = offset; ; ) {
    if (i >= bytes.length) return 'TargetName truncated';
    const length = bytes[i] as number;
    if (length === 0) {
      return { name: labels.length === 0 ? '.' : labels.join('.').toLowerCase(), end: i + 1 };
    }
    if (length > 63) return 'TargetName compressed or with a label over 63 octets';
    octets += length + 1;
    if (octets + 1 > MAX_NAME_OCTETS) return `TargetName longer than ${MAX_NAME_OCTETS} octets`;
    if (i + 1 + length > bytes.length) return 'TargetName truncated';
    const label = latin1(bytes.subarray(i + 1, i + 1 + length));
    if (!/^[A-Za-z0-9_-]+$/.test(label)) return 'TargetName label is not a host name label';
    labels.push(label);
    i += 1 + length;
  }
}

function latin1(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function ipv4Text(b: Uint8Array, i: number): string {
  return `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`;
}

/** RFC 5952 text: lowercase, no leading zeros, the longest run (>= 2) of zero groups as `::`. */
function ipv6Text(b: Uint8Array, i: number): string {
  const groups: number[] = [];
  for (let g = 0; g < 8; g++) groups.push(((b[i + 2 * g] as number) << 8) | (b[i + 2 * g + 1] as number));
  let bestStart = -1;
  let bestLength = 1;
  for (let g = 0; g < 8; ) {
    if (groups[g] !== 0) {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && groups[end] === 0) end++;
    if (end - g > bestLength) {
      bestStart = g;
      bestLength = end - g;
    }
    g = end;
  }
  const hex = groups.map((x) => x.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

// ---------------------------------------------------------------------------------------------------
// Encoding (the lab's DNS server, tests)

/** Writes one record's RDATA. Keys are written ascending; a value that cannot be written is a TypeError. */
export function encodeSvcbRdata(record: SvcbRecord): Uint8Array {
  const { priority, targetName, params } = record;
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) {
    throw new TypeError(`SVCB priority must be an integer in 0-65535, got ${String(priority)}`);
  }
  const parts: number[] = [priority >> 8, priority & 0xff, ...encodeName(targetName)];
  const entries: Array<[number, number[]]> = [];
  if (params.mandatory) entries.push([0, params.mandatory.flatMap((k) => [k >> 8, k & 0xff])]);
  if (params.alpn) {
    entries.push([
      1,
      params.alpn.flatMap((id) => {
        const bytes = [...Buffer.from(id, 'latin1')];
        if (bytes.length === 0 || bytes.length > 255)
          throw new TypeError(`alpn id ${JSON.stringify(id)} must be 1-255 bytes`);
        return [bytes.length, ...bytes];
      }),
    ]);
  }
  if (params.noDefaultAlpn) entries.push([2, []]);
  if (params.port !== undefined) {
    if (!Number.isInteger(params.port) || params.port < 0 || params.port > 0xffff) {
      throw new TypeError(`SVCB port must be an integer in 0-65535, got ${String(params.port)}`);
    }
    entries.push([3, [params.port >> 8, params.port & 0xff]]);
  }
  if (params.ipv4hint) entries.push([4, params.ipv4hint.flatMap((a) => ipv4Bytes(a))]);
  if (params.ech) entries.push([5, [...params.ech]]);
  if (params.ipv6hint) entries.push([6, params.ipv6hint.flatMap((a) => ipv6Bytes(a))]);
  for (const u of params.unknown ?? []) {
    if (!Number.isInteger(u.key) || u.key < 7 || u.key > 0xffff) {
      throw new TypeError(`unknown SvcParamKey must be an integer in 7-65535, got ${String(u.key)}`);
    }
    entries.push([u.key, [...u.value]]);
  }
  entries.sort((a, b) => a[0] - b[0]);
  for (const [key, value] of entries) {
    if (value.length > 0xffff) throw new TypeError(`SvcParam ${keyName(key)} value over 65535 bytes`);
    parts.push(key >> 8, key & 0xff, value.length >> 8, value.length & 0xff, ...value);
  }
  if (parts.length > 0xffff) throw new TypeError('SVCB RDATA over 65535 bytes');
  return Uint8Array.from(parts);
}

function encodeName(name: string): number[] {
  if (name === '.' || name === '') return [0];
  const out: number[] = [];
  for (const label of name.replace(/\.$/, '').split('.')) {
    if (!/^[A-Za-z0-9_-]{1,63}$/.test(label)) {
      throw new TypeError(`SVCB TargetName ${JSON.stringify(name)}: bad label ${JSON.stringify(label)}`);
    }
    out.push(label.length, ...Buffer.from(label, 'latin1'));
  }
  out.push(0);
  if (out.length > MAX_NAME_OCTETS) throw new TypeError(`SVCB TargetName ${JSON.stringify(name)} too long`);
  return out;
}

function ipv4Bytes(address: string): number[] {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new TypeError(`ipv4hint ${JSON.stringify(address)} is not an IPv4 address`);
  }
  return parts;
}

function ipv6Bytes(address: string): number[] {
  const halves = address.split('::');
  if (halves.length > 2) throw new TypeError(`ipv6hint ${JSON.stringify(address)} is not an IPv6 address`);
  const groupsOf = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  const fill = halves.length === 2 ? 8 - head.length - tail.length : 0;
  const groups = [...head, ...new Array<number>(Math.max(0, fill)).fill(0), ...tail];
  if (groups.length !== 8 || groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff) || fill < 0) {
    throw new TypeError(`ipv6hint ${JSON.stringify(address)} is not an IPv6 address (no IPv4 tail, no zone)`);
  }
  return groups.flatMap((g) => [g >> 8, g & 0xff]);
}
