const t0 = Date.now();
process.on('exit', () => console.log('exit after', Date.now() - t0, 'ms'));
const r = await fetch('http://127.0.0.1:40479/'); console.log('fetch', r.status, await r.text());
