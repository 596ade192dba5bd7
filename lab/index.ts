/**
 * The netdial network lab: real namespaces, real sockets, a real DNS server. For test files:
 *
 * ```ts
 * import { enterLab, withLab, DEFAULT_ZONE, LAB } from './index.js';
 * if (await enterLab(import.meta.url)) {
 *   test('first A blackholed', () => withLab(DEFAULT_ZONE, async (lab) => { ... }));
 * }
 * ```
 * Held back on purpose: the router process protocol and the `ip` batches (internal to the topology).
 */
export { DEFAULT_ZONE, SCENARIOS, type Scenario } from './default-zone.js';
export { DEFAULT_SLOW_DELAY_MS } from './delay-line.js';
export { type DnsServerQuirk, type DnsTransport, planResponse, type ResponsePlan } from './dns-response.js';
export {
  type DnsQueryLogEntry,
  type DnsServerState,
  type DnsStopOptions,
  LabDnsServer,
  type LabDnsServerOptions,
} from './dns-server.js';
export { enterLab } from './entry.js';
export { type ExecOptions, type ExecResult, runCommand } from './exec.js';
export {
  chooseSlowPathDelayMs,
  isInsideLab,
  type Lab,
  type LabOptions,
  type LabServerConnection,
  type LabTimings,
  withLab,
} from './lab.js';
export {
  type ConditionName,
  type EightAddresses,
  LAB,
  type ListenerKind,
  type TlsListenerKind,
} from './plan.js';
export {
  decideLabEntry,
  LAB_INSIDE_ENV,
  type LabCapabilityFacts,
  type LabEntryDecision,
  labUnavailableReason,
  type ReexecOptions,
  runInsideLab,
} from './reexec.js';
export type { ServerConnection } from './router-protocol.js';
export { type LabPki, labPki, WRONG_TLS_NAME } from './tls-pki.js';
export { type HostsEntries, renderHosts, renderResolvConf, type ResolvConfSettings } from './system-files.js';
export {
  type DnsFailure,
  type DnsRcode,
  decideAnswer,
  normalizeName,
  type SoaSettings,
  validateZone,
  type Zone,
  type ZoneDecision,
  type ZoneRecordSet,
} from './zone.js';
