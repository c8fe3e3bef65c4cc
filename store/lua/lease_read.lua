-- `lease.lua`, then a watcher tick's whole read, as one command: cheaper for the client to send and
-- parse than the same five commands pipelined (the reads run whether or not the lease is ours).
-- KEYS[1] lease key   KEYS[2] versioned record hash   KEYS[3] plain value   KEYS[4] sorted set
-- KEYS[5] list
-- ARGV[1] owner   ARGV[2] ttl ms
-- Returns {1 if we hold the lease else 0, {record v, record data}, value, set members, list length}.
local leased = 0
local owner = redis.call('GET', KEYS[1])
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  leased = 1
elseif owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  leased = 1
end
return {
  leased,
  redis.call('HMGET', KEYS[2], 'v', 'data'),
  redis.call('GET', KEYS[3]),
  redis.call('ZRANGE', KEYS[4], 0, -1),
  redis.call('LLEN', KEYS[5]),
}
