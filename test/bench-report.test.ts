/**
 * Smoke tests of the benchmark's pure parts: the scenario list and zone, run counts, curl output parsing,
 * cell summaries and formatting, target evaluation, and the Markdown and SVG writers. No network, no lab.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { curlArgs, parseCurlBatch, parseCurlLine, pythonArgs } from '../bench/clients/peers.js';
import { jobFor, makeRunners, unavailable } from '../bench/lab-run.js';
import { markdownTable, renderLabTable, renderMarkdown, renderMicroTable } from '../bench/report.js';
import { runsFor } from '../bench/run-policy.js';
import {
  BENCH_SCENARIOS,
  BENCH_ZONE,
  type BenchScenario,
  batchTargets,
  RUN_CAP_MS,
  SVC_HINTS_DNS_DELAY_MS,
} from '../bench/scenarios.js';
import { formatCell, formatMs, median, summarize } from '../bench/summary.js';
import { AXIS_MAX_MS, AXIS_MIN_MS, renderSvg, xOf } from '../bench/svg.js';
import { evaluateTargets } from '../bench/targets.js';
import {
  type BenchResults,
  CLIENT_IDS,
  type CellResult,
  type ClientId,
  type MachineInfo,
  type MicroResults,
  type RunResult,
  type ScenarioResult,
} from '../bench/types.js';
import { validateZone } from '../lab/zone.js';

const machine: MachineInfo = {
  cores: 2,
  cpuModel: 'Test CPU',
  kernel: '6.0.0',
  node: 'v20.0.0',
  curl: '7.88.1',
  python: undefined,
};

const ok = (ms: number, address = '203.0.113.1'): RunResult => ({ ok: true, ms, address, dnsQueries: 2 });
const fail = (ms: number, error = 'ETIMEDOUT'): RunResult => ({ ok: false, ms, error });

function cell(client: ClientId, runs: RunResult[]): CellResult {
  return { client, status: 'ran', runs };
}

/** A scenario result with every column; `times` gives the runs per column (default: one 5 ms success). */
function scenario(id: string, times: Partial<Record<ClientId, RunResult[]>> = {}): ScenarioResult {
  return {
    id,
    title: `title of ${id}`,
    name: `${id}.lab.test`,
    port: 80,
    cells: CLIENT_IDS.map((c) =>
      c === 'python'
        ? { client: c, status: 'not-installed', runs: [], note: 'not installed' }
        : cell(c, times[c] ?? [ok(5)]),
    ),
  };
}

const micro: MicroResults = {
  dialsPerRound: 1000,
  rounds: 6,
  cpuUsPerDial: {
    netdial: 110,
    netConnect: 40,
    ratio: 2.75,
    medianRoundRatio: 2.75,
    firstThousand: { netdial: 200, netConnect: 50 },
    roundRatios: [2.5, 3],
    netdialRounds: [100, 120],
    netConnectRounds: [40, 40],
  },
  wallUsPerDial: { netdial: 150, netConnect: 75, ratio: 2 },
  connectionsPerSecond: {
    sequential: { netdial: 6000, netConnect: 12000, ratio: 0.5 },
    inFlight16: { netdial: 9500, netConnect: 10000, ratio: 0.95 },
  },
  dnsQueriesDuringLoops: 0,
  bytesPerCachedName: { names: 20000, bytes: 825 },
  bytesPerDialInFlight: { dials: 1000, netdial: 5900, netConnect: 900 },
  cold: {
    samples: 9,
    importNetdial: { wallMs: 12, cpuMs: 11, wallSamplesMs: [12] },
    firstDial: {
      netdial: { wallMs: 9, cpuMs: 8, wallSamplesMs: [9] },
      bareFloor: { wallMs: 5, cpuMs: 4, wallSamplesMs: [5] },
      ratio: 1.8,
    },
  },
};

