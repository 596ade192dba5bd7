/**
 * From command-line flags to a Dialer and dial options, and the optional memory file: loaded before the
 * command, saved after it the way NETDIAL_MEMORY_FILE is (src/adoption/memory-file.ts: a temporary file
 * renamed, so a crash never leaves half a file; mode 0600; through a symlink; bounded).
 */
import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { crypto } from '../builtins.js';
import { boundedMemoryText, memoryFileTarget, writeFileAtomically } from '../adoption/memory-file.js';
import { performance } from 'node:perf_hooks';
import { Dialer, type DialerOptions, type DialTarget } from '../dialer.js';
import { type Environment, noProxyMatches } from '../proxy/env-proxy.js';
import { parseProxyUrl } from '../proxy/proxy-option.js';
import { proxyFor, proxyUrlOf } from '../proxy/select-proxy.js';
import { parseTarget } from '../target.js';
import { DialMemory, type MemoryJson } from '../memory/dial-memory.js';
import type { DialOptions } from '../options.js';
import type { DialFlags } from './args.js';
import { UsageError } from './exit-codes.js';

/** A Dialer ready for one command, and how to persist what it learnt. */
export interface DialSetup {
  dialer: Dialer;
  /** Options for dial()/resolve() (without the signal). */
  options: DialOptions;
  /** Writes the memory back to --memory-file; a no-op without one. */
  saveMemory(): Promise<void>;
}

/**
 * Reads --memory-file; a missing file, or one with no text but white space (as `mktemp` makes it), is an
 * empty memory, as NETDIAL_MEMORY_FILE's (loadMemoryFile). Throws an Error naming the file otherwise: the
 * CLI stops where NETDIAL_MEMORY_FILE warns and starts empty, because a flag given by hand on a command
 * line is better refused than silently not used.
 */
async function loadMemory(file: string): Promise<DialMemory> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new DialMemory();
    throw new Error(`cannot read memory file ${file}: ${(error as Error).message}`);
  }
  if (text.trim() === '') return new DialMemory();
  try {
    return DialMemory.fromJSON(JSON.parse(text) as MemoryJson, performance.now(), Date.now());
  } catch (error) {
    throw new Error(`memory file ${file} is not a netdial memory: ${(error as Error).message}`);
  }
}

/** Builds the Dialer the flags describe. `--nameserver` means: that server only, no hosts file. */
export async function setupDial(flags: DialFlags, target?: DialTarget): Promise<DialSetup> {
  const memory = flags.memoryFile !== undefined ? await loadMemory(flags.memoryFile) : flags.memory;
  const dialerOptions: DialerOptions = { memory };
  if (flags.nameservers.length > 0) {
    Object.assign(dialerOptions, { resolver: 'dns', nameservers: flags.nameservers, hostsPath: null });
  }
  const dialer = new Dialer(dialerOptions);
  const options: DialOptions = { family: flags.family };
  if (flags.timeoutMs !== undefined) options.timeout = flags.timeoutMs;
  if (flags.attemptDelayMs !== undefined) options.attemptDelay = flags.attemptDelayMs;
  if (flags.resolutionDelayMs !== undefined) options.resolutionDelay = flags.resolutionDelayMs;
  if (flags.maxConcurrentAttempts !== undefined) options.maxConcurrentAttempts = flags.maxConcurrentAttempts;
  if (flags.localAddress !== undefined) options.localAddress = flags.localAddress;
  options.proxy = proxyOption(flags, target);
  if (flags.tls !== undefined) {
    const t = flags.tls;
    options.tls = {
      ...(t.servername === undefined ? {} : { servername: t.servername }),
      ...(t.alpn.length === 0 ? {} : { ALPNProtocols: t.alpn }),
      ...(t.insecure ? { rejectUnauthorized: false } : {}),
      ...(t.caFile === undefined ? {} : { ca: readCa(t.caFile) }),
    };
  }
  const file = flags.memoryFile;
  return {
    dialer,
    options,
    async saveMemory() {
      if (file === undefined) return;
      const json = dialer.exportMemory();
      if (json === undefined) return;
      // As NETDIAL_MEMORY_FILE's: atomically, mode 0600 (it lists the hosts dialled), through a symlink
      // rather than over it, and bounded in size (the least recently used entries go first).
      writeFileAtomically(memoryFileTarget(file), boundedMemoryText(json));
    },
  };
}

