/**
 * netdial — connect by host name, done right.
 *
 * The public surface, listed explicitly. Held back on purpose: the race state machine, the resolver
 * shell and the sorting internals (they are tested directly but their shapes may change).
 */
export { Dialer, dial, getDefaultDialer } from './dialer.js';
export type { DialTarget, DialerOptions, TlsDialOptions, TlsUrlTarget } from './dialer.js';
export type { DialOptions, ResolveFunction, ResolverChoice } from './options.js';
export { DEFAULTS } from './options.js';
export { AbortError, DialError, isAbortError, isDialError } from './errors.js';
export type { AttemptError, AttemptPhase, InputErrorCode } from './errors.js';
export { DialMemory } from './memory/dial-memory.js';
export type { MemoryJson, MemoryOptions } from './memory/dial-memory.js';
export type { DnsCacheOptions } from './memory/dns-cache.js';
export type { EndpointHistoryOptions, EndpointState } from './memory/endpoint-history.js';
export { BroadcastMemoryStore } from './fleet/broadcast-store.js';
export type {
  DnsObservation,
  EndpointObservation,
  FleetObservation,
  MemoryStore,
} from './memory/memory-store.js';
export type { ResolvedEndpoint, ResolvedName } from './resolution/resolve-name.js';
export type { ResolverPath } from './resolution/resolve.js';
export type { HostLookupOrder } from './resolution/nsswitch.js';
export { getReport } from './report.js';
export { register } from './adoption/register.js';
export type { RegisterOptions, RestoreRegistration } from './adoption/register.js';
export {
  ADDRESS_CLASS_RANGES,
  ADDRESS_CLASSES,
  compilePolicy,
  describeDenial,
  isAddressPolicy,
  POLICY_DENIED_CODE,
  PUBLIC_INTERNET_ONLY,
} from './policy/policy.js';
export type { AddressClass, AddressPolicy, PolicySpec, PolicyVerdict } from './policy/policy.js';
export * from './integrations/index.js';
export { CHANNELS as DIAGNOSTICS_CHANNELS, subscribe as subscribeDiagnostics } from './diagnostics.js';
export type {
  AttemptConnectEvent,
  AttemptErrorEvent,
  AttemptStartEvent,
  ChannelName,
  ChannelPayloads,
  DialDoneEvent,
  DialErrorEvent,
  DialStartEvent,
  DnsAnswerEvent,
  DnsErrorEvent,
  DnsQueryEvent,
  PolicyDeniedEvent,
  MemorySyncEvent,
  MemoryDropEvent,
  MemoryErrorEvent,
} from './diagnostics.js';
export type { AttemptReport, DialReport, ProxyReport, QueryReport } from './report.js';
export { parseProxyOption } from './proxy/proxy-option.js';
export type { ProxyObject, ProxyProtocol, ProxySetting, ProxySpec } from './proxy/proxy-option.js';
export { parseTarget } from './target.js';
export type { Target } from './target.js';
export type { AddressSource, Family, ResolvedAddress } from './types.js';

// Keeps the exported names through an application's bundler (src/export-names.ts).
import { keepExportNames } from './export-names.js';
import * as self from './index.js';
keepExportNames(self, { subscribeDiagnostics: 'subscribe' });
