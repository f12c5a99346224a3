/**
 * BullMQ connection options from the gateway's Redis connection (the one
 * shared/redis.ts verified or started), for every queue module in queues/.
 */
import type { RedisOptions as BullRedisOptions } from 'bullmq';
import type { RedisOptions } from 'ioredis';

export function bullConnection(redis: RedisOptions, name: string): BullRedisOptions {
  // ioredis allows `retryStrategy: null`, BullMQ's option type does not: drop it then (ioredis's default applies).
  const { retryStrategy, ...rest } = redis;
  return {
    ...rest,
    ...(retryStrategy ? { retryStrategy } : {}),
    maxRetriesPerRequest: null, // required by BullMQ workers
    // named, so operators (CLIENT LIST) and the tests can see these connections
    connectionName: redis.connectionName ?? name,
  };
}
