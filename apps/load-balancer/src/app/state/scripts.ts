/**
 * Lua scripts of the session store. Each is one round trip and atomic. ARGV[1] is always the
 * key base (`<prefix>:lb:`).
 */

/**
 * Load a session, check its owner and expiry, and (mode "touch") move its idle expiry. A session
 * with a fixed expiry (`fixed` = 1) or that is not active keeps its expiry unless a new TTL is given
 * (which sets expiry = now + ttl, shortening it too).
 * ARGV: base, id, tenant ('*' = any), nowMs, mode ('touch'|'peek'), newTtlSeconds ('' = keep), hbPrefix, withMigrations ('1'|'0')
 * → {0} missing/not owned · {1} expired · {2, fields[], podAlive, touchState, migrations[]}
 */
export const LOAD_SESSION = `
local base, id, tenant, now, mode, newTtl, hbPrefix, withMig = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local key = base .. 's:' .. id
local vals = redis.call('HMGET', key, 'tenant', 'expiresAt', 'ttl', 'persist', 'stateExpiresAt', 'pod', 'fixed', 'state')
if not vals[1] then return {0} end
if tenant ~= '*' and vals[1] ~= tenant then return {0} end
local exp = tonumber(vals[2])
if exp <= now then return {1} end
local touchState = 0
local moves = newTtl ~= '' or (vals[7] ~= '1' and (not vals[8] or vals[8] == 'active'))
if mode == 'touch' and moves then
  local ttl = tonumber(vals[3])
  if newTtl ~= '' then
    ttl = tonumber(newTtl)
    redis.call('HSET', key, 'ttl', ttl)
  end
  exp = now + ttl * 1000
  redis.call('HSET', key, 'expiresAt', exp)
  redis.call('ZADD', base .. 'expiry', exp, id)
  if vals[4] == '1' and (newTtl ~= '' or exp - tonumber(vals[5] or '0') > ttl * 500) then
    redis.call('HSET', key, 'stateExpiresAt', exp)
    touchState = 1
  end
end
local alive = 0
if vals[6] and vals[6] ~= '' then
  alive = redis.call('EXISTS', hbPrefix .. vals[6])
  if alive == 1 and redis.call('EXISTS', base .. 'gone:' .. vals[6]) == 1 then alive = 0 end
end
local fields = redis.call('HGETALL', key)
local mig = {}
if withMig == '1' then mig = redis.call('LRANGE', base .. 'm:' .. id, 0, -1) end
return {2, fields, alive, touchState, mig}
`;

/**
 * Compare-and-set of a session's state. ARGV: base, id, from, to → 1 set · 0 not in `from` (or missing)
 */
export const SET_STATE = `
local key = ARGV[1] .. 's:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return 0 end
local state = redis.call('HGET', key, 'state')
if (state or 'active') ~= ARGV[3] then return 0 end
redis.call('HSET', key, 'state', ARGV[4])
return 1
`;

/**
 * `pausing` → `paused`: off its pod (pod and pool session sets), expiry moved to the retention
 * deadline. ARGV: base, id, pod, expiresAtMs, nowMs → 1 paused · 0 not pausing on that pod
 */
export const PAUSE_SESSION = `
local base, id, pod, exp, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = base .. 's:' .. id
local vals = redis.call('HMGET', key, 'state', 'pod', 'pool')
if vals[1] ~= 'pausing' or vals[2] ~= pod then return 0 end
redis.call('HSET', key, 'state', 'paused', 'pod', '', 'expiresAt', exp, 'stateExpiresAt', exp, 'pausedAt', now)
redis.call('ZADD', base .. 'expiry', exp, id)
redis.call('SREM', base .. 'pod:' .. pod, id)
redis.call('SREM', base .. 'pool:' .. vals[3], id)
return 1
`;

/**
 * `paused` → `active` on a pod: pod and pool sets, new TTL and expiry, a migration entry.
 * ARGV: base, id, pool, pod, ttlSeconds, nowMs, migrationJson → 1 resumed · 0 not paused
 */
