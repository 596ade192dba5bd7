/**
 * The non-Node peers: curl and Python asyncio. Builds their command lines and turns their output into
 * RunResults. Pure (no process is started here); bench/lab-run.ts runs the commands.
 */
import type { RunResult } from '../types.js';
import { type ChildJob, RESULT_PREFIX } from './protocol.js';

/**
 * Python asyncio client: `asyncio.open_connection(host, port, happy_eyeballs_delay=0.25)`, timed inside
 * Python (from the call to the connected stream), capped by `asyncio.wait_for`. With the job's CA file,
 * `ssl=` a context trusting it: connected means the TLS handshake is done. Same protocol as the Node
 * children (argv[1] is the job JSON; READY / one stdin line for dns-stop; `RESULT <json>` at the end).
 * Ends with os._exit: resolver threads of timed-out lookups must not hold the process.
 */
export const PYTHON_CLIENT = String.raw`
import asyncio, errno, json, os, socket, ssl, sys, time

job = json.loads(sys.argv[1])
port = job['port']
cap = job['capMs'] / 1000.0
EAI = {getattr(socket, n): n for n in dir(socket) if n.startswith('EAI_')}

def code(e):
    if isinstance(e, socket.gaierror):
        return EAI.get(e.errno, 'gaierror %s' % e.errno)
    if isinstance(e, OSError) and e.errno is not None:
        return errno.errorcode.get(e.errno, str(e.errno))
    text = '%s: %s' % (type(e).__name__, e)
    return text[:80]

ctx = ssl.create_default_context(cafile=job['caFile']) if job.get('caFile') else None

async def one(name):
    t = time.perf_counter()
    tls = {'ssl': ctx, 'server_hostname': name} if ctx else {}
    try:
        r, w = await asyncio.wait_for(asyncio.open_connection(name, port, happy_eyeballs_delay=0.25, **tls), cap)
    except asyncio.TimeoutError:
        return {'ok': False, 'ms': (time.perf_counter() - t) * 1000, 'error': 'no connection by the cap', 'capped': True}
    except Exception as e:
        return {'ok': False, 'ms': (time.perf_counter() - t) * 1000, 'error': code(e)}
    ms = (time.perf_counter() - t) * 1000
    address = w.get_extra_info('peername')[0]
    w.close()
    return {'ok': True, 'ms': ms, 'address': address}

async def batch(names):
    t = time.perf_counter()
    results = await asyncio.gather(*(one(n) for n in names))
    ok = [r for r in results if r['ok']]
    bad = [r for r in results if not r['ok']]
    return {'ok': len(ok) == len(names), 'ms': (time.perf_counter() - t) * 1000,
            'address': ok[0]['address'] if ok else None, 'error': bad[0]['error'] if bad else None,
            'capped': any(r.get('capped') for r in results), 'connected': len(ok), 'total': len(names)}

async def main():
    mode, names = job['mode'], job['names']
    if mode == 'single':
        return {'first': await one(names[0])}
    if mode == 'dns-stop':
        first = await one(names[0])
        print('READY', flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        return {'first': first, 'second': await one(names[0])}
    if mode == 'renumber':
        first = await one(names[0])
        print('READY', flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        target, most = job['renumber']['newAddress'], job['renumber']['maxDials']
        t = time.perf_counter()
        for dials in range(1, most + 1):
            last = await one(names[0])
            if last['ok'] and last['address'] == target:
                last.update({'ms': (time.perf_counter() - t) * 1000, 'dials': dials})
                return {'first': first, 'second': last}
        error = last.get('error') or 'still %s' % last.get('address')
        last.update({'ok': False, 'ms': (time.perf_counter() - t) * 1000, 'dials': most, 'error': error})
        return {'first': first, 'second': last}
    return {'first': await batch(names)}

report = asyncio.run(main())
sys.stdout.write('${RESULT_PREFIX}' + json.dumps(report) + '\n')
sys.stdout.flush()
os._exit(0)
`;

/** Python command line for a job. */
export function pythonArgs(job: ChildJob): string[] {
  return ['-c', PYTHON_CLIENT, JSON.stringify(job)];
}

/** curl's -w format: one line per transfer. */
const CURL_WRITE_OUT = '%{time_connect} %{time_total} %{exitcode} %{remote_ip} %{http_code}\\n';
/** The same for https: the first field is when the TLS handshake was done (0 when it never was). */
const CURL_WRITE_OUT_TLS = '%{time_appconnect} %{time_total} %{exitcode} %{remote_ip} %{http_code}\\n';

/**
 * curl command line: `-s -o /dev/null --connect-timeout <cap s>` per URL; several URLs run in parallel
 * (`-Z --parallel-immediate --parallel-max N`) for a batch. With `caFile`: `https://` URLs trusting that
 * CA (`--cacert`), timed to the end of the TLS handshake (curl's connect timeout covers the handshake).
 */
export function curlArgs(
  names: readonly string[],
  port: number,
  capMs: number,
  caFile: string | undefined = undefined,
): string[] {
  const format = caFile === undefined ? CURL_WRITE_OUT : CURL_WRITE_OUT_TLS;
  const args = ['-s', '--connect-timeout', String(capMs / 1000), '-w', format];
  if (caFile !== undefined) args.push('--cacert', caFile);
  const scheme = caFile === undefined ? 'http' : 'https';
  if (names.length > 1) {
    args.push('-Z', '--parallel-immediate', '--parallel-max', String(Math.min(300, names.length)));
  }
  for (const name of names) args.push('-o', '/dev/null', `${scheme}://${name}:${port}/`);
  return args;
}

/** curl exit codes worth naming. */
const CURL_EXIT: Readonly<Record<number, string>> = {
  6: 'curl 6: could not resolve host',
  7: 'curl 7: failed to connect',
  28: 'curl 28: timeout',
};

/**
 * One transfer's -w line -> RunResult: time_connect (s, includes the name lookup) when connected,
 * time_total otherwise. Returns undefined for a line that is not one of ours.
 */
export function parseCurlLine(line: string): RunResult | undefined {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 4) return undefined;
  const connectS = Number(parts[0]);
  const totalS = Number(parts[1]);
  const exit = Number(parts[2]);
  if (!Number.isFinite(connectS) || !Number.isFinite(totalS) || !Number.isInteger(exit)) return undefined;
  // Without a connection curl prints remote_ip as empty, so the fields shift: the 4th is then http_code 000.
  const remoteIp = parts.length >= 5 ? parts[3] : undefined;
  const connected = connectS > 0;
  if (connected) return { ok: true, ms: connectS * 1000, address: remoteIp };
  return {
    ok: false,
    ms: totalS * 1000,
    error: CURL_EXIT[exit] ?? `curl ${exit}`,
    capped: exit === 28,
  };
}

/** A curl batch's output (one line per transfer) -> one RunResult for the batch; undefined without lines. */
export function parseCurlBatch(stdout: string, total: number): RunResult | undefined {
  const runs = stdout
    .split('\n')
    .map(parseCurlLine)
    .filter((r): r is RunResult => r !== undefined);
  if (runs.length === 0) return undefined;
  const ok = runs.filter((r) => r.ok);
  return {
    ok: ok.length === total,
    // curl starts every transfer at once (--parallel-immediate): the batch is done when the slowest is.
    ms: Math.max(...runs.map((r) => r.ms)),
    address: ok[0]?.address,
    error: runs.find((r) => !r.ok)?.error,
    capped: runs.some((r) => r.capped === true),
    connected: ok.length,
    total,
  };
}
