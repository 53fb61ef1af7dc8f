/**
 * The Lua scripts of {@link RedisStore}. Each runs atomically on the server; every key one script
 * touches carries the same hash tag, so they also run on Redis Cluster.
 *
 * Key layout, with `P` the prefix and `T` the hash tag (the first two characters of the apiKey,
 * which every apiKey of one family shares):
 * - `P{T}:s:<apiKey>` hash — the session record: `st` (live|rotated), `sk`, `uid`, `fam`, `iat`, `exp`,
 *   and for a rotated record `nx` (successor apiKey), `rat` (rotated at) and `nexp` (the successor's
 *   `expireIn`, after which the tombstone is forgotten)
 * - `P{T}:f:<familyId>` hash — the family: `head`, the apiKey of its one live session
 * - `P{T}:r:<apiKey>:<timestamp>:<signature>` string — a replay marker
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

const FIELDS = `local FIELDS = {'st', 'sk', 'uid', 'fam', 'iat', 'exp', 'nx', 'rat', 'nexp'}
local function record(key)
  local values = redis.call('HMGET', key, unpack(FIELDS))
  for i = 1, #FIELDS do if not values[i] then values[i] = '' end end
  return values
end
`;

/**
 * KEYS: session, [replay]. ARGV: key prefix with tag, [replay ttl ms].
 * Returns { replayed (0|1), st, sk, uid, fam, iat, exp, nx, rat, nexp } with '' for absent fields. A
 * rotated record whose family is gone (revoked, or reused and revoked) reads as absent.
 */
export const LOOKUP = script(`${FIELDS}
local replayed = 0
if KEYS[2] then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then replayed = 1 end
end
local values = record(KEYS[1])
if values[1] == 'rotated' and redis.call('EXISTS', ARGV[1] .. 'f:' .. values[4]) == 0 then
  for i = 1, #FIELDS do values[i] = '' end
end
table.insert(values, 1, replayed)
return values
`);

/**
 * KEYS: session, family. ARGV: st-less fields sk, uid, fam, iat, exp, apiKey, ttl ms.
 */
export const CREATE = script(`
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'st', 'live', 'sk', ARGV[1], 'uid', ARGV[2], 'fam', ARGV[3], 'iat', ARGV[4], 'exp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'head', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
return 1
`);

/**
 * KEYS: old session, candidate session, family.
 * ARGV: old apiKey, familyId, now, graceMs, new apiKey, new secretKey, new expireIn, ttl ms (with
 * retention), key prefix with tag, tombstone ttl ms (the family's lifetime, without retention).
 * Returns { 'rotated' | 'grace', apiKey, sk, uid, fam, iat, exp } or { 'reused' } or { 'not-found' }.
 */
export const ROTATE = script(`${FIELDS}
local old, fam, now, grace = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local rec = record(KEYS[1])
if rec[1] == '' or rec[4] ~= fam then return {'not-found'} end
local head = redis.call('HGET', KEYS[3], 'head')
if not head then return {'not-found'} end
if rec[1] == 'live' then
  if head ~= old or tonumber(rec[6]) <= now then return {'not-found'} end
  local ttl = ARGV[8]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[2], 'st', 'live', 'sk', ARGV[6], 'uid', rec[3], 'fam', fam, 'iat', ARGV[3], 'exp', ARGV[7])
  redis.call('PEXPIRE', KEYS[2], ttl)
  redis.call('HSET', KEYS[1], 'st', 'rotated', 'nx', ARGV[5], 'rat', ARGV[3], 'nexp', ARGV[7])
  redis.call('PEXPIRE', KEYS[1], ARGV[10])
  redis.call('HSET', KEYS[3], 'head', ARGV[5])
  redis.call('PEXPIRE', KEYS[3], ttl)
  return {'rotated', ARGV[5], ARGV[6], rec[3], fam, ARGV[3], ARGV[7]}
end
-- A rotated key: the same successor within grace, else the family is revoked.
-- The successor's key carries the same hash tag as KEYS[1], so it lives on the same slot.
-- A request whose clock reads earlier than the rotation was made before it (a delayed retry, a
-- command replayed by a reconnecting client): it is stale, not stolen, and revokes nothing.
local headKey = ARGV[9] .. 's:' .. head
local rotatedAt = tonumber(rec[8]) or 0
if rec[7] == head and now - rotatedAt <= grace then
  local nxt = record(headKey)
  if nxt[1] == 'live' then return {'grace', head, nxt[2], nxt[3], nxt[4], nxt[5], nxt[6]} end
end
if now < rotatedAt then return {'not-found'} end
redis.call('DEL', headKey, KEYS[3])
return {'reused'}
`);

/**
 * KEYS: session. ARGV: key prefix with tag. Revokes the family of that session.
 */
export const REVOKE = script(`
local fam = redis.call('HGET', KEYS[1], 'fam')
if not fam then return 0 end
local familyKey = ARGV[1] .. 'f:' .. fam
local head = redis.call('HGET', familyKey, 'head')
if head then redis.call('DEL', ARGV[1] .. 's:' .. head) end
redis.call('DEL', familyKey)
return 1
`);
