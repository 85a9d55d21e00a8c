/**
 * Lua scripts of the state store. Each runs atomically in Redis (and is written to the AOF
 * as one MULTI/EXEC of its effects), which is what makes a version visible all at once:
 * blobs are uploaded first (with a TTL, so an interrupted snapshot leaves nothing behind),
 * then COMMIT checks they are all there, writes manifest + hash list, moves refcounts
 * (PERSISTing blobs that get their first reference), pushes the version, trims old ones
 * and frees the blobs nobody references any more. A reader sees the old version or the
 * new one, never a half-written snapshot, whatever happens to the service meanwhile.
 *
 * Keys are derived from ARGV[1] (the key root): single-instance / sentinel Redis only.
 */

const LIB = `
local function k_session(P, sid) return P .. ':s:' .. sid end
local function strlen(key) return redis.call('STRLEN', key) end
-- Drops one session reference of blob h; frees the blob when no session references it.
local function unref_blob(P, h, acc)
  local g = redis.call('HINCRBY', P .. ':bref', h, -1)
  if g <= 0 then
    local bk = P .. ':blob:' .. h
    acc.phys = acc.phys - strlen(bk)
    acc.blobs = acc.blobs - 1
    redis.call('DEL', bk)
    redis.call('HDEL', P .. ':bref', h)
    redis.call('HDEL', P .. ':braw', h)
  end
end
-- HMGET in chunks (Lua's unpack is limited to a few thousand values).
local function hmget_all(key, fields)
  local out = {}
  for s = 1, #fields, 1000 do
    local chunk = {}
    for j = s, math.min(s + 999, #fields) do chunk[#chunk + 1] = fields[j] end
    local vals = redis.call('HMGET', key, unpack(chunk))
    for j = 1, #vals do out[#out + 1] = vals[j] end
  end
  return out
end
-- One multi-argument command per 1000 arguments (HSET field value…, HDEL field…).
local function bulk(key, cmd, args)
  for s = 1, #args, 1000 do
    local chunk = {}
    for j = s, math.min(s + 999, #args) do chunk[#chunk + 1] = args[j] end
    redis.call(cmd, key, unpack(chunk))
  end
end
local function vinfo_logical(S, v)
  local j = redis.call('HGET', S .. ':vinfo', v)
  if not j then return 0 end
  return tonumber(cjson.decode(j).bytes) or 0
end
`;

/**
 * COMMIT. ARGV: root, sid, keep, manifest, hashes (64-hex concatenated, distinct), raw sizes
 * (comma list, same order), logical bytes, vinfo JSON, tenant, pool, pod, template,
 * expiresAt, deadline ms, quota (0 = none), now ISO.
 * Returns {'ok', version, newPhysicalBytes, newBlobs, trimmedVersions} | {'missing', {hash…}} | {'quota', bytes}.
 */
