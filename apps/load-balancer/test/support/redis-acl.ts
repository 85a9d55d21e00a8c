import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Redis from 'ioredis';
import {
  AclUsers,
  DEFAULT_USER_ACL_LINE,
  aclSetUserArgs,
  createRedis,
  executorAclRules,
  executorAclUser,
  redisUrlFor,
  renderAclFile,
  type ExecutorScope,
  type StaticAclUser,
} from '@executor/queues';
import { startRedis, type TestRedis } from '@executor/testing';

/**
 * A real redis-server with the platform's ACL users (libs/queues acl.ts), as npm start and
 * Kubernetes run it: every component of a suite connects as its own user. The suite itself keeps
 * `default` as a superuser (to arrange and inspect).
 */
export interface AclRedis {
  redis: TestRedis;
  /** Superuser connection of the test. */
  admin: Redis;
  prefix: string;
  url(user: StaticAclUser): string;
  /** Creates (or resets) the executor user of a pod and returns its URL. */
  executorUrl(scope: ExecutorScope): Promise<string>;
  /** Takes the pod's queue away from its user (heartbeats stay): a pod that never answers. */
  revokeQueue(scope: ExecutorScope): Promise<void>;
  stop(): Promise<void>;
}

export async function startAclRedis(prefix: string): Promise<AclRedis> {
  const passwords = new Map<string, string>();
  const pw = (user: string): string => {
    let p = passwords.get(user);
    if (!p) passwords.set(user, (p = randomBytes(24).toString('hex')));
    return p;
  };
  const dir = mkdtempSync(join(tmpdir(), 'lb-acl-'));
  const file = join(dir, 'users.acl');
  writeFileSync(
    file,
    renderAclFile((u) => pw(u), prefix).replace(DEFAULT_USER_ACL_LINE, 'user default on nopass ~* &* +@all'),
  );
  const redis = await startRedis({ args: ['--aclfile', file] });
  const admin = createRedis(redis.url);
  const setUser = async (user: string, rules: string[]): Promise<void> => {
    await admin.call('ACL', ...aclSetUserArgs(user, pw(user), rules));
  };
  return {
    redis,
    admin,
    prefix,
    url: (user) => redisUrlFor(redis.url, user, pw(user)),
    async executorUrl(scope) {
      const user = executorAclUser(scope);
      await setUser(user, executorAclRules(scope, prefix));
      return redisUrlFor(redis.url, user, pw(user));
    },
    async revokeQueue(scope) {
      const rules = executorAclRules(scope, prefix).filter((r) => !r.startsWith(`~${prefix}:pod-`));
      await setUser(executorAclUser(scope), rules);
    },
    async stop() {
      admin.disconnect();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export { AclUsers };
