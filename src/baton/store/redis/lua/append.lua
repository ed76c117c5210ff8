-- Append events to one log if it is at the expected version (and, given a fence, if the
-- item's latest claim is the one with that fence), atomically with the item's index
-- entries. KEYS[1]: the prefix. ARGV: log, expected version, has summary (0/1), status,
-- queue, runnable (0/1), claim score, created_at, summary JSON, fence ('' for none), n,
-- event JSON x n, the counters' version, m, (counter name, amount) x m: what the events
-- add to the read model (core/tally.py; `.min` / `.max` names keep the least / greatest
-- value, the others sum; the first append of a store marks it covered). Returns {first position, version found}; first = -1 means the version
-- did not match, -2 that the fence did not (the second value is then the item's fence).
local p = KEYS[1]
local log = ARGV[1]
local expected = tonumber(ARGV[2])
if ARGV[10] ~= '' then
  local fence = tonumber(redis.call('HGET', p .. 'fences', log) or '0')
  if fence ~= tonumber(ARGV[10]) then
    return {-2, fence}
  end
end
local logkey = p .. 'log:' .. log
local actual = redis.call('LLEN', logkey)
if actual ~= expected then
  return {-1, actual}
end
local n = tonumber(ARGV[11])
local last = redis.call('INCRBY', p .. 'position', n)
local first = last - n + 1
local bodies = {}
local refs = {}
for i = 1, n do
  bodies[i] = tostring(first + i - 1) .. '\t' .. ARGV[11 + i]
  refs[i] = log .. '\t' .. tostring(expected + i)
end
redis.call('RPUSH', logkey, unpack(bodies))
redis.call('RPUSH', p .. 'feed', unpack(refs))
if ARGV[3] == '1' then
  local status, queue, runnable = ARGV[4], ARGV[5], ARGV[6] == '1'
  local old = redis.call('HGET', p .. 'where', log)
  if old then
    local was_status, was_queue = string.match(old, '^([^\t]*)\t([^\t]*)\t')
    redis.call('SREM', p .. 'status:' .. was_status, log)
    if was_queue ~= queue then
      redis.call('ZREM', p .. 'ready:' .. was_queue, log)
    end
  else
    redis.call('ZADD', p .. 'created', ARGV[8], log)
  end
  redis.call('HSET', p .. 'where', log, status .. '\t' .. queue .. '\t' .. ARGV[6] .. '\t' .. ARGV[7])
  redis.call('HSET', p .. 'items', log, ARGV[9])
  redis.call('SADD', p .. 'status:' .. status, log)
  redis.call('SADD', p .. 'statuses', status)
  redis.call('SADD', p .. 'queues', queue)
  if runnable then
    -- a leased item is claimable again only when its holder releases it or the lease expires
    if redis.call('HEXISTS', p .. 'leases', log) == 0 then
      redis.call('ZADD', p .. 'ready:' .. queue, ARGV[7], log)
      redis.call('PUBLISH', p .. 'work', queue)
    end
  else
    redis.call('ZREM', p .. 'ready:' .. queue, log)
    redis.call('HDEL', p .. 'leases', log)
    redis.call('ZREM', p .. 'expiry', log)
  end
end
local at = 12 + n
if first == 1 then
  redis.call('HSETNX', p .. 'tally:meta|', 'version.max', ARGV[at])
  redis.call('SADD', p .. 'tally-scopes', 'meta|')
end
for i = 1, tonumber(ARGV[at + 1] or '0') do
  local name, amount = ARGV[at + 2 * i], ARGV[at + 2 * i + 1]
  local scope, field = string.match(name, '^([^|]*|)(.*)$')
  local key = p .. 'tally:' .. scope
  local keeps = string.sub(field, -4)
  if keeps == '.min' or keeps == '.max' then
    local held = redis.call('HGET', key, field)
    if not held or (keeps == '.min' and tonumber(amount) < tonumber(held))
        or (keeps == '.max' and tonumber(amount) > tonumber(held)) then
      redis.call('HSET', key, field, amount)
    end
  else
    redis.call('HINCRBY', key, field, amount)
  end
  redis.call('SADD', p .. 'tally-scopes', scope)
end
redis.call('PUBLISH', p .. 'feed', tostring(last))
return {first, actual}
