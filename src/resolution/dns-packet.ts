/**
 * dns-packet, loaded with `require`. It is a CommonJS package; importing it from ESM makes Node start
 * its CommonJS-from-ESM path (cjs-module-lexer over every file of the package, a facade module), which
 * measured about 14 ms of CPU at `import 'netdial'` — a third of the whole import (issue 16). `require`
 * loads the same module without that step. Same object, same types.
 */
import { nodeModule } from '../builtins.js';

type DnsPacketModule = typeof import('dns-packet');

export const dnsPacket: DnsPacketModule = nodeModule().createRequire(import.meta.url)(
  'dns-packet',
) as DnsPacketModule;
export type { DecodedPacket } from 'dns-packet';