/** A PEM certificate block (RFC 7468 §5; OpenSSL's TRUSTED/X509 CERTIFICATE labels too). */
const PEM_CERTIFICATE = /-----BEGIN ((?:TRUSTED |X509 )?CERTIFICATE)-----[\s\S]*?-----END \1-----/g;

/**
 * The text of a --ca / --proxy-ca file: PEM certificates. Node's TLS silently skips what is not one (a
 * `ca` of "myhost\n" trusts nothing, and the handshake then fails as if the server were wrong), so a file
 * with no PEM certificate block, or a block that is not a certificate, is refused here as an unreadable
 * file is: "cannot read CA file FILE: why", exit 1, before any dial.
 */
function readCa(file: string): string {
  const fail = (why: string) => new Error(`cannot read CA file ${file}: ${why}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw fail((error as Error).message);
  }
  const blocks = [...text.matchAll(PEM_CERTIFICATE)];
  if (blocks.length === 0) throw fail('not PEM: no -----BEGIN CERTIFICATE----- block');
  const { X509Certificate } = crypto(); // loaded only for a CA file
  blocks.forEach((block, i) => {
    if (block[1] !== 'CERTIFICATE') return; // X509Certificate reads plain CERTIFICATE blocks only
    try {
      new X509Certificate(block[0]);
    } catch (error) {
      throw fail(`certificate ${i + 1} is not a valid X.509 certificate (${(error as Error).message})`);
    }
  });
  return text;
}

/**
 * The `proxy` option of the CLI, as curl: the environment by default (`'env'`), `--proxy URL` instead,
 * `--proxy ''` for none; `--noproxy LIST` replaces no_proxy/NO_PROXY (and applies to --proxy too).
 * `--proxy-ca` / `--proxy-insecure` make it the object form `{ url, tls }` for the proxy this target
 * goes through (the environment's, decided here for it): they apply to an https:// proxy only (curl's
 * --proxy-cacert / --proxy-insecure); with no proxy for the target they have nothing to do.
 */
function proxyOption(flags: DialFlags, target: DialTarget | undefined): DialOptions['proxy'] {
  const proxy = proxyUrl(flags, target);
  const hop = flags.proxyTls;
  if (hop === undefined || proxy === false) return proxy;
  let url: string | false = proxy;
  if (url === 'env') {
    const found = envProxyUrl(target!, flags, process.env);
    if (found === undefined) return proxy; // the dial says what is wrong with the target
    if (found === false) return false;
    url = found;
  }
  const spec = parseProxyUrl(url, '--proxy');
  if (spec.protocol !== 'https') {
    const flag = hop.caFile !== undefined ? '--proxy-ca' : '--proxy-insecure';
    throw new UsageError(
      `option ${flag} applies to an https:// proxy (TLS to the proxy), not to ${spec.display}`,
    );
  }
  return {
    url,
    tls: {
      ...(hop.caFile === undefined ? {} : { ca: readCa(hop.caFile) }),
      ...(hop.insecure ? { rejectUnauthorized: false } : {}),
    },
  };
}

/** The proxy URL as the flags and the environment give it ('env': decided per dial), or false for none. */
function proxyUrl(flags: DialFlags, target: DialTarget | undefined): string | 'env' | false {
  const proxy = flags.proxy === undefined ? 'env' : flags.proxy === '' ? false : flags.proxy;
  if (flags.noProxy === undefined || proxy === false || target === undefined) return proxy;
  let t: ReturnType<typeof parseTarget>;
  try {
    t = parseTarget(target);
  } catch {
    return proxy; // the dial says what is wrong with the target
  }
  if (proxy !== 'env') return noProxyMatches(flags.noProxy, t.host, t.port) ? false : proxy;
  return (
    envProxyUrl(target, flags, { ...process.env, no_proxy: flags.noProxy, NO_PROXY: undefined }) ?? proxy
  );
}

/**
 * The proxy `env` gives a dial of `target` by curl's rules (proxyFor, as a dial decides 'env'), as a URL;
 * false for none; undefined when the target does not parse (the dial itself says what is wrong with it).
 */
function envProxyUrl(target: DialTarget, flags: DialFlags, env: Environment): string | false | undefined {
  let t: ReturnType<typeof parseTarget>;
  try {
    t = parseTarget(target);
  } catch {
    return undefined;
  }
  const spec = proxyFor('env', t, flags.tls !== undefined || t.tlsByDefault, env);
  return spec === undefined ? false : proxyUrlOf(spec);
}
