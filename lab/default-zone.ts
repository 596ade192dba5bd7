/**
 * Ready-made scenario names under `lab.test`, shared by the lab's self-test, the dial() scenario tests,
 * the demo and the benchmark. Each entry says what a client should experience.
 */
import { LAB } from './plan.js';
import type { Zone, ZoneRecordSet } from './zone.js';

const { good, slow, refused, blackholed, unreachable, clientUnreachable } = LAB.addresses;
const { tls } = LAB;
const PORT_DISCARD = LAB.ports.discard;

/** One named scenario of the default zone. */
export interface Scenario {
  /** Fully qualified name (under `LAB.zoneSuffix`). */
  name: string;
  records: ZoneRecordSet;
  /** One line: what a client connecting by this name meets. */
  description: string;
}

function scenario(label: string, records: ZoneRecordSet, description: string): Scenario {
  return { name: `${label}.${LAB.zoneSuffix}`, records, description };
}

/** The default scenarios, in the order `--help` lists them. */
export const SCENARIOS: readonly Scenario[] = [
  scenario('one-good', { A: [good.v4[0]], AAAA: [good.v6[0]] }, 'A and AAAA both good'),
  scenario('a-only', { A: [good.v4[0]] }, 'good A, no AAAA (NODATA)'),
  scenario('aaaa-only', { AAAA: [good.v6[0]] }, 'good AAAA, no A (NODATA)'),
  scenario(
    'first-a-blackholed',
    { A: [blackholed.v4[0], good.v4[1]] },
    'A: blackholed first, then good; no AAAA',
  ),
  scenario(
    'first-a-refused',
    { A: [refused.v4[0], good.v4[1]] },
    'A: refused (RST) first, then good; no AAAA',
  ),
  scenario('aaaa-blackholed', { A: [good.v4[0]], AAAA: [blackholed.v6[0]] }, 'AAAA blackholed, A good'),
  scenario(
    'aaaa-slow',
    { A: [good.v4[0]], AAAA: [good.v6[0]], delayMs: { AAAA: 1000 } },
    'both good, AAAA answer delayed 1000 ms',
  ),
  scenario(
    'a-slow',
    { A: [good.v4[0]], AAAA: [good.v6[0]], delayMs: { A: 1000 } },
    'both good, A answer delayed 1000 ms',
  ),
  scenario(
    'mixed-eight',
    {
      A: [
        blackholed.v4[0],
        refused.v4[0],
        blackholed.v4[1],
        good.v4[0],
        refused.v4[1],
        blackholed.v4[2],
        good.v4[1],
        good.v4[2],
      ],
    },
    '8 A: blackholed, refused, blackholed, GOOD, refused, blackholed, GOOD, GOOD; no AAAA',
  ),
  scenario(
    'aaaa-slow-path',
    { A: [good.v4[0]], AAAA: [slow.v6[0]] },
    'AAAA on the slow path (every round trip +400 ms by default), A good',
  ),
  scenario(
    'a-slow-path',
    { A: [slow.v4[0]], AAAA: [good.v6[0]] },
    'A on the slow path (every round trip +400 ms by default), AAAA good',
  ),
  scenario(
    'all-blackholed',
    { A: [blackholed.v4[0]], AAAA: [blackholed.v6[0]] },
    'A and AAAA both blackholed',
  ),
  scenario('all-refused', { A: [refused.v4[0]], AAAA: [refused.v6[0]] }, 'A and AAAA both refused (RST)'),
  scenario(
    'localhost-like',
    { A: ['127.0.0.1'], AAAA: ['::1'] },
    "AAAA ::1 + A 127.0.0.1 (the client's own loopback; start a listener there yourself)",
  ),
  scenario(
    'aaaa-unreachable',
    { A: [good.v4[0]], AAAA: [unreachable.v6[0]] },
    'AAAA gets ICMP unreachable from the router (about 1 s late), A good',
  ),
  scenario(
    'aaaa-client-unreachable',
    { A: [good.v4[0]], AAAA: [clientUnreachable.v6[0]] },
    'AAAA unreachable at the client (immediate error, no packet), A good',
  ),
  scenario(
    'a-unreachable',
    { A: [unreachable.v4[0]], AAAA: [good.v6[0]] },
    'A gets ICMP unreachable from the router (at once), AAAA good',
  ),
  scenario(
    'servfail-aaaa',
    { A: [good.v4[0]], AAAA: [good.v6[0]], fail: { AAAA: 'SERVFAIL' } },
    'AAAA query answered SERVFAIL, A good',
  ),
  scenario(
    'drop-aaaa',
    { A: [good.v4[0]], AAAA: [good.v6[0]], fail: { AAAA: 'DROP' } },
    'AAAA query never answered, A good',
  ),
  scenario(
    'truncated',
    { A: [good.v4[0]], AAAA: [good.v6[0]], truncate: true },
    'UDP answers have TC=1 and no records; TCP gets both good',
  ),
  scenario('short-ttl', { A: [good.v4[0]], AAAA: [good.v6[0]], ttl: 1 }, 'both good, TTL 1 s'),
  scenario('alias', { CNAME: `one-good.${LAB.zoneSuffix}` }, 'CNAME to one-good.lab.test'),
  scenario(
    'short',
    { A: [good.v4[0]], AAAA: [good.v6[0]] },
    'both good; reach it as "short" via the search list',
  ),
  scenario(
    'tls-good',
    { A: [good.v4[0]], AAAA: [good.v6[0]] },
    'both good; HTTPS on 443 with withLab(…, { tls: true }) (certificate of lab.tls.ca)',
  ),
  scenario(
    'tls-stall-first',
    { A: [good.v4[0]], AAAA: [tls.stall.v6] },
    'AAAA accepts TCP on 443 and never answers TLS, A good (with { tls: true })',
  ),
  scenario(
    'tls-reset-first',
    { A: [good.v4[0]], AAAA: [tls.reset.v6] },
    'AAAA resets during the TLS handshake on 443, A good (with { tls: true })',
  ),
  scenario(
    'tls-wrong-name',
    { A: [good.v4[0]], AAAA: [tls.wrongName.v6] },
    'AAAA presents a certificate for another name on 443, A good (with { tls: true })',
  ),
  // Service records (RFC 9460 HTTPS, RFC 2782 SRV). Port 9 (discard) listens on the good addresses.
  scenario(
    'svc-hints',
    {
      A: [good.v4[2]],
      AAAA: [good.v6[2]],
      delayMs: { A: 1500, AAAA: 1500 },
      HTTPS: [
        {
          priority: 1,
          targetName: '.',
          params: { port: PORT_DISCARD, ipv4hint: [good.v4[2]], ipv6hint: [good.v6[2]] },
        },
      ],
    },
    'HTTPS record with port 9 and hints; A/AAAA answers 1500 ms late',
  ),
  scenario(
    'svc-port',
    {
      A: [good.v4[0]],
      AAAA: [good.v6[0]],
      HTTPS: [{ priority: 1, targetName: '.', params: { port: PORT_DISCARD } }],
    },
    'HTTPS record moving https (443) to port 9',
  ),
  scenario(
    'svc-alias',
    { HTTPS: [{ priority: 0, targetName: `svc-alias2.${LAB.zoneSuffix}`, params: {} }] },
    'HTTPS AliasMode -> svc-alias2 -> svc-port (a chain of two)',
  ),
  scenario(
    'svc-alias2',
    { HTTPS: [{ priority: 0, targetName: `svc-port.${LAB.zoneSuffix}`, params: {} }] },
    'HTTPS AliasMode -> svc-port',
  ),
  scenario(
    'svc-priority',
    {
      A: [good.v4[5]],
      AAAA: [good.v6[5]],
      HTTPS: [
        { priority: 1, targetName: `svc-p1.${LAB.zoneSuffix}`, params: { port: PORT_DISCARD } },
        { priority: 2, targetName: `svc-p2.${LAB.zoneSuffix}`, params: { port: PORT_DISCARD } },
      ],
    },
    'HTTPS priority 1 target blackholed, priority 2 target good (port 9)',
  ),
  scenario('svc-p1', { AAAA: [blackholed.v6[4]] }, 'blackholed (priority 1 of svc-priority)'),
  scenario('svc-p2', { AAAA: [good.v6[4]] }, 'good (priority 2 of svc-priority)'),
  scenario(
    '_discard._tcp',
    {
      SRV: [
        { priority: 10, weight: 0, port: PORT_DISCARD, target: `srv-dead.${LAB.zoneSuffix}` },
        { priority: 20, weight: 0, port: PORT_DISCARD, target: `srv-live.${LAB.zoneSuffix}` },
      ],
    },
    'SRV: priority 10 blackholed, priority 20 good (port 9)',
  ),
  scenario('srv-dead', { AAAA: [blackholed.v6[5]] }, 'blackholed (SRV priority 10)'),
  scenario('srv-live', { AAAA: [good.v6[6]] }, 'good (SRV priority 20)'),
  scenario(
    '_weighted._tcp',
    {
      SRV: [
        { priority: 1, weight: 30, port: PORT_DISCARD, target: `srv-heavy.${LAB.zoneSuffix}` },
        { priority: 1, weight: 10, port: PORT_DISCARD, target: `srv-light.${LAB.zoneSuffix}` },
      ],
    },
    'SRV: one priority, weights 30 and 10 (port 9)',
  ),
  scenario('srv-heavy', { A: [good.v4[6]] }, 'good (SRV weight 30)'),
  scenario('srv-light', { A: [good.v4[7]] }, 'good (SRV weight 10)'),
  scenario(
    '_none._tcp',
    { SRV: [{ priority: 0, weight: 0, port: 0, target: '.' }] },
    'SRV: "no service" (target .)',
  ),
];

/** The default zone: every scenario of `SCENARIOS`. Names not in it get NXDOMAIN (e.g. missing.lab.test). */
export const DEFAULT_ZONE: Zone = Object.fromEntries(SCENARIOS.map((s) => [s.name, s.records]));
