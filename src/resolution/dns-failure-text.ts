/**
 * The words a dial's or a resolve's one-line message gives the DNS failure that ended it ("connect x:80
 * failed in 11 ms: WORDS (AAAA CODE; A CODE)"). Pure. A failure a server answered — SERVFAIL, REFUSED, a
 * lame or referral answer, a truncated answer whose TCP retry was refused… — names that server, as the DNS
 * client's message for it does (dns-client.ts: "queryA CODE name (SERVER what it did: tries)").
 */
import { describeCode } from '../errors.js';

/** Codes whose client message names the server that answered and what it did. */
const SERVER_ANSWERED = new Set(['ETRUNCATED', 'EBADRESP', 'ESERVFAIL', 'EREFUSED', 'EFORMERR', 'ENOTIMP']);

/**
 * `code` (the first failure that is not "no such name"/"no address of this family") in words; `message`,
 * the DNS client's message for it, when there is one (an answer from memory has none of the details).
 */
export function dnsFailureText(code: string, message: string | undefined): string {
  // In the DNS phase ECONNREFUSED is Node's "could not contact DNS servers", not a refused connection.
  if (code === 'ECONNREFUSED') return 'no DNS server could be reached';
  if (code === 'ECONNRESET') {
    return 'a DNS server reset its TCP connection (after a truncated UDP answer, or with use-vc)';
  }
  if (SERVER_ANSWERED.has(code) && message !== undefined) {
    const detail = clientDetail(message);
    if (detail !== undefined) return `DNS server ${detail}`;
  }
  if (code === 'ETRUNCATED') return 'a DNS server answered truncated over UDP and refused TCP (RFC 7766 §5)';
  if (code === 'EBADRESP') return 'a DNS server sent an unusable answer';
  return describeCode(code);
}

/**
 * What the server did, from the DNS client's message "query… CODE name (SERVER what it did: tries)": the
 * part in parentheses up to the list of tries. Undefined when the message is not the client's.
 */
function clientDetail(message: string): string | undefined {
  if (!message.startsWith('query') || !message.endsWith(')')) return undefined;
  const open = message.indexOf(' (');
  if (open < 0) return undefined;
  const inner = message.slice(open + 2, -1);
  const tries = inner.indexOf(': ');
  return tries < 0 ? inner : inner.slice(0, tries);
}