describe('scenario list', () => {
  test('every row of the issue is there, once', () => {
    const ids = BENCH_SCENARIOS.map((s) => s.id);
    assert.equal(new Set(ids).size, ids.length);
    for (const id of [
      'one-good',
      'first-a-blackholed',
      'aaaa-blackholed',
      'aaaa-slow',
      'mixed-eight',
      'all-blackholed',
      'localhost-like',
      'aaaa-unreachable',
      'first-a-refused',
      'dns-stopped',
      'renumbered',
      'concurrent-200',
      'svc-hints',
      'srv-failover',
      'tls-one-good',
      'tls-stall-first',
    ]) {
      assert.ok(ids.includes(id), `missing scenario ${id}`);
    }
  });

  test('every dialled name is in the zone, and the zone is valid', () => {
    assert.doesNotThrow(() => validateZone(BENCH_ZONE));
    for (const s of BENCH_SCENARIOS) {
      for (const name of s.batch?.names ?? [s.name]) assert.ok(name in BENCH_ZONE, `${name} not in the zone`);
    }
  });

  const byId = (id: string): BenchScenario => {
    const found = BENCH_SCENARIOS.find((s) => s.id === id);
    assert.ok(found, `no scenario ${id}`);
    return found;
  };

  test('issue 17 rows: netdial dials the https URL / srv! name; the records are there to be read', () => {
    const hints = byId('svc-hints');
    assert.equal(hints.netdialTarget, 'https://svc-hints.lab.test/');
    assert.equal(hints.tls, 'off', 'the record moves https to port 9 (discard): plain TCP');
    const https = BENCH_ZONE['svc-hints.lab.test']?.HTTPS?.[0];
    assert.ok(https?.params.ipv4hint?.length && https.params.ipv6hint?.length, 'the HTTPS record has hints');
    assert.ok(SVC_HINTS_DNS_DELAY_MS >= 1000, `A/AAAA ${SVC_HINTS_DNS_DELAY_MS} ms late`);
    assert.equal(BENCH_ZONE['svc-hints.lab.test']?.delayMs?.AAAA, SVC_HINTS_DNS_DELAY_MS);
    assert.match(hints.title, /1\.5 s late/);

    const srv = byId('srv-failover');
    assert.equal(srv.netdialTarget, `srv!${srv.name}`);
    assert.deepEqual(
      BENCH_ZONE[srv.name]?.SRV?.map((r) => r.priority),
      [10, 20],
    );
    assert.match(srv.peersNa ?? '', /^n\/a — no SRV support$/);

    for (const id of ['tls-one-good', 'tls-stall-first']) {
      const row = byId(id);
      assert.equal(row.tls, 'lab-ca');
      assert.equal(row.port, 443);
      assert.equal(row.netdialTarget, `https://${row.name}/`);
      assert.equal(row.peersNa, undefined, 'every peer can do TLS');
    }
    // Only the SRV row leaves the peers out.
    assert.deepEqual(
      BENCH_SCENARIOS.filter((s) => s.peersNa !== undefined).map((s) => s.id),
      ['srv-failover'],
    );
  });

  test('jobs: the CA goes to TLS rows only, tls: false to svc-hints only, the netdial target along', () => {
    assert.equal(jobFor(byId('tls-stall-first'), '/ca.pem').caFile, '/ca.pem');
    assert.equal(jobFor(byId('svc-hints'), '/ca.pem').caFile, undefined);
    assert.equal(jobFor(byId('one-good'), '/ca.pem').caFile, undefined);
    assert.equal(jobFor(byId('svc-hints'), undefined).tls, 'off');
    assert.equal(jobFor(byId('tls-stall-first'), '/ca.pem').tls, undefined);
    assert.equal(jobFor(byId('srv-failover'), undefined).netdialTarget, 'srv!_discard._tcp.lab.test');
    assert.equal(jobFor(byId('one-good'), undefined).netdialTarget, undefined);
  });

  test('who runs: no peer in the SRV row; no TLS row without a CA; a missing peer stays "not installed"', () => {
    const runners = makeRunners({ curl: { path: 'curl', version: '7.88.1' }, python: undefined });
    const why = (runnerId: string, id: string, ca: string | undefined) =>
      unavailable(runners.find((r) => r.id === runnerId)!, byId(id), ca);
    assert.equal(why('netdial', 'srv-failover', undefined), undefined);
    assert.equal(why('curl', 'srv-failover', undefined), 'n/a — no SRV support');
    assert.equal(why('node-default', 'srv-failover', undefined), 'n/a — no SRV support');
    assert.equal(why('curl', 'svc-hints', undefined), undefined);
    assert.equal(why('curl', 'tls-stall-first', '/ca.pem'), undefined);
    assert.match(why('netdial', 'tls-stall-first', undefined) ?? '', /no TLS lab/);
    assert.match(why('python', 'one-good', undefined) ?? '', /not installed/);
  });

  test('the concurrent row dials 200 times across 50 names whose answers take 400 ms', () => {
    const row = BENCH_SCENARIOS.find((s) => s.kind === 'concurrent');
    assert.ok(row?.batch);
    const targets = batchTargets(row.batch);
    assert.equal(targets.length, 200);
    assert.equal(new Set(targets).size, 50);
    for (const name of new Set(targets)) assert.deepEqual(BENCH_ZONE[name]?.delayMs, { A: 400, AAAA: 400 });
  });

  for (const [wallMs, runs] of [
    [5, 7],
    [799, 7],
    [800, 3],
    [3999, 3],
    [4000, 1],
    [20_000, 1],
  ] as const) {
    test(`a first run of ${wallMs} ms gives ${runs} runs`, () => assert.equal(runsFor(wallMs), runs));
  }
});

