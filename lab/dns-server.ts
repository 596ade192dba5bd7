/**
 * The lab's authoritative DNS server: UDP and TCP (2-byte length framing, RFC 1035 §4.2.2) on one address,
 * serving a live-changeable `Zone`, with a query log, per-type delays, stop modes and no leftovers after
 * `close()` (sockets, connections and delay timers).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { type DnsServerQuirk, type DnsTransport, planResponse } from './dns-response.js';
import {
  normalizeName,
  type SoaSettings,
  validateRecordSet,
  validateZone,
  type Zone,
  type ZoneRecordSet,
} from './zone.js';

/** One query the server received. */
export interface DnsQueryLogEntry {
  /** Queried name, lowercase, no trailing dot. */
  name: string;
  /** Query type as dns-packet names it ('A', 'AAAA', 'HTTPS', 'UNKNOWN_65', ...). */
  type: string;
  transport: DnsTransport;
  /** Arrival time, `performance.now()` milliseconds (monotonic, same clock as the test's `performance.now()`). */
  atMs: number;
  /** False when the server sent nothing (DROP, silent stop, or closed before a delayed answer went out). */
  answered: boolean;
}

/** Server state: answering, port closed (ICMP port unreachable / RST), or socket open but dropping queries. */
export type DnsServerState = 'running' | 'closed' | 'silent';

/** Options of `LabDnsServer`. */
export interface LabDnsServerOptions {
  /** Listen address. Default '127.0.0.1'. */
  host?: string;
  /** UDP and TCP port. Default 53. Port 0 is not supported (UDP and TCP must share the port). */
  port?: number;
  /** Initial zone. Default empty (everything NXDOMAIN). */
  zone?: Zone;
  /** SOA MINIMUM/TTL for negative answers, seconds. Default 30. */
  soaMinimumSeconds?: number;
  /** Zone apex used as SOA owner. Default 'lab.test'. */
  apex?: string;
  /** Misbehave this way (see DnsServerQuirk). Default: none, an honest server. */
  quirk?: DnsServerQuirk | undefined;
}

/** Options of `LabDnsServer.stop`. */
export interface DnsStopOptions {
  /** 'closed' (default): sockets closed, queries get ICMP port unreachable / TCP RST. 'silent': sockets stay
   * open and every query is logged and dropped. */
  mode?: 'closed' | 'silent';
}

/** A UDP+TCP DNS server answering from a zone. Create, then `start()`; always `close()` when done. */
export class LabDnsServer {
  readonly host: string;
  readonly port: number;
  private zone: Zone;
  private serial = 1;
  private readonly soaMinimumSeconds: number;
  private readonly apex: string;
  /** How this server misbehaves, if at all (changeable with `setQuirk`). */
  quirk: DnsServerQuirk | undefined;
  private readonly log: DnsQueryLogEntry[] = [];
  private currentState: DnsServerState = 'closed';
  private udp: dgram.Socket | undefined;
  private tcp: net.Server | undefined;
  private readonly connections = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(options: LabDnsServerOptions = {}) {
    this.host = options.host ?? '127.0.0.1';
    this.port = options.port ?? 53;
    this.zone = validateZone(options.zone ?? {});
    this.soaMinimumSeconds = options.soaMinimumSeconds ?? 30;
    this.apex = normalizeName(options.apex ?? 'lab.test');
    this.quirk = options.quirk;
  }

  /** Current state. */
  get state(): DnsServerState {
    return this.currentState;
  }

  /** The query log, oldest first (a live read-only view). */
  get queries(): readonly DnsQueryLogEntry[] {
    return this.log;
  }

  /** Number of logged queries, optionally only for one name (case-insensitive, trailing dot ignored) and type. */
  queryCount(name?: string, type?: string): number {
    const wanted = name === undefined ? undefined : normalizeName(name);
    return this.log.filter(
      (q) => (wanted === undefined || q.name === wanted) && (type === undefined || q.type === type),
    ).length;
  }

  /** Empties the query log. */
  resetLog(): void {
    this.log.length = 0;
  }

  /** Replaces the whole zone (validated; throws TypeError code ERR_NETDIAL_LAB_INVALID_ZONE). Bumps the serial. */
  setZone(zone: Zone): void {
    this.zone = validateZone(zone);
    this.serial++;
  }

