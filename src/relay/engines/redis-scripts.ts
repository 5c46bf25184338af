/**
 * The Redis engine's Lua scripts. Every script gets the same nine keys of one channel, all
 * under the channel's hash tag (Redis Cluster puts them in one slot):
 *
 *   1 meta    hash: off (update offset), ep (channel epoch), hs (has state), lf/ln (first/next
 *             log offset), lb (retained log bytes), pr/ps (log producer and its last seq),
 *             ss (source status since, ms), sc (when the lease holder's source connected, ms)
 *   2 lease   string "<node>:<token>", PX lease: the one writer
 *   3 state   hash: top-level field → JSON
 *   4 schema  string: the last SchemaAnnounce frame
 *   5 pic     string: the current picture frame (Pixels, Keyframe or CompressedPixels)
 *   6 deltas  list: DeltaPixels frames applied since `pic`
 *   7 log     stream: log records, entry id "<offset+1>-0", field d = the encoded record
 *   8 fence   string: the fencing token counter (INCR)
 *   9 rc      hash: node id → "<receivers>:<expires at ms>", refreshed by each node's heartbeat
 *
 * Only Redis 7.0 commands (SPUBLISH included), so Valkey runs them too.
 */

/**
 * One update, applied atomically by the channel's writer: refuses a stale lease (-1), an offset
 * that is not the channel's current one (-2, the writer missed something) or another channel
 * epoch (-3, the data was lost and recreated); then bumps the offset, runs the ops the writer
 * computed from its replica and publishes the update (whose header carries the new offset).
 *
 * ARGV: lease value, previous offset, channel epoch, pub/sub channel, message, then ops:
 *   hs F J · hd F · m F V · sc FRAME · pi FRAME · pd · dl FRAME · lr FIRST · xa OFFSET FRAME MAXRECORDS MAXBYTES
 */
export const WRITE_SCRIPT = `
local function chunked(cmd, key, t, step)
  for j = 1, #t, step do redis.call(cmd, key, unpack(t, j, math.min(j + step - 1, #t))) end
end
local lease = redis.call('GET', KEYS[2])
if lease ~= ARGV[1] then return {-1, lease or ''} end
local cur = redis.call('HMGET', KEYS[1], 'off', 'ep', 'lb', 'lf')
local off = tonumber(cur[1] or '0')
if off ~= tonumber(ARGV[2]) then return {-2, tostring(off)} end
if cur[2] then
  if cur[2] ~= ARGV[3] then return {-3, cur[2]} end
elseif off ~= 0 then
  return {-3, ''}
end
local meta = {'off', off + 1, 'ep', ARGV[3]}
local sets = {}
local dels = {}
local i = 6
while i <= #ARGV do
  local op = ARGV[i]
  if op == 'hs' then sets[#sets + 1] = ARGV[i+1]; sets[#sets + 1] = ARGV[i+2]; i = i + 3
  elseif op == 'hd' then dels[#dels + 1] = ARGV[i+1]; i = i + 2
  elseif op == 'm' then meta[#meta + 1] = ARGV[i+1]; meta[#meta + 1] = ARGV[i+2]; i = i + 3
  elseif op == 'sc' then redis.call('SET', KEYS[4], ARGV[i+1]); i = i + 2
  elseif op == 'pi' then redis.call('SET', KEYS[5], ARGV[i+1]); redis.call('DEL', KEYS[6]); i = i + 2
  elseif op == 'pd' then redis.call('DEL', KEYS[5], KEYS[6]); i = i + 1
  elseif op == 'dl' then redis.call('RPUSH', KEYS[6], ARGV[i+1]); i = i + 2
  elseif op == 'lr' then redis.call('DEL', KEYS[7]); cur[3] = '0'; cur[4] = ARGV[i+1]; i = i + 2
  elseif op == 'xa' then
    local o = tonumber(ARGV[i+1])
    local data = ARGV[i+2]
    local maxr = tonumber(ARGV[i+3])
    local maxb = tonumber(ARGV[i+4])
    redis.call('XADD', KEYS[7], tostring(o + 1) .. '-0', 'd', data)
    local lb = tonumber(cur[3] or '0') + #data
    local lf = tonumber(cur[4] or tostring(o))
    local n = redis.call('XLEN', KEYS[7])
    while n > 1 and (n > maxr or lb > maxb) do
      local e = redis.call('XRANGE', KEYS[7], '-', '+', 'COUNT', 1)[1]
      lb = lb - #e[2][2]
      redis.call('XDEL', KEYS[7], e[1])
      lf = tonumber(string.match(e[1], '^(%d+)'))
      n = n - 1
    end
    cur[3] = tostring(lb)
    cur[4] = tostring(lf)
    meta[#meta + 1] = 'ln'; meta[#meta + 1] = o + 1
    i = i + 5
  else
    return redis.error_reply('sluice: unknown op ' .. tostring(op))
  end
end
if cur[3] then meta[#meta + 1] = 'lb'; meta[#meta + 1] = cur[3] end
if cur[4] then meta[#meta + 1] = 'lf'; meta[#meta + 1] = cur[4] end
redis.call('HSET', KEYS[1], unpack(meta))
-- (unpack has a stack limit: thousands of fields go in chunks)
chunked('HSET', KEYS[3], sets, 2000)
chunked('HDEL', KEYS[3], dels, 1000)
redis.call('SPUBLISH', ARGV[4], ARGV[5])
return {1, ''}
`;

