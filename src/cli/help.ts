/**
 * `--help` texts, one per command, each with examples and the exit statuses. Pure.
 */
import type { CommandName } from './args.js';
import { EXIT } from './exit-codes.js';

const EXIT_STATUS = `Exit status:
  ${EXIT.ok}    success
  ${EXIT.usage}    usage error (unknown option, bad argument, invalid target)
  ${EXIT.resolution}    name resolution failed (no such name, no address, DNS failure) — no address was tried
  ${EXIT.connection}    connection failed (refused, unreachable, timed out, TLS failed) or was reset
  ${EXIT.interrupted}  interrupted (Ctrl-C aborts the dial cleanly)
  ${EXIT.failure}    anything else (a bug, an unreadable file); --debug prints the stack`;

const DIAL_OPTIONS = `Connection options:
  -4, -6                     only IPv4 / only IPv6 addresses
  -w, --timeout SECONDS      as nc -w: the whole dial (DNS, every attempt, TLS) must end within it
                             (default 10s), and in netcat mode a connection idle that long closes
                             (default: no idle limit). A bare number is seconds (5, 1.5); 500ms, 2s too
  --attempt-delay MS         RFC 8305 Connection Attempt Delay, 10ms–2s
                             (default 250ms, or derived from RTT history)
  --resolution-delay MS      how long an A answer waits for AAAA, 0–2s (default 50ms)
  --max-concurrent N         attempts in flight at once, 1–64 (default 6)
  -s, --source ADDRESS       local address to connect from (only its family is dialled)
  --tls                      TLS handshake on the winning connection (https:// targets imply it)
  --servername NAME          SNI and certificate name (default: the host name; implies --tls)
  --alpn LIST                ALPN protocols, comma-separated or repeated, e.g. h2,http/1.1 (implies --tls)
  -k, --insecure             accept any certificate (self-signed test servers; implies --tls)
  --ca FILE                  trust the CA certificates in this PEM file (implies --tls)
  --nameserver ADDR[:PORT]   ask only this DNS server (repeatable); ignores /etc/hosts and the
                             system resolver, like dig @server. The search list still applies.
  --memory-file FILE         load what netdial remembers (DNS cache, failed endpoints, RTTs) from
                             FILE and save it back afterwards, so runs learn from each other
  --no-memory                remember nothing, keep DNS order among equal addresses
  -x, --proxy URL            connect through this proxy: http://[user:pass@]host:port (CONNECT),
                             https://…, socks5://… (netdial resolves), socks5h://… (the proxy
                             resolves); '' for none. Default: https_proxy, http_proxy, all_proxy
                             and no_proxy from the environment, as curl
  --noproxy LIST             hosts that skip the proxy (*, .suffix, IP, CIDR, host:port), replacing
                             no_proxy
  --proxy-ca FILE            an https:// proxy's own CA certificates (PEM), apart from --ca
  --proxy-insecure           accept any certificate from an https:// proxy, apart from -k
MS is milliseconds (250) or has a unit (250ms, 2s): the RFC's unit. SECONDS is nc's unit.`;

const FROM_NC = `Coming from nc (OpenBSD netcat) — these flags mean what they mean there:
  -4, -6         IPv4 / IPv6 addresses only
  -s ADDRESS     connect from this source address
  -v             one line on stderr about the connection
  -w SECONDS     connect timeout, and idle timeout once connected
  -N             shut the connection down at the end of stdin (netdial always does)
Different: -k is curl's --insecure here, not nc's keep-listening (netdial never listens).
Not here: -l (listen), -u (UDP), -z (scan), -n (give an IP address instead of a name).`;

const COMMON = `Common options:
  -h, --help      this help          -V, --version   print the version
  --color         force colour       --no-color      no colour (also NO_COLOR=1)
  --debug         print stack traces of errors
Colour is used only when the output is a terminal.`;

const TARGETS = `TARGET is anything dial() accepts: host:port, [v6]:port, a URL (http://, https://, ws://…; the
scheme gives the port and https/wss imply TLS), tcp!host!service, or srv!_service._tcp.name (SRV records).
HOST PORT works as in nc.`;

