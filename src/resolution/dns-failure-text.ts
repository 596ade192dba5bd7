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
    const server = message === undefined ? undefined : dnsServerOf(message);
    return server === undefined
      ? 'a DNS server reset its TCP connection (after a truncated UDP answer, or with use-vc)'
      : `DNS server ${server} answered truncated over UDP, then reset the TCP connection to ask again (RFC 7766 §5)`;
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

/** "127.0.0.1:53", "[2001:db8::53]:53", "127.0.0.1" (a server as the DNS client names it). */
const SERVER = String.raw`(\[[0-9A-Fa-f:.%\w]+\](?::\d+)?|\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?)`;
const ANSWERED_BY = new RegExp(`^query\\S* \\S+ \\S+ \\(${SERVER} `);
const TRUNCATED_FROM = new RegExp(`truncated UDP answer from ${SERVER} `);

/**
 * The server a DNS client failure names as the one that answered (SERVFAIL, REFUSED, a lame or truncated
 * answer, a TCP reset after truncation), from its message; undefined when no one server is to blame (a
 * timeout of every server, none reachable) or the message is not the client's (a custom resolver's).
 */
export function dnsServerOf(message: string | undefined): string | undefined {
  if (message === undefined) return undefined;
  return ANSWERED_BY.exec(message)?.[1] ?? TRUNCATED_FROM.exec(message)?.[1];
}
