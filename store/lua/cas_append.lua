-- Compare-and-set a versioned record {v, data} and, only when it was written, append an entry to a
-- capped list: a watcher tick's memory (its fence) and its history point in one round trip.
--
-- KEYS[1] record hash   KEYS[2] list
-- ARGV[1] expected version   ARGV[2] data   ARGV[3] record ttl ms (0 = no expiry)
-- ARGV[4] list entry   ARGV[5] entries kept (the newest)   ARGV[6] list ttl ms
-- Returns the new version, or 0 when the version moved (then nothing is written).
local record = KEYS[1]
local ttl = tonumber(ARGV[3])

local current = tonumber(redis.call('HGET', record, 'v') or '0')
if current ~= tonumber(ARGV[1]) then
  return 0
end

local version = current + 1
redis.call('HSET', record, 'v', version, 'data', ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', record, ttl)
else
  redis.call('PERSIST', record)
end

redis.call('RPUSH', KEYS[2], ARGV[4])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[5]), -1)
redis.call('PEXPIRE', KEYS[2], ARGV[6])
return version