const TEXTS: Record<CommandName, string> = {
  connect: `usage: netdial [options] TARGET
       netdial [options] HOST PORT
       netdial trace TARGET          netdial resolve NAME[:PORT]          netdial demo

Connect by name the way netdial does — A and AAAA in parallel, RFC 6724 order, RFC 8305 Happy
Eyeballs racing — then copy stdin to the connection and the connection to stdout, like nc, until
either side closes (end of stdin half-closes the connection; the output ends when the server closes).

${TARGETS}

Commands:
  trace TARGET          connect, print the waterfall of how it went, and close   (netdial trace --help)
  resolve NAME[:PORT]   the addresses in the order netdial would try them          (netdial resolve --help)
  demo                  naive connect vs netdial on broken names, no internet needed (netdial demo --help)

Netcat-mode options:
  --trace               after connecting (or failing) print the waterfall to stderr
  --json                print the establishment report as JSON to stderr instead (stdout carries the data)
  -v, --verbose         one line on stderr: which address answered and how long it took
  -N                    accepted for nc habits: end of stdin always half-closes the connection

${DIAL_OPTIONS}

${FROM_NC}

${COMMON}

Examples:
  printf 'GET / HTTP/1.0\\r\\nHost: example.com\\r\\n\\r\\n' | netdial example.com 80
  netdial --trace localhost:8080
  netdial --tls --alpn http/1.1 example.com:443
  netdial -4 -w 2 tcp!mail.example.com!smtp
  netdial --nameserver 127.0.0.1:5353 -k https://test.internal:8443

${EXIT_STATUS}
`,
  trace: `usage: netdial trace [options] TARGET
       netdial trace [options] HOST PORT

Connect to TARGET, print how it went, close. The waterfall (stderr) shows the DNS queries and answers
(type, source — literal, localhost, hosts, dns, cache, stale, system — TTL, elapsed), one bar per connection
attempt on a shared millisecond axis with its outcome (connected, refused, timed out, unreachable,
cancelled as the race's loser) and the winner marked, and the decisions behind the order: endpoints
demoted for failing recently, what the memory knew (RTT history), the attempt delay and where it came
from. On failure it shows every attempt of the error. Same as netdial --trace without the data copy.

${TARGETS}

Options:
  --json                print the establishment report (or the error with its attempts) as JSON
                        to stdout instead of the waterfall

${DIAL_OPTIONS}

${COMMON}

Examples:
  netdial trace example.com:443
  netdial trace --tls --alpn h2 example.com 443
  netdial trace --json localhost:8080 | jq .attempts
  netdial trace --memory-file /tmp/nd.json flaky.example:80   # run twice: the second run remembers

${EXIT_STATUS}
`,
  resolve: `usage: netdial resolve [options] NAME[:PORT]
       netdial resolve [options] https://NAME[:PORT] | wss://NAME[:PORT] | srv!_SERVICE._tcp.NAME

Resolve NAME without connecting and list its addresses in the order a dial would try them, with
family, source (hosts, localhost, dns, cache, stale, system, literal), TTL left, the local address the kernel
would use, and — given a PORT — what netdial remembers of each endpoint (in backoff until …, SRTT).
Then the queries made, with their timing.
As a dial would, an https:// or wss:// URL also asks the name's HTTPS records (RFC 9460: the endpoints,
ALPN and address hints they give, in priority order; a name answered by /etc/hosts asks none), and a
srv!_SERVICE._tcp.NAME target asks SRV records (RFC 2782) and lists the addresses of each target, in
priority order (by weight within a priority). A bare NAME or NAME:PORT asks A and AAAA only.

Options:
  --json                     print the result as JSON
  -4, -6                     only IPv4 / only IPv6
  -w, --timeout SECONDS      bound on the resolution (default 10s; 500ms, 2s work too)
  -s, --source ADDRESS       sort as if connecting from this local address
  --nameserver ADDR[:PORT]   ask only this DNS server (repeatable); no /etc/hosts, no system resolver
  --memory-file FILE         use (and update) a memory saved by earlier runs
  --no-memory                no memory: DNS order kept among equal addresses

${COMMON}

Examples:
  netdial resolve example.com
  netdial resolve --json example.com:443
  netdial resolve https://example.com          # HTTPS records too
  netdial resolve srv!_xmpp-client._tcp.example.com
  netdial resolve --nameserver 127.0.0.1:5353 test.internal
  netdial resolve --memory-file /tmp/nd.json flaky.example:80

${EXIT_STATUS}
`,
  demo: `usage: netdial demo [--loopback]

Shows why connecting by name needs care, without the internet. The demo starts its own DNS server and
listeners and connects to the same broken names several ways, printing the timelines one after the
other on a shared axis and the time each took:
  naive     resolve A and AAAA, wait for both, connect to the FIRST address only (3 s cap) —
            what many clients do
  netdial   netdial's race with no memory (DNS order kept)
  again     a second netdial dial with memory: failed endpoints demoted, answers cached

As root on Linux it builds the project's network lab (network namespaces: blackholed, refused and
unreachable servers, a DNS server with slow answers) and uses its names: first-a-blackholed,
aaaa-blackholed, aaaa-slow, mixed-eight, localhost-like. Otherwise (or with --loopback) it uses what
loopback allows: a DNS server on 127.0.0.1 at a free port, a listener on 127.0.0.1 only (so ::1 is
refused), a slow AAAA answer and a dropped AAAA query. It never queries your resolver.

Options:
  --loopback     use the loopback demo even where the lab could run

${COMMON}

Example:
  npm start          (builds, then runs netdial demo)

${EXIT_STATUS}
`,
};

/** The help text of `command`, ending with a newline. */
export function helpText(command: CommandName): string {
  return TEXTS[command];
}