/**
 * Everything a node needs to (re)build its replica, read atomically: meta, state, schema,
 * picture and deltas, the lease, and log records from ARGV[1] (the node's next log offset) when
 * its history continues Redis's (same producer ARGV[2], offset within [lf, ln]), else all of
 * them (last element 1: rebuild the history).
 */
export const SNAPSHOT_SCRIPT = `
local meta = redis.call('HGETALL', KEYS[1])
local m = {}
for i = 1, #meta, 2 do m[meta[i]] = meta[i+1] end
local lf = tonumber(m['lf'] or '0')
local ln = tonumber(m['ln'] or '0')
local from = tonumber(ARGV[1])
local full = 0
if (m['pr'] or '') ~= ARGV[2] or from < lf or from > ln then from = lf; full = 1 end
local log = {}
if ln > from then
  local entries = redis.call('XRANGE', KEYS[7], tostring(from + 1) .. '-0', '+')
  for _, e in ipairs(entries) do
    log[#log + 1] = e[1]
    log[#log + 1] = e[2][2]
  end
end
return {meta, redis.call('HGETALL', KEYS[3]), redis.call('GET', KEYS[4]) or '', redis.call('GET', KEYS[5]) or '',
  redis.call('LRANGE', KEYS[6], 0, -1), redis.call('GET', KEYS[2]) or '', log, full}
`;

/**
 * Takes the lease: refused ({0, holder}) while another holds it unless ARGV[3] is '1'
 * (takeover), and even then when the holder's source connected later than this one (ARGV[7]):
 * of two sources taking over at once, the newer wins whichever script runs last. A new fencing
 * token every time; publishes the source going online.
 * ARGV: node id, lease ms, force, now, pub/sub channel, status message, source connected at.
 */
export const ACQUIRE_SCRIPT = `
local cur = redis.call('GET', KEYS[2])
-- A lease this node holds is stale by definition: the node admits one source per channel, so a
-- newer one here replaces it (a source that left before its Welcome and came straight back).
if cur and string.sub(cur, 1, #ARGV[1] + 1) ~= ARGV[1] .. ':' then
  if ARGV[3] ~= '1' then return {0, cur} end
  if tonumber(redis.call('HGET', KEYS[1], 'sc') or '0') > tonumber(ARGV[7]) then return {0, cur} end
end
local t = redis.call('INCR', KEYS[8])
local v = ARGV[1] .. ':' .. t
redis.call('SET', KEYS[2], v, 'PX', ARGV[2])
redis.call('HSET', KEYS[1], 'ss', ARGV[4], 'sc', ARGV[7])
redis.call('SPUBLISH', ARGV[5], ARGV[6])
return {1, v}
`;

/**
 * Lua shared by the heartbeat scripts: records this node's receiver count (with an expiry) in the
 * channel's counts hash, drops expired entries and returns the cluster's sum.
 */
const RECEIVERS_LUA = `local function receivers(key, node, count, now, ttl)
  redis.call('HSET', key, node, count .. ':' .. (now + ttl))
  redis.call('PEXPIRE', key, ttl)
  local all = redis.call('HGETALL', key)
  local sum = 0
  for i = 1, #all, 2 do
    local c, exp = string.match(all[i + 1], '^(%d+):(%d+)$')
    if c == nil or tonumber(exp) < now then redis.call('HDEL', key, all[i]) else sum = sum + tonumber(c) end
  end
  return sum
end
`;

