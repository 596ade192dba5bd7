/**
 * Strict option names (issue 15): a misspelt or unknown key in netdial's own option objects — dial(),
 * new Dialer(), memory options, policy specs, the integrations' netdial options — is a TypeError
 * ERR_NETDIAL_INVALID_OPTION with a "did you mean …" suggestion; foreign option bags (http's request
 * options, http.Agent options, undici's Agent options) keep their keys. And the promise of
 * docs/safety.md: a typo never silently turns a policy off.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  Agent,
  bindCreateConnection,
  compilePolicy,
  createLookup,
  DialSocket,
  Dialer,
  dial,
  HttpsAgent,
  type ResolveFunction,
} from '../src/index.js';
import {
  CONNECTION_DIAL_OPTION_NAMES,
  CONNECTOR_OPTION_NAMES,
  DIAL_OPTION_NAMES,
  DIALER_OPTION_NAMES,
  editDistance,
  LOOKUP_OPTION_NAMES,
  MEMORY_OPTION_NAMES,
  suggestName,
} from '../src/option-names.js';
import { resolveOptions } from '../src/options.js';
import { connector, createDispatcher } from '../src/undici.js';

const CODE = 'ERR_NETDIAL_INVALID_OPTION';

function throwsOption(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TypeError, `not a TypeError: ${String(e)}`);
    assert.equal((e as { code?: string }).code, CODE);
    assert.match(e.message, message);
    return true;
  });
}

async function rejectsOption(p: Promise<unknown>, message: RegExp): Promise<void> {
  const e = await p.then(
    () => assert.fail('accepted'),
    (err: unknown) => err,
  );
  assert.ok(e instanceof TypeError, `not a TypeError: ${String(e)}`);
  assert.equal((e as { code?: string }).code, CODE);
  assert.match((e as Error).message, message);
}

const loopback: ResolveFunction = async (_name, family) => (family === 4 ? ['127.0.0.1'] : []);

describe('strict option names', () => {
  test('dial(t, { timout }) rejects, suggesting timeout; nothing is dialled', async () => {
    await rejectsOption(
      dial('127.0.0.1:9', { timout: 5 } as never),
      /^invalid option timout: unknown option; did you mean timeout\?$/,
    );
    await rejectsOption(
      new Dialer({ resolver: loopback }).dial('x.test:9', { attemptdelay: 10 } as never),
      /did you mean attemptDelay\?/,
    );
  });

  test('new Dialer({ memroy }) throws, suggesting memory; nested memory options are strict too', () => {
    throwsOption(
      () => new Dialer({ memroy: false } as never),
      /^invalid option memroy: unknown option; did you mean memory\?$/,
    );
    throwsOption(
      () => new Dialer({ memory: { loadSharng: false } } as never),
      /^invalid option memory\.loadSharng: unknown option; did you mean loadSharing\?$/,
    );
    throwsOption(
      () => new Dialer({ memory: { dns: { maxName: 5 } } } as never),
      /^invalid option memory\.dns\.maxName: unknown option; did you mean maxNames\?$/,
    );
    throwsOption(
      () => new Dialer({ memory: { endpoints: { backofBaseMs: 5 } } } as never),
      /^invalid option memory\.endpoints\.backofBaseMs: .*did you mean backoffBaseMs\?$/,
    );
    // Correct nested options are taken.
    new Dialer({ memory: { loadSharing: false, dns: { maxNames: 5 }, endpoints: { backoffBaseMs: 5 } } });
  });

  test('a TLS option at the wrong level says where TLS options go (connector: `tls`; agents: the agent)', async () => {
    throwsOption(
      () => connector({ ca: 'PEM' } as never),
      /^invalid option ca: unknown option; TLS options go under `tls` \(tls: \{ ca \}\)$/,
    );
    throwsOption(
      () => createDispatcher({ rejectUnauthorized: false } as never),
      /^invalid option rejectUnauthorized: unknown option; TLS options go under `tls`/,
    );
    await rejectsOption(
      dial('127.0.0.1:9', { servername: 'x.test' } as never),
      /^invalid option servername: unknown option; TLS options go under `tls`/,
    );
    for (const bad of [{ tls: { ca: 'PEM' } }, { ALPNProtocols: ['h2'] }]) {
      throwsOption(
        () => new HttpsAgent({ dial: bad } as never),
        /^invalid option dial\.(tls|ALPNProtocols): unknown option; TLS options go on the agent itself \(new HttpsAgent\(\{ ca, dial \}\)\), not in `dial`$/,
      );
    }
    // Other unknown names keep their suggestion.
    throwsOption(() => connector({ tlss: {} } as never), /did you mean tls\?$/);
  });

  test("names from other clients point at netdial's (timeout ↔ connectTimeout, servers → nameservers)", async () => {
    throwsOption(
      () => createDispatcher({ timeout: 5 } as never),
      /^invalid option timeout: unknown option; did you mean connectTimeout\?$/,
    );
    await rejectsOption(
      dial('127.0.0.1:9', { connectTimeout: 5 } as never),
      /^invalid option connectTimeout: unknown option; did you mean timeout\?$/,
    );
    throwsOption(
      () => new Dialer({ servers: ['127.0.0.1'] } as never),
      /^invalid option servers: unknown option; did you mean nameservers\?$/,
    );
  });

  test('allow / deny at the top level say how a policy is written', async () => {
    await rejectsOption(
      dial('127.0.0.1:9', { deny: ['loopback'] } as never),
      /^invalid option deny: unknown option; an address policy is written `policy: \{ allow, deny \}`$/,
    );
    throwsOption(() => new Dialer({ allow: ['192.0.2.0/24'] } as never), /`policy: \{ allow, deny \}`/);
    throwsOption(() => bindCreateConnection({ deny: ['loopback'] } as never), /`policy: \{ allow, deny \}`/);
  });

  test('a key without a close name lists the known ones', () => {
    throwsOption(
      () => resolveOptions({ zzzzzzzzzz: 1 }),
      /^invalid option zzzzzzzzzz: unknown option; expected one of signal, timeout, tls, family/,
    );
  });

  test('every name of each table is accepted by its reader (the tables are what the readers use)', () => {
    for (const name of DIAL_OPTION_NAMES) resolveOptions({ [name]: undefined });
    for (const name of DIALER_OPTION_NAMES) {
      if (name !== 'signal') new Dialer({ [name]: undefined } as never);
    }
    for (const name of MEMORY_OPTION_NAMES) new Dialer({ memory: { [name]: undefined } });
    for (const name of CONNECTION_DIAL_OPTION_NAMES) bindCreateConnection({ [name]: undefined });
    for (const name of LOOKUP_OPTION_NAMES) createLookup({ [name]: undefined });
    for (const name of CONNECTOR_OPTION_NAMES) connector({ [name]: undefined });
    // The integrations leave out what comes from the request.
    throwsOption(() => bindCreateConnection({ signal: undefined } as never), /^invalid option signal: /);
    throwsOption(
      () => connector({ timeout: 5 } as never),
      /^invalid option timeout: unknown option; .*connectTimeout/,
    );
  });

  test('integrations: their netdial options are strict, at construction', () => {
    throwsOption(
      () => new Agent({ dial: { timout: 5 } as never }),
      /^invalid option dial\.timout: .*did you mean timeout\?$/,
    );
    throwsOption(
      () => new HttpsAgent({ dial: { polcy: 'public' } as never }),
      /^invalid option dial\.polcy: .*did you mean policy\?$/,
    );
    throwsOption(() => new DialSocket({ familly: 4 } as never), /did you mean family\?$/);
    throwsOption(() => bindCreateConnection({ resolvr: loopback } as never), /did you mean resolver\?$/);
    throwsOption(() => createLookup({ timout: 5 } as never), /did you mean timeout\?$/);
    throwsOption(() => connector({ connectTimout: 5 } as never), /did you mean connectTimeout\?$/);
    throwsOption(() => createDispatcher({ agnet: {} } as never), /did you mean agent\?$/);
    // Values are checked now too, not at the first request.
    throwsOption(() => new Agent({ dial: { timeout: -1 } }), /^invalid option timeout: /);
    throwsOption(
      () => bindCreateConnection({ dialer: {} as never }),
      /^invalid option dialer: expected a Dialer/,
    );
  });

  test('integrations: foreign option bags keep their own keys', async () => {
    // http.Agent options (keepAlive, maxSockets, an unknown key) beside netdial's `dial` and `maxSocketAge`.
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 2,
      someHttpOption: 1,
      dial: { resolver: loopback },
    } as never);
    // undici Agent options inside `agent`.
    const dispatcher = createDispatcher({ agent: { keepAliveTimeout: 10, someUndiciOption: 1 } as never });
    await dispatcher.close();
    const server = http.createServer((_req, res) => res.end('ok'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as net.AddressInfo;
    try {
      // http's request options reach createConnection with method, headers, path, agent… — all ignored.
      const createConnection = bindCreateConnection({ resolver: loopback });
      for (const options of [{ agent }, { createConnection }] as http.RequestOptions[]) {
        const body = await new Promise<string>((resolve, reject) => {
          const req = http.request(
            { host: 'x.test', port, path: '/p?q=1', method: 'GET', headers: { 'x-a': '1' }, ...options },
            (res) => {
              let text = '';
              res.setEncoding('utf8');
              res.on('data', (c: string) => {
                text += c;
              });
              res.on('end', () => resolve(text));
            },
          );
          req.on('error', reject);
          req.end();
        });
        assert.equal(body, 'ok');
      }
    } finally {
      agent.destroy();
      server.close();
    }
  });

  test('suggestions: edit distance with transpositions, case-insensitive, bounded', () => {
    assert.equal(editDistance('memroy', 'memory'), 1);
    assert.equal(editDistance('timout', 'timeout'), 1);
    assert.equal(editDistance('Timeout', 'timeout'), 0);
    assert.equal(editDistance('abc', 'xyzxyzxyz'), 4, 'gives up above the limit');
    assert.equal(suggestName('timout', DIAL_OPTION_NAMES), 'timeout');
    assert.equal(suggestName('TIMEOUT', DIAL_OPTION_NAMES), 'timeout');
    assert.equal(suggestName('fam', DIAL_OPTION_NAMES), undefined, 'no wild guesses for short keys');
    assert.equal(suggestName('x'.repeat(100_000), DIAL_OPTION_NAMES), undefined);
  });
});

describe('a typo never silently turns a policy off', () => {
  let accepted = 0;
  const server = net.createServer((s) => {
    accepted++;
    s.destroy();
  });
  let port = 0;
  before(async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = (server.address() as net.AddressInfo).port;
  });
  after(() => server.close());

  /** Keys one or two edits from `word` (deletions, doublings, swaps, case changes). */
  function typosOf(word: string): fc.Arbitrary<string> {
    return fc
      .tuple(fc.nat(word.length - 1), fc.constantFrom('delete', 'double', 'swap', 'upper', 'suffix'))
      .map(([i, kind]) => {
        switch (kind) {
          case 'delete':
            return word.slice(0, i) + word.slice(i + 1);
          case 'double':
            return word.slice(0, i) + word[i] + word.slice(i);
          case 'swap':
            return i + 1 < word.length
              ? word.slice(0, i) + word[i + 1] + word[i] + word.slice(i + 2)
              : `${word}s`;
          case 'upper':
            return word.slice(0, i) + word[i]!.toUpperCase() + word.slice(i + 1);
          default:
            return `${word}s`;
        }
      })
      .filter((k) => k !== word);
  }

  test('a misspelt policy, allow or deny key fails loudly: in dial(), new Dialer() and the spec', async () => {
    await fc.assert(
      fc.asyncProperty(
        typosOf('policy'),
        typosOf('deny'),
        fc.constantFrom('dial', 'dialer', 'spec'),
        async (policyKey, denyKey, where) => {
          const before = accepted;
          const run = async () => {
            if (where === 'dial') {
              return new Dialer({ resolver: loopback }).dial(`x.test:${port}`, {
                [policyKey]: 'public',
              } as never);
            }
            if (where === 'dialer') {
              return new Dialer({ resolver: loopback, [policyKey]: 'public' } as never).dial(
                `x.test:${port}`,
              );
            }
            return new Dialer({ resolver: loopback, policy: { [denyKey]: ['loopback'] } as never }).dial(
              `x.test:${port}`,
            );
          };
          const e = await run().then(
            (s) => {
              s.destroy();
              return undefined;
            },
            (err: unknown) => err,
          );
          assert.ok(e instanceof TypeError, `${where} ${policyKey}/${denyKey} was accepted`);
          assert.equal((e as { code?: string }).code, CODE);
          assert.equal(accepted, before, 'nothing was dialled');
        },
      ),
      { numRuns: 60 },
    );
  });

  test('compilePolicy: any key other than allow and deny is refused', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 12 }).filter((k) => k !== 'allow' && k !== 'deny'),
        (key) => {
          throwsOption(
            () => compilePolicy({ deny: ['loopback'], [key]: ['x'] } as never),
            /^invalid option /,
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
