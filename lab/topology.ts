/**
 * Builds and removes the lab's two-host network: the client namespace (the lab process's own), a router
 * namespace held by the router process, a veth pair between them, server addresses, the blackhole TUN
 * device and the unreachable routes. The `ip` batches are produced by pure functions (tested as text).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { killQuietly, runChecked, runCommand } from './exec.js';
import { LAB } from './plan.js';
import { type DelayLine, startDelayLine } from './delay-line.js';
import type {
  IpBatch,
  ListenerSpec,
  RouterReply,
  RouterRequest,
  RouterTlsMaterial,
  ServerConnection,
  Sysctl,
} from './router-protocol.js';

/** Which families the client side gets (source address and default route). */
export interface ClientFamilies {
  /** Default true. */
  ipv4: boolean;
  /** Default true. False also sets `disable_ipv6` on the client's veth so getaddrinfo's AI_ADDRCONFIG sees no
   * IPv6 (removing the global address alone is not enough: the link-local one still counts). */
  ipv6: boolean;
}

/** Sysctls of the router namespace, written by the router process at start (before the veth moves in). */
export const ROUTER_SYSCTLS: readonly Sysctl[] = [
  ['net/ipv4/ip_forward', '1'],
  ['net/ipv6/conf/all/forwarding', '1'],
  ['net/ipv6/conf/default/forwarding', '1'],
  // Unrate-limited ICMP errors, or repeated unreachable probes start to look like blackholes.
  ['net/ipv4/icmp_ratelimit', '0'],
  ['net/ipv6/icmp/ratelimit', '0'],
  // No duplicate address detection: addresses are usable at once.
  ['net/ipv6/conf/all/accept_dad', '0'],
  ['net/ipv6/conf/default/accept_dad', '0'],
  // Packets re-injected by the delay line arrive on its TUN device, not on the veth they came from.
  ['net/ipv4/conf/all/rp_filter', '0'],
  ['net/ipv4/conf/default/rp_filter', '0'],
  // Early demux would attach the listening socket to client packets for slow addresses before routing,
  // and the kernel refuses to forward such packets into the delay line (ip_forward drops skbs with a socket).
  ['net/ipv4/tcp_early_demux', '0'],
  ['net/ipv4/udp_early_demux', '0'],
];

/** Sysctls of the client namespace, written once per lab process before the first veth is created. */
export const CLIENT_SYSCTLS: readonly Sysctl[] = [
  ['net/ipv6/conf/all/accept_dad', '0'],
  ['net/ipv6/conf/default/accept_dad', '0'],
];

const V4_HOST = 32;
const V6_HOST = 128;

/** The client's `ip -batch` setup: veth into the router namespace `routerPid`, addresses, static neighbours,
 * default routes via the router and the client-side unreachable routes. */
export function clientSetupBatch(routerPid: number, families: ClientFamilies): string {
  const { client, router, linkPrefixLength, prefixes } = LAB;
  const lines = [
    `link add ${client.interface} address ${client.mac} type veth peer name ${router.interface} address ${router.mac} netns ${routerPid}`,
    'link set lo up',
  ];
  if (families.ipv4) lines.push(`addr add ${client.v4}/${linkPrefixLength.v4} dev ${client.interface}`);
  if (families.ipv6) lines.push(`addr add ${client.v6}/${linkPrefixLength.v6} dev ${client.interface} nodad`);
  lines.push(`link set ${client.interface} up`);
  if (families.ipv4) {
    lines.push(`neigh replace ${router.v4} lladdr ${router.mac} dev ${client.interface} nud permanent`);
    lines.push(`route add default via ${router.v4} dev ${client.interface}`);
  }
  if (families.ipv6) {
    lines.push(`neigh replace ${router.v6} lladdr ${router.mac} dev ${client.interface} nud permanent`);
    lines.push(`route add default via ${router.v6} dev ${client.interface}`);
  }
  lines.push(`route add unreachable ${prefixes.clientUnreachable.v4}`);
  lines.push(`route add unreachable ${prefixes.clientUnreachable.v6}`);
  return `${lines.join('\n')}\n`;
}

/** The client's teardown batch (run with `-force` so every line is attempted). Deleting the veth removes its
 * peer, addresses, neighbours and default routes. */
export function clientTeardownBatch(): string {
  const { client, prefixes } = LAB;
  return [
    `link del ${client.interface}`,
    `route del unreachable ${prefixes.clientUnreachable.v4}`,
    `route del unreachable ${prefixes.clientUnreachable.v6}`,
    '',
  ].join('\n');
}

/** The router's `ip` batches: server addresses on `lo`, its veth side, the blackhole TUN, the unreachable
 * routes and, with `slowPath`, the slow addresses plus the policy routing that sends client packets for
 * them through the delay line's TUN device (the second batch runs with `-6`: its rule lines name no
 * address to infer the family from). */
