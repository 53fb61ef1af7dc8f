/**
 * The Lua scripts of {@link RedisStore}. Each runs atomically on the server; every key one script
 * touches carries the same hash tag, so they also run on Redis Cluster. Every key a script touches
 * is passed in `KEYS` or derived from `KEYS[1]` (which carries any prefix the client adds), never
 * built from `ARGV` alone.
 *
 * Key layout, with `P` the prefix and `T` the hash tag (the first two characters of the apiKey,
 * which every apiKey of one family shares):
 * - `P{T}:s:<apiKey>` hash — the session record: `st` (live|rotated), `sk`, `uid`, `fam`, `iat`, `exp`,
 *   `cat` (the family's login; absent in records written before it existed: read as `iat`),
 *   `u` (set once a request signed with it verified), and for a rotated record `nx` (successor
 *   apiKey), `rat` (rotated at), `nexp` (the successor's `expireIn`, after which the tombstone
 *   is forgotten), `rk` (the rotating request's marker key) and one `g:<marker key>` per request
 *   answered within grace (holding its call's id): replays stay refused when markers are evicted.
 *   A successor also keeps `pv` (the apiKey it replaced): while unused, it reads as gone once that
 *   pair's tombstone is.
 * - `P{T}:f:<familyId>` hash — the family: `head` (the apiKey of its one live session), `uid`,
 *   `cat` (login) and `md` (the login's metadata, JSON). Once a user's sessions are revoked
 *   (FAMILIES_REVOKE), a tombstone instead: `rv`, `uid` and no `head`, kept for the retention (at
 *   least the store's pending window), so that a CREATE of that family still on its way writes
 *   nothing. Every script reads a family without `head` as gone.
 * - `P{T}:r:<apiKey>:<timestamp>:<signature>` string — a replay marker, holding the id of the call
 *   that set it
 * - `P{T}:e` string — the epoch of the tag, written by CREATE without expiry: a lookup that finds it
 *   gone after it was seen tells that Redis lost its data
 * - `P{u:<userId>}:i` hash — the user's index, on a hash tag of its own (its own slot; the families
 *   stay on theirs): one field per family, `<familyId>` → `<createdAt>:<T>`, from which the family key
 *   is rebuilt. It may hold entries of families that ended (logout, reuse, expiry, eviction): listing
 *   and trimming prune them. Its expiry is the latest `endsAt` plus the retention (none once a family
 *   has no end).
 * - `P{u:<userId>}:t` hash — the user's trim lease while a login trims to `maxSessions`: `owner`
 *   (that login's familyId) and `dirty` (another login came meanwhile); expires on its own.
 *
 * A login touches two slots (the index, then the family), so it is several scripts: INDEX_ADD first,
 * so that no family is ever live without its index entry, then CREATE, then (with a limit) TRIM_BEGIN
 * and, when the index holds too many entries, FAMILIES_READ and FAMILIES_REVOKE once per hash tag and
 * TRIM_END. Listing and revoking a user's sessions read the index (INDEX_READ), then run
 * FAMILIES_READ or FAMILIES_REVOKE once per hash tag, then INDEX_DROP.
 *
 * Every script starts with a Redis 7 shebang: LOOKUP, INDEX_READ and FAMILIES_READ are `no-writes`
 * (they run on a replica promoted read-only and during `CLIENT PAUSE WRITE`), REVOKE, USE_REVOKE,
 * FAMILIES_REVOKE and INDEX_DROP `allow-oom` (they delete, or replace a family by a smaller
 * tombstone: a logout everywhere works at `maxmemory`), and the others are refused whole at
 * `maxmemory` (OOM, nothing written). Each reply names the apiKey (or, for the index and families
 * scripts, the userId) it answers for, so that a reply matched to the wrong command (a client bug
 * after a reconnect) is a 503, not another user's pair.
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
 * Returns { now, apiKey, epoch (0|1), st, sk, uid, fam, iat, exp, nx, rat, nexp, u, cat } with nil
 * for absent fields (`cat` last: it came after the others). Fails closed: a live record that is
 * not its family's head, or any record whose family is gone (revoked, reused, evicted, or a
 * tombstone of FAMILIES_REVOKE: no `head`), reads as absent. Writes nothing.
 */
