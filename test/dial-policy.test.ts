/**
 * The address policy through every entry point, with real sockets on loopback: a denied address is never
 * attempted, appears in the error's attempts with phase 'policy', and a dial whose every address is
 * denied fails with ERR_NETDIAL_DENIED naming the rule.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  Agent,
  createLookup,
  Dialer,
  type DialError,
  getReport,
  isDialError,
  type ResolveFunction,
} from '../src/index.js';
import { closeServer, trackConnections } from './support/servers.js';

const fixed =
  (answers: { 4?: string[]; 6?: string[] }): ResolveFunction =>
  async (_n, family) =>
    answers[family] ?? [];

async function rejection(p: Promise<unknown>): Promise<DialError> {
  const err = await p.then(
    () => assert.fail('connected'),
    (e: unknown) => e,
  );
  assert.ok(isDialError(err), `expected a DialError, got ${err}`);
  return err;
}

describe('address policy on loopback', () => {
  let accepted = 0;
  const server = trackConnections(http.createServer((_req, res) => res.end('ok')));
  server.on('connection', () => accepted++);
  const second = trackConnections(net.createServer((s) => s.resume()));
  let port = 0;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
    second.listen(port, '127.0.0.2');
    await once(second, 'listening');
  });
  after(() => Promise.all([closeServer(server), closeServer(second)]));

  test("every answer denied: the other family's ENODATA is in err.report only, not in attempts (dial, resolve, proxied dial)", async () => {
    const before = accepted;
    const dialer = new Dialer({ resolver: fixed({ 4: ['127.0.0.1'] }), policy: 'public', memory: false });
    const direct = await rejection(dialer.dial(`v4only.test:${port}`));
    const viaResolve = await rejection(dialer.resolve('v4only.test'));
    // The proxy (a documentation address) is never contacted: the target is refused first.
    const proxied = await rejection(dialer.dial(`v4only.test:${port}`, { proxy: 'socks5://192.0.2.1:1080' }));
    for (const [what, err] of [
      ['dial', direct],
      ['resolve', viaResolve],
      ['proxied', proxied],
    ] as const) {
      assert.equal(err.code, 'ERR_NETDIAL_DENIED', what);
      assert.deepEqual(
        err.attempts.map((a) => [a.phase, a.code]),
        [['policy', 'ERR_NETDIAL_DENIED']],
        `${what}: ${JSON.stringify(err.attempts)}`,
      );
    }
    assert.deepEqual(
      direct.report?.resolution.queries.map((q) => [q.type, q.code]),
      [
        ['AAAA', 'ENODATA'],
        ['A', undefined],
      ],
    );
    assert.equal(accepted, before);
  });

  test("'public': a name resolving to loopback is refused before any connection", async () => {
    const before = accepted;
    const dialer = new Dialer({ resolver: fixed({ 6: ['::1'], 4: ['127.0.0.1'] }), policy: 'public' });
    const err = await rejection(dialer.dial(`inside.test:${port}`));
    assert.equal(err.code, 'ERR_NETDIAL_DENIED');
    // Redacted by default: a count per family and class, no address.
    assert.deepEqual(
      err.attempts.map((a) => [a.address, a.family, a.phase, a.code, a.message]),
      [
        ['(redacted)', 6, 'policy', 'ERR_NETDIAL_DENIED', '1 address denied by policy (loopback)'],
        ['(redacted)', 4, 'policy', 'ERR_NETDIAL_DENIED', '1 address denied by policy (loopback)'],
      ],
    );
    // The message has one line per class across both families (per family it read "1 …; 1 …").
    assert.match(err.message, /refused by the address policy: 2 addresses denied by policy \(loopback\)$/);
    assert.equal(accepted, before, 'no connection was made');
    // With redaction off, each address and its rule.
    const open = new Dialer({
      resolver: fixed({ 6: ['::1'], 4: ['127.0.0.1'] }),
      policy: 'public',
      redactDeniedAddresses: false,
    });
    const shown = await rejection(open.dial(`inside.test:${port}`));
    assert.deepEqual(
      shown.attempts.map((a) => [a.address, a.phase, a.code]),
      [
        ['::1', 'policy', 'ERR_NETDIAL_DENIED'],
        ['127.0.0.1', 'policy', 'ERR_NETDIAL_DENIED'],
      ],
    );
    assert.match(shown.message, /refused by the address policy: ::1 denied by policy \(deny loopback/);
    assert.equal(accepted, before, 'no connection was made');
  });

  test('IP literals and IPv4-mapped IPv6 forms are checked as the IPv4 address they carry', async () => {
    for (const target of [`127.0.0.1:${port}`, `[::ffff:127.0.0.1]:${port}`, `[::ffff:7f00:1]:${port}`]) {
      const err = await rejection(new Dialer({ policy: { deny: ['loopback'] } }).dial(target));
      assert.equal(err.code, 'ERR_NETDIAL_DENIED', target);
    }
  });

  test('a denied address is skipped, an allowed one is dialled; the error path lists both kinds', async () => {
    const resolver = fixed({ 4: ['127.0.0.1', '127.0.0.2'] });
    const policy = { deny: ['loopback'], allow: ['127.0.0.2'] };
    const s = await new Dialer({ resolver, policy, memory: false }).dial(`mixed.test:${port}`);
    assert.deepEqual(
      getReport(s)!.attempts.map((a) => a.address),
      ['127.0.0.2'],
    );
    s.destroy();
    const dead = port === 65535 ? port - 1 : port + 1;
    const err = await rejection(
      new Dialer({ resolver, policy, memory: false, redactDeniedAddresses: false }).dial(
        `mixed.test:${dead}`,
      ),
    );
    assert.deepEqual(
      err.attempts.filter((a) => a.phase !== 'dns').map((a) => [a.address, a.phase]),
      [
        ['127.0.0.1', 'policy'],
        ['127.0.0.2', 'tcp'],
      ],
    );
  });

  test('per-dial policy applies on a Dialer without one; bad policies are TypeErrors naming the entry', async () => {
    const dialer = new Dialer({ resolver: fixed({ 4: ['127.0.0.1'] }) });
    (await dialer.dial(`ok.test:${port}`)).destroy();
    const err = await rejection(dialer.dial(`ok.test:${port}`, { policy: 'public' }));
    assert.equal(err.code, 'ERR_NETDIAL_DENIED');
    const bad = await dialer
      .dial(`ok.test:${port}`, { policy: { deny: ['nonsense'] } })
      .catch((e: unknown) => e);
    assert.ok(bad instanceof TypeError);
    assert.equal((bad as { code?: string }).code, 'ERR_NETDIAL_INVALID_OPTION');
    assert.match((bad as Error).message, /policy\.deny\[0\]/);
  });

  test('resolve() and lookup never hand out a denied address', async () => {
    const dialer = new Dialer({
      resolver: fixed({ 6: ['::1'], 4: ['127.0.0.1'] }),
      policy: { deny: ['loopback'] },
    });
    const err = await rejection(dialer.resolve('inside.test'));
    assert.equal(err.code, 'ERR_NETDIAL_DENIED');
    const lookup = createLookup({ dialer });
    const lookupErr = await new Promise<NodeJS.ErrnoException | null>((resolve) =>
      lookup('inside.test', { all: true }, (e) => resolve(e)),
    );
    assert.ok(lookupErr, 'lookup failed');
  });

  test('the http Agent enforces the policy of its dial options', async () => {
    const before = accepted;
    const agent = new Agent({ dial: { resolver: fixed({ 4: ['127.0.0.1'] }), policy: 'public' } });
    const err = await new Promise<unknown>((resolve) => {
      http.get(`http://inside.test:${port}/`, { agent }, () => resolve('connected')).on('error', resolve);
    });
    agent.destroy();
    // The agent's error is Node-shaped (docs/integrations.md); the DialError is its cause.
    assert.equal((err as { code?: unknown }).code, 'ERR_NETDIAL_DENIED');
    const cause = (err as { cause?: unknown }).cause;
    assert.ok(isDialError(cause), `expected a DialError as cause, got ${cause}`);
    assert.equal(cause.code, 'ERR_NETDIAL_DENIED');
    assert.equal(accepted, before);
  });
});
