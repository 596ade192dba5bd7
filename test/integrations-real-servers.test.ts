/**
 * pg against a real PostgreSQL and ioredis against a real Redis, both through netdial: private servers
 * on loopback (test/support/real-servers.ts installs the Debian packages when missing). Covers the
 * documented recipes (pg `stream: () => new DialSocket()`, an ioredis Connector returning
 * `createConnection(...)`), Unix sockets (pg's `host: '/dir'`, ioredis `path`) with and without an
 * address policy, the errors each client sees (refused, timeout), and cancellation by each client's own
 * timeout while netdial is still resolving. Skipped with the reason when the servers cannot be had —
 * except with CI=true, where that fails.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AbstractConnector, Redis, type RedisOptions } from 'ioredis';
import pg from 'pg';
import { Dialer, isDialError, type ResolveFunction } from '../src/index.js';
import {
  bindCreateConnection,
  type ConnectionDialOptions,
  DialSocket,
} from '../src/integrations/create-connection.js';
import { getReport } from '../src/report.js';
import { activeResources, assertNoLeaks } from './support/leaks.js';
import {
  postgresUnavailable,
  type RunningServer,
  redisUnavailable,
  startPostgres,
  startRedis,
} from './support/real-servers.js';
import { skipReason } from './support/prerequisite.js';

const loopback: ResolveFunction = async (_name, family) => (family === 4 ? ['127.0.0.1'] : []);
const silent: ResolveFunction = (_n, _f, { signal }) =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('cancelled'))));
const dialer = new Dialer({ memory: false });

/** A dead port on 127.0.0.1 (listened on, then closed). */
async function deadPort(): Promise<number> {
  const s = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => s.once('listening', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

const pgSkip = skipReason(postgresUnavailable());

describe('pg against a real PostgreSQL through DialSocket', { skip: pgSkip }, () => {
  let server: RunningServer;
  let baseline: Map<string, number>;
  const clientFor = (dial: ConnectionDialOptions, config: pg.ClientConfig) =>
    new pg.Client({
      user: 'netdial',
      database: 'postgres',
      ...config,
      stream: () => new DialSocket({ dialer, ...dial }),
    });

  before(async () => {
    server = await startPostgres();
    baseline = activeResources();
  });
  after(async () => {
    try {
      await assertNoLeaks(baseline, 'pg tests');
    } finally {
      await server?.stop();
    }
  });

  test('the recipe: stream: () => new DialSocket() — pg connects by name and queries', async () => {
    const client = clientFor({ resolver: loopback }, { host: 'db.test', port: server.port });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT 1 + 1 AS two');
      assert.deepEqual(rows, [{ two: 2 }]);
      const stream = (client as unknown as { connection: { stream: DialSocket } }).connection.stream;
      assert.equal(getReport(stream as unknown as net.Socket)?.winner?.address, '127.0.0.1');
    } finally {
      await client.end();
    }
  });

  test("host: '/socket/dir' goes to the Unix socket; under a policy only with allowUnixSockets", async () => {
    const plain = clientFor({}, { host: server.socketPath, port: server.port });
    await plain.connect();
    assert.deepEqual((await plain.query('SELECT 3 AS n')).rows, [{ n: 3 }]);
    await plain.end();

    const denied = clientFor({ policy: 'public' }, { host: server.socketPath, port: server.port });
    await assert.rejects(denied.connect(), (e: unknown) => isDialError(e) && e.code === 'ERR_NETDIAL_DENIED');

    const allowed = clientFor(
      { policy: 'public', allowUnixSockets: true },
      { host: server.socketPath, port: server.port },
    );
    await allowed.connect();
    assert.deepEqual((await allowed.query('SELECT 4 AS n')).rows, [{ n: 4 }]);
    await allowed.end();
  });

  test('a refused connection reaches pg as the DialError (ECONNREFUSED)', async () => {
    const client = clientFor({ resolver: loopback }, { host: 'db.test', port: await deadPort() });
    await assert.rejects(client.connect(), (e: unknown) => isDialError(e) && e.code === 'ECONNREFUSED');
  });

  test("connectionTimeoutMillis cancels a dial still resolving: pg's 'timeout expired' on time", async () => {
    const client = clientFor(
      { resolver: silent },
      { host: 'db.test', port: server.port, connectionTimeoutMillis: 200 },
    );
    const started = performance.now();
    await assert.rejects(client.connect(), /timeout expired/);
    const ms = performance.now() - started;
    assert.ok(ms >= 150 && ms < 1200, `rejected after ${ms} ms`);
  });
});

/**
 * The ioredis recipe: a Connector whose connect() returns netdial's createConnection socket at once
 * (connecting), as ioredis's own connector returns net's — so connectTimeout and disconnect() reach the
 * dial.
 */
function netdialConnector(dial: ConnectionDialOptions) {
  const createConnection = bindCreateConnection(dial);
  return class NetdialConnector extends AbstractConnector {
    readonly options: RedisOptions;
    constructor(options: RedisOptions) {
      super(options.disconnectTimeout ?? 2000);
      this.options = options;
    }
    connect() {
      this.connecting = true;
      const { host, port, path, tls } = this.options;
      const stream = path ? createConnection({ path }) : createConnection({ host, port, tls: tls ?? false });
      stream.once('error', (err: Error) => {
        (this as unknown as { firstError: Error }).firstError = err;
      });
      this.stream = stream as unknown as net.Socket;
      return Promise.resolve(this.stream);
    }
  };
}

/** The errors a Redis client emits (ioredis reports the connection's cause as 'error'). */
function collectErrors(redis: Redis): Error[] {
  const errors: Error[] = [];
  redis.on('error', (e: Error) => errors.push(e));
  return errors;
}

const redisSkip = skipReason(redisUnavailable());

describe('ioredis against a real Redis through a netdial Connector', { skip: redisSkip }, () => {
  let server: RunningServer;
  let baseline: Map<string, number>;
  const redisFor = (dial: ConnectionDialOptions, options: RedisOptions) =>
    new Redis({
      lazyConnect: true,
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      ...options,
      Connector: netdialConnector({ dialer, ...dial }) as unknown as RedisOptions['Connector'],
    });

  before(async () => {
    server = await startRedis();
    baseline = activeResources();
  });
  after(async () => {
    try {
      await assertNoLeaks(baseline, 'ioredis tests');
    } finally {
      await server?.stop();
    }
  });

  test('the recipe: set, get and ping by name', async () => {
    const redis = redisFor({ resolver: loopback }, { host: 'cache.test', port: server.port });
    await redis.connect();
    try {
      await redis.set('greeting', 'dialed by netdial');
      assert.equal(await redis.get('greeting'), 'dialed by netdial');
      assert.equal(await redis.ping(), 'PONG');
      assert.equal(getReport(redis.stream as unknown as net.Socket)?.winner?.address, '127.0.0.1');
    } finally {
      await redis.quit();
    }
  });

  test('path: the Unix socket; under a policy only with allowUnixSockets', async () => {
    const plain = redisFor({}, { path: server.socketPath });
    await plain.connect();
    assert.equal(await plain.ping(), 'PONG');
    await plain.quit();
    const denied = redisFor({ policy: 'public' }, { path: server.socketPath });
    const errors = collectErrors(denied);
    await assert.rejects(denied.connect());
    assert.ok(isDialError(errors[0]) && errors[0].code === 'ERR_NETDIAL_DENIED', String(errors[0]));
    assert.equal(denied.status, 'end');
  });

  test('a refused connection reaches ioredis as the DialError (ECONNREFUSED)', async () => {
    const redis = redisFor({ resolver: loopback }, { host: 'cache.test', port: await deadPort() });
    const errors = collectErrors(redis);
    // ioredis rejects connect() with its own "Connection is closed." and emits the cause as 'error'.
    await assert.rejects(redis.connect(), /Connection is closed/);
    assert.ok(isDialError(errors[0]) && errors[0].code === 'ECONNREFUSED', String(errors[0]));
    assert.equal(redis.status, 'end');
  });

  test("connectTimeout cancels a dial still resolving: ioredis's ETIMEDOUT on time", async () => {
    const redis = redisFor(
      { resolver: silent },
      { host: 'cache.test', port: server.port, connectTimeout: 200 },
    );
    const errors = collectErrors(redis);
    const started = performance.now();
    await assert.rejects(redis.connect(), /Connection is closed/);
    const ms = performance.now() - started;
    assert.equal((errors[0] as { code?: string } | undefined)?.code, 'ETIMEDOUT');
    assert.equal(errors[0]?.message, 'connect ETIMEDOUT');
    assert.ok(ms >= 150 && ms < 1200, `rejected after ${ms} ms`);
    assert.equal(redis.status, 'end');
  });
});