export function routerSetupBatches(slowPath: boolean, tls = false): IpBatch[] {
  const { client, router, linkPrefixLength, addresses, prefixes, blackholeDevice, delayDevice, delayTable } =
    LAB;
  const lines = ['link set lo up'];
  const onLo = slowPath
    ? [addresses.good, addresses.slow, addresses.refused]
    : [addresses.good, addresses.refused];
  for (const condition of onLo) {
    for (const v4 of condition.v4) lines.push(`addr add ${v4}/${V4_HOST} dev lo`);
    for (const v6 of condition.v6) lines.push(`addr add ${v6}/${V6_HOST} dev lo nodad`);
  }
  if (tls) {
    for (const { v4, v6 } of [LAB.tls.stall, LAB.tls.reset, LAB.tls.wrongName]) {
      lines.push(`addr add ${v4}/${V4_HOST} dev lo`, `addr add ${v6}/${V6_HOST} dev lo nodad`);
    }
  }
  lines.push(
    `addr add ${router.v4}/${linkPrefixLength.v4} dev ${router.interface}`,
    `addr add ${router.v6}/${linkPrefixLength.v6} dev ${router.interface} nodad`,
    `link set ${router.interface} up`,
    `neigh replace ${client.v4} lladdr ${client.mac} dev ${router.interface} nud permanent`,
    `neigh replace ${client.v6} lladdr ${client.mac} dev ${router.interface} nud permanent`,
    // A TUN device with no reader: whatever is routed into it vanishes without any answer.
    `tuntap add dev ${blackholeDevice} mode tun`,
    `link set ${blackholeDevice} up`,
    `route add ${prefixes.blackholed.v4} dev ${blackholeDevice}`,
    `route add ${prefixes.blackholed.v6} dev ${blackholeDevice}`,
    `route add unreachable ${prefixes.unreachable.v4}`,
    `route add unreachable ${prefixes.unreachable.v6}`,
  );
  if (!slowPath) return [{ familyArgs: [], text: `${lines.join('\n')}\n` }];
  // Client packets for slow addresses go to the delay line's device before the local table sees them
  // (the local table's rule moves from priority 0 to 200); what the reader writes back arrives from that
  // device, so the rule no longer matches and the packet is delivered locally.
  const policy = (prefix: string): string[] => [
    `rule add pref 100 iif ${router.interface} to ${prefix} lookup ${delayTable}`,
    'rule add pref 200 lookup local',
    'rule del pref 0 lookup local',
  ];
  lines.push(
    `link set ${delayDevice} up`,
    `route add 0.0.0.0/0 dev ${delayDevice} table ${delayTable}`,
    ...policy(prefixes.slow.v4),
  );
  const v6Lines = [`route add ::/0 dev ${delayDevice} table ${delayTable}`, ...policy(prefixes.slow.v6)];
  return [
    { familyArgs: [], text: `${lines.join('\n')}\n` },
    { familyArgs: ['-6'], text: `${v6Lines.join('\n')}\n` },
  ];
}

/** Every listener of the router: each `good` (and with `slowPath` each `slow`) address of both families
 * times each port of `LAB.ports`; with `tls`, HTTPS on `LAB.tls.port` of those addresses and the
 * misbehaving TLS listeners on theirs. */
export function routerListeners(slowPath: boolean, tls = false): ListenerSpec[] {
  const specs: ListenerSpec[] = [];
  const { good, slow } = LAB.addresses;
  const served = [...good.v4, ...good.v6, ...(slowPath ? [...slow.v4, ...slow.v6] : [])];
  for (const [kind, port] of Object.entries(LAB.ports) as [ListenerSpec['kind'], number][]) {
    for (const address of served) specs.push({ address, port, kind });
  }
  if (!tls) return specs;
  const port = LAB.tls.port;
  for (const address of served) specs.push({ address, port, kind: 'https' });
  const odd: Array<[ListenerSpec['kind'], { v4: string; v6: string }]> = [
    ['tls-stall', LAB.tls.stall],
    ['tls-reset', LAB.tls.reset],
    ['tls-wrong-name', LAB.tls.wrongName],
  ];
  for (const [kind, { v4, v6 }] of odd) specs.push({ address: v4, port, kind }, { address: v6, port, kind });
  return specs;
}

/** A built topology: the router process and how to talk to it and remove everything. */
export interface Topology {
  /** PID of the router process (in the lab's PID namespace); `nsenter -t PID -n` enters the router. */
  readonly routerPid: number;
  /** Accepted connections logged by the router's listeners, oldest first. */
  serverConnections(): Promise<ServerConnection[]>;
  /** Empties the router's connection log. */
  resetServerConnections(): void;
  /** Changes the slow path's delay for packets from now on; throws when the lab has no slow path. */
  setSlowPathDelayMs(delayMs: number): void;
  /** Removes the veth pair and client routes, kills the router process (by PID) and waits for it. */
  teardown(): Promise<void>;
}

