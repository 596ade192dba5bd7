// ioredis: a Connector whose connect() is a netdial dial (ioredis takes an already connected stream).
// Run: npm run build && node examples/ioredis.mjs   (a tiny fake server stands in for Redis here)
import { AbstractConnector, Redis } from 'ioredis';
import { dial } from 'netdial';
import { startFakeRedis } from './support/servers.mjs';

class NetdialConnector extends AbstractConnector {
  constructor(options) {
    super(options.disconnectTimeout);
    this.options = options;
  }
  async connect() {
    const { host, port, tls } = this.options;
    this.stream = await dial({ host, port }, { tls: tls ?? false, timeout: this.options.connectTimeout });
    return this.stream;
  }
}

const server = await startFakeRedis();
const redis = new Redis({
  host: 'localhost',
  port: server.port,
  Connector: NetdialConnector,
  lazyConnect: true,
});
await redis.connect();
await redis.set('greeting', 'dialed by netdial');
console.log(await redis.ping(), await redis.get('greeting'));
await redis.quit();
await server.close();
