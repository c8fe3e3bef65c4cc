-- A quiet watcher tick's whole write, as one command: the lease held (as `lease.lua`), the keys the
-- tick did not read this time still absent, then the memory record compared-and-set and the tick's
-- history point appended. Nothing is written unless every check passes.
--
-- KEYS[1] lease   KEYS[2] versioned record hash   KEYS[3] list   KEYS[4..] keys that must not exist
-- ARGV[1] owner   ARGV[2] lease ttl ms   ARGV[3] expected version   ARGV[4] data
-- ARGV[5] record ttl ms (0 = no expiry)   ARGV[6] list entry   ARGV[7] entries kept (the newest)
-- ARGV[8] list ttl ms
-- Returns the record's new version; 0 when its version moved, -1 when another owner holds the
-- lease, -2 when one of KEYS[4..] exists.
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then
  return -1
end
for i = 4, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return -2
  end
end

local record = KEYS[2]
local current = tonumber(redis.call('HGET', record, 'v') or '0')
if current ~= tonumber(ARGV[3]) then
  return 0
end

redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
local version = current + 1
redis.call('HSET', record, 'v', version, 'data', ARGV[4])
if tonumber(ARGV[5]) > 0 then
  redis.call('PEXPIRE', record, ARGV[5])
else
  redis.call('PERSIST', record)
end

redis.call('RPUSH', KEYS[3], ARGV[6])
redis.call('LTRIM', KEYS[3], -tonumber(ARGV[7]), -1)
redis.call('PEXPIRE', KEYS[3], ARGV[8])
return version
