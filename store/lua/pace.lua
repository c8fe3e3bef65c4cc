-- Take the next posting slot of one Slack channel, shared by every replica (Slack allows about one
-- message a second per channel). Time is the server's, so replicas with skewed clocks agree.
-- KEYS[1] the channel's pace key   ARGV[1] interval between posts, ms
-- Returns 0 when the caller may post now (the slot is taken), else the ms until the next free slot.
if redis.replicate_commands then
  redis.replicate_commands() -- Redis < 7: allows the write after TIME
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local free_at = tonumber(redis.call('GET', KEYS[1]) or '0')
if free_at > now then
  return free_at - now
end
redis.call('SET', KEYS[1], now + interval, 'PX', interval)
return 0
