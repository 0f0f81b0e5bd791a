// Where a distributed sweep's queue lives: `redis://[user:password@]HOST:PORT[/DB][?queue=NAME]`
// (rediss:// for TLS). The queue name defaults to shears-sweep-cells; sweeps that share
// a queue share its workers (a job carries everything its cell needs). Redis is checked
// with one short connection attempt first, so that a wrong address is a prompt error
// rather than BullMQ's endless reconnection. ioredis loads on first use only: a sweep
// without --queue (and every other command) does not pay for it.
import { ArgumentRangeError, QueueError } from '../errors';

export const DEFAULT_QUEUE_NAME = 'shears-sweep-cells';

export interface QueueTarget {
  /** The Redis URL without shears' own `queue` parameter. */
  url: string;
  /** The URL with any password hidden: for messages and logs. */
  display: string;
  /** BullMQ queue name. */
  name: string;
}

export function parseQueueUrl(text: string): QueueTarget {
  const refuse = () => new ArgumentRangeError(`--queue expects redis://HOST:PORT (or rediss:// for TLS), got '${text}'`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw refuse();
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw refuse();
  if (u.hostname === '') throw new ArgumentRangeError(`--queue ${text}: no host`);
  const name = u.searchParams.get('queue') ?? DEFAULT_QUEUE_NAME;
  // BullMQ keys are "bull:<name>:...": a colon in the name would blur them.
  if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) throw new ArgumentRangeError(`--queue ${text}: the queue name '${name}' may hold only letters, digits, '.', '_' and '-'`);
  u.searchParams.delete('queue');
  const url = u.toString();
  const shown = new URL(url);
  if (shown.password) shown.password = '***';
  return { url, display: `${shown.toString()}${name === DEFAULT_QUEUE_NAME ? '' : ` (queue ${name})`}`, name };
}

/** BullMQ's connection options: reconnect forever once running (a Redis restart is survived), as BullMQ requires for workers. */
export const connectionOf = (t: QueueTarget) => ({ url: t.url, maxRetriesPerRequest: null });

/** One connection attempt with a timeout: a typed error naming the address when Redis does not answer. */
export async function checkReachable(t: QueueTarget, timeoutMs = 5000): Promise<void> {
  // No retries, no offline queue, no lingering disconnect timer: one attempt, then done.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Redis } = require('ioredis') as typeof import('ioredis');
  const client = new Redis(t.url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false, disconnectTimeout: 0 });
  let cause: Error | undefined;
  client.on('error', (e: Error) => (cause ??= e)); // the socket's own error (ECONNREFUSED...) says more than connect()'s
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw new QueueError(`cannot reach Redis at ${t.display}: ${(cause ?? (e as Error)).message}`);
  } finally {
    client.disconnect();
  }
}