describe('curl output', () => {
  const cases: Array<[string, string, RunResult | undefined]> = [
    ['connected', '0.000512 0.001200 0 203.0.113.1 200', { ok: true, ms: 0.512, address: '203.0.113.1' }],
    [
      'timed out (no remote ip)',
      '0.000000 10.001000 28  000',
      { ok: false, ms: 10001, error: 'curl 28: timeout', capped: true },
    ],
    [
      'refused',
      '0.000000 0.000900 7  000',
      { ok: false, ms: 0.9, error: 'curl 7: failed to connect', capped: false },
    ],
    ['not ours', 'hello', undefined],
  ];
  for (const [name, line, expected] of cases) {
    test(name, () => {
      const got = parseCurlLine(line);
      if (expected === undefined) return assert.equal(got, undefined);
      assert.ok(got);
      assert.equal(got.ok, expected.ok);
      assert.ok(Math.abs(got.ms - expected.ms) < 1e-6, `${got.ms} vs ${expected.ms}`);
      assert.equal(got.address, expected.address);
      assert.equal(got.error, expected.error);
    });
  }

  test('TLS rows: https URL, the CA trusted, timed to the end of the handshake (time_appconnect)', () => {
    const args = curlArgs(['tls-stall-first.lab.test'], 443, 10_000, '/tmp/ca.pem');
    assert.equal(args[args.indexOf('--cacert') + 1], '/tmp/ca.pem');
    assert.equal(args.at(-1), 'https://tls-stall-first.lab.test:443/');
    assert.match(args[args.indexOf('-w') + 1]!, /^%\{time_appconnect\} /);
    const plain = curlArgs(['one-good.lab.test'], 80, 10_000);
    assert.ok(!plain.includes('--cacert'));
    assert.equal(plain.at(-1), 'http://one-good.lab.test:80/');
    assert.match(plain[plain.indexOf('-w') + 1]!, /^%\{time_connect\} /);
    // A handshake that never finished: time_appconnect 0 is a failure at time_total.
    assert.deepEqual(parseCurlLine('0.000000 10.001000 28 2001:db8:1::17 000'), {
      ok: false,
      ms: 10_001,
      error: 'curl 28: timeout',
      capped: true,
    });
  });

  test('Python: with a CA file, open_connection gets an ssl context and the name for SNI', () => {
    const [, script] = pythonArgs({
      mode: 'single',
      names: ['x.lab.test'],
      port: 443,
      capMs: 1,
      caFile: '/c',
    });
    assert.match(script!, /ssl\.create_default_context\(cafile=job\['caFile'\]\)/);
    assert.match(script!, /'ssl': ctx, 'server_hostname': name/);
  });

  test('a batch: slowest transfer, connected count', () => {
    const got = parseCurlBatch(
      '0.4 0.41 0 203.0.113.1 200\n0.000 10.0 28  000\n0.45 0.46 0 203.0.113.2 200\n',
      3,
    );
    assert.ok(got);
    assert.equal(got.connected, 2);
    assert.equal(got.total, 3);
    assert.equal(got.ok, false);
    assert.equal(got.ms, 10_000);
  });
});