  /** Sets (or with `undefined`, removes) the record set of one name. Bumps the serial. */
  update(name: string, rs: ZoneRecordSet | undefined): void {
    const owner = normalizeName(name);
    const next: Record<string, ZoneRecordSet> = { ...this.zone };
    if (rs === undefined) delete next[owner];
    else next[owner] = validateRecordSet(owner, rs);
    this.zone = next;
    this.serial++;
  }

  /** The zone currently served (normalized copy). */
  getZone(): Zone {
    return this.zone;
  }

  /** Opens the UDP and TCP sockets (or leaves silent mode). Resolves when both listen. */
  async start(): Promise<void> {
    if (this.currentState === 'running') return;
    if (this.currentState === 'silent') {
      this.currentState = 'running';
      return;
    }
    const udp = dgram.createSocket({ type: net.isIPv6(this.host) ? 'udp6' : 'udp4' });
    const tcp = net.createServer((socket) => this.onConnection(socket));
    try {
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(this.port, this.host, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen({ port: this.port, host: this.host }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      udp.close();
      tcp.close();
      throw error;
    }
    udp.on('message', (msg, rinfo) => this.onUdp(udp, msg, rinfo));
    udp.on('error', () => {});
    this.udp = udp;
    this.tcp = tcp;
    this.currentState = 'running';
  }

  /** Stops answering: see `DnsStopOptions.mode`. Pending delayed answers are cancelled either way. */
  async stop(options: DnsStopOptions = {}): Promise<void> {
    this.clearTimers();
    if (options.mode === 'silent') {
      if (this.currentState === 'closed') await this.start();
      this.currentState = 'silent';
      return;
    }
    await this.closeSockets();
    this.currentState = 'closed';
  }

  /** Final shutdown: cancels timers, closes sockets and TCP connections. Safe to call twice. */
  async close(): Promise<void> {
    await this.stop();
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async closeSockets(): Promise<void> {
    const udp = this.udp;
    const tcp = this.tcp;
    this.udp = undefined;
    this.tcp = undefined;
    for (const socket of this.connections) socket.destroy();
    this.connections.clear();
    await Promise.all([
      udp === undefined ? undefined : new Promise<void>((resolve) => udp.close(() => resolve())),
      tcp === undefined ? undefined : new Promise<void>((resolve) => tcp.close(() => resolve())),
    ]);
  }

  private soa(): SoaSettings {
    return { apex: this.apex, minimumSeconds: this.soaMinimumSeconds, serial: this.serial };
  }

  /** Logs the query and sends the planned response after its delay via `send`. */
  private handle(raw: Buffer, transport: DnsTransport, send: (response: Buffer) => void): void {
    const atMs = performance.now();
    const plan = planResponse(raw, this.zone, transport, this.soa(), this.quirk);
    const entry: DnsQueryLogEntry | undefined =
      plan.question === undefined ? undefined : { ...plan.question, transport, atMs, answered: false };
    if (entry !== undefined) this.log.push(entry);
    if (this.currentState !== 'running' || plan.response === undefined) return;
    const response = plan.response;
    const deliver = (): void => {
      if (this.currentState !== 'running') return;
      if (entry !== undefined) entry.answered = true;
      send(response);
    };
    if (plan.delayMs <= 0) {
      deliver();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      deliver();
    }, plan.delayMs);
    this.timers.add(timer);
  }

  private onUdp(udp: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.handle(msg, 'udp', (response) => {
      if (this.udp === udp) udp.send(response, rinfo.port, rinfo.address);
    });
  }

  private onConnection(socket: net.Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy());
    let pending = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        if (this.quirk === 'truncate-then-reset') {
          // Half a length-prefixed frame, then RST: the client must not hang or crash on it.
          this.handle(message, 'tcp', () => {});
          socket.write(Buffer.from([0x01, 0x00, 0x84]));
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            if (!socket.destroyed) socket.resetAndDestroy();
          }, 5);
          this.timers.add(timer);
          return;
        }
        this.handle(message, 'tcp', (response) => {
          if (socket.destroyed || !socket.writable) return;
          const frame = Buffer.alloc(2 + response.length);
          frame.writeUInt16BE(response.length, 0);
          response.copy(frame, 2);
          socket.write(frame);
        });
      }
    });
  }
}
