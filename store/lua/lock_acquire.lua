-- Take a lock if free and bump its fencing epoch in the same step.
-- KEYS[1] lock key   KEYS[2] epoch counter
-- ARGV[1] token      ARGV[2] ttl ms
-- Returns the new epoch, or 0 when someone else holds the lock.
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