describe('summaries and cells', () => {
  for (const [values, expected] of [
    [[], undefined],
    [[3], 3],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ] as const) {
    test(`median of [${values.join(', ')}]`, () => assert.equal(median(values), expected));
  }

  for (const [ms, text] of [
    [0.42, '0.42 ms'],
    [3.44, '3.4 ms'],
    [262.4, '262 ms'],
    [1010, '1.01 s'],
    [10_004, '10.0 s'],
  ] as const) {
    test(`formatMs(${ms}) = ${text}`, () => assert.equal(formatMs(ms), text));
  }

  test('the median is over successful runs; errors and winners are collected', () => {
    const s = summarize([ok(10, 'a'), fail(10_000), ok(20, 'b'), ok(30, 'a')]);
    assert.equal(s.ok, 3);
    assert.equal(s.medianMs, 20);
    assert.deepEqual(s.addresses, ['a', 'b']);
    assert.deepEqual(s.errors, ['ETIMEDOUT']);
    assert.equal(s.dnsQueries, 2);
  });

  const cases: Array<[string, CellResult, 'single' | 'dns-stop' | 'concurrent' | 'renumber', RegExp]> = [
    ['all ok', cell('curl', [ok(257), ok(258), ok(270)]), 'single', /^258 ms \(257–270 ms\)$/],
    ['one run', cell('curl', [ok(6000)]), 'single', /^6\.00 s$/],
    ['all failed', cell('curl', [fail(10_000)]), 'single', /^✗ ETIMEDOUT, 10\.0 s$/],
    ['partial', cell('curl', [ok(5), fail(10_000), ok(7)]), 'single', /^2\/3 ok: .*✗ ETIMEDOUT$/],
    [
      'batch',
      cell('netdial-cold', [{ ok: true, ms: 450, connected: 200, total: 200 }]),
      'concurrent',
      /^200\/200 in 450 ms$/,
    ],
    [
      'batch capped',
      cell('node-default', [{ ok: false, ms: 10_010, connected: 48, total: 200, error: 'cap' }]),
      'concurrent',
      /^✗ 48\/200 connected/,
    ],
    ['dns-stop ok', cell('netdial-warm', [ok(2), ok(2), ok(3)]), 'dns-stop', /^3\/3 ok, /],
    ['dns-stop failed', cell('curl', [fail(1, 'EAI_AGAIN')]), 'dns-stop', /^✗ 0\/1 ok: EAI_AGAIN$/],
    [
      'renumber reached',
      cell('netdial-warm', [
        { ok: true, ms: 25, dials: 1 },
        { ok: true, ms: 28, dials: 1 },
      ]),
      'renumber',
      /^1 dial, 27 ms \(25–28 ms\)$/,
    ],
    [
      'renumber never reached',
      cell('netdial-warm', [{ ok: false, ms: 40, dials: 10, error: 'ECONNREFUSED' }]),
      'renumber',
      /^✗ not reached in 10 dials: ECONNREFUSED$/,
    ],
    ['not installed', { client: 'python', status: 'not-installed', runs: [] }, 'single', /^not installed$/],
    ['n/a', { client: 'netdial-cold', status: 'n/a', runs: [] }, 'dns-stop', /^—$/],
    [
      'n/a with a short reason',
      { client: 'curl', status: 'n/a', runs: [], short: 'n/a — no SRV support' },
      'single',
      /^n\/a — no SRV support$/,
    ],
  ];
  for (const [name, c, kind, pattern] of cases) {
    test(`cell: ${name}`, () => assert.match(formatCell(c, kind), pattern));
  }
});

