/**
 * Real PostgreSQL and Redis servers for the client tests: private instances on loopback, on random
 * ports, with temporary data directories, started by PID and stopped by PID. The Debian packages
 * (`postgresql`, `redis-server`) are installed with apt-get once, quietly, only when missing. Where
 * they cannot be had (not root, no apt-get, no network for apt) the caller gets a reason to skip with —
 * and with CI=true it must fail instead (the caller asserts that).
 */
import { type ChildProcess, execFileSync, type SpawnOptions, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Installs `packages` with apt-get when `present()` says they are missing; returns why not, or undefined. */
export function ensureDebianPackages(packages: string[], present: () => boolean): string | undefined {
  if (present()) return undefined;
  if (process.getuid?.() !== 0) return `${packages.join(', ')} missing and not root to install them`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    execFileSync(
      'apt-get',
      // Wait for a dpkg lock held by another install (parallel test runs) instead of failing at once.
      ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', '-qq', '--no-install-recommends', ...packages],
      {
        env,
        stdio: 'ignore',
        timeout: 600_000,
      },
    );
  try {
    try {
      install();
    } catch {
      // A clean machine may have no package lists yet.
      execFileSync('apt-get', ['update', '-qq'], { env, stdio: 'ignore', timeout: 600_000 });
      install();
    }
  } catch (err) {
    return `apt-get install ${packages.join(' ')} failed: ${(err as Error).message.split('\n')[0]}`;
  }
  return present() ? undefined : `${packages.join(', ')} still missing after apt-get install`;
}

/** A free TCP port on 127.0.0.1 (bound, read, released). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Spawns a server that dies with this process even when it is killed (no `after` hook runs then):
 * through `setpriv --pdeathsig KILL` (util-linux) when there is one. setpriv execs the server, so the
 * PID is the server's.
 */
function spawnServer(command: string, args: string[], options: SpawnOptions): ChildProcess {
  if (existsSync('/usr/bin/setpriv')) {
    return spawn('/usr/bin/setpriv', ['--pdeathsig', 'KILL', '--', command, ...args], options);
  }
  return spawn(command, args, options);
}

/** Resolves once `child` printed `ready` on stdout or stderr; rejects when it exits first or after `timeoutMs`. */
function waitForLine(child: ChildProcess, ready: RegExp, timeoutMs: number, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (ready.test(output)) finish();
    };
    const onExit = (code: number | null) =>
      finish(new Error(`${what} exited (${code}) before it was ready:\n${output}`));
    const timer = setTimeout(
      () => finish(new Error(`${what} not ready within ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    function finish(err?: Error) {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      // Keep draining the pipes so the server never blocks on a full one.
      child.stdout?.resume();
      child.stderr?.resume();
      if (err) reject(err);
      else resolve();
    }
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Stops `child` by its PID with `signal`, SIGKILL after 5 s; resolves when it has exited. */
async function stopChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  if (child.pid !== undefined) process.kill(child.pid, signal);
  const killer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(killer);
}

export interface RunningServer {
  port: number;
  /** PostgreSQL: the directory of its Unix socket (`host` for pg); Redis: its socket path. */
  socketPath: string;
  stop(): Promise<void>;
}

/** The newest installed PostgreSQL's bin directory (Debian: /usr/lib/postgresql/N/bin). */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/** Installs PostgreSQL when missing; returns why it cannot run here, or undefined. */
export function postgresUnavailable(): string | undefined {
  const missing = ensureDebianPackages(['postgresql'], () => postgresBin() !== undefined);
  if (missing) return missing;
  if (process.getuid?.() === 0) {
    try {
      execFileSync('id', ['-u', 'postgres'], { stdio: 'ignore' });
    } catch {
      return 'PostgreSQL refuses to run as root and there is no postgres user';
    }
  }
  return undefined;
}

/**
 * A private PostgreSQL on 127.0.0.1:<random> with a temporary cluster (user `netdial`, trust auth,
 * fsync off), its Unix socket in the same temporary directory. Runs as the `postgres` user when root.
 */
export async function startPostgres(): Promise<RunningServer> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed');
  const dir = mkdtempSync(join(tmpdir(), 'netdial-pg-'));
  const data = join(dir, 'data');
  let ids: { uid: number; gid: number } | undefined;
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dir, uid, gid);
    ids = { uid, gid };
  }
  try {
    execFileSync(
      join(bin, 'initdb'),
      ['-D', data, '-U', 'netdial', '--auth=trust', '-E', 'UTF8', '--no-sync', '--no-instructions'],
      { stdio: 'ignore', timeout: 120_000, cwd: dir, ...ids },
    );
    const port = await freePort();
    const child = spawnServer(
      join(bin, 'postgres'),
      ['-D', data, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off'],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir, ...ids },
    );
    await waitForLine(child, /ready to accept connections/, 60_000, 'postgres');
    return {
      port,
      socketPath: dir,
      async stop() {
        await stopChild(child, 'SIGINT'); // fast shutdown
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Installs redis-server when missing; returns why it cannot run here, or undefined. */
export function redisUnavailable(): string | undefined {
  return ensureDebianPackages(['redis-server'], () => existsSync('/usr/bin/redis-server'));
}

/**
 * A private Redis on 127.0.0.1:<random> (or `port`, to restart one where its clients reconnect), no
 * persistence, working directory temporary.
 */
export async function startRedis(options: { port?: number } = {}): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'netdial-redis-'));
  try {
    const port = options.port ?? (await freePort());
    const socketPath = join(dir, 'redis.sock');
    const child = spawnServer(
      '/usr/bin/redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--unixsocket',
        socketPath,
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--daemonize',
        'no',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir },
    );
    await waitForLine(child, /Ready to accept connections/, 30_000, 'redis-server');
    return {
      port,
      socketPath,
      async stop() {
        await stopChild(child, 'SIGTERM');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Installs tinyproxy when missing; returns why it cannot run here, or undefined. */
export function tinyproxyUnavailable(): string | undefined {
  return ensureDebianPackages(['tinyproxy'], () => existsSync('/usr/bin/tinyproxy'));
}

/** Resolves once something accepts on 127.0.0.1:`port`; rejects when `child` exits first or after `timeoutMs`. */
async function waitForListener(
  child: ChildProcess,
  port: number,
  timeoutMs: number,
  what: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`${what} exited (${child.exitCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/**
 * A private tinyproxy (HTTP CONNECT, every port allowed) on 127.0.0.1:<random>, in the foreground, its
 * configuration in a temporary directory; `socketPath` is unused ('').
 */
export async function startTinyproxy(): Promise<RunningServer> {
  const dir = mkdtempSync(join(tmpdir(), 'netdial-tinyproxy-'));
  try {
    const port = await freePort();
    const config = join(dir, 'tinyproxy.conf');
    writeFileSync(
      config,
      [
        `Port ${port}`,
        'Listen 127.0.0.1',
        'Timeout 30',
        'MaxClients 16',
        'LogLevel Critical',
        'DisableViaHeader Yes',
        '',
      ].join('\n'),
    );
    const child = spawnServer('/usr/bin/tinyproxy', ['-d', '-c', config], { stdio: 'ignore', cwd: dir });
    try {
      await waitForListener(child, port, 10_000, 'tinyproxy');
    } catch (err) {
      await stopChild(child, 'SIGKILL');
      throw err;
    }
    return {
      port,
      socketPath: '',
      async stop() {
        await stopChild(child, 'SIGTERM');
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Installs microsocks when missing; returns why it cannot run here, or undefined. */
export function microsocksUnavailable(): string | undefined {
  return ensureDebianPackages(['microsocks'], () => existsSync('/usr/bin/microsocks'));
}

/** A private microsocks (SOCKS5, no auth) on 127.0.0.1:<random>; `socketPath` is unused (''). */
export async function startMicrosocks(): Promise<RunningServer> {
  const port = await freePort();
  const child = spawnServer('/usr/bin/microsocks', ['-i', '127.0.0.1', '-p', String(port)], {
    stdio: 'ignore',
  });
  try {
    await waitForListener(child, port, 10_000, 'microsocks');
  } catch (err) {
    await stopChild(child, 'SIGKILL');
    throw err;
  }
  return { port, socketPath: '', stop: () => stopChild(child, 'SIGTERM') };
}
