-- Acquire a lease if absent, or extend it if we already own it; otherwise leave it alone.
-- KEYS[1] lease key   ARGV[1] owner   ARGV[2] ttl ms
-- Returns 1 when we hold the lease afterwards, 0 when another owner does.
local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
