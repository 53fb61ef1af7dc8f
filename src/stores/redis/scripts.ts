/**
 * The Lua scripts of {@link RedisStore}. Each runs atomically on the server; every key one script
 * touches carries the same hash tag, so they also run on Redis Cluster. Every key a script touches
 * is passed in `KEYS` or derived from `KEYS[1]` (which carries any prefix the client adds), never
 * built from `ARGV` alone.
 *
 * Key layout, with `P` the prefix and `T` the hash tag (the first two characters of the apiKey,
 * which every apiKey of one family shares):
 * - `P{T}:s:<apiKey>` hash — the session record: `st` (live|rotated), `sk`, `uid`, `fam`, `iat`, `exp`,
 *   `u` (set once a request signed with it verified), and for a rotated record `nx` (successor
 *   apiKey), `rat` (rotated at) and `nexp` (the successor's `expireIn`, after which the tombstone
 *   is forgotten)
 * - `P{T}:f:<familyId>` hash — the family: `head`, the apiKey of its one live session
 * - `P{T}:r:<apiKey>:<timestamp>:<signature>` string — a replay marker, holding the id of the call
 *   that set it
 *
 * Clock: an empty `now` argument means the Redis server's clock (`TIME`), so app servers whose
 * clocks differ agree about grace, reuse and expiry; a number is the caller's clock (tests).
 *
 * @internal
 * @module stores/redis/scripts
 */

import { createHash } from 'node:crypto';

/** A script with its SHA-1, for EVALSHA. */
export interface RedisScript {
  readonly source: string;
  readonly sha1: string;
}

function script(source: string): RedisScript {
  return { source, sha1: createHash('sha1').update(source).digest('hex') };
}

/** `now`: ARGV[i] when it is a number, else the server's clock in ms. */
const NOW = (argv: number): string => `local now = tonumber(ARGV[${argv}])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end`;

/** `base`: `P{T}:`, from KEYS[1] = `P{T}:s:<apiKey>` and ARGV[1] = apiKey. */
const BASE = `local base = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1] - 2)`;

/**
 * KEYS: session. ARGV: apiKey, now ('' for the server's clock).
 * Returns { now, st, sk, uid, fam, iat, exp, nx, rat, nexp, u } with nil for absent fields; a
 * rotated record whose family is gone (revoked, or reused and revoked) reads as absent. Writes nothing.
 */
export const LOOKUP = script(`${NOW(2)}
local r = redis.call('HMGET', KEYS[1], 'st', 'sk', 'uid', 'fam', 'iat', 'exp', 'nx', 'rat', 'nexp', 'u')
if r[1] == 'rotated' then
  ${BASE}
  if redis.call('EXISTS', base .. 'f:' .. r[4]) == 0 then return {now} end
end
table.insert(r, 1, now)
return r
`);

/**
 * KEYS: session, family. ARGV: sk, uid, fam, iat, exp, apiKey, ttl ms.
 */
export const CREATE = script(`
redis.call('HSET', KEYS[1], 'st', 'live', 'sk', ARGV[1], 'uid', ARGV[2], 'fam', ARGV[3], 'iat', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('HSET', KEYS[2], 'head', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return 1
`);

/**
 * KEYS: old session, candidate session, family, [replay marker].
 * ARGV: old apiKey, familyId, now, graceMs, new apiKey, new secretKey, successor lifetime ms,
 * retention ms, signedAt, toleranceMs, marker expiresAt, marker id.
 * Returns { 'rotated', iat, exp } | { 'grace', apiKey, sk, iat, exp } | { 'reused' } |
 * { 'replayed' } | { 'not-found' }.
 */
