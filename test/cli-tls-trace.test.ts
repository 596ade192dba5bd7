/**
 * The trace of a TLS-raced dial: each attempt shows its TCP connect and, on a row of its own, its TLS
 * handshake with how it ended — the winner's handshake marked, a loser's stalled one cancelled.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeStyle } from '../src/cli/color.js';
import { renderReport, WINNER_MARK } from '../src/cli/trace.js';
import type { DialReport } from '../src/report.js';

const plain = makeStyle(false);

function tlsReport(): DialReport {
  return {
    host: 'tls.test',
    port: 443,
    startedAt: '2026-01-01T00:00:00.000Z',
    durationMs: 262,
    resolution: {
      queries: [
        {
          type: 'A',
          name: 'tls.test',
          source: 'dns',
          startMs: 0.1,
          endMs: 0.9,
          addresses: [
            { address: '203.0.113.1', ttlSeconds: 60 },
            { address: '203.0.113.2', ttlSeconds: 60 },
          ],
        },
      ],
    },
    order: [
      { address: '203.0.113.1', family: 4 },
      { address: '203.0.113.2', family: 4 },
    ],
    decisions: {
      attemptDelayMs: 250,
      attemptDelaySource: 'default',
      memory: false,
      demoted: [],
      shuffled: false,
    },
    settings: { attemptDelayMs: 250, resolutionDelayMs: 50, maxConcurrentAttempts: 6, timeoutMs: 10_000 },
    attempts: [
      {
        address: '203.0.113.1',
        family: 4,
        port: 443,
        startMs: 1,
        endMs: 262,
        outcome: 'cancelled',
        trigger: 'first',
        tcpMs: 0.5,
        tlsMs: 260.5,
      },
      {
        address: '203.0.113.2',
        family: 4,
        port: 443,
        startMs: 251,
        endMs: 262,
        outcome: 'connected',
        trigger: 'delay',
        tcpMs: 0.4,
        tlsMs: 10.6,
      },
    ],
    winner: { address: '203.0.113.2', family: 4, port: 443, connectMs: 251.4 },
    tls: { startMs: 251.4, endMs: 262, servername: 'tls.test', protocol: 'TLSv1.3', alpnProtocol: false },
  };
}

test('each attempt: a TCP row and a TLS row, the winner marked on its handshake, no separate TLS row', () => {
  const lines = renderReport(tlsReport(), { style: plain }).split('\n');
  const at = lines.findIndex((l) => /^ {2}#1 203\.0\.113\.1 /.test(l));
  assert.ok(at > 0, lines.join('\n'));
  assert.match(lines[at]!, /tcp 0\.5 ms/);
  assert.match(lines[at + 1]!, /^ {5}tls .*cancelled \(lost the race\).*tls 261 ms/);
  assert.match(lines[at + 2]!, /^ {2}#2 203\.0\.113\.2 .*tcp 0\.4 ms .*attempt delay ran out/);
  assert.match(lines[at + 3]!, new RegExp(`^ {5}tls .*connected ${WINNER_MARK}  TLSv1\\.3  tls 11 ms`));
  assert.equal(lines.filter((l) => l.includes(WINNER_MARK)).length, 1);
  assert.equal(lines.filter((l) => /^ {2}tls tls\.test/.test(l)).length, 0);
  assert.match(lines[0]!, /connected to 203\.0\.113\.2:443 .*\(2 attempts, TLSv1\.3\)/);
});

test('without per-attempt TLS times (TLS run by an agent after the dial) the winner gets one TLS row', () => {
  const report = tlsReport();
  for (const a of report.attempts) {
    delete a.tlsMs;
    delete a.tcpMs;
  }
  const lines = renderReport(report, { style: plain }).split('\n');
  assert.equal(lines.filter((l) => /^ {2}tls tls\.test /.test(l)).length, 1);
  assert.equal(lines.filter((l) => /^ {5}tls /.test(l)).length, 0);
});
