-- Compare-and-set a versioned record {v, data}, and in the same atomic step optionally update
-- an index sorted set, check a lock guard, and append an audit stream entry.
-- Expected version 0 means "only if absent" (create).
--
-- KEYS[1]            record hash
-- KEYS[n] (optional) index sorted set   (present when ARGV[4] ~= '')
-- KEYS[n] (optional) guard lock key     (present when ARGV[7] ~= '')
-- KEYS[n] (optional) audit stream       (present when ARGV[8] ~= '')
-- ARGV[1] expected version   ARGV[2] data   ARGV[3] ttl ms (0 = no expiry)
-- ARGV[4] index op: '' | 'add' | 'remove'   ARGV[5] index member   ARGV[6] index score
-- ARGV[7] guard token ('' = none)   ARGV[8] audit MAXLEN ('' = no audit)
-- ARGV[9..] audit field/value pairs
-- Returns the new version, 0 when the version moved, -1 when the guard lock is not ours.
local record = KEYS[1]
local expected = tonumber(ARGV[1])
local ttl = tonumber(ARGV[3])
local index_op = ARGV[4]
local guard_token = ARGV[7]
local maxlen = ARGV[8]

local k = 2
local index_key, guard_key, audit_key
if index_op ~= '' then index_key = KEYS[k]; k = k + 1 end
if guard_token ~= '' then guard_key = KEYS[k]; k = k + 1 end
if maxlen ~= '' then audit_key = KEYS[k]; k = k + 1 end

if guard_key and redis.call('GET', guard_key) ~= guard_token then
  return -1
end

local current = tonumber(redis.call('HGET', record, 'v') or '0')
if current ~= expected then
  return 0
end

local version = current + 1
redis.call('HSET', record, 'v', version, 'data', ARGV[2])
if ttl > 0 then
  redis.call('PEXPIRE', record, ttl)
else
  redis.call('PERSIST', record)
end

if index_op == 'add' then
  redis.call('ZADD', index_key, ARGV[6], ARGV[5])
elseif index_op == 'remove' then
  redis.call('ZREM', index_key, ARGV[5])
end

if audit_key then
  local entry = {}
  for i = 9, #ARGV do entry[#entry + 1] = ARGV[i] end
  redis.call('XADD', audit_key, 'MAXLEN', '~', maxlen, '*', unpack(entry))
end

return version
