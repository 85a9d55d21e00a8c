import type Redis from 'ioredis';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { PodHeartbeat, podTakesSessions } from '@executor/queues';
import { LbKeys } from './keys';

/**
 * One round trip for a consistent view of the registered pools (optionally of one template):
 * registration, live pods (heartbeats, minus pods reported deleted), sessions assigned per pod and pool, waiting jobs per pod queue.
 * ARGV: base, hbBase (`<prefix>:hb:`), queueBase (`<prefix>:`), template ('' = all), pool ('' = all), withDepth ('1'|'0')
 */
const POOL_VIEW = `
local base, hbBase, qBase, template, only, withDepth = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local names
if only ~= '' then names = {only} else names = redis.call('SMEMBERS', base .. 'pools') end
local out = {}
for _, name in ipairs(names) do
  local p = redis.call('HMGET', base .. 'p:' .. name, 'template', 'region', 'weight', 'registeredAt', 'managedBy')
  if p[1] and (template == '' or p[1] == template) then
    local pods = redis.call('SMEMBERS', hbBase .. 'pool:' .. name)
    local live = {}
    for _, pod in ipairs(pods) do
      local hb = redis.call('GET', hbBase .. 'pod:' .. pod)
      -- a pod reported deleted (pod.deleted) takes no new work even while its heartbeat lingers
      if hb and redis.call('EXISTS', base .. 'gone:' .. pod) == 0 then
        local q = qBase .. 'pod-' .. pod
        local depth = 0
        if withDepth == '1' then
          depth = redis.call('LLEN', q .. ':wait') + redis.call('ZCARD', q .. ':prioritized') + redis.call('LLEN', q .. ':paused')
        end
        table.insert(live, {hb, redis.call('SCARD', base .. 'pod:' .. pod), depth})
      end
    end
    table.insert(out, {name, p[1], p[2] or '', p[3] or '1', p[4] or '', p[5] or '', redis.call('SCARD', base .. 'pool:' .. name), live})
  end
end
return out
`;

export interface PodView {
  heartbeat: PodHeartbeat;
  /** Sessions assigned to the pod by the load balancers (Redis). */
  assigned: number;
  /** Effective sessions: max(heartbeat.sessions, assigned). */
  sessions: number;
  queueDepth: number;
  /** Accepting, healthy (its smoke test passed) and below capacity. */
  hasCapacity: boolean;
}

export interface PoolView {
  name: string;
  template: string;
  region: string;
  weight: number;
  registeredAt: string;
  managedBy: string;
  /** Sessions assigned to the pool (every pod, live or not). */
  sessions: number;
  pods: PodView[];
  queueDepth: number;
}

interface ScriptedRedis extends Redis {
  lbPoolView(...args: string[]): Promise<unknown[]>;
}

export interface PoolRegistration {
  name: string;
  template: string;
  region?: string;
  weight?: number;
  managedBy?: string;
}

/** The pool registry and the live view of pools (Redis, shared by every replica). */
export class PoolStore {
  readonly keys: LbKeys;
  private readonly redis: ScriptedRedis;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    this.keys = new LbKeys(prefix);
    redis.defineCommand('lbPoolView', { numberOfKeys: 0, lua: POOL_VIEW });
    this.redis = redis as ScriptedRedis;
  }

  /**
   * Registers (or updates) a pool. Returns 'conflict' when a pool of that name serves another
   * template (deregister it first).
   */
  async register(reg: PoolRegistration): Promise<'created' | 'updated' | 'conflict'> {
    const key = this.keys.pool(reg.name);
    const existing = await this.redis.hget(key, 'template');
    if (existing && existing !== reg.template) return 'conflict';
    await this.redis
      .multi()
      .hset(key, {
        name: reg.name,
        template: reg.template,
        region: reg.region ?? '',
        weight: String(reg.weight ?? 1),
        managedBy: reg.managedBy ?? '',
        registeredAt: new Date().toISOString(),
      })
      .sadd(this.keys.pools, reg.name)
      .exec();
    return existing ? 'updated' : 'created';
  }

  /** Deregisters a pool (no new sessions go there); false when it was not registered. */
  async deregister(name: string): Promise<boolean> {
    const res = await this.redis.multi().del(this.keys.pool(name)).srem(this.keys.pools, name).exec();
    return res?.[0]?.[1] === 1;
  }

  /** Registered pools (of one template, or one pool by name) with their live pods. */
  /** `withDepth: false` skips the queue depths (routing does not use them; stats and metrics do). */
  async view(opts: { template?: string; pool?: string; withDepth?: boolean } = {}): Promise<PoolView[]> {
    const raw = await this.redis.lbPoolView(
      this.keys.base,
      `${this.prefix}:hb:`,
      `${this.prefix}:`,
      opts.template ?? '',
      opts.pool ?? '',
      opts.withDepth === false ? '0' : '1',
    );
    return raw.map((r) => toPoolView(r as unknown[]));
  }
}

function toPoolView(r: unknown[]): PoolView {
  const pods: PodView[] = [];
  for (const [hbRaw, assigned, depth] of r[7] as [string, number, number][]) {
    const hb = parseHeartbeat(hbRaw);
    if (!hb) continue;
    const sessions = Math.max(hb.sessions, assigned);
    pods.push({
      heartbeat: hb,
      assigned,
      sessions,
      queueDepth: depth,
      hasCapacity: podTakesSessions(hb) && sessions < hb.capacity,
    });
  }
  pods.sort((a, b) => a.heartbeat.pod.localeCompare(b.heartbeat.pod));
  return {
    name: r[0] as string,
    template: r[1] as string,
    region: r[2] as string,
    weight: Number(r[3]) || 1,
    registeredAt: r[4] as string,
    managedBy: r[5] as string,
    sessions: r[6] as number,
    pods,
    queueDepth: pods.reduce((n, p) => n + p.queueDepth, 0),
  };
}

/**
 * Why a pool takes no new session (undefined when a pod of it does): no live pod, pods whose
 * sandbox or template does not work (their own reason), or every pod draining or full.
 */
export function poolUnavailableReason(v: PoolView): string | undefined {
  if (v.pods.some((p) => p.hasCapacity)) return undefined;
  if (v.pods.length === 0) return 'no live pod (no heartbeat)';
  const unhealthy = v.pods.filter((p) => p.heartbeat.healthy === false);
  if (unhealthy.length > 0) {
    const first = unhealthy[0] as PodView;
    const more = unhealthy.length > 1 ? ` (and ${unhealthy.length - 1} more unhealthy pods)` : '';
    return `pod ${first.heartbeat.pod} is not healthy: ${first.heartbeat.reason ?? 'no reason given'}${more}`;
  }
  if (v.pods.every((p) => !p.heartbeat.accepting)) return 'every pod is draining';
  return 'every pod is full';
}

const HEARTBEAT_CHECK = TypeCompiler.Compile(PodHeartbeat);

function parseHeartbeat(raw: string): PodHeartbeat | undefined {
  try {
    const v: unknown = JSON.parse(raw);
    return HEARTBEAT_CHECK.Check(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
