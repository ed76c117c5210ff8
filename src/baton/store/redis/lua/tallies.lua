-- Put the read model's counters (core/tally.py) in place of every counter, if the store's
-- last position is still the one they were computed up to. KEYS[1]: the prefix. ARGV:
-- that position, then (counter name, value) pairs. Returns 1, or 0 (nothing written).
local p = KEYS[1]
if tonumber(redis.call('GET', p .. 'position') or '0') ~= tonumber(ARGV[1]) then
  return 0
end
for _, scope in ipairs(redis.call('SMEMBERS', p .. 'tally-scopes')) do
  redis.call('DEL', p .. 'tally:' .. scope)
end
redis.call('DEL', p .. 'tally-scopes')
for i = 2, #ARGV, 2 do
  local scope, field = string.match(ARGV[i], '^([^|]*|)(.*)$')
  redis.call('HSET', p .. 'tally:' .. scope, field, ARGV[i + 1])
  redis.call('SADD', p .. 'tally-scopes', scope)
end
return 1
