-- Drop a log's events up to seq `through` (an archive file holds them): each becomes an
-- empty entry, so the list's length is still the log's version and every later event
-- keeps its index; `read` and `load` skip empty entries. Only while the log holds the
-- event after `through` (the marker that records the archive). O(length of the log):
-- the kept tail stays, the head is trimmed off and as many empty entries pushed back.
-- KEYS[1]: the prefix. ARGV: log, through. Returns how many were dropped now.
local key = KEYS[1] .. 'log:' .. ARGV[1]
local through = tonumber(ARGV[2])
if redis.call('LLEN', key) <= through then
  return 0
end
local dropped = 0
for _, body in ipairs(redis.call('LRANGE', key, 0, through - 1)) do
  if body ~= '' then
    dropped = dropped + 1
  end
end
if dropped == 0 then
  return 0
end
redis.call('LTRIM', key, through, -1)
local left = through
while left > 0 do
  local blanks = {}
  for i = 1, math.min(left, 1000) do
    blanks[i] = ''
  end
  redis.call('LPUSH', key, unpack(blanks))
  left = left - #blanks
end
return dropped
