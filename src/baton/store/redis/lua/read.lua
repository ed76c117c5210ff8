-- The global feed from position `after`: each event's stored body, in order, `limit` of
-- them unless fewer are left; an event an archive dropped (an empty entry) is skipped.
-- KEYS[1]: the prefix. ARGV: after, limit.
local p = KEYS[1]
local from = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local out = {}
while #out < limit do
  local refs = redis.call('LRANGE', p .. 'feed', from, from + limit - #out - 1)
  if #refs == 0 then
    break
  end
  for _, ref in ipairs(refs) do
    local log, seq = string.match(ref, '^(.*)\t(%d+)$')
    local body = redis.call('LINDEX', p .. 'log:' .. log, tonumber(seq) - 1)
    if body and body ~= '' then
      out[#out + 1] = body
    end
  end
  from = from + #refs
end
return out