export const LOOKUP = script(`#!lua flags=no-writes
${NOW(2)}
${BASE}
local r = redis.call('HMGET', KEYS[1], 'st', 'sk', 'uid', 'fam', 'iat', 'exp', 'nx', 'rat', 'nexp', 'u', 'pv', 'cat')
-- The epoch is read only when nothing usable was found: that is when a lost dataset shows.
if not r[1] then return {now, ARGV[1], redis.call('EXISTS', base .. 'e')} end
local fam = redis.call('HMGET', base .. 'f:' .. r[4], 'head', 'v2')
local head = fam[1]
if not head or (r[1] == 'live' and head ~= ARGV[1]) then return {now, ARGV[1], redis.call('EXISTS', base .. 'e')} end
-- A successor never used whose predecessor's tombstone is gone (evicted): the holder of the old
-- pair could no longer log it out, so it reads as gone too (fail closed). Once expired it reads as
-- expired (SESSION_EXPIRED): it can no longer be used, and the tombstone ends with it.
if r[1] == 'live' and not r[10] and r[11] and tonumber(r[6]) > now and redis.call('EXISTS', base .. 's:' .. r[11]) == 0 then
  return {now, ARGV[1], redis.call('EXISTS', base .. 'e')}
end
return {now, ARGV[1], 1, r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[12], fam[2]}
`);

/**
 * KEYS: session, family. ARGV: apiKey, sk, uid, fam, iat, exp, ttl ms, cat, md.
 * Returns { 'created' | 'revoked', apiKey }. A family key that already exists is a tombstone of
 * FAMILIES_REVOKE (family ids are 128 random bits): the user's sessions were revoked between this
 * login's INDEX_ADD and now, and the revocation wins: nothing is written.
 */
export const CREATE = script(`#!lua
${BASE}
if redis.call('EXISTS', KEYS[2]) == 1 then return {'revoked', ARGV[1]} end
redis.call('HSET', KEYS[1], 'st', 'live', 'sk', ARGV[2], 'uid', ARGV[3], 'fam', ARGV[4], 'iat', ARGV[5], 'exp', ARGV[6], 'cat', ARGV[8])
redis.call('PEXPIRE', KEYS[1], ARGV[7])
redis.call('HSET', KEYS[2], 'head', ARGV[1], 'uid', ARGV[3], 'cat', ARGV[8], 'md', ARGV[9])
redis.call('PEXPIRE', KEYS[2], ARGV[7])
redis.call('SET', base .. 'e', '1')
return {'created', ARGV[1]}
`);

/**
 * KEYS: old session, candidate session, family, [replay marker].
 * ARGV: old apiKey, familyId, now, graceMs, new apiKey, new secretKey, new iat, new exp, retention
 * ms, signedAt, toleranceMs, marker expiresAt, marker id, scheme ('v2' marks the family: no
 * legacy header after it).
 * Returns { outcome, old apiKey, … }: { 'rotated', apiKey } | { 'grace', apiKey, head, sk, iat, exp, cat } |
 * { 'reused' | 'replayed' | 'not-found', apiKey }. The successor inherits the old record's `cat`
 * (its `iat` for a record written before `cat` existed).
 */
export const ROTATE = script(`#!lua
${NOW(3)}
local rec = redis.call('HMGET', KEYS[1], 'st', 'uid', 'fam', 'exp', 'nx', 'rat', 'rk', 'cat', 'iat')
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
  redis.call('HSET', KEYS[2], 'st', 'live', 'sk', ARGV[6], 'uid', rec[2], 'fam', ARGV[2], 'iat', ARGV[7], 'exp', ARGV[8], 'pv', ARGV[1],
    'cat', rec[8] or rec[9] or ARGV[7])
  redis.call('PEXPIRE', KEYS[2], px)
  -- The tombstone remembers the rotating request's marker: its replay is refused even if the marker is evicted.
  redis.call('HSET', KEYS[1], 'st', 'rotated', 'nx', ARGV[5], 'rat', now, 'nexp', ARGV[8], 'rk', marker or '')
  -- At least the grace: a successor cut short by the absolute lifetime keeps its predecessor's
  -- tombstone (pv) while it can be claimed, and past its end reads as expired, not as unknown.
  redis.call('PEXPIRE', KEYS[1], math.max(1, life, tonumber(ARGV[4])))
  redis.call('HSET', KEYS[3], 'head', ARGV[5])
  if ARGV[14] == 'v2' then redis.call('HSET', KEYS[3], 'v2', '1') end
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
  local n = redis.call('HMGET', headKey, 'st', 'sk', 'iat', 'exp', 'u', 'cat')
  if n[1] == 'live' and not n[5] then
    if marker then
      redis.call('SET', marker, ARGV[13], 'PX', math.max(tonumber(ARGV[12]) - now, 1000))
      -- Remembered on the tombstone too: a header answered within grace and replayed after its marker was evicted would be handed the successor.
      redis.call('HSET', KEYS[1], 'g:' .. marker, ARGV[13])
    end
    if ARGV[14] == 'v2' then redis.call('HSET', KEYS[3], 'v2', '1') end
    return {'grace', ARGV[1], head, n[2], n[3], n[4], n[6]}
  end
end
if tonumber(ARGV[10]) <= rotatedAt + tonumber(ARGV[11]) then return {'not-found', ARGV[1]} end
redis.call('DEL', headKey, KEYS[3])
return {'reused', ARGV[1]}
`);

