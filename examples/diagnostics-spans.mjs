// diagnostics_channel -> OpenTelemetry-style spans: one span per dial, with child spans for each DNS
// query and each connection attempt. Printed as JSON lines (trace id, span id, parent, start/end in
// epoch ms, attributes, status) — feed them to your tracer instead. No OpenTelemetry dependency.
// Run: npm run build && node examples/diagnostics-spans.mjs
import { randomBytes } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import { dial } from 'netdial';
import { startHttpServer } from './support/servers.mjs';

const dials = new Map(); // dialId -> { span, epochMs, open: Map<key, span> }
const id = (bytes) => randomBytes(bytes).toString('hex');

function startSpan(name, parent, startMs, attributes) {
  return {
    traceId: parent?.traceId ?? id(16),
    spanId: id(8),
    parentSpanId: parent?.spanId,
    name,
    startMs,
    attributes,
  };
}
function endSpan(span, endMs, status, extra = {}) {
  Object.assign(span.attributes, extra);
  console.log(JSON.stringify({ ...span, endMs, durationMs: +(endMs - span.startMs).toFixed(3), status }));
}
const on = (name, fn) => diagnosticsChannel.subscribe(name, fn);

on('netdial:dial:start', (e) => {
  const epochMs = Date.parse(e.startedAt);
  const span = startSpan('netdial.dial', undefined, epochMs, {
    'server.address': e.host,
    'server.port': e.port,
    ...e.settings,
  });
  dials.set(e.dialId, { span, epochMs, open: new Map() });
});
const at = (e) => dials.get(e.dialId).epochMs + e.atMs;
const child = (e, key, name, attributes) => {
  const d = dials.get(e.dialId);
  d.open.set(key, startSpan(name, d.span, at(e), attributes));
};
const finish = (e, key, status, extra, name, attributes) => {
  const d = dials.get(e.dialId);
  // A hosts-file or cached answer comes without a query: its span is a point in time.
  const span = d.open.get(key) ?? startSpan(name, d.span, at(e), attributes);
  d.open.delete(key);
  endSpan(span, at(e), status, extra);
};

const question = (e) => ({
  'dns.question.name': e.name,
  'dns.question.type': e.type,
  'dns.source': e.source,
});
on('netdial:dns:query', (e) => child(e, `dns ${e.name} ${e.type}`, 'netdial.dns', question(e)));
on('netdial:dns:answer', (e) =>
  finish(
    e,
    `dns ${e.name} ${e.type}`,
    { code: 'OK' },
    { 'dns.answers': e.addresses.map((a) => `${a.address} ttl=${a.ttlSeconds ?? '-'}`) },
    'netdial.dns',
    question(e),
  ),
);
on('netdial:dns:error', (e) =>
  finish(e, `dns ${e.name} ${e.type}`, { code: 'ERROR', message: e.code }, {}, 'netdial.dns', question(e)),
);
on('netdial:attempt:start', (e) =>
  child(e, `attempt ${e.attemptId}`, 'netdial.attempt', {
    'network.peer.address': e.address,
    'network.type': `ipv${e.family}`,
    'netdial.trigger': e.trigger,
  }),
);
on('netdial:attempt:connect', (e) =>
  finish(e, `attempt ${e.attemptId}`, { code: 'OK' }, { 'network.local.port': e.localPort }),
);
on('netdial:attempt:error', (e) =>
  finish(e, `attempt ${e.attemptId}`, {
    code: e.outcome === 'failed' ? 'ERROR' : 'UNSET',
    message: `${e.outcome} ${e.code}`,
  }),
);
on('netdial:dial:done', (e) => {
  endSpan(dials.get(e.dialId).span, at(e), { code: 'OK' }, { 'network.peer.address': e.address });
  dials.delete(e.dialId);
});
on('netdial:dial:error', (e) => {
  endSpan(dials.get(e.dialId).span, at(e), { code: 'ERROR', message: e.error.message });
  dials.delete(e.dialId);
});

const server = await startHttpServer();
const socket = await dial(`localhost:${server.port}`);
socket.destroy();
await server.close();
// The same port, closed now: a failed dial, every attempt a span with its error.
await dial(`localhost:${server.port}`).catch(() => {});
