-- Extend the leases `owner` still holds. KEYS[1]: the prefix. ARGV: owner, seconds, id...
-- Returns the ids still held.
local p = KEYS[1]
local owner = ARGV[1]
local t = redis.call('TIME')
local until_ = tonumber(t[1]) + tonumber(t[2]) / 1000000 + tonumber(ARGV[2])
local lease = owner .. '\t' .. string.format('%.6f', until_)
local held = {}
for i = 3, #ARGV do
  local current = redis.call('HGET', p .. 'leases', ARGV[i])
  if current and string.match(current, '^(.*)\t') == owner then
    redis.call('HSET', p .. 'leases', ARGV[i], lease)
    redis.call('ZADD', p .. 'expiry', until_, ARGV[i])
    held[#held + 1] = ARGV[i]
  end
end
return held