export const COMMIT_LUA = `${LIB}
local P, sid, keep = ARGV[1], ARGV[2], tonumber(ARGV[3])
local manifest, hashes, sizes = ARGV[4], ARGV[5], ARGV[6]
local logical, info = tonumber(ARGV[7]), ARGV[8]
local tenant, pool, pod, template, expiresAt = ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local deadline, quota, now = tonumber(ARGV[14]), tonumber(ARGV[15]), ARGV[16]
local S = k_session(P, sid)
local refsKey = S .. ':refs'
local list = {}
local raw = {}
local i = 0
for s in string.gmatch(sizes, '[^,]+') do
  local h = string.sub(hashes, i * 64 + 1, i * 64 + 64)
  list[#list + 1] = h
  raw[h] = tonumber(s)
  i = i + 1
end
-- 1. current session reference counts (bulk); blobs new to this session must be stored
local cur = {}
local vals = hmget_all(refsKey, list)
local missing = {}
for j, h in ipairs(list) do
  local c = tonumber(vals[j] or '0') or 0
  cur[h] = c
  if c == 0 and redis.call('EXISTS', P .. ':blob:' .. h) == 0 then missing[#missing + 1] = h end
end
if #missing > 0 then return {'missing', missing} end
-- 2. which versions fall out, and how the session's references move
local versions = redis.call('LRANGE', S .. ':v', 0, -1)
local trim = {}
for j = keep, #versions do trim[#trim + 1] = versions[j] end
local delta = {}
for _, h in ipairs(list) do delta[h] = 1 end
local extra = {}
for _, v in ipairs(trim) do
  local hs = redis.call('GET', S .. ':h:' .. v) or ''
  for k = 0, #hs / 64 - 1 do
    local h = string.sub(hs, k * 64 + 1, k * 64 + 64)
    if delta[h] == nil then extra[#extra + 1] = h end
    delta[h] = (delta[h] or 0) - 1
  end
end
if #extra > 0 then
  local ev = hmget_all(refsKey, extra)
  for j, h in ipairs(extra) do cur[h] = tonumber(ev[j] or '0') or 0 end
end
local uniq = tonumber(redis.call('HGET', S, 'uniqBytes') or '0')
local sets, dels, gained, lost = {}, {}, {}, {}
for h, d in pairs(delta) do
  if d ~= 0 then
    local old = cur[h] or 0
    local new = old + d
    if new > 0 then sets[#sets + 1] = h; sets[#sets + 1] = new else dels[#dels + 1] = h end
    if old == 0 and new > 0 then gained[#gained + 1] = h; uniq = uniq + (raw[h] or 0) end
    if old > 0 and new <= 0 then lost[#lost + 1] = h end
  end
end
if #lost > 0 then
  local lv = hmget_all(P .. ':braw', lost)
  for j = 1, #lost do uniq = uniq - (tonumber(lv[j] or '0') or 0) end
end
if quota > 0 and uniq > quota then return {'quota', tostring(uniq)} end
-- 3. apply
local acc = { phys = 0, blobs = 0, logical = logical }
local newPhys = #manifest + #hashes
local newBlobs = 0
local version = redis.call('HINCRBY', S, 'seq', 1)
redis.call('SET', S .. ':m:' .. version, manifest)
redis.call('SET', S .. ':h:' .. version, hashes)
redis.call('LPUSH', S .. ':v', version)
redis.call('HSET', S .. ':vinfo', version, info)
bulk(refsKey, 'HSET', sets)
bulk(refsKey, 'HDEL', dels)
for _, h in ipairs(gained) do
  if redis.call('HINCRBY', P .. ':bref', h, 1) == 1 then
    local bk = P .. ':blob:' .. h
    redis.call('PERSIST', bk)
    redis.call('HSET', P .. ':braw', h, raw[h] or 0)
    local len = strlen(bk)
    newPhys = newPhys + len
    newBlobs = newBlobs + 1
    acc.phys = acc.phys + len
    acc.blobs = acc.blobs + 1
  end
end
for _, h in ipairs(lost) do unref_blob(P, h, acc) end
acc.phys = acc.phys + #manifest + #hashes
for _, v in ipairs(trim) do
  acc.phys = acc.phys - strlen(S .. ':m:' .. v) - strlen(S .. ':h:' .. v)
  acc.logical = acc.logical - vinfo_logical(S, v)
  redis.call('DEL', S .. ':m:' .. v, S .. ':h:' .. v)
  redis.call('HDEL', S .. ':vinfo', v)
end
redis.call('LTRIM', S .. ':v', 0, keep - 1)
-- 4. session record and indexes
local prev = redis.call('HMGET', S, 'pod', 'pool')
if prev[1] and prev[1] ~= pod then redis.call('SREM', P .. ':pod:' .. prev[1], sid) end
if prev[2] and prev[2] ~= pool then redis.call('SREM', P .. ':pool:' .. prev[2], sid) end
if version == 1 then redis.call('HINCRBY', P .. ':stats', 'sessions', 1) end
redis.call('HSET', S, 'tenant', tenant, 'pool', pool, 'pod', pod, 'template', template, 'expiresAt', expiresAt,
  'uniqBytes', uniq, 'latest', version, 'updatedAt', now)
redis.call('SADD', P .. ':pod:' .. pod, sid)
redis.call('SADD', P .. ':pool:' .. pool, sid)
redis.call('ZADD', P .. ':expiry', deadline, sid)
redis.call('HINCRBY', P .. ':stats', 'physical', acc.phys)
redis.call('HINCRBY', P .. ':stats', 'logical', acc.logical)
redis.call('HINCRBY', P .. ':stats', 'blobs', acc.blobs)
redis.call('HINCRBY', P .. ':stats', 'versions', 1 - #trim)
return {'ok', version, newPhys, newBlobs, #trim}
`;

/**
 * DELETE a session's whole state. ARGV: root, sid, onlyIfDeadlineBefore (ms, '' = always).
 * With a deadline (the sweeper), a session touched meanwhile is left alone.
 * Returns 1 when something was deleted, 0 otherwise.
 */
export const DELETE_LUA = `${LIB}
local P, sid, before = ARGV[1], ARGV[2], ARGV[3]
local S = k_session(P, sid)
if before ~= '' then
  local score = redis.call('ZSCORE', P .. ':expiry', sid)
  if score and tonumber(score) > tonumber(before) then return 0 end
end
redis.call('ZREM', P .. ':expiry', sid)
if redis.call('EXISTS', S) == 0 then return 0 end
local acc = { phys = 0, blobs = 0, logical = 0 }
local refs = redis.call('HKEYS', S .. ':refs')
for _, h in ipairs(refs) do unref_blob(P, h, acc) end
local versions = redis.call('LRANGE', S .. ':v', 0, -1)
for _, v in ipairs(versions) do
  acc.phys = acc.phys - strlen(S .. ':m:' .. v) - strlen(S .. ':h:' .. v)
  acc.logical = acc.logical - vinfo_logical(S, v)
  redis.call('DEL', S .. ':m:' .. v, S .. ':h:' .. v)
end
local meta = redis.call('HMGET', S, 'pod', 'pool')
if meta[1] then redis.call('SREM', P .. ':pod:' .. meta[1], sid) end
if meta[2] then redis.call('SREM', P .. ':pool:' .. meta[2], sid) end
redis.call('DEL', S, S .. ':v', S .. ':vinfo', S .. ':refs')
redis.call('HINCRBY', P .. ':stats', 'physical', acc.phys)
redis.call('HINCRBY', P .. ':stats', 'logical', acc.logical)
redis.call('HINCRBY', P .. ':stats', 'blobs', acc.blobs)
redis.call('HINCRBY', P .. ':stats', 'versions', -#versions)
redis.call('HINCRBY', P .. ':stats', 'sessions', -1)
return 1
`;

/** TOUCH. ARGV: root, sid, expiresAt ISO, deadline ms. Returns 1 when the session exists. */
export const TOUCH_LUA = `
local P, sid = ARGV[1], ARGV[2]
local S = P .. ':s:' .. sid
if redis.call('EXISTS', S) == 0 then return 0 end
redis.call('HSET', S, 'expiresAt', ARGV[3])
redis.call('ZADD', P .. ':expiry', tonumber(ARGV[4]), sid)
return 1
`;