let clientSysctlsWritten = false;

function writeSysctls(sysctls: readonly Sysctl[]): void {
  for (const [path, value] of sysctls) writeFileSync(`/proc/sys/${path}`, value);
}

function waitForReply(
  router: ChildProcess,
  wanted: RouterReply['type'],
  timeoutMs: number,
): Promise<RouterReply> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      clearTimeout(timer);
      router.off('message', onMessage);
      router.off('exit', onExit);
    };
    const onMessage = (reply: RouterReply): void => {
      if (reply.type === 'error') {
        cleanup();
        reject(new Error(reply.message));
      } else if (reply.type === wanted) {
        cleanup();
        resolve(reply);
      }
    };
    const onExit = (code: number | null, signal: string | null): void => {
      cleanup();
      reject(new Error(`router process exited (${code ?? signal}) before '${wanted}'`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`router process did not answer '${wanted}' within ${timeoutMs} ms`));
    }, timeoutMs);
    router.on('message', onMessage);
    router.once('exit', onExit);
  });
}

async function stopRouter(router: ChildProcess): Promise<void> {
  if (router.pid === undefined || router.exitCode !== null || router.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => router.once('exit', () => resolve()));
  if (router.connected) router.disconnect();
  killQuietly(router.pid);
  await exited;
}

/**
 * Builds the topology. Must run inside the lab (the client namespace is the caller's own).
 * On failure everything built so far is removed before the error propagates.
 */
export async function buildTopology(
  families: ClientFamilies,
  slowPathDelayMs: number | undefined,
  timeoutMs = 5000,
  tls?: RouterTlsMaterial,
): Promise<Topology> {
  const slowPath = slowPathDelayMs !== undefined;
  const script = fileURLToPath(new URL('./router.js', import.meta.url));
  const router = spawn('unshare', ['--net', process.execPath, script, JSON.stringify(ROUTER_SYSCTLS)], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const routerPid = router.pid;
  let veth = false;
  let delayLine: DelayLine | undefined;
  try {
    if (routerPid === undefined) throw new Error('could not start the router process (unshare)');
    const spawned = new Promise<never>((_, reject) => router.once('error', reject));
    if (!clientSysctlsWritten) {
      writeSysctls(CLIENT_SYSCTLS);
      clientSysctlsWritten = true;
    }
    await Promise.race([waitForReply(router, 'hello', timeoutMs), spawned]);
    veth = true;
    const [clientSide, reader] = await Promise.allSettled([
      runChecked('ip', ['-batch', '-'], { input: clientSetupBatch(routerPid, families), timeoutMs }),
      slowPath ? startDelayLine(routerPid, LAB.delayDevice, slowPathDelayMs, timeoutMs) : undefined,
    ]);
    if (reader.status === 'fulfilled') delayLine = reader.value;
    if (clientSide.status === 'rejected') throw clientSide.reason;
    if (reader.status === 'rejected') throw reader.reason;
    if (!families.ipv6) writeSysctls([[`net/ipv6/conf/${LAB.client.interface}/disable_ipv6`, '1']]);
    const configured = waitForReply(router, 'configured', timeoutMs);
    router.send({
      type: 'configure',
      ipBatches: routerSetupBatches(slowPath, tls !== undefined),
      listeners: routerListeners(slowPath, tls !== undefined),
      ...(tls === undefined ? {} : { tls }),
    } satisfies RouterRequest);
    await configured;
  } catch (error) {
    if (veth) await runCommand('ip', ['-force', '-batch', '-'], { input: clientTeardownBatch(), timeoutMs });
    await delayLine?.stop();
    await stopRouter(router);
    throw error;
  }
  let nextId = 1;
  return {
    routerPid,
    async serverConnections() {
      const id = nextId++;
      const reply = new Promise<ServerConnection[]>((resolve, reject) => {
        const onMessage = (message: RouterReply): void => {
          if (message.type === 'connections' && message.id === id) {
            router.off('message', onMessage);
            resolve(message.connections);
          }
        };
        router.on('message', onMessage);
        if (!router.connected) {
          router.off('message', onMessage);
          reject(new Error('router process is gone'));
        }
      });
      router.send({ type: 'connections', id } satisfies RouterRequest);
      return reply;
    },
    resetServerConnections() {
      if (router.connected) router.send({ type: 'reset-connections' } satisfies RouterRequest);
    },
    setSlowPathDelayMs(delayMs: number) {
      if (delayLine === undefined) throw new Error('this lab has no slow path (slowPathDelayMs: false)');
      delayLine.setDelayMs(delayMs);
    },
    async teardown() {
      await runCommand('ip', ['-force', '-batch', '-'], { input: clientTeardownBatch(), timeoutMs });
      await Promise.all([delayLine?.stop(), stopRouter(router)]);
    },
  };
}
