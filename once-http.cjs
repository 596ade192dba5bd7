const t0 = Date.now(); process.on('exit', () => console.log('exit after', Date.now() - t0, 'ms'));
require('http').get('http://localhost:40479/', (r) => { console.log('http', r.statusCode); r.resume(); });
