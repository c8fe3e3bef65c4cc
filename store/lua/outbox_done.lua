-- Finish outbox entries, only while the flusher still holds the flush lock: remove each entry,
-- forget its send attempt and failures, and record (or refresh) where its message landed.
-- Several entries are finished together when one Slack message delivered them all (merged replies).
-- KEYS[1] outbox list   KEYS[2] tries hash   KEYS[3] flush lock   KEYS[4] message record (or the lock again)
-- KEYS[5] failures hash
-- ARGV[1] lock token   ARGV[2] message record JSON ('' = leave it)   ARGV[3] message TTL ms (0 = none to touch)
-- ARGV[4], ARGV[5], ... pairs: raw entry, entry id ('' = unparsable entry)
-- Returns 1 when done, -1 when the lock is not ours (nothing written).
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return -1
end
for i = 4, #ARGV, 2 do
  redis.call('LREM', KEYS[1], 1, ARGV[i])
  if ARGV[i + 1] ~= '' then
    redis.call('HDEL', KEYS[2], ARGV[i + 1])
    redis.call('HDEL', KEYS[5], ARGV[i + 1])
  end
end
local ttl = tonumber(ARGV[3])
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[4], ARGV[2], 'PX', ttl)
elseif ttl > 0 and KEYS[4] ~= KEYS[3] then
  redis.call('PEXPIRE', KEYS[4], ttl)
end
return 1