export const RESUME_SESSION = `
local base, id, pool, pod, ttl, now, mig = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), ARGV[7]
local key = base .. 's:' .. id
local vals = redis.call('HMGET', key, 'state', 'pool')
if vals[1] ~= 'paused' then return 0 end
local exp = now + ttl * 1000
redis.call('HSET', key, 'state', 'active', 'pod', pod, 'pool', pool, 'ttl', ttl, 'expiresAt', exp, 'stateExpiresAt', exp)
redis.call('ZADD', base .. 'expiry', exp, id)
redis.call('SADD', base .. 'pod:' .. pod, id)
redis.call('SADD', base .. 'pool:' .. pool, id)
redis.call('SADD', base .. 'pods', pod)
redis.call('RPUSH', base .. 'm:' .. id, mig)
return 1
`;

/**
 * Sandbox-plane tokens, set once (HSETNX) on an existing session. ARGV: base, id, accessToken, trafficToken
 * → {} missing · {accessToken, trafficToken} as stored
 */
export const ENSURE_TOKENS = `
local key = ARGV[1] .. 's:' .. ARGV[2]
if redis.call('EXISTS', key) == 0 then return {} end
redis.call('HSETNX', key, 'accessToken', ARGV[3])
redis.call('HSETNX', key, 'trafficToken', ARGV[4])
return redis.call('HMGET', key, 'accessToken', 'trafficToken')
`;

/**
 * Remove a session and every index entry; returns its fields (so the caller can close it).
 * ARGV: base, id, tenant ('*' = any), requireExpiredBefore ('' = no condition, else nowMs: only if expired)
 * → {} when missing / not owned / (expiry mode) no longer expired, else the HGETALL fields
 */
export const REMOVE_SESSION = `
local base, id, tenant, expiredBefore = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local key = base .. 's:' .. id
local vals = redis.call('HMGET', key, 'tenant', 'pod', 'pool', 'expiresAt')
if not vals[1] then
  redis.call('ZREM', base .. 'expiry', id)
  return {}
end
if tenant ~= '*' and vals[1] ~= tenant then return {} end
if expiredBefore ~= '' and tonumber(vals[4]) > tonumber(expiredBefore) then return {} end
local fields = redis.call('HGETALL', key)
redis.call('DEL', key, base .. 'm:' .. id, base .. 'h:' .. id)
redis.call('ZREM', base .. 'expiry', id)
redis.call('SREM', base .. 't:' .. vals[1], id)
redis.call('SREM', base .. 'pod:' .. vals[2], id)
redis.call('SREM', base .. 'pool:' .. vals[3], id)
return fields
`;

/**
 * Compare-and-set of a session's pod (migration). ARGV: base, id, expectedPod, newPod, migrationJson
 * → 1 moved · 0 the session is on another pod already (someone else migrated it) · -1 missing
 */
export const MOVE_SESSION = `
local base, id, expected, newPod, mig = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local key = base .. 's:' .. id
local pod = redis.call('HGET', key, 'pod')
if not pod then return -1 end
if pod ~= expected then return 0 end
redis.call('HSET', key, 'pod', newPod)
redis.call('RPUSH', base .. 'm:' .. id, mig)
redis.call('SMOVE', base .. 'pod:' .. expected, base .. 'pod:' .. newPod, id)
redis.call('SADD', base .. 'pods', newPod)
return 1
`;

/**
 * Append to the capped execution history (and, when given, record the latest snapshot time) in
 * one command; nothing is written for a session that is gone. ARGV: base, id, entryJson, limit, lastSnapshotAt ('' = none)
 */
export const PUSH_HISTORY = `
local skey = ARGV[1] .. 's:' .. ARGV[2]
if redis.call('EXISTS', skey) == 0 then return 0 end
local key = ARGV[1] .. 'h:' .. ARGV[2]
redis.call('RPUSH', key, ARGV[3])
redis.call('LTRIM', key, -tonumber(ARGV[4]), -1)
if ARGV[5] ~= '' then redis.call('HSET', skey, 'lastSnapshotAt', ARGV[5]) end
return 1
`;
