// Network use: UDP connect() only (no packet is sent), and on the host only to loopback addresses. The
// unreachable and non-loopback cases run in a child inside a fresh network namespace (`unshare --net`).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { describe, test } from 'node:test';
import { SourceAddressProbe } from '../src/race/source-address.js';

/** A socket factory that counts sockets opened and closed. */
function countingFactory() {
  const counts = { opened: 0, closed: 0, types: [] as string[] };
  const createSocket = (options: dgram.SocketOptions): dgram.Socket => {
    counts.opened++;
    counts.types.push(options.type);
    const socket = dgram.createSocket(options);
    socket.once('close', () => counts.closed++);
    return socket;
  };
  return { counts, createSocket };
}

/**
 * UDP handles still open. A closed socket's libuv handle is released one event-loop turn after its
 * 'close' event, so this lets a few turns pass (no timers) before counting.
 */
async function openUdpHandles(): Promise<number> {
  const count = () => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
  for (let turn = 0; turn < 5 && count() > 0; turn++) await new Promise((resolve) => setImmediate(resolve));
  return count();
}

const hostHasIPv6Loopback = Object.values(networkInterfaces()).some((list) =>
  list?.some((i) => i.family === 'IPv6' && i.address === '::1'),
);
const noIPv6Loopback = hostHasIPv6Loopback ? false : 'no ::1 on this host';

describe('SourceAddressProbe on loopback', () => {
  test('finds the source of 127.0.0.1 and ::1 (zone accepted), closes every socket', {
    skip: noIPv6Loopback,
  }, async () => {
    const { counts, createSocket } = countingFactory();
    const probe = new SourceAddressProbe({ createSocket });
    const result = await probe.probe(
      [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
        { address: '::1%lo', family: 6 },
        { address: '127.0.0.1', family: 4 }, // duplicate: probed once
      ],
      0,
    );
    assert.deepEqual(
      [...result],
      [
        ['127.0.0.1', '127.0.0.1'],
        ['::1', '::1'],
        ['::1%lo', '::1'],
      ],
    );
    assert.deepEqual(counts.types.sort(), ['udp4', 'udp6', 'udp6']);
    assert.equal(counts.closed, counts.opened, 'every socket closed when probe() resolves');
    assert.equal(await openUdpHandles(), 0, 'no UDP handle left');
  });

  test('cached results open no socket until ttlMs has passed; clear() forgets', async () => {
    const { counts, createSocket } = countingFactory();
    const probe = new SourceAddressProbe({ createSocket, ttlMs: 5000 });
    const target = [{ address: '127.0.0.1', family: 4 as const }];
    const steps: Array<{ name: string; nowMs: number; clearFirst?: boolean; opened: number }> = [
      { name: 'first probe', nowMs: 1000, opened: 1 },
      { name: 'cache hit', nowMs: 2000, opened: 1 },
      { name: 'cache hit just before expiry', nowMs: 5999, opened: 1 },
      { name: 'expired at ttlMs', nowMs: 6000, opened: 2 },
      { name: 'fresh again', nowMs: 6001, opened: 2 },
      { name: 'clock went backwards: not trusted', nowMs: 10, opened: 3 },
      { name: 'after clear()', nowMs: 11, clearFirst: true, opened: 4 },
    ];
    for (const step of steps) {
      if (step.clearFirst) probe.clear();
      const result = await probe.probe(target, step.nowMs);
      assert.equal(result.get('127.0.0.1'), '127.0.0.1', step.name);
      assert.equal(counts.opened, step.opened, step.name);
    }
    assert.equal(counts.closed, counts.opened);
  });

  test('concurrent callers share one probe per address', async () => {
    const { counts, createSocket } = countingFactory();
    const probe = new SourceAddressProbe({ createSocket });
    const target = [{ address: '127.0.0.1', family: 4 as const }];
    const [a, b] = await Promise.all([probe.probe(target, 0), probe.probe(target, 0)]);
    assert.equal(a.get('127.0.0.1'), '127.0.0.1');
    assert.equal(b.get('127.0.0.1'), '127.0.0.1');
    assert.equal(counts.opened, 1);
  });

  test('the cache is bounded: the oldest entry is evicted', async () => {
    const { counts, createSocket } = countingFactory();
    const probe = new SourceAddressProbe({ createSocket, maxEntries: 2 });
    const at = (address: string, nowMs: number) => probe.probe([{ address, family: 4 }], nowMs);
    await at('127.0.0.1', 0);
    await at('127.0.0.2', 1);
    await at('127.0.0.3', 2); // evicts 127.0.0.1
    assert.equal(counts.opened, 3);
    await at('127.0.0.3', 3);
    await at('127.0.0.2', 3);
    assert.equal(counts.opened, 3, 'the two newest are still cached');
    const result = await at('127.0.0.1', 3);
    assert.equal(counts.opened, 4, 'the oldest was evicted');
    assert.equal(result.get('127.0.0.1'), '127.0.0.1');
  });

  test('not an IP literal, or wrong family: null without a socket (and without DNS)', async () => {
    const { counts, createSocket } = countingFactory();
    const probe = new SourceAddressProbe({ createSocket });
    const result = await probe.probe(
      [
        { address: 'localhost', family: 4 },
        { address: '::1', family: 4 },
        { address: '127.0.0.1', family: 6 },
        { address: '127.0.0.1%lo', family: 4 },
      ],
      0,
    );
    assert.deepEqual(
      [...result],
      [
        ['localhost', null],
        ['::1', null],
        ['127.0.0.1', null],
        ['127.0.0.1%lo', null],
      ],
    );
    assert.equal(counts.opened, 0);
  });

  test('a failing socket factory gives null, never a rejection', async () => {
    const probe = new SourceAddressProbe({
      createSocket: () => {
        throw Object.assign(new Error('EMFILE'), { code: 'EMFILE' });
      },
    });
    const result = await probe.probe([{ address: '127.0.0.1', family: 4 }], 0);
    assert.equal(result.get('127.0.0.1'), null);
  });

  test('empty input resolves to an empty map', async () => {
    const result = await new SourceAddressProbe().probe([], 0);
    assert.equal(result.size, 0);
  });

  const badOptions: Array<[string, object]> = [
    ['options.ttlMs', { ttlMs: -1 }],
    ['options.ttlMs', { ttlMs: Number.POSITIVE_INFINITY }],
    ['options.ttlMs', { ttlMs: '5000' }],
    ['options.maxEntries', { maxEntries: 0 }],
    ['options.maxEntries', { maxEntries: 1.5 }],
    ['options.createSocket', { createSocket: 'dgram' }],
  ];
  for (const [field, options] of badOptions) {
    test(`rejects ${field} = ${JSON.stringify(Object.values(options)[0]) ?? 'Infinity'}`, () => {
      assert.throws(
        () => new SourceAddressProbe(options as never),
        (error: unknown) => {
          return (
            error instanceof TypeError &&
            (error as TypeError & { code?: string }).code === 'ERR_NETDIAL_INVALID_OPTION' &&
            error.message.startsWith(field)
          );
        },
      );
    });
  }

  test('rejects a nowMs that is not a finite number', () => {
    const probe = new SourceAddressProbe();
    assert.throws(() => probe.probe([], Number.NaN), {
      name: 'TypeError',
      code: 'ERR_NETDIAL_INVALID_OPTION',
    });
  });
});

