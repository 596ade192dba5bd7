/**
 * The lab CLI's argument parsing and help text (pure).
 */
import { SCENARIOS } from './default-zone.js';
import { LAB } from './plan.js';

/** Parsed command line of the lab CLI. */
export interface LabCliArgs {
  help: boolean;
  verbose: boolean;
  clientIpv4: boolean;
  clientIpv6: boolean;
  /** One-way delay of the slow path, milliseconds (`--slow-delay-ms N`); undefined: the lab default. */
  slowPathDelayMs: number | undefined;
  command: string[];
}

/** Parses options up to the first non-option word (the command); `--` ends options explicitly. */
export function parseLabCliArgs(argv: readonly string[]): LabCliArgs {
  const parsed: LabCliArgs = {
    help: false,
    verbose: false,
    clientIpv4: true,
    clientIpv6: true,
    slowPathDelayMs: undefined,
    command: [],
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (word === '--help' || word === '-h') parsed.help = true;
    else if (word === '--verbose' || word === '-v') parsed.verbose = true;
    else if (word === '--no-ipv6') parsed.clientIpv6 = false;
    else if (word === '--no-ipv4') parsed.clientIpv4 = false;
    else if (word === '--slow-delay-ms') {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value < 0)
        throw new TypeError('--slow-delay-ms needs a number of milliseconds >= 0');
      parsed.slowPathDelayMs = value;
    } else if (word.startsWith('-')) throw new TypeError(`unknown option ${word} (see --help)`);
    else break;
  }
  parsed.command = argv.slice(i);
  return parsed;
}

/** The `--help` text: usage, address plan, ports and the default scenarios. */
export function labHelpText(): string {
  const { addresses: a, prefixes: p, ports } = LAB;
  const row = (label: string, what: string, c: keyof typeof a): string =>
    `  ${label.padEnd(19)} ${p[c].v4.padEnd(18)} ${p[c].v6.padEnd(16)} e.g. ${a[c].v4[0]} / ${a[c].v6[0]}  ${what}`;
  const width = Math.max(...SCENARIOS.map((s) => s.name.length));
  return [
    'usage: npm run lab -- [--no-ipv4] [--no-ipv6] [--slow-delay-ms N] [--verbose] <command> [args…]',
    '',
    'Runs <command> in a fresh network lab (own network, mount and PID namespaces; needs root) whose',
    `/etc/resolv.conf points at the lab DNS server ${LAB.dnsServer.host}:53 (search ${LAB.zoneSuffix}, ndots:1),`,
    "then removes the lab and exits with the command's exit code. Examples:",
    `  npm run lab -- curl -sv http://one-good.${LAB.zoneSuffix}/`,
    `  npm run lab -- node -e "const s=require('net').connect(80,'first-a-blackholed.${LAB.zoneSuffix}',()=>{console.log(s.remoteAddress);s.end()})"`,
    '',
    `Client: ${LAB.client.v4}, ${LAB.client.v6}; default routes via the router ${LAB.router.v4}, ${LAB.router.v6}.`,
    'Server conditions (prefix v4, prefix v6, addresses):',
    row('good', 'listeners on every port', 'good'),
    row('slow', 'like good, each round trip +400 ms (--slow-delay-ms)', 'slow'),
    row('refused', 'no listener: RST', 'refused'),
    row('blackholed', 'silent drop', 'blackholed'),
    row('unreachable', 'ICMP from router', 'unreachable'),
    row('clientUnreachable', 'fails at once', 'clientUnreachable'),
    `Ports on good addresses: echo ${ports.echo}, discard ${ports.discard} (reads, never writes), http ${ports.http} (200, body = server address).`,
    '',
    `Names (DNS zone ${LAB.zoneSuffix}; anything else is NXDOMAIN):`,
    ...SCENARIOS.map((s) => `  ${s.name.padEnd(width)}  ${s.description}`),
    '',
  ].join('\n');
}
