import { JobError, poolOfTaggedJobId } from '@executor/queues';
import type { StateStore } from './state-store';

/**
 * Which executor asked: jobs added by an executor carry its tag in their id (`<pool>_<pod>_…`;
 * its Redis user cannot add any other id, libs/queues acl.ts); untagged jobs come from the
 * trusted components (load balancer, operator). An executor may only touch the state of
 * sessions of its own pool (sessions move between pods of one pool only).
 * Returns false when the stored session belongs to another pool (treat as absent).
 */
export async function requesterMayAccess(
  store: StateStore,
  jobId: string | undefined,
  sessionId: string,
): Promise<boolean> {
  const pool = poolOfTaggedJobId(jobId);
  if (pool === undefined) return true;
  const owner = await store.owner(sessionId);
  return !owner || owner.pool === pool;
}

/** A snapshot from an executor: its pool must be the payload's and the stored session's (same tenant). */
export async function checkSnapshotRequester(
  store: StateStore,
  jobId: string | undefined,
  p: { sessionId: string; pool: string; tenant: string },
): Promise<void> {
  const pool = poolOfTaggedJobId(jobId);
  if (pool === undefined) return;
  if (pool !== p.pool)
    throw new JobError('conflict', `an executor of pool "${pool}" sent a snapshot for pool "${p.pool}"`);
  const owner = await store.owner(p.sessionId);
  if (owner && (owner.pool !== p.pool || owner.tenant !== p.tenant))
    throw new JobError('conflict', `session ${p.sessionId} is stored for another pool or tenant`);
}
