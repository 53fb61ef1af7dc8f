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
 *   apiKey), `rat` (rotated at), `nexp` (the successor's `expireIn`, after which the tombstone
 *   is forgotten), `rk` (the rotating request's marker key) and one `g:<marker key>` per request
 *   answered within grace (holding its call's id): replays stay refused when markers are evicted
 *   A successor also keeps `pv` (the apiKey it replaced): while unused, it reads as gone once that
 *   pair's tombstone is.
 * - `P{T}:f:<familyId>` hash — the family: `head`, the apiKey of its one live session
 * - `P{T}:r:<apiKey>:<timestamp>:<signature>` string — a replay marker, holding the id of the call
 *   that set it
 * - `P{T}:e` string — the epoch of the tag, written by CREATE without expiry: a lookup that finds it
 *   gone after it was seen tells that Redis lost its data
 *
 * Every script starts with a Redis 7 shebang: LOOKUP is `no-writes` (it runs on a replica promoted
 * read-only and during `CLIENT PAUSE WRITE`), REVOKE `allow-oom` (it only deletes), and the others
 * are refused whole at `maxmemory` (OOM, nothing written). Each reply names the apiKey it answers
 * for, so that a reply matched to the wrong command (a client bug after a reconnect) is a 503, not
 * another user's pair.
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
 * Returns { now, apiKey, epoch (0|1), st, sk, uid, fam, iat, exp, nx, rat, nexp, u, rk } with nil
 * for absent fields. Fails closed: a live record that is not its family's head, or any record whose
 * family is gone (revoked, reused, evicted), reads as absent. Writes nothing.
 */
export const LOOKUP = script(`#!lua flags=no-writes
${NOW(2)}
${BASE}
local r = redis.call('HMGET', KEYS[1], 'st', 'sk', 'uid', 'fam', 'iat', 'exp', 'nx', 'rat', 'nexp', 'u', 'pv')
-- The epoch is read only when nothing usable was found: that is when a lost dataset shows.
if not r[1] then return {now, ARGV[1], redis.call('EXISTS', base .. 'e')} end
local head = redis.call('HGET', base .. 'f:' .. r[4], 'head')
if not head or (r[1] == 'live' and head ~= ARGV[1]) then return {now, ARGV[1], redis.call('EXISTS', base .. 'e')} end
-- A successor never used whose predecessor's tombstone is gone (evicted): the holder of the old
-- pair could no longer log it out, so it reads as gone too (fail closed).
if r[1] == 'live' and not r[10] and r[11] and redis.call('EXISTS', base .. 's:' .. r[11]) == 0 then
  return {now, ARGV[1], redis.call('EXISTS', base .. 'e')}
end
return {now, ARGV[1], 1, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10]}
`);

/**
 * KEYS: session, family. ARGV: apiKey, sk, uid, fam, iat, exp, ttl ms.
 * Returns { 1, apiKey }.
 */
export const CREATE = script(`#!lua
${BASE}
redis.call('HSET', KEYS[1], 'st', 'live', 'sk', ARGV[2], 'uid', ARGV[3], 'fam', ARGV[4], 'iat', ARGV[5], 'exp', ARGV[6])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('HSET', KEYS[2], 'head', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('SET', base .. 'e', '1')
return {1, ARGV[1]}
`);

/**
 * KEYS: old session, candidate session, family, [replay marker].
 * ARGV: old apiKey, familyId, now, graceMs, new apiKey, new secretKey, new iat, new exp, retention
 * ms, signedAt, toleranceMs, marker expiresAt, marker id.
 * Returns { outcome, old apiKey, … }: { 'rotated', apiKey } | { 'grace', apiKey, head, sk, iat, exp } |
 * { 'reused' | 'replayed' | 'not-found', apiKey }.
 */
export const ROTATE = script(`#!lua
${NOW(3)}
local rec = redis.call('HMGET', KEYS[1], 'st', 'uid', 'fam', 'exp', 'nx', 'rat', 'rk')
if not rec[1] or rec[3] ~= ARGV[2] then return {'not-found', ARGV[1]} end
local head = redis.call('HGET', KEYS[3], 'head')
if not head or (rec[1] == 'live' and head ~= ARGV[1]) then return {'not-found', ARGV[1]} end
-- The same call sent again (a reconnecting client): its rotation ran, so give the same answer.
if rec[1] == 'rotated' and rec[5] == ARGV[5] then return {'rotated', ARGV[1]} end
local marker = KEYS[4]
if rec[1] == 'live' then
  if tonumber(rec[4]) <= now then
    if marker then
      local seen = redis.call('GET', marker)
      if seen and seen ~= ARGV[13] then return {'replayed', ARGV[1]} end
    end
    return {'not-found', ARGV[1]}
  end
  -- Checks the marker and sets it in one call: a header already used by another call is a replay.
  if marker then
    local seen = redis.call('SET', marker, ARGV[13], 'NX', 'PX', math.max(tonumber(ARGV[12]) - now, 1000), 'GET')
    if seen and seen ~= ARGV[13] then return {'replayed', ARGV[1]} end
  end
  local life = tonumber(ARGV[8]) - now
  local px = math.max(1, life + tonumber(ARGV[9]))
  -- pv: the pair it replaced. While never used, the successor dies with that pair's tombstone.
  redis.call('HSET', KEYS[2], 'st', 'live', 'sk', ARGV[6], 'uid', rec[2], 'fam', ARGV[2], 'iat', ARGV[7], 'exp', ARGV[8], 'pv', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], px)
  -- The tombstone remembers the rotating request's marker: its replay is refused even if the marker is evicted.
  redis.call('HSET', KEYS[1], 'st', 'rotated', 'nx', ARGV[5], 'rat', now, 'nexp', ARGV[8], 'rk', marker or '')
  redis.call('PEXPIRE', KEYS[1], math.max(1, life))
  redis.call('HSET', KEYS[3], 'head', ARGV[5])
  redis.call('PEXPIRE', KEYS[3], px)
  return {'rotated', ARGV[1]}
end
if marker then
  local seen = redis.call('GET', marker)
  local graced = redis.call('HGET', KEYS[1], 'g:' .. marker)
  if (seen and seen ~= ARGV[13]) or rec[7] == marker or (graced and graced ~= ARGV[13]) then return {'replayed', ARGV[1]} end
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
    if marker then
      redis.call('SET', marker, ARGV[13], 'PX', math.max(tonumber(ARGV[12]) - now, 1000))
      -- Remembered on the tombstone too: a header answered within grace and replayed after its marker was evicted would be handed the successor.
      redis.call('HSET', KEYS[1], 'g:' .. marker, ARGV[13])
    end
    return {'grace', ARGV[1], head, n[2], n[3], n[4]}
  end
end
if tonumber(ARGV[10]) <= rotatedAt + tonumber(ARGV[11]) then return {'not-found', ARGV[1]} end
redis.call('DEL', headKey, KEYS[3])
return {'reused', ARGV[1]}
`);

/**
 * KEYS: session, family, [replay marker].
 * ARGV: apiKey, familyId, now, graceMs, signedAt, toleranceMs, revoke ('1' | '0'), marker
 * expiresAt, marker id.
 * Returns { 'live' | 'revoked' | 'reused' | 'replayed' | 'not-found', apiKey } (see UseResult).
 */
const USE_BODY = `${NOW(3)}
local rec = redis.call('HMGET', KEYS[1], 'st', 'fam', 'exp', 'nx', 'rat', 'u')
if not rec[1] or rec[2] ~= ARGV[2] then return {'not-found', ARGV[1]} end
local head = redis.call('HGET', KEYS[2], 'head')
if not head or (rec[1] == 'live' and head ~= ARGV[1]) then return {'not-found', ARGV[1]} end
local marker = KEYS[3]
if marker then
  local seen = redis.call('GET', marker)
  if seen and seen ~= ARGV[9] then return {'replayed', ARGV[1]} end
end
local revoke = ARGV[7] == '1'
if rec[1] == 'live' then
  if tonumber(rec[3]) <= now then return {'not-found', ARGV[1]} end
  if revoke then
    redis.call('DEL', KEYS[1], KEYS[2])
    return {'revoked', ARGV[1]}
  end
  if not rec[6] then redis.call('HSET', KEYS[1], 'u', '1') end
  if marker then redis.call('SET', marker, ARGV[9], 'PX', math.max(tonumber(ARGV[8]) - now, 1000)) end
  return {'live', ARGV[1]}
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
  if excused then return {'revoked', ARGV[1]} end
  return {'reused', ARGV[1]}
end
if excused then return {'not-found', ARGV[1]} end
return {'reused', ARGV[1]}
`;

export const USE = script(`#!lua\n${USE_BODY}`);

/** USE for a logout (revoke '1'): it only deletes, so it runs at OOM as REVOKE does. */
export const USE_REVOKE = script(`#!lua flags=allow-oom\n${USE_BODY}`);

/**
 * KEYS: session. ARGV: apiKey. Revokes the family of that session, its head and the session itself;
 * runs at OOM (it only deletes). Returns { 0 | 1, apiKey }.
 */
export const REVOKE = script(`#!lua flags=allow-oom
${BASE}
local fam = redis.call('HGET', KEYS[1], 'fam')
if not fam then return {0, ARGV[1]} end
local familyKey = base .. 'f:' .. fam
local head = redis.call('HGET', familyKey, 'head')
if head then redis.call('DEL', base .. 's:' .. head) end
redis.call('DEL', familyKey, KEYS[1])
return {1, ARGV[1]}
`);
