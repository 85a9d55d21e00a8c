import type Redis from 'ioredis';
import { DEFAULT_QUEUE_PREFIX } from './connection';

/**
 * Event channels of calls that stream (E2B-CONTRACT.md, PLAN D5). The caller subscribes with
 * `JobRpcClient.subscribe` *before* adding the job; the executor publishes with {@link publishEvent}
 * on the connection that also publishes job replies (`publishReplies`), so one subscriber connection
 * sees every event of a call before its reply.
 */

/** Per-call event channel of an execution: `<prefix>:stream:<id>`. */
export function streamChannel(prefix: string, id: string): string {
  return `${prefix}:stream:${id}`;
}

/** Events of one process (command) of a session: `<prefix>:proc:<sessionId>:<procId>`. */
export function procChannel(prefix: string, sessionId: string, procId: string): string {
  return `${prefix}:proc:${sessionId}:${procId}`;
}

/** Events of one filesystem watch of a session: `<prefix>:watch:<sessionId>:<watchId>`. */
export function watchChannel(prefix: string, sessionId: string, watchId: string): string {
  return `${prefix}:watch:${sessionId}:${watchId}`;
}

const CHANNEL_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * True when `channel` is a stream channel of `prefix` (`<prefix>:stream:<id>`, id of
 * `[A-Za-z0-9._-]`). Executors check this before publishing on a caller-chosen channel, so a payload
 * cannot make them publish on another component's channel (e.g. a reply channel).
 */
export function isStreamChannel(prefix: string, channel: string): boolean {
  const head = `${prefix}:stream:`;
  return channel.startsWith(head) && CHANNEL_ID.test(channel.slice(head.length));
}

/**
 * Publishes one event (JSON) on a channel. Executors call it on the same connection that publishes
 * job replies, so the events of a call reach the caller before its reply. A failure is swallowed
 * (events are best-effort; the reply carries the whole result) and reported as false.
 */
export async function publishEvent(redis: Redis, channel: string, event: unknown): Promise<boolean> {
  try {
    await redis.publish(channel, JSON.stringify(event));
    return true;
  } catch {
    return false;
  }
}

/**
 * Redis keys and channels of streaming and byte pipes, for the ACL rules of the components that use
 * them (PLAN D4). Until `acl.ts` (tenancy helper) consumes this, it is the list of record:
 * - executor: PUBLISH on the three channel patterns; RPUSH/BLPOP/PEXPIRE/DEL on pipe keys.
 * - load balancer: SUBSCRIBE on the three channel patterns; RPUSH/BLPOP/PEXPIRE/DEL on pipe keys.
 */
export function streamingRedisPatterns(prefix = DEFAULT_QUEUE_PREFIX): {
  channels: string[];
  keys: string[];
  components: Array<'executor' | 'load-balancer'>;
} {
  return {
    channels: [`${prefix}:stream:*`, `${prefix}:proc:*`, `${prefix}:watch:*`],
    keys: [`${prefix}:pipe:*`],
    components: ['executor', 'load-balancer'],
  };
}
