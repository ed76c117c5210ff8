-- Give back leases held by `owner`; a runnable item becomes claimable at once.
-- KEYS[1]: the prefix. ARGV: owner, id...
local p = KEYS[1]
local freed = false
for i = 2, #ARGV do
  local id = ARGV[i]
  local current = redis.call('HGET', p .. 'leases', id)
  if current and string.match(current, '^(.*)\t') == ARGV[1] then
    redis.call('HDEL', p .. 'leases', id)
    redis.call('ZREM', p .. 'expiry', id)
    local where = redis.call('HGET', p .. 'where', id)
    if where then
      local queue, runnable, score = string.match(where, '^[^\t]*\t([^\t]*)\t([^\t]*)\t(.*)$')
      if runnable == '1' then
        redis.call('ZADD', p .. 'ready:' .. queue, score, id)
        freed = true
      end
    end
  end
end
if freed then
  redis.call('PUBLISH', p .. 'work', '')
end
return 0
