/**
 * Which TLS handshake failures end a dial and which only end one attempt. Pure: a Node error code in, a
 * verdict out.
 *
 * With `tls`, a connection wins the race once its handshake is done (draft-ietf-happy-happyeyeballs-v3). A
 * handshake that fails for a network reason — the connection reset or closed (EOF: Node says ECONNRESET),
 * a timeout, a write to a closed socket — says something about that endpoint or path: the attempt fails,
 * memory learns it, and the race goes on to the next address. A certificate that does not verify (wrong
 * name, unknown issuer, expired, self-signed) or a TLS setting Node refuses is final: every address of a
 * name is meant to present the same identity, so trying another would hide the error or reach a server
 * that should not be trusted either. Codes: OpenSSL's X509 verification results as Node reports them
 * (`CERT_*`, `UNABLE_TO_*`, `DEPTH_ZERO_*`, `SELF_SIGNED_*`, `HOSTNAME_MISMATCH`…) and Node's own `ERR_TLS_*`
 * (ERR_TLS_CERT_ALTNAME_INVALID for a wrong name).
 *
 * Not final: `ERR_SSL_*` (a TLS alert or a record the server sent that is not TLS, e.g. a plain-HTTP
 * server on the port): such errors come from one server's software or configuration, and another address
 * of the name may run a working one; when every address fails the DialError lists each code.
 */

const FINAL_PREFIXES = ['ERR_TLS_', 'CERT_', 'UNABLE_TO_', 'DEPTH_ZERO_', 'SELF_SIGNED_'] as const;

/** X509 verification results whose names do not start with one of the prefixes above. */
const FINAL_CODES = new Set(['HOSTNAME_MISMATCH', 'INVALID_CA', 'INVALID_PURPOSE', 'PATH_LENGTH_EXCEEDED']);

/** Node's ERR_TLS_* codes that are about the network (time), not about the certificate or the settings. */
const NETWORK_TLS_CODES = new Set(['ERR_TLS_HANDSHAKE_TIMEOUT']);

/**
 * True when a TLS handshake failure with `code` ends the whole dial (certificate verification or TLS
 * settings), false when it ends only its attempt (reset, EOF, timeout, a TLS alert from one server).
 */
export function isFinalTlsFailure(code: string): boolean {
  if (NETWORK_TLS_CODES.has(code)) return false;
  if (FINAL_CODES.has(code)) return true;
  return FINAL_PREFIXES.some((p) => code.startsWith(p));
}
