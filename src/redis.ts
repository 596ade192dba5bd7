/**
 * `netdial/redis`: fleet memory over Redis — what one process learns about a dead address, every process
 * on every host sharing the store knows.
 *
 *   import { Redis } from 'ioredis';
 *   import { RedisMemoryStore } from 'netdial/redis';
 *   const dialer = new Dialer({ memory: { store: new RedisMemoryStore({ client: new Redis() }) } });
 *
 * ioredis is an optional peer dependency: this entry point never imports it (the client is passed in).
 */
export { RedisMemoryStore } from './fleet/redis-store.js';
export type { RedisClientLike, RedisMemoryStoreOptions } from './fleet/redis-store.js';
export type {
  DnsObservation,
  EndpointObservation,
  FleetObservation,
  MemoryStore,
} from './memory/memory-store.js';

// Keeps the exported names through an application's bundler (src/export-names.ts).
import { keepExportNames } from './export-names.js';
import * as self from './redis.js';
keepExportNames(self);
