-- Lease up to `limit` claimable items to `owner`, lowest claim score first (started
-- items, then never-started ones, each oldest update first), on the server's
-- clock (so workers on several machines agree). Expired leases are reclaimed first.
-- Each claim raises the item's fence (`fences`), which the holder's appends carry.
-- KEYS[1]: the prefix. ARGV: owner, limit, lease seconds, with logs ('1': each claimed
-- item's log too, as it is at the claim), queue... (none: every queue).
-- Returns {id, fence, id, fence, ...}, or with logs {id, fence, {entry...}, ...}.
local p = KEYS[1]
local owner = ARGV[1]
local limit = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local expired = redis.call('ZRANGEBYSCORE', p .. 'expiry', '-inf', now, 'LIMIT', 0, 1000)
for _, id in ipairs(expired) do
  redis.call('HDEL', p .. 'leases', id)
  redis.call('ZREM', p .. 'expiry', id)
  local where = redis.call('HGET', p .. 'where', id)
  if where then
    local queue, runnable, score = string.match(where, '^[^\t]*\t([^\t]*)\t([^\t]*)\t(.*)$')
    if runnable == '1' then
      redis.call('ZADD', p .. 'ready:' .. queue, score, id)
    end
  end
end
local queues = {}
local logs = ARGV[4] == '1'
if #ARGV > 4 then
  for i = 5, #ARGV do queues[#queues + 1] = ARGV[i] end
else
  queues = redis.call('SMEMBERS', p .. 'queues')
end
local candidates = {}
for _, q in ipairs(queues) do
  local batch = redis.call('ZRANGE', p .. 'ready:' .. q, 0, limit - 1, 'WITHSCORES')
  for i = 1, #batch, 2 do
    candidates[#candidates + 1] = {batch[i], tonumber(batch[i + 1]), q}
  end
end
if #queues > 1 then
  table.sort(candidates, function(a, b) return a[2] < b[2] end)
end
local until_ = now + tonumber(ARGV[3])
local lease = owner .. '\t' .. string.format('%.6f', until_)
local got = {}
for i = 1, math.min(limit, #candidates) do
  local id = candidates[i][1]
  redis.call('ZREM', p .. 'ready:' .. candidates[i][3], id)
  redis.call('HSET', p .. 'leases', id, lease)
  redis.call('ZADD', p .. 'expiry', until_, id)
  got[#got + 1] = id
  got[#got + 1] = redis.call('HINCRBY', p .. 'fences', id, 1)
  if logs then
    got[#got + 1] = redis.call('LRANGE', p .. 'log:' .. id, 0, -1)
  end
end
return got
