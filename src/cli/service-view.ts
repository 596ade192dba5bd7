/**
 * The service records of a dial or a resolve (RFC 2782 SRV, RFC 9460 HTTPS) as text lines: the query,
 * the AliasMode chain, and every record with its bucket (the order the race tries them) or why it was
 * skipped. Pure.
 */
import type { QueryReport, ServiceReport } from '../report.js';
import type { Style } from './color.js';

/**
 * Lines of the "service records" section, each indented by two spaces. `queries`, the report's: a service
 * query still out among them (no answer in time) is said as such, not as an answer without records.
 */
export function serviceLines(
  service: ServiceReport,
  style: Style,
  queries?: readonly QueryReport[],
): string[] {
  const lines = [
    `  ${service.type} ${service.name}${service.aliasChain.length > 0 ? ` -> ${service.aliasChain.join(' -> ')}` : ''}${
      service.code === undefined ? '' : `  ${style.yellow(service.code)}`
    }`,
  ];
  for (const r of service.records) {
    const where = `${r.targetName}:${r.port}`;
    const parts = [`priority ${r.priority}`];
    if (r.weight !== undefined) parts.push(`weight ${r.weight}`);
    if (r.alpn !== undefined) parts.push(`alpn ${r.alpn.length === 0 ? '(none)' : r.alpn.join(',')}`);
    const hints = [...(r.ipv6hint ?? []), ...(r.ipv4hint ?? [])];
    if (hints.length > 0) parts.push(`hints ${hints.join(',')}`);
    if (r.echConfig) parts.push('ech (not usable by Node)');
    const bucket = r.bucket === undefined ? style.dim('skipped') : `bucket ${r.bucket}`;
    const tail = r.skipped === undefined ? '' : `  ${style.dim(r.skipped)}`;
    lines.push(`    ${bucket.padEnd(9)} ${where}  ${parts.join('  ')}${tail}`);
  }
  if (service.records.length === 0) {
    const unanswered = queries?.some((q) => q.type === service.type && q.endMs === undefined) === true;
    lines.push(
      `    ${style.dim(unanswered ? 'no answer in time: the name’s own addresses' : 'no usable record: the name’s own addresses')}`,
    );
  }
  if (service.type === 'HTTPS') lines.push(`    ${style.dim('fallback  the name’s own A/AAAA, last')}`);
  const w = service.winner;
  if (w !== undefined) {
    lines.push(
      `  ${style.green('winner')} priority ${w.priority} ${w.targetName}:${w.port}${w.hintsUsed ? ' (address from a hint)' : ''}`,
    );
  } else if (service.fallback) lines.push(`  ${style.green('winner')} the name’s own A/AAAA (fallback)`);
  return lines;
}