// ---- Inside a network namespace of our own (no routes unless the setup adds them) ----

const moduleUrl = new URL('../src/race/source-address.js', import.meta.url).href;

function unshareUnavailable(): string | false {
  const tried = spawnSync('unshare', ['--net', 'true'], { encoding: 'utf8', timeout: 5000 });
  if (tried.error) return `unshare not available: ${tried.error.message}`;
  if (tried.status !== 0) return `unshare --net failed (not root?): ${tried.stderr.trim()}`;
  return false;
}

function ipUnavailable(): string | false {
  const tried = spawnSync('ip', ['-V'], { encoding: 'utf8', timeout: 5000 });
  return tried.error || tried.status !== 0 ? '`ip` (iproute2) not available' : false;
}

/** Runs the probe for `targets` in a child inside a new network namespace after the shell `setup`. */
function probeInNamespace(setup: string, targets: Array<{ address: string; family: 4 | 6 }>) {
  const script = `
    const { SourceAddressProbe } = await import(${JSON.stringify(moduleUrl)});
    const result = await new SourceAddressProbe().probe(${JSON.stringify(targets)}, 0);
    console.log(JSON.stringify(Object.fromEntries(result)));
  `;
  const child = spawnSync(
    'unshare',
    ['--net', 'sh', '-c', `${setup} exec "$0" --input-type=module -e "$1"`, process.execPath, script],
    { encoding: 'utf8', timeout: 15000, killSignal: 'SIGKILL' },
  );
  assert.equal(child.status, 0, `child failed: ${child.stderr}`);
  const lines = child.stdout.trim().split('\n');
  return JSON.parse(lines.at(-1) ?? '{}') as Record<string, string | null>;
}

const noUnshare = unshareUnavailable();
const noIp = noUnshare || ipUnavailable();
if (noUnshare) console.log(`# skipping namespace tests: ${noUnshare}`);
else if (noIp) console.log(`# skipping namespace setup test: ${noIp}`);

describe('SourceAddressProbe in a network namespace', () => {
  test('no route: documentation addresses of both families give null', { skip: noUnshare }, () => {
    const result = probeInNamespace('', [
      { address: '198.51.100.1', family: 4 },
      { address: '2001:db8::1', family: 6 },
      { address: '3fff::1', family: 6 },
    ]);
    assert.deepEqual(result, { '198.51.100.1': null, '2001:db8::1': null, '3fff::1': null });
  });

  test('with addresses on lo: the kernel picks them as sources; other prefixes stay null', {
    skip: noIp,
  }, () => {
    const setup = [
      'ip link set lo up',
      'ip addr add 192.0.2.1/24 dev lo',
      'ip -6 addr add 2001:db8::1/64 dev lo',
    ].join(' && ');
    const result = probeInNamespace(`${setup} &&`, [
      { address: '192.0.2.7', family: 4 },
      { address: '2001:db8::7', family: 6 },
      { address: '198.51.100.1', family: 4 },
      { address: '3fff::1', family: 6 },
    ]);
    assert.deepEqual(result, {
      '192.0.2.7': '192.0.2.1',
      '2001:db8::7': '2001:db8::1',
      '198.51.100.1': null,
      '3fff::1': null,
    });
  });
});
