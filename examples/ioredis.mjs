// ioredis: a Connector whose connect() returns netdial's createConnection socket at once — still
// connecting, as ioredis's own connector returns net's — so ioredis's connectTimeout and disconnect()
// reach the dial (its attempts stop). TLS (`tls: {...}`) runs on the won connection; `path` is a Unix socket.
// Run: npm run build && node examples/ioredis.mjs   (a tiny fake server stands in for Redis here)
import { AbstractConnector, Redis } from 'ioredis';
import { createConnection } from 'netdial';
import { startFakeRedis } from './support/servers.mjs';

class NetdialConnector extends AbstractConnector {
  constructor(options) {
    super(options.disconnectTimeout);
    this.options = options;
  }
  connect() {
    this.connecting = true;
    const { host, port, path, tls } = this.options;
    this.stream = path ? createConnection({ path }) : createConnection({ host, port, tls: tls ?? false });
    this.stream.once('error', (err) => {
      this.firstError = err;
    });
    return Promise.resolve(this.stream);
  }
}

const server = await startFakeRedis();
const redis = new Redis({
  host: 'localhost',
  port: server.port,
  Connector: NetdialConnector,
  lazyConnect: true,
  connectTimeout: 5000,
});
await redis.connect();
await redis.set('greeting', 'dialed by netdial');
console.log(await redis.ping(), await redis.get('greeting'));
await redis.quit();
await server.close();