describe('targets', () => {
  const results = [
    scenario('one-good', { 'netdial-cold': [ok(8)], 'netdial-warm': [ok(1)] }),
    scenario('first-a-blackholed', { 'netdial-cold': [ok(257)], 'netdial-warm': [ok(102)] }),
    scenario('aaaa-slow', { 'netdial-cold': [ok(57)] }),
    scenario('mixed-eight', { 'netdial-cold': [ok(300)], 'netdial-warm': [ok(1), fail(10_000)] }),
    scenario('all-blackholed', {
      'netdial-cold': [
        {
          ...fail(10_001),
          attempts: [
            { address: '198.51.100.1', outcome: 'failed', startMs: 0 },
            { address: '2001:db8:3::1', outcome: 'failed', startMs: 0 },
          ],
        },
      ],
      'netdial-warm': [
        { ...fail(12_000), attempts: [{ address: '198.51.100.1', outcome: 'failed', startMs: 0 }] },
      ],
    }),
    scenario('dns-stopped', { 'netdial-warm': [ok(2), fail(1, 'EAI_AGAIN')] }),
    scenario('concurrent-200', { 'netdial-cold': [{ ok: true, ms: 463, connected: 200, total: 200 }] }),
  ];
  const targets = evaluateTargets(results, micro);
  const find = (id: string, start: string) =>
    targets.find((t) => t.scenarioId === id && t.text.startsWith(start));

  const expectations: Array<[string, string, boolean | undefined]> = [
    ['first-a-blackholed', 'cold', true], // 257 ≤ 250 + 8
    ['first-a-blackholed', 'warm', false], // 102 > 2 × 1
    ['mixed-eight', 'cold', false], // 300 > 258
    ['mixed-eight', 'warm', false], // a failed run does not meet a time target
    ['aaaa-slow', 'cold', true], // 57 ≤ 50 + 8
    ['all-blackholed', 'fails', false], // warm took 12 s and listed one address
    ['dns-stopped', '100 %', false],
    ['concurrent-200', 'all connected', true],
    ['micro', 'CPU per dial (cached', false], // 2.75 > 1.1
    ['micro', 'CPU per dial over the first 1000', false], // 4 > 1.5
    ['micro', 'connections per second ≥ 0.92× net.connect (sequential)', false],
    ['micro', 'connections per second ≥ 0.9× net.connect (16 in flight)', true],
    ['micro', 'heap per cached name', true],
    ['micro', 'heap per dial in flight', false], // 6.6 > 2
    ['micro', "import('netdial')", true], // 12 ≤ 15
    ['micro', 'first dial', false], // 1.8 > 1.5
  ];
  for (const [id, start, met] of expectations) {
    test(`${id} "${start}…" is ${met}`, () => {
      const t = find(id, start);
      assert.ok(t, `no target ${id} ${start}`);
      assert.equal(t.met, met, `${t.text}: ${t.measured}`);
    });
  }

  test('without a one-good baseline the time targets are not evaluated', () => {
    const t = evaluateTargets([scenario('first-a-blackholed')], undefined);
    assert.ok(t.length > 0);
    for (const x of t) assert.equal(x.met, undefined);
  });
});