export const ROTATE = script(`${NOW(3)}
local rec = redis.call('HMGET', KEYS[1], 'st', 'uid', 'fam', 'exp', 'nx', 'rat')
if not rec[1] or rec[3] ~= ARGV[2] then return {'not-found'} end
local head = redis.call('HGET', KEYS[3], 'head')
if not head then return {'not-found'} end
local marker = KEYS[4]
if marker then
  local seen = redis.call('GET', marker)
  if seen and seen ~= ARGV[12] then return {'replayed'} end
  -- The same call sent again (a reconnecting client): its rotation ran, give the same answer.
  if seen and rec[1] == 'rotated' and rec[5] == ARGV[5] then
    local n = redis.call('HMGET', KEYS[2], 'iat', 'exp')
    return {'rotated', n[1], n[2]}
  end
end
if rec[1] == 'live' then
  if head ~= ARGV[1] or tonumber(rec[4]) <= now then return {'not-found'} end
  local life = tonumber(ARGV[7])
  local exp = now + life
  local px = life + tonumber(ARGV[8])
  redis.call('HSET', KEYS[2], 'st', 'live', 'sk', ARGV[6], 'uid', rec[2], 'fam', ARGV[2], 'iat', now, 'exp', exp)
  redis.call('PEXPIRE', KEYS[2], px)
  redis.call('HSET', KEYS[1], 'st', 'rotated', 'nx', ARGV[5], 'rat', now, 'nexp', exp)
  redis.call('PEXPIRE', KEYS[1], life)
  redis.call('HSET', KEYS[3], 'head', ARGV[5])
  redis.call('PEXPIRE', KEYS[3], px)
  if marker then redis.call('SET', marker, ARGV[12], 'PX', math.max(tonumber(ARGV[11]) - now, 1000)) end
  return {'rotated', now, exp}
end
-- A rotated key: the same successor while it was never used and grace lasts; else, unless the
-- request was signed before the rotation (a delayed in-flight request), the family is revoked.
${BASE}
local headKey = base .. 's:' .. head
local rotatedAt = tonumber(rec[6]) or 0
local age = math.max(0, now - rotatedAt)
if rec[5] == head and age <= tonumber(ARGV[4]) then
  local n = redis.call('HMGET', headKey, 'st', 'sk', 'iat', 'exp', 'u')
  if n[1] == 'live' and not n[5] then
    if marker then redis.call('SET', marker, ARGV[12], 'PX', math.max(tonumber(ARGV[11]) - now, 1000)) end
    return {'grace', head, n[2], n[3], n[4]}
  end
end
if tonumber(ARGV[9]) <= rotatedAt + tonumber(ARGV[10]) then return {'not-found'} end
redis.call('DEL', headKey, KEYS[3])
return {'reused'}
`);

/**
 * KEYS: session, family, [replay marker].
 * ARGV: apiKey, familyId, now, graceMs, signedAt, toleranceMs, revoke ('1' | '0'), marker
 * expiresAt, marker id.
 * Returns 'live' | 'revoked' | 'reused' | 'replayed' | 'not-found' (see UseResult).
 */
export const USE = script(`${NOW(3)}
local rec = redis.call('HMGET', KEYS[1], 'st', 'fam', 'exp', 'nx', 'rat', 'u')
if not rec[1] or rec[2] ~= ARGV[2] then return 'not-found' end
local head = redis.call('HGET', KEYS[2], 'head')
if not head then return 'not-found' end
local marker = KEYS[3]
if marker then
  local seen = redis.call('GET', marker)
  if seen and seen ~= ARGV[9] then return 'replayed' end
end
local revoke = ARGV[7] == '1'
if rec[1] == 'live' then
  if head ~= ARGV[1] or tonumber(rec[3]) <= now then return 'not-found' end
  if revoke then
    redis.call('DEL', KEYS[1], KEYS[2])
    return 'revoked'
  end
  if not rec[6] then redis.call('HSET', KEYS[1], 'u', '1') end
  if marker then redis.call('SET', marker, ARGV[9], 'PX', math.max(tonumber(ARGV[8]) - now, 1000)) end
  return 'live'
end
${BASE}
local headKey = base .. 's:' .. head
local rotatedAt = tonumber(rec[5]) or 0
local age = math.max(0, now - rotatedAt)
local excused = tonumber(ARGV[5]) <= rotatedAt + tonumber(ARGV[6])
if rec[4] == head and age <= tonumber(ARGV[4]) then
  local n = redis.call('HMGET', headKey, 'st', 'u')
  if n[1] == 'live' and not n[2] then
    excused = true
    -- The old pair used after its rotation, within grace: nobody may claim the successor with it now.
    if not revoke then redis.call('HSET', headKey, 'u', '1') end
  end
end
if revoke or not excused then redis.call('DEL', headKey, KEYS[2]) end
if revoke then
  if excused then return 'revoked' end
  return 'reused'
end
if excused then return 'not-found' end
return 'reused'
`);

/**
 * KEYS: session. ARGV: apiKey. Revokes the family of that session, and the session itself.
 */
export const REVOKE = script(`
local fam = redis.call('HGET', KEYS[1], 'fam')
if not fam then return 0 end
${BASE}
local familyKey = base .. 'f:' .. fam
local head = redis.call('HGET', familyKey, 'head')
if head then redis.call('DEL', base .. 's:' .. head) end
redis.call('DEL', familyKey, KEYS[1])
return 1
`);
