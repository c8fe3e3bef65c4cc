-- Finish one outbox entry, only while the flusher still holds the flush lock: remove the entry,
-- forget its send attempt, and record (or refresh) where its message landed.
-- KEYS[1] outbox list   KEYS[2] tries hash   KEYS[3] flush lock   KEYS[4] message record (or the lock again)
-- ARGV[1] lock token    ARGV[2] raw entry    ARGV[3] entry id ('' = unparsable entry)
-- ARGV[4] message record JSON ('' = leave it)   ARGV[5] message TTL ms (0 = none to touch)
-- Returns 1 when done, -1 when the lock is not ours (nothing written).
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return -1
end
redis.call('LREM', KEYS[1], 1, ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HDEL', KEYS[2], ARGV[3])
end
local ttl = tonumber(ARGV[5])
if ARGV[4] ~= '' then
  redis.call('SET', KEYS[4], ARGV[4], 'PX', ttl)
elseif ttl > 0 and KEYS[4] ~= KEYS[3] then
  redis.call('PEXPIRE', KEYS[4], ttl)
end
return 1
