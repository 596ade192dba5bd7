/**
 * Argument lists for net.createConnection whose outcome (a synchronous throw, or none) the conformance
 * suite compares between Node and netdial. Node's own outcomes are taken in a child process: Node's
 * `connect` creates its handle before it validates, so a throwing call leaves a handle behind that only
 * the end of a process removes. `PORT` stands for a live port (the child gets it as an argument).
 */
export const PORT = Symbol('port');

type Arg = unknown;

/** [what, args]: args may contain PORT (replaced by the live port) at the top level or as `port`. */
export const ARGUMENT_CASES: Array<[string, Arg[]]> = [
  ...(
    [
      '',
      '  ',
      null,
      Number.NaN,
      false,
      true,
      -1,
      65536,
      1.5,
      Number.POSITIVE_INFINITY,
      'abc',
      [80],
      {},
    ] as const
  ).map((port): [string, Arg[]] => [`port ${String(port)} (${typeof port})`, [{ host: '127.0.0.1', port }]]),
  ...([null, Number.NaN, false, true, -1, 65536, 1.5] as const).map((port): [string, Arg[]] => [
    `(${String(port)}, host)`,
    [port, '127.0.0.1'],
  ]),
  ['no arguments', []],
  ['empty options', [{}]],
  ['host without port', [{ host: '127.0.0.1' }]],
  ['path not a string', [{ path: 5 }]],
  ['host not a string', [{ host: 5, port: PORT }]],
  ['localAddress not an IP', [{ host: '127.0.0.1', port: PORT, localAddress: 'nope' }]],
  ['timeout negative', [{ host: '127.0.0.1', port: PORT, timeout: -1 }]],
  ['timeout not a number', [{ host: '127.0.0.1', port: PORT, timeout: '5' }]],
  ['autoSelectFamily not a boolean', [{ host: '127.0.0.1', port: PORT, autoSelectFamily: 'yes' }]],
  ['attempt timeout 0', [{ host: '127.0.0.1', port: PORT, autoSelectFamilyAttemptTimeout: 0 }]],
  ['attempt timeout 1.5', [{ host: '127.0.0.1', port: PORT, autoSelectFamilyAttemptTimeout: 1.5 }]],
  ['string port not a number is a path', ['not-a-port-but-a-path-that-does-not-exist']],
];

/** The case's arguments with PORT replaced by `port`. */
export function argsFor(args: readonly Arg[], port: number): Arg[] {
  return args.map((a) => {
    if (a === PORT) return port;
    if (typeof a === 'object' && a !== null && !Array.isArray(a) && (a as { port?: unknown }).port === PORT) {
      return { ...(a as object), port };
    }
    return a;
  });
}

/** "Name CODE" of what `fn` threw, or null when it returned (the socket it returned is destroyed). */
export function outcomeOf(
  fn: () => { destroy(): unknown; on(e: string, f: () => void): unknown },
): string | null {
  try {
    const s = fn();
    s.on('error', () => {});
    s.destroy();
    return null;
  } catch (err) {
    return `${(err as Error).name} ${(err as { code?: string }).code}`;
  }
}
