/**
 * `withLab`: builds a fresh lab (router namespace, veth, conditions, listeners, DNS server, private
 * resolv.conf/hosts), runs the caller's function, and removes everything in `finally`.
 */
import nodeDns from 'node:dns';
import { performance } from 'node:perf_hooks';
import { DEFAULT_SLOW_DELAY_MS, findPython } from './delay-line.js';
import { LabDnsServer } from './dns-server.js';
import { type ExecOptions, type ExecResult, runCommand } from './exec.js';
import { LAB } from './plan.js';
import { LAB_INSIDE_ENV } from './reexec.js';
import type { ServerConnection } from './router-protocol.js';
import {
  type HostsEntries,
  mountSystemFiles,
  renderHosts,
  renderNsswitch,
  renderResolvConf,
  type SystemFilesMount,
} from './system-files.js';
import { labPki } from './tls-pki.js';
import { buildTopology, type Topology } from './topology.js';
import type { Zone } from './zone.js';

/** Options of `withLab`. */
export interface LabOptions {
  /** resolv.conf search list. Default `[LAB.zoneSuffix]` ('lab.test'). */
  search?: readonly string[];
  /** resolv.conf `options ndots:N`. Default 1. */
  ndots?: number;
  /** Further resolv.conf options words, e.g. ['timeout:1', 'attempts:1']. Default none (glibc: 5 s, 2 tries). */
  resolvOptions?: readonly string[];
  /** The whole resolv.conf text instead of the one built from `search`, `ndots` and `resolvOptions`. */
  resolvConf?: string;
  /** Extra /etc/hosts entries (name -> address(es)), after the localhost lines. */
  hosts?: HostsEntries;
  /** The services of a private /etc/nsswitch.conf `hosts:` line, e.g. 'files myhostname dns'. Default: the
   * host's nsswitch.conf is left in view. */
  nsswitchHosts?: string;
  /** Negative-answer TTL (SOA MINIMUM), seconds. Default 30. */
  soaMinimumSeconds?: number;
  /** Give the client an IPv4 source address and default route. Default true. */
  clientIpv4?: boolean;
  /** Give the client an IPv6 source address and default route; false disables IPv6 on its veth. Default true. */
  clientIpv6?: boolean;
  /** One-way delay of the `slow` condition's delay line, milliseconds (each round trip to a slow address
   * gains this much). Default 400 when python3 is installed, otherwise no slow path. `false`: no delay line;
   * slow addresses then do not exist (the router answers ICMP unreachable). */
  slowPathDelayMs?: number | false;
  /** Bound on each setup step, milliseconds. Default 5000. */
  setupTimeoutMs?: number;
  /** Called after teardown with the measured times. */
  onTimings?: (timings: LabTimings) => void;
  /**
   * TLS listeners (`LAB.tls`): HTTPS on port 443 of the good (and slow) addresses, and the stalling,
   * resetting and wrong-name listeners on their own addresses, with certificates of a CA made at setup
   * (`lab.tls.ca`; needs the openssl CLI). Default false.
   */
  tls?: boolean;
}

/** Measured lab times, milliseconds. */
export interface LabTimings {
  setupMs: number;
  teardownMs: number;
}

/** A connection a router listener accepted, with times on this process's `performance.now()` clock. */
export interface LabServerConnection extends ServerConnection {
  acceptedAtMs: number;
  /** undefined while the connection is open. */
  closedAtMs: number | undefined;
}

/** What `withLab` hands to its function. */
export interface Lab {
  /** The DNS server on 127.0.0.1:53 (UDP+TCP) that resolv.conf points at. */
  readonly dns: LabDnsServer;
  /** Server addresses per condition (see `LAB.addresses`). */
  readonly addresses: typeof LAB.addresses;
  /** Routed prefixes per condition. */
  readonly prefixes: typeof LAB.prefixes;
  /** Ports served on every `good` address. */
  readonly ports: typeof LAB.ports;
  /** The client's source addresses; undefined for a family disabled by the options. */
  readonly clientAddress: { readonly v4: string | undefined; readonly v6: string | undefined };
  /** PID of the router process (enter its namespace with `nsenter -t PID -n`). */
  readonly routerPid: number;
  /** How long setup took, milliseconds. */
  readonly setupMs: number;
  /** Runs a command in the client namespace (this process's), default timeout 10 s (see `ExecOptions`). */
  exec(cmd: string, args?: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Runs a command in the router namespace (`nsenter -t routerPid -n`), default timeout 10 s. */
  execInRouter(cmd: string, args?: readonly string[], options?: ExecOptions): Promise<ExecResult>;
  /** Connections accepted by the router's listeners since setup or the last reset, oldest first. */
  serverConnections(): Promise<LabServerConnection[]>;
  /** Forgets the logged server connections. */
  resetServerConnections(): void;
  /** The slow path's current one-way delay, milliseconds; undefined without a slow path. */
  readonly slowPathDelayMs: number | undefined;
  /** Changes the slow path's delay for packets sent from now on. Throws without a slow path. */
  setSlowPathDelayMs(delayMs: number): void;
  /**
   * With `LabOptions.tls`: the CA certificate (PEM) the TLS listeners' certificates chain to — pass it as
   * `tls: { ca }` — and their port and addresses (`LAB.tls`); undefined otherwise.
   */
  readonly tls: ({ readonly ca: string } & typeof LAB.tls) | undefined;
}

/** True in the process `enterLab` re-executed inside fresh namespaces (PID 1 of its PID namespace). */
export function isInsideLab(): boolean {
  return process.env[LAB_INSIDE_ENV] === '1' && process.pid === 1;
}

/**
 * The slow path's delay for `LabOptions.slowPathDelayMs`: `false` -> none; a number -> that number (setup
 * fails later without Python, as asked for explicitly); unset -> the default when Python is there, else none.
 */
export function chooseSlowPathDelayMs(
  option: number | false | undefined,
  pythonFound: boolean,
): number | undefined {
  if (option === false) return undefined;
  if (option !== undefined) return option;
  return pythonFound ? DEFAULT_SLOW_DELAY_MS : undefined;
}

let active = false;

interface Parts {
  topology?: Topology | undefined;
  dns?: LabDnsServer | undefined;
  files?: SystemFilesMount | undefined;
}

async function teardownParts(parts: Parts): Promise<void> {
  const results = await Promise.allSettled([
    parts.dns?.close(),
    parts.topology?.teardown(),
    parts.files?.unmount(),
  ]);
  // One loop turn so libuv runs the close callbacks of the exited children (their handles would
  // otherwise still show in process.getActiveResourcesInfo() right after teardown).
  await new Promise((resolve) => setTimeout(resolve, 0));
  const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failures.length > 0) {
    throw new AggregateError(
      failures.map((f) => f.reason),
      'lab teardown failed',
    );
  }
}

