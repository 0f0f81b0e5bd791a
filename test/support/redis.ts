// A real Redis for the distributed-sweep tests: the one .ci/run starts
// (SHEARS_TEST_REDIS_URL), else one of this test file's own (bench/local-redis.ts). A
// string (the reason) when neither is possible: the tests then skip with that message.
import { LocalRedis, startLocalRedis } from '../../bench/local-redis';

export type TestRedis = LocalRedis;

export async function startTestRedis(): Promise<TestRedis | string> {
  const given = process.env.SHEARS_TEST_REDIS_URL;
  if (given) return { url: given, stop: async () => {} };
  const r = await startLocalRedis();
  return typeof r === 'string' ? `${r}, and SHEARS_TEST_REDIS_URL is not set` : r;
}