describe('writers', () => {
  const results = [
    scenario('one-good', { curl: [ok(1), ok(2)] }),
    scenario('all-blackholed', { 'netdial-cold': [fail(10_000)], 'node-default': [fail(10_000, 'cap')] }),
  ];
  results[0]!.title = 'a <title> with | pipe & `code`';

  test('the lab table has a header, a separator and one row per scenario, all of the same width', () => {
    const table = renderLabTable(results, evaluateTargets(results, undefined), machine);
    const lines = table.split('\n');
    assert.equal(lines.length, 2 + results.length);
    const columns = (line: string) => line.replaceAll('\\|', '').split('|').length;
    for (const line of lines) assert.equal(columns(line), columns(lines[0]!), line);
    assert.match(lines[0]!, /curl 7\.88\.1/);
    assert.match(lines[2]!, /not installed/);
  });

  test('Markdown tables are padded to aligned columns (the formatter layout), cells escaped', () => {
    const table = markdownTable(
      ['a', 'long header'],
      [
        ['✓ x|y', '1'],
        ['—', '22'],
      ],
    );
    const lines = table.split('\n');
    assert.deepEqual(lines, [
      '| a      | long header |',
      '| ------ | ----------- |',
      '| ✓ x\\|y | 1           |',
      '| —      | 22          |',
    ]);
  });

  test('the micro table has the targets with marks', () => {
    const table = renderMicroTable(micro, evaluateTargets(undefined, micro));
    assert.match(table, /≤ 1\.1× ✗/);
    assert.match(table, /< 1 KiB ✓/);
    assert.match(table, /import\('netdial'\).*\| 12\.0 ms .*≤ 15 ms ✓/);
    assert.match(table, /first dial.*\| 9\.0 ms +\| 5\.0 ms +\| 1\.80× \| ≤ 1\.5× ✗/);
    const lines = table.split('\n');
    assert.equal(lines.length, 2 + 9, 'seven steady-state rows and two cold-start rows');
    const withoutCold = renderMicroTable({ ...micro, cold: undefined }, evaluateTargets(undefined, micro));
    assert.equal(withoutCold.split('\n').length, 2 + 7, 'results of older runs have no cold rows');
  });

  test('the Markdown report names the machine and the command, with or without a lab', () => {
    const full: BenchResults = {
      version: 1,
      startedAt: '2026-01-02T03:04:05.000Z',
      durationMs: 240_000,
      command: 'npm run bench',
      machine,
      lab: { available: true, scenarios: results },
      micro: { ok: true, results: micro },
      targets: evaluateTargets(results, micro),
    };
    const md = renderMarkdown(full);
    assert.match(md, /^# netdial benchmark — 2026-01-02/);
    assert.match(md, /2 cores \(Test CPU\), Linux 6\.0\.0, Node v20\.0\.0/);
    assert.match(md, /`npm run bench`/);
    assert.match(md, /latest\.svg/);
    const noLab = renderMarkdown({ ...full, lab: { available: false, reason: 'needs root' } });
    assert.match(noLab, /Lab not run: needs root/);
    assert.doesNotMatch(noLab, /latest\.svg/);
  });

  test('the details show every run, and the warm attempt list with what was demoted and where answers came from', () => {
    const warmRun: RunResult = {
      ...ok(0.9, '203.0.113.2'),
      dnsQueryTypes: ['A', 'AAAA', 'HTTPS'],
      attempts: [{ address: '203.0.113.2', outcome: 'connected', startMs: 0.2 }],
      demoted: ['198.51.100.1'],
      resolution: ['A stale', 'AAAA stale'],
    };
    const rows = [scenario('first-a-blackholed', { 'netdial-warm': [warmRun, ok(102)] })];
    const md = renderMarkdown({
      version: 1,
      startedAt: '2026-01-02T03:04:05.000Z',
      durationMs: 1000,
      command: 'npm run bench',
      machine,
      lab: { available: true, scenarios: rows },
      micro: { ok: false, error: 'skipped' },
      targets: [],
    });
    assert.match(md, /\| netdial warm +\| 2\/2 +\| 0\.9, 102 +\|/);
    assert.match(md, /attempts: 203\.0\.113\.2 connected at 0\.20 ms\. Demoted: 198\.51\.100\.1\./);
    assert.match(md, /Queries \(type, source\): A stale, AAAA stale\./);
    // Which record types the first run asked for (who reads HTTPS records).
    assert.match(
      md,
      /\| netdial warm +\| 2\/2 +\| 0\.9, 102 +\| 203\.0\.113\.2, 203\.0\.113\.1 +\| 2 \(A, AAAA, HTTPS\) +\|/,
    );
    assert.match(md, /\| netdial cold +\| 1\/1 +\| 5\.0 +\| 203\.0\.113\.1 +\| 2 +\|/);
  });

  test('the SVG is one document, escapes text, and draws one bar per cell that ran', () => {
    const svg = renderSvg(results, 'machine & date');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.ok(svg.trimEnd().endsWith('</svg>'));
    assert.doesNotMatch(svg, /a <title> with/);
    assert.match(svg, /<title>netdial benchmark/);
    assert.match(svg, /a &lt;title&gt; with \| pipe &amp; code/);
    assert.match(svg, /machine &amp; date/);
    const bars = svg.match(/<rect x="\d+(\.\d)?" y="[\d.]+" width="[\d.]+" height="9"/g) ?? [];
    const ran = results.flatMap((s) => s.cells).filter((c) => c.status === 'ran').length;
    assert.equal(bars.length, ran);
    assert.match(svg, /url\(#hatch-netdial-cold\)/);
    assert.match(svg, /not installed/);
  });

  test('the log axis grows with time and is clamped at both ends', () => {
    assert.ok(xOf(1) < xOf(10) && xOf(10) < xOf(RUN_CAP_MS));
    assert.equal(xOf(AXIS_MIN_MS / 10), xOf(AXIS_MIN_MS));
    assert.equal(xOf(AXIS_MAX_MS * 10), xOf(AXIS_MAX_MS));
  });
});
