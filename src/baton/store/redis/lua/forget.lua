-- Drop a log's events up to seq `through` (an archive file holds them): each becomes an
-- empty entry, so the list's length is still the log's version and every later event
-- keeps its index; `read` and `load` skip empty entries. Only while the log holds the
-- event after `through` (the marker that records the archive).
-- KEYS[1]: the prefix. ARGV: log, through. Returns how many were dropped now.
local key = KEYS[1] .. 'log:' .. ARGV[1]
local through = tonumber(ARGV[2])
if redis.call('LLEN', key) <= through then
  return 0
end
local dropped = 0
for i = 0, through - 1 do
  if redis.call('LINDEX', key, i) ~= '' then
    redis.call('LSET', key, i, '')
    dropped = dropped + 1
  end
end
return dropped
