/**
 * The lab's TLS material, made at setup with the openssl CLI (Node cannot issue certificates): a CA of
 * this run, a server certificate it signs for `*.lab.test` and `lab.test`, and one it signs for
 * `wrong-name.invalid` (a certificate that verifies but names another host). EC P-256 keys, valid one day,
 * kept in memory only (the temporary directory is removed at once). Made once per process.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LAB } from './plan.js';
import type { RouterTlsMaterial } from './router-protocol.js';

/** The lab's PKI: the CA's certificate (trust it with `tls: { ca }`) and the listeners' keys and certificates. */
export interface LabPki extends RouterTlsMaterial {
  /** PEM certificate of this run's CA. */
  ca: string;
}

/** The name the wrong-name listener's certificate is made for. */
export const WRONG_TLS_NAME = 'wrong-name.invalid';

let made: LabPki | undefined;

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], timeout: 20_000 });
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Signs a certificate for `names` (DNS subjectAltNames) with the CA in `dir`; returns [key, cert] PEM. */
function leaf(dir: string, stem: string, names: string[], serial: number): [string, string] {
  openssl(
    ['req', '-new', ...EC_KEY, '-keyout', `${stem}.key`, '-out', `${stem}.csr`, '-subj', `/CN=${names[0]}`],
    dir,
  );
  writeFileSync(
    join(dir, `${stem}.ext`),
    `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${stem}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-set_serial',
      String(serial),
      '-days',
      '1',
      '-extfile',
      `${stem}.ext`,
      '-out',
      `${stem}.pem`,
    ],
    dir,
  );
  return [readFileSync(join(dir, `${stem}.key`), 'utf8'), readFileSync(join(dir, `${stem}.pem`), 'utf8')];
}

/** The lab's CA and certificates (made on the first call, then reused). Throws when openssl is missing. */
export function labPki(): LabPki {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), 'netdial-lab-pki-'));
  try {
    openssl(
      [
        'req',
        '-x509',
        ...EC_KEY,
        '-keyout',
        'ca.key',
        '-out',
        'ca.pem',
        '-days',
        '1',
        '-subj',
        '/CN=netdial lab CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
    const [key, cert] = leaf(dir, 'server', [`*.${LAB.zoneSuffix}`, LAB.zoneSuffix], 2);
    const [wrongNameKey, wrongNameCert] = leaf(dir, 'wrong', [WRONG_TLS_NAME], 3);
    made = { ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), key, cert, wrongNameKey, wrongNameCert };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
