/**
 * dns-packet for the package bundle (scripts/bundle.mjs loads this module in place of dns-packet.ts):
 * a static import that esbuild follows, so dns-packet's CommonJS files are inlined into the bundle and
 * compiled once with it — no `require` at run time, no module resolution, no CommonJS loader. The
 * createRequire call of dns-packet.ts is invisible to a bundler, which is why the bundle swaps modules
 * rather than transforming that call. Same exports, same object; tsc's dist (the tests) keeps dns-packet.ts.
 */
import dnsPacketModule from 'dns-packet';

type DnsPacketModule = typeof import('dns-packet');

export const dnsPacket: DnsPacketModule = dnsPacketModule;
export type { DecodedPacket } from 'dns-packet';