/**
 * Lua shared by the lifetime-keeping scripts. A channel's data outlives its source as long as the
 * in-memory engine keeps a channel: `keep` ms after the source left (the grace period; for a
 * channel with log records, the log retention time when longer), and as long as anyone is
 * connected. `expire(ms, extendOnly)` sets every data key's lifetime (the lease key and the
 * receiver counts have their own).
 */
const LIFETIME_LUA = `local function keep(meta, keepState, keepLog)
  if tonumber(redis.call('HGET', meta, 'ln') or '0') > 0 then return tonumber(keepLog) end
  return tonumber(keepState)
end
local function expire(ms, extendOnly)
  for i = 1, 8 do
    if i ~= 2 then
      local cur = extendOnly and redis.call('PTTL', KEYS[i]) or -1
      if cur ~= -2 and (not extendOnly or cur == -1 or cur < ms) then redis.call('PEXPIRE', KEYS[i], ms) end
    end
  end
end
`;

/**
 * Heartbeat of the writer: extends the lease when it is still this one's, and the lifetime of
 * the channel's data (`keep` after now, plus a lease: the source may die without a release);
 * records this node's receiver count and returns the cluster's ({ok, sum}).
 * ARGV: lease value, lease ms, keep ms, keep ms of a log channel, node id, receivers here, now.
 */
export const RENEW_SCRIPT = `
${RECEIVERS_LUA}${LIFETIME_LUA}if redis.call('GET', KEYS[2]) ~= ARGV[1] then return {0, 0} end
redis.call('PEXPIRE', KEYS[2], ARGV[2])
expire(keep(KEYS[1], ARGV[3], ARGV[4]) + tonumber(ARGV[2]), false)
return {1, receivers(KEYS[9], ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[2]))}
`;

/**
 * The source left: drops the lease if it is still this one's, publishes the source going offline
 * and gives the data `keep` ms more (as the in-memory engine collects a channel).
 * ARGV: lease value, now, pub/sub channel, status message, keep ms, keep ms of a log channel.
 */
export const RELEASE_SCRIPT = `
${LIFETIME_LUA}if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'ss', ARGV[2])
expire(keep(KEYS[1], ARGV[5], ARGV[6]), false)
redis.call('SPUBLISH', ARGV[3], ARGV[4])
return 1
`;

/**
 * Heartbeat of a node without the lease: who holds it, since when, the offset and channel epoch.
 * A node with receivers of the channel keeps its data alive — at least a lease more (the next
 * heartbeat comes sooner), and `keep` after the source left while that has not passed — as the
 * in-memory engine keeps a channel while anyone is connected; it never shortens a lifetime. It
 * records its receiver count (ARGV: keep ms, keep ms of a log channel, node id, receivers here,
 * now, lease ms); the last element is the cluster's count. Without ARGV: a plain look.
 */
export const PEEK_SCRIPT = `
${RECEIVERS_LUA}${LIFETIME_LUA}local sum = 0
local lease = redis.call('GET', KEYS[2])
if ARGV[1] then
  local now = tonumber(ARGV[5])
  local ttl = tonumber(ARGV[6])
  if tonumber(ARGV[4]) > 0 then
    local k = keep(KEYS[1], ARGV[1], ARGV[2])
    if lease then ttl = ttl + k
    else ttl = ttl + math.max(0, tonumber(redis.call('HGET', KEYS[1], 'ss') or '0') + k - now) end
    expire(ttl, true)
  end
  sum = receivers(KEYS[9], ARGV[3], ARGV[4], now, tonumber(ARGV[6]))
end
return {lease or '', redis.call('HGET', KEYS[1], 'ss') or '0', redis.call('HGET', KEYS[1], 'off') or '0', redis.call('HGET', KEYS[1], 'ep') or '', sum}
`;

export const SCRIPTS = {
  write: WRITE_SCRIPT,
  snapshot: SNAPSHOT_SCRIPT,
  acquire: ACQUIRE_SCRIPT,
  renew: RENEW_SCRIPT,
  release: RELEASE_SCRIPT,
  peek: PEEK_SCRIPT,
} as const;

export type ScriptName = keyof typeof SCRIPTS;