/**
 * KEYS: session, family, [replay marker].
 * ARGV: apiKey, familyId, now, graceMs, signedAt, toleranceMs, revoke ('1' | '0'), marker
 * expiresAt, marker id, scheme ('v2' marks the family).
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
  if ARGV[10] == 'v2' then redis.call('HSET', KEYS[2], 'v2', '1') end
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

/**
 * KEYS: the user's index. ARGV: userId, familyId, entry (`<createdAt>:<tag>`), ttl ms ('' when the
 * family has no end). Adds the family; the index then expires no earlier than before (PEXPIRE GT),
 * and never once a family without an end was added. Returns { HLEN, userId }.
 */
export const INDEX_ADD = script(`#!lua
local existed = redis.call('EXISTS', KEYS[1]) == 1
redis.call('HSET', KEYS[1], ARGV[2], ARGV[3])
if ARGV[4] == '' then
  redis.call('PERSIST', KEYS[1])
elseif existed then
  -- GT: a key without expiry counts as infinite, so an index kept for an unbounded family stays so.
  redis.call('PEXPIRE', KEYS[1], ARGV[4], 'GT')
else
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
end
return {redis.call('HLEN', KEYS[1]), ARGV[1]}
`);

/** `reply`, then every field and value of the hash KEYS[1]. */
const APPEND_INDEX = `local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all do reply[#reply + 1] = all[i] end`;

/**
 * KEYS: the user's index. ARGV: userId, familyId ('' for all).
 * Returns { HLEN, userId, familyId₁, entry₁, … }: every entry, or only `familyId`'s (none when it
 * is not there). Writes nothing.
 */
export const INDEX_READ = script(`#!lua flags=no-writes
local n = redis.call('HLEN', KEYS[1])
if ARGV[2] ~= '' then
  local entry = redis.call('HGET', KEYS[1], ARGV[2])
  if not entry then return {n, ARGV[1]} end
  return {n, ARGV[1], ARGV[2], entry}
end
local reply = {n, ARGV[1]}
${APPEND_INDEX}
return reply
`);

/**
 * KEYS: the user's index, its trim lease. ARGV: userId, maxSessions, lease ms, token (the login's
 * familyId). After a login's CREATE: `within` when the index holds no more than `maxSessions`
 * entries; else `trim` and every entry, the lease now this login's (`owner`); or `busy` when another
 * login holds the lease, which is then marked `dirty`, so that its holder looks again when it ends.
 * One trim at a time per user: concurrent logins would each read and judge the whole index.
 * Returns { 'within' | 'busy', userId } | { 'trim', userId, familyId₁, entry₁, … }.
 */
export const TRIM_BEGIN = script(`#!lua
if redis.call('HLEN', KEYS[1]) <= tonumber(ARGV[2]) then return {'within', ARGV[1]} end
if redis.call('HSETNX', KEYS[2], 'owner', ARGV[4]) == 0 then
  redis.call('HSET', KEYS[2], 'dirty', '1')
  return {'busy', ARGV[1]}
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local reply = {'trim', ARGV[1]}
${APPEND_INDEX}
return reply
`);

/**
 * KEYS: the user's index, its trim lease. ARGV: userId, maxSessions, lease ms, token. Ends a trim:
 * when a login was told `busy` meanwhile (or the lease ran out, so one may have been) and the index
 * still holds more than `maxSessions`, the lease is taken again and the entries returned for another
 * pass; else the lease is released. A lease another login took after this one's ran out is left to
 * it: its pass reads after every login that found this one's.
 * Returns { 'done', userId } | { 'trim', userId, familyId₁, entry₁, … }.
 */
export const TRIM_END = script(`#!lua
local owner = redis.call('HGET', KEYS[2], 'owner')
local again = not owner
if owner == ARGV[4] then
  again = redis.call('HGET', KEYS[2], 'dirty') == '1'
  redis.call('DEL', KEYS[2])
elseif owner then
  return {'done', ARGV[1]}
end
if not again or redis.call('HLEN', KEYS[1]) <= tonumber(ARGV[2]) then return {'done', ARGV[1]} end
redis.call('HSET', KEYS[2], 'owner', ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
local reply = {'trim', ARGV[1]}
${APPEND_INDEX}
return reply
`);