/**
 * Builds a fresh lab serving `zone`, runs `await fn(lab)`, and tears the lab down in `finally` (DNS sockets
 * and timers, veth, routes, router process, bind mounts), returning `fn`'s result. Only inside the lab
 * (`enterLab`); one lab at a time per process. Setup failures clean up what was built and reject.
 */
export async function withLab<T>(
  zone: Zone,
  fn: (lab: Lab) => Promise<T> | T,
  options: LabOptions = {},
): Promise<T> {
  if (!isInsideLab()) {
    throw new Error(
      'withLab() runs only inside the lab namespaces: guard the file with `if (await enterLab(import.meta.url))`',
    );
  }
  if (active) throw new Error('withLab(): a lab is already running in this process');
  active = true;
  const started = performance.now();
  const families = { ipv4: options.clientIpv4 ?? true, ipv6: options.clientIpv6 ?? true };
  const slowPathDelayMs = chooseSlowPathDelayMs(options.slowPathDelayMs, findPython() !== undefined);
  const parts: Parts = {};
  let setupMs = 0;
  let restoreServers = (): void => {};
  try {
    const dns = new LabDnsServer({
      host: LAB.dnsServer.host,
      port: LAB.dnsServer.port,
      zone,
      soaMinimumSeconds: options.soaMinimumSeconds ?? 30,
      apex: LAB.zoneSuffix,
    });
    const resolvConf =
      options.resolvConf ??
      renderResolvConf({
        nameserver: LAB.dnsServer.host,
        search: options.search ?? [LAB.zoneSuffix],
        ndots: options.ndots ?? 1,
        options: options.resolvOptions ?? [],
      });
    const pki = options.tls === true ? labPki() : undefined;
    const settled = await Promise.allSettled([
      buildTopology(families, slowPathDelayMs, options.setupTimeoutMs ?? 5000, pki).then((t) => {
        parts.topology = t;
      }),
      dns.start().then(() => {
        parts.dns = dns;
      }),
      mountSystemFiles(
        resolvConf,
        renderHosts(options.hosts),
        options.nsswitchHosts === undefined ? undefined : renderNsswitch(options.nsswitchHosts),
      ).then((m) => {
        parts.files = m;
      }),
    ]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) {
      const built = { ...parts };
      parts.topology = parts.dns = parts.files = undefined;
      await teardownParts(built).catch(() => {});
      throw failed.reason;
    }
    const topology = parts.topology!;
    let currentSlowDelayMs = slowPathDelayMs;
    // node:dns built its default resolver from the host's resolv.conf when it was first loaded; point it at
    // the lab like the mounted resolv.conf does (restored at teardown). `new Resolver()` reads the lab's file.
    const savedServers = nodeDns.getServers();
    nodeDns.setServers([LAB.dnsServer.host]);
    restoreServers = () => {
      try {
        nodeDns.setServers(savedServers);
      } catch {
        // a query still in flight; the process ends with the lab anyway
      }
    };
    setupMs = performance.now() - started;
    const lab: Lab = {
      dns,
      addresses: LAB.addresses,
      prefixes: LAB.prefixes,
      ports: LAB.ports,
      clientAddress: {
        v4: families.ipv4 ? LAB.client.v4 : undefined,
        v6: families.ipv6 ? LAB.client.v6 : undefined,
      },
      routerPid: topology.routerPid,
      setupMs,
      exec: (cmd, args = [], execOptions) => runCommand(cmd, args, execOptions),
      execInRouter: (cmd, args = [], execOptions) =>
        runCommand('nsenter', ['-t', String(topology.routerPid), '-n', '--', cmd, ...args], execOptions),
      async serverConnections() {
        const origin = performance.timeOrigin;
        return (await topology.serverConnections()).map((c) => ({
          ...c,
          acceptedAtMs: c.acceptedAtEpochMs - origin,
          closedAtMs: c.closedAtEpochMs === undefined ? undefined : c.closedAtEpochMs - origin,
        }));
      },
      resetServerConnections: () => topology.resetServerConnections(),
      get slowPathDelayMs() {
        return currentSlowDelayMs;
      },
      tls: pki === undefined ? undefined : { ca: pki.ca, ...LAB.tls },
      setSlowPathDelayMs(delayMs: number) {
        topology.setSlowPathDelayMs(delayMs);
        currentSlowDelayMs = delayMs;
      },
    };
    return await fn(lab);
  } finally {
    restoreServers();
    if (parts.topology !== undefined) {
      const teardownStarted = performance.now();
      try {
        await teardownParts(parts);
      } finally {
        active = false;
      }
      options.onTimings?.({ setupMs, teardownMs: performance.now() - teardownStarted });
    } else {
      active = false;
    }
  }
}
