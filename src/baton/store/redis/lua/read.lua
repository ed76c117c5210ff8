-- The global feed from position `after`: each event's stored body, in order.
-- KEYS[1]: the prefix. ARGV: after, limit.
local p = KEYS[1]
local from = tonumber(ARGV[1])
local refs = redis.call('LRANGE', p .. 'feed', from, from + tonumber(ARGV[2]) - 1)
local out = {}
for i, ref in ipairs(refs) do
  local log, seq = string.match(ref, '^(.*)\t(%d+)$')
  out[i] = redis.call('LINDEX', p .. 'log:' .. log, tonumber(seq) - 1)
end
return out
