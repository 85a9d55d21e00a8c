import { createHmac } from 'node:crypto';
import {
  aclSetUserArgs,
  executorAclRules,
  executorAclUser,
  redisOptionsFromUrl,
  redisUrlFor,
} from '@executor/queues';
import type { ResolvedPool } from '@executor/crd';
import { PermanentError } from '../kube/errors';
import { Resources, objectPath } from '../kube/resources';
import type { LeaderScope } from '../runtime/shared';
import { POOL_REDIS_SECRET_KEY, ownerReference } from './desired';
import { LABELS, OPERATOR_NAME, childNames } from './names';

/**
 * The password of a pool's Redis user: HMAC-SHA256(key, "<namespace>/<pool>/<uid>") in hex, with
 * key = POOL_REDIS_PASSWORD_KEY or else the operator's own Redis password. Derived, not stored:
 * the operator never reads a Secret (RBAC: create/patch only), a restarted operator finds the same
 * password, a re-created pool (new uid) gets a new one, and rotating the key rotates them all.
 */
export function poolRedisPassword(key: string, pool: ResolvedPool): string {
  return createHmac('sha256', key)
    .update(`${pool.metadata.namespace}/${pool.metadata.name}/${pool.metadata.uid ?? ''}`)
    .digest('hex');
}

/**
 * The pool's executors get their own Redis ACL user `exec:<pool>` (libs/queues acl.ts: only the
 * pool's pod queues and heartbeats, its tagged transfers and persistence jobs) and a Secret
 * `<pool>-redis` (key `url`; owned by the pool, so deleted with it) that the Deployment's
 * REDIS_URL references. Every reconcile re-applies both (`ACL SETUSER … reset`), so a Redis
 * restart or a changed rule set is repaired within one status interval.
 */
export async function ensurePoolRedisUser(scope: LeaderScope, pool: ResolvedPool): Promise<void> {
  const ns = pool.metadata.namespace;
  const name = childNames(pool.metadata.name).redisSecret;
  const path = objectPath(Resources.secret, ns, name);
  const key = scope.cfg.POOL_REDIS_PASSWORD_KEY || redisOptionsFromUrl(scope.cfg.REDIS_URL).password;
  if (!key)
    throw new PermanentError(
      'per-pool Redis users need POOL_REDIS_PASSWORD_KEY or a password in REDIS_URL',
      'POOL_REDIS_PASSWORD_KEY',
    );
  const password = poolRedisPassword(key, pool);
  const scope_ = { pool: pool.metadata.name };
  const user = executorAclUser(scope_);
  const url = redisUrlFor(scope.cfg.REDIS_URL, user, password);
  await scope.client.apply(
    path,
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace: ns,
        labels: { [LABELS.pool]: pool.metadata.name, [LABELS.managedBy]: OPERATOR_NAME },
        ownerReferences: [ownerReference(pool)],
      },
      type: 'Opaque',
      data: { [POOL_REDIS_SECRET_KEY]: Buffer.from(url).toString('base64') },
    },
    OPERATOR_NAME,
  );
  await scope.redis.call(
    'ACL',
    ...aclSetUserArgs(user, password, executorAclRules(scope_, scope.cfg.QUEUE_PREFIX)),
  );
}

/** Removes the pool's Redis user (the Secret goes with the pool, by its ownerReference). */
export async function dropPoolRedisUser(scope: LeaderScope, pool: string): Promise<void> {
  await scope.redis.call('ACL', 'DELUSER', executorAclUser({ pool }));
}