/**
 * KEYS: the user's index. ARGV: userId, familyId… Drops those entries; runs at OOM (it only
 * deletes). Returns { entries dropped, userId }.
 */
export const INDEX_DROP = script(`#!lua flags=allow-oom
local n = 0
for i = 2, #ARGV do n = n + redis.call('HDEL', KEYS[1], ARGV[i]) end
return {n, ARGV[1]}
`);

/**
 * `base` (`P{T}:`, from KEYS[1] = `P{T}:f:<familyId>` and ARGV[first] = that familyId), and
 * `liveHead(family, familyId)`: the head record (st, fam, iat, exp, u, pv) when the family has a
 * live head by LOOKUP's rules (a live record of this family, not expired by `now`, and — while never
 * used — its predecessor's tombstone still there), else false.
 */
const LIVE_HEAD = (first: number): string => `local base = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[${first}] - 2)
local function liveHead(family, familyId)
  local head = redis.call('HGET', family, 'head')
  if not head then return false end
  local s = redis.call('HMGET', base .. 's:' .. head, 'st', 'fam', 'iat', 'exp', 'u', 'pv')
  if s[1] ~= 'live' or s[2] ~= familyId or not (tonumber(s[4]) and tonumber(s[4]) > now) then return false end
  if not s[5] and s[6] and redis.call('EXISTS', base .. 's:' .. s[6]) == 0 then return false end
  return s
end`;

/**
 * KEYS: families of one hash tag. ARGV: userId, now ('' for the server's clock), familyId of each
 * key, in order. Returns { now, userId, then per family: state, cat, md, iat, exp } with
 * state `live` (this user's, with a live head: cat, md and the head's iat and exp follow), `dead`
 * (this user's, or a tombstone, without a live head), `absent` (no family key: ended long ago, or a
 * login whose CREATE has not run yet) or `foreign` (another user's, or written before families had
 * a `uid`). Writes nothing.
 */
export const FAMILIES_READ = script(`#!lua flags=no-writes
${NOW(2)}
${LIVE_HEAD(3)}
local reply = {now, ARGV[1]}
for i = 1, #KEYS do
  local f = redis.call('HMGET', KEYS[i], 'uid', 'cat', 'md')
  local state, s = 'dead', false
  if redis.call('EXISTS', KEYS[i]) == 0 then
    state = 'absent'
  elseif f[1] ~= ARGV[1] then
    state = 'foreign'
  else
    s = liveHead(KEYS[i], ARGV[i + 2])
    if s then state = 'live' end
  end
  local at = #reply
  reply[at + 1] = state
  if s then
    reply[at + 2], reply[at + 3], reply[at + 4], reply[at + 5] = f[2], f[3], s[3], s[4]
  else
    reply[at + 2], reply[at + 3], reply[at + 4], reply[at + 5] = false, false, false, false
  end
end
return reply
`);

/**
 * KEYS: families of one hash tag. ARGV: userId, now ('' for the server's clock), tombstone ttl ms,
 * familyId of each key, in order. Revokes each live family of this user, and each family whose key
 * does not exist yet (a login whose CREATE is still on its way): deletes its head session and
 * replaces the family by a tombstone without `head` (`rv`, `uid`), which every script reads as a
 * family gone and which makes a later CREATE of it write nothing. A family that ended already (no
 * live head: expired, a tombstone) is left as it is, so that an expired pair keeps reading as
 * expired; families of another user are left alone.
 * Runs at OOM: for a family that was live it frees more (the head record, the family's fields) than
 * its tombstone takes; for one not created yet it adds a few dozen bytes, bounded by the index.
 * Returns { now, userId, then per family: 1 when it had a live head, else 0 }.
 */
export const FAMILIES_REVOKE = script(`#!lua flags=allow-oom
${NOW(2)}
${LIVE_HEAD(4)}
local reply = {now, ARGV[1]}
for i = 1, #KEYS do
  local was = 0
  local absent = redis.call('EXISTS', KEYS[i]) == 0
  if not absent and redis.call('HGET', KEYS[i], 'uid') == ARGV[1] and liveHead(KEYS[i], ARGV[i + 3]) then was = 1 end
  if absent or was == 1 then
    local head = redis.call('HGET', KEYS[i], 'head')
    if head then redis.call('DEL', base .. 's:' .. head) end
    redis.call('DEL', KEYS[i])
    redis.call('HSET', KEYS[i], 'rv', '1', 'uid', ARGV[1])
    redis.call('PEXPIRE', KEYS[i], ARGV[3])
  end
  reply[i + 2] = was
end
return reply
`);
