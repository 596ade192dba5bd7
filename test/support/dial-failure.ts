/**
 * Test helpers shared by the dial tests: the DialError a dial must reject with, and a DNS response built
 * from a query for the hand-made DNS servers on loopback.
 */
import assert from 'node:assert/strict';
import dnsPacket, { type DecodedPacket, type Packet } from 'dns-packet';
import { type DialError, isDialError } from '../../src/index.js';

/** The DialError `p` rejects with; fails (closing the socket, so nothing hangs) when it connects instead. */
export async function failure(p: Promise<unknown>): Promise<DialError> {
  const err = await p.then(
    (socket) => {
      (socket as { destroy?: () => void } | undefined)?.destroy?.();
      assert.fail('the dial connected');
    },
    (e: unknown) => e,
  );
  assert.ok(isDialError(err), `expected a DialError, got ${String(err)}`);
  return err;
}

/** A response to `query` with its ID and question unless overridden; RD+RA set, `rcode` in the low flag bits. */
export function responseTo(query: DecodedPacket, parts: Partial<Packet> & { rcode?: number } = {}): Packet {
  const { rcode = 0, ...rest } = parts;
  return {
    type: 'response',
    id: query.id,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcode,
    questions: query.questions,
    ...rest,
  };
}
