/**
 * Turns one decoded DNS query into the response packet the lab server sends (or none), applying the
 * zone decision, EDNS and UDP truncation rules. Pure: no sockets, no clock.
 */
import dnsPacket, { type Answer, type DecodedPacket, type Packet } from 'dns-packet';
import {
  type DnsRcode,
  decideAnswer,
  normalizeName,
  RCODE_VALUE,
  type SoaSettings,
  type Zone,
} from './zone.js';

/** Transport a query arrived on. */
export type DnsTransport = 'udp' | 'tcp';

/**
 * A misbehaving server, for the resolver's environment matrix:
 * - 'formerr-to-edns': a pre-EDNS server (RFC 6891 §7): FORMERR, without question or OPT, to any query
 *   carrying an OPT record; queries without one are answered normally.
 * - 'lame': a lame delegation / referral: NOERROR with AA=0 and RA=0, no answer, an NS record in the
 *   authority section — whatever the name.
 * - 'truncate-then-reset': every UDP answer is TC=1 and empty; over TCP the server resets the connection
 *   after half a frame (see LabDnsServer).
 */
export type DnsServerQuirk = 'formerr-to-edns' | 'lame' | 'truncate-then-reset';

/** The lab server's plan for one query. */
export interface ResponsePlan {
  /** Question as logged: name normalized (lowercase, no trailing dot), type name as dns-packet gives it. */
  question: { name: string; type: string } | undefined;
  /** Encoded response, or undefined when nothing is to be sent (DROP). */
  response: Buffer | undefined;
  /** How long to wait before sending, milliseconds. */
  delayMs: number;
}

/** EDNS UDP payload size the server advertises (RFC 6891 §6.2.5; 1232 per DNS flag day 2020). */
export const SERVER_UDP_PAYLOAD_BYTES = 1232;
/** UDP size limit for queries without EDNS (RFC 1035 §4.2.1). */
export const CLASSIC_UDP_LIMIT_BYTES = 512;

interface OptRecord {
  type: 'OPT';
  name: string;
  udpPayloadSize?: number;
}

function findOpt(query: DecodedPacket): OptRecord | undefined {
  return (query.additionals ?? []).find((record) => record.type === 'OPT') as OptRecord | undefined;
}

function encodeResponse(
  query: DecodedPacket,
  rcode: DnsRcode,
  sections: { answers: Answer[]; authority: Answer[] },
  truncated: boolean,
): Buffer {
  const requestFlags = query.flags ?? 0;
  const flags =
    dnsPacket.AUTHORITATIVE_ANSWER |
    dnsPacket.RECURSION_AVAILABLE |
    (requestFlags & dnsPacket.RECURSION_DESIRED) |
    (truncated ? dnsPacket.TRUNCATED_RESPONSE : 0) |
    RCODE_VALUE[rcode];
  const additionals: Answer[] = [];
  if (findOpt(query) !== undefined) {
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: SERVER_UDP_PAYLOAD_BYTES,
      extendedRcode: 0,
      ednsVersion: 0,
      flags: 0,
      options: [],
    } as unknown as Answer);
  }
  const packet: Packet = {
    id: query.id ?? 0,
    type: 'response',
    flags,
    questions: query.questions ?? [],
    answers: sections.answers,
    authorities: sections.authority,
    additionals,
  };
  return dnsPacket.encode(packet);
}

/**
 * Plans the response to one raw query.
 * - Undecodable or not a query: no response (a real server might send FORMERR; the ID may be unreadable).
 * - opcode other than QUERY: NOTIMP; not exactly one question: FORMERR; class other than IN: REFUSED.
 * - Otherwise `decideAnswer`; over UDP, `truncate` or an answer larger than the client's limit (512 bytes,
 *   or its EDNS payload size) is sent with TC=1 and empty sections (RFC 2181 §9 allows either; empty is
 *   what makes clients retry over TCP reliably).
 * The response always copies the ID and the question, sets QR and AA, copies RD, and carries an OPT record
 * when the query had one (RFC 6891 §7).
 */
export function planResponse(
  raw: Buffer,
  zone: Zone,
  transport: DnsTransport,
  soa: SoaSettings,
  quirk?: DnsServerQuirk,
): ResponsePlan {
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(raw);
  } catch {
    return { question: undefined, response: undefined, delayMs: 0 };
  }
  if (query.type !== 'query') return { question: undefined, response: undefined, delayMs: 0 };
  const empty = { answers: [], authority: [] };
  const questions = query.questions ?? [];
  const first = questions[0];
  const question = first === undefined ? undefined : { name: normalizeName(first.name), type: first.type };
  const opcode = (query as DecodedPacket & { opcode?: string }).opcode;
  if (opcode !== undefined && opcode !== 'QUERY') {
    return { question, response: encodeResponse(query, 'NOTIMP', empty, false), delayMs: 0 };
  }
  if (first === undefined || questions.length !== 1) {
    return { question, response: encodeResponse(query, 'FORMERR', empty, false), delayMs: 0 };
  }
  if (first.class !== undefined && first.class !== 'IN') {
    return { question, response: encodeResponse(query, 'REFUSED', empty, false), delayMs: 0 };
  }
  if (quirk === 'formerr-to-edns' && findOpt(query) !== undefined) {
    const flags = dnsPacket.RECURSION_AVAILABLE | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED) | 1;
    const response = dnsPacket.encode({ id: query.id ?? 0, type: 'response', flags, questions: [] });
    return { question, response, delayMs: 0 };
  }
  if (quirk === 'lame') {
    const referral: Answer = { type: 'NS', name: soa.apex, ttl: 60, data: 'ns.elsewhere.example' };
    const response = dnsPacket.encode({
      id: query.id ?? 0,
      type: 'response',
      flags: (query.flags ?? 0) & dnsPacket.RECURSION_DESIRED,
      questions,
      authorities: [referral],
    });
    return { question, response, delayMs: 0 };
  }
  if (quirk === 'truncate-then-reset' && transport === 'udp') {
    return { question, response: encodeResponse(query, 'NOERROR', empty, true), delayMs: 0 };
  }
  const decision = decideAnswer(zone, first.name, first.type, soa);
  if (decision.kind === 'drop') return { question, response: undefined, delayMs: decision.delayMs };
  if (transport === 'udp') {
    if (decision.truncate) {
      return {
        question,
        response: encodeResponse(query, decision.rcode, empty, true),
        delayMs: decision.delayMs,
      };
    }
    const full = encodeResponse(query, decision.rcode, decision, false);
    const limit = Math.max(CLASSIC_UDP_LIMIT_BYTES, findOpt(query)?.udpPayloadSize ?? 0);
    const response = full.length > limit ? encodeResponse(query, decision.rcode, empty, true) : full;
    return { question, response, delayMs: decision.delayMs };
  }
  return {
    question,
    response: encodeResponse(query, decision.rcode, decision, false),
    delayMs: decision.delayMs,
  };
}
