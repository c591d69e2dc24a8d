package fleetredis

import "github.com/redis/go-redis/v9"

// A key's state is one hash, <prefix>:k:<provider key> (KEYS[1]), one sorted set,
// <prefix>:p:<provider key> (KEYS[2]), one list, <prefix>:h:<provider key> (KEYS[3]), one
// sorted set of members, <prefix>:m:<provider key> (KEYS[4]), and one more sorted set,
// <prefix>:d:<provider key> (KEYS[5]), all expiring after Idle without use. The hash:
//
//	seq, tot         calls and estimated tokens admitted so far
//	rep              reports applied so far (a reservation given back after a newer report is
//	                 not refunded)
//	blocked          no call before this (ms on Redis's clock): a 429 without rate-limit headers
//	n429             responses 429 to the fleet's calls so far (they took nothing from the bucket)
//	nref             reservations given back so far (calls not sent, or sent and never answered)
//	r_*, t_*         the requests and tokens buckets: cap (the limit), rate (refill per ms),
//	                 tok (level at ts), ts (ms), rseq (the admission whose report set the bucket)
//	r_proved         the highest requests refill rate the reports proved under this limit (per
//	                 ms; rate is it, or the first second's seed)
//
// The sorted set holds the reservations not yet reported ("seq:tokens", scored by their turn in
// ms), while a bucket is known: a report cannot count a call that went out after the reported
// one, and a call admitted earlier may have a later turn (it queued while a report found more
// room than expected) or be sent a little late. So a report's level also leaves out the
// reservations admitted before the reported call whose turn is no earlier than its turn minus
// 100 ms (a call given an earlier turn may still reach the provider after it). Reservations
// older than a minute are dropped (their callers never reported).
//
// The second sorted set, <prefix>:d:<provider key> (KEYS[5]), holds the reservations reported in
// the last 5 s, scored by their turn: a report that leaves out the calls admitted before it whose
// turn came too late must leave them out too when their answers came back first.
//
// The list is the requests bucket's recent reports, newest first, at least 250 ms apart, 40 of
// them ("seq:remaining:turn:late:n429:nref"): a new report is paired with those 1, 2, 4, ... 32 back
// to prove the refill rate (see observeScript).
//
// The members are the limiters (one per process) that reserved a call on the key in the last
// memberFor, scored by their last reservation: when Redis fails, each paces at its share of the
// fleet's rate.
//
// Time is Redis's own (TIME, in ms), so the fleet's clocks need not agree; reports cross the
// network as durations (the reset's distance from the response). Every script's ARGV[1] may
// give the time instead (ms; 0: TIME), for tests that run the scripts on a clock of their own.

const limiterNowLua = `
local now = tonumber(ARGV[1])
if now <= 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

// bucketLua is a bucket's level at now (tok, a string or nil, at ts: refilled since at rate per
// ms, never above cap) and the wait until a level holds a call's cost plus the reserve (a share
// of cap; 1 s when no rate is known).
const bucketLua = `
local function levelAt(cap, rate, tok, ts)
  return math.min(cap, (tonumber(tok) or cap) + rate * math.max(0, now - (tonumber(ts) or now)))
end
local function waitFor(cap, rate, lv, cost, reserve)
  local need = math.min(cost + reserve * cap, cap)
  if lv >= need then return 0 end
  if rate > 0 then return math.ceil((need - lv) / rate) end
  return 1000
end
`

// reserveScript reserves a call's cost in each known bucket (levels may go negative: later
// callers queue behind) and returns {admitted, wait ms, seq, tot, now ms, rep, gate, members,
// requests limit, requests rate (per 1000 s)}; it reserves nothing when the wait would pass
// ARGV[3] (ms; -1: no bound). gate is 1 when the wait is a 429's block rather than a turn in a
// bucket (turns in a bucket are distinct; a block ends for every caller at once). ARGV: now,
// tokens, max wait, reserve, Idle (ms), the limiter's member id, memberFor (ms).
var reserveScript = redis.NewScript(limiterNowLua + bucketLua + `
local k = KEYS[1]
local cost = {1, tonumber(ARGV[2])}
local maxwait = tonumber(ARGV[3])
local reserve = tonumber(ARGV[4])
local idle = tonumber(ARGV[5])
redis.call('ZADD', KEYS[4], now, ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[7]))
redis.call('PEXPIRE', KEYS[4], idle)
local members = redis.call('ZCARD', KEYS[4])
local f = redis.call('HMGET', k, 'blocked', 'seq', 'tot', 'rep',
  'r_cap', 'r_rate', 'r_tok', 'r_ts', 't_cap', 't_rate', 't_tok', 't_ts')
local block = math.max(0, (tonumber(f[1]) or 0) - now)
local wait = block
local seq, tot, rep = tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4]) or 0
local rcap, rrate = tonumber(f[5]) or 0, tonumber(f[6]) or 0
local level = {}
for i = 0, 1 do
  local cap = tonumber(f[5 + 4 * i])
  if cap and cost[i + 1] > 0 then
    local rate = tonumber(f[6 + 4 * i]) or 0
    local lv = levelAt(cap, rate, f[7 + 4 * i], f[8 + 4 * i])
    wait = math.max(wait, waitFor(cap, rate, lv, cost[i + 1], reserve))
    level[i + 1] = lv
  end
end
if maxwait >= 0 and wait > maxwait then
  return {0, wait, seq, tot, now, rep, 0, members, rcap, math.floor(rrate * 1000000)}
end
local names = {'r_', 't_'}
for i = 1, 2 do
  if level[i] then
    redis.call('HSET', k, names[i] .. 'tok', tostring(level[i] - cost[i]), names[i] .. 'ts', now)
  end
end
seq = seq + 1
tot = tot + cost[2]
redis.call('HSET', k, 'seq', seq, 'tot', tot)
redis.call('PEXPIRE', k, idle)
if level[1] or level[2] then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - 60000)
  redis.call('ZADD', KEYS[2], now + wait, seq .. ':' .. cost[2])
  redis.call('PEXPIRE', KEYS[2], idle)
end
local gate = 0
if block > 0 and block >= wait then gate = 1 end
return {1, wait, seq, tot, now, rep, gate, members, rcap, math.floor(rrate * 1000000)}
`)

// turnScript is the turn of a reservation that waits, from the buckets as they stand now: a
// report, or a proof of a faster refill, since the reservation moves every waiting turn (earlier
// when the bucket had more room or refills faster than thought, later when it had less). The
// reservation's place in the queue is fixed (the calls and tokens admitted after it, which the
// bucket's level has taken off already); its turn is when the bucket, less those, holds its cost
// plus the reserve. ARGV: now, seq, tot (up to and including the call), tokens, reserve, member.
// Returns {wait ms, gate, now}; the member's score becomes the new turn.
var turnScript = redis.NewScript(limiterNowLua + bucketLua + `
local k = KEYS[1]
local pseq, ptot = tonumber(ARGV[2]), tonumber(ARGV[3])
local cost = {1, tonumber(ARGV[4])}
local reserve = tonumber(ARGV[5])
local f = redis.call('HMGET', k, 'blocked', 'seq', 'tot',
  'r_cap', 'r_rate', 'r_tok', 'r_ts', 't_cap', 't_rate', 't_tok', 't_ts')
local block = math.max(0, (tonumber(f[1]) or 0) - now)
local wait = block
local seq, tot = tonumber(f[2]) or 0, tonumber(f[3]) or 0
if pseq > seq then return {0, 0, now} end -- the state was lost: nothing to wait for
local behind = {seq - pseq, math.max(0, tot - ptot)}
for i = 0, 1 do
  local cap = tonumber(f[4 + 4 * i])
  if cap and cost[i + 1] > 0 then
    local rate = tonumber(f[5 + 4 * i]) or 0
    local pre = levelAt(cap, rate, f[6 + 4 * i], f[7 + 4 * i]) + behind[i + 1] + cost[i + 1]
    wait = math.max(wait, waitFor(cap, rate, pre, cost[i + 1], reserve))
  end
end
redis.call('ZADD', KEYS[2], 'XX', now + wait, ARGV[6])
local gate = 0
if block > 0 and block >= wait then gate = 1 end
return {wait, gate, now}
`)

// refundScript gives back a reservation (ARGV[3] tokens and one request, ARGV[4] its member
// in the sorted set) unless a report replaced the buckets after it was made (ARGV[2], the rep
// it saw). ARGV[1] is unused (the scripts' common time slot).
var refundScript = redis.NewScript(`
local k = KEYS[1]
if redis.call('ZREM', KEYS[2], ARGV[4]) == 1 then
  redis.call('HINCRBY', k, 'nref', 1)
end
local f = redis.call('HMGET', k, 'rep', 'r_cap', 'r_tok', 't_cap', 't_tok')
if (tonumber(f[1]) or 0) ~= tonumber(ARGV[2]) then return 0 end
local cost = {1, tonumber(ARGV[3])}
local names = {'r_', 't_'}
for i = 1, 2 do
  local cap, tok = tonumber(f[2 * i]), tonumber(f[2 * i + 1])
  if cap and tok and cost[i] > 0 then
    redis.call('HSET', k, names[i] .. 'tok', tostring(math.min(cap, tok + cost[i])))
  end
end
return 1
`)

// observeScript applies a response. ARGV: now, the call's seq (-1: not admitted by the fleet),
// its tot, its turn (ms), a 429's block (ms; 0: none), Idle (ms), 1 if the response was a 429;
// then per bucket (requests, tokens): known (0/1), limit, remaining, reset (ms from the call's
// sending); then the call's member in the sorted set.
//
// A report replaces a bucket unless the bucket holds the report of a later admission under the
// same limit, or the call was admitted before the state was lost (expired after Idle, or Redis
// restarted: its seq is ahead of the state's). The level is the remaining, refilled since the
// call's turn, minus what the fleet admitted after the call and the reservations admitted
// before it whose turn came too late for the report to count them (see above).
//
// The refill rate is proved, never guessed upwards, and never lowered under one limit:
//
//   - from one report: the bucket gains more than limit - remaining - 1 by the reset (remaining is
//     rounded down; a reset rounded up, as Anthropic's whole seconds are, and measured from the
//     call's sending only lowers the bound), and exactly 1 from a report of limit - 1 (the bucket
//     was full before the call);
//   - from pairs of reports 250 ms to 20 s apart (this one and the kept ones 1, 2, 4, ... 32
//     back): the bucket held r1, the fleet's calls in between took n (those admitted in between,
//     less those not yet sent when this call was, plus those not yet sent at the earlier one, less
//     the 429s answered in between), and it held r2, so it gained at least r2 - r1 + n - 2 over
//     the time between their turns (remaining is rounded down, and one call may be counted on
//     either side; - 1 when the earlier report was of limit - 1). Over a second this is within
//     two calls of the true rate, over 8 s within a quarter of a call a second.
//
// Until a pair can be made (the first 250 ms), the calls queue at the rate of the whole limit
// per reset (at least a second): a lower bound too in practice, and turns given at it are moved
// forward once a pair proves more (turnScript). Limit per minute until a report proves anything.
var observeScript = redis.NewScript(limiterNowLua + `
local k = KEYS[1]
local pseq, ptot, sent, block = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local idle = tonumber(ARGV[6])
local f = redis.call('HMGET', k, 'seq', 'tot', 'blocked', 'r_cap', 'r_rate', 'r_rseq', 't_cap', 't_rate', 't_rseq',
  'r_proved', 'n429', 'r_tok', 'r_ts', 'r_trial', 'r_ceil', 'r_ceilat', 'nref')
local seq, tot = tonumber(f[1]) or 0, tonumber(f[2]) or 0
if block > 0 and now + block > (tonumber(f[3]) or 0) then
  redis.call('HSET', k, 'blocked', now + block)
end
local n429 = tonumber(f[11]) or 0
local nref = tonumber(f[17]) or 0
if ARGV[7] == '1' and pseq >= 0 then
  n429 = n429 + 1
  redis.call('HSET', k, 'n429', n429)
end
local names = {'r_', 't_'}
local after = {math.max(0, seq - pseq), math.max(0, tot - ptot)}
local nlate = 0
local pend = {} -- the turns of the calls admitted after this one and not yet reported
if pseq >= 0 then
  local own = redis.call('ZSCORE', KEYS[2], ARGV[16])
  redis.call('ZREM', KEYS[2], ARGV[16])
  if own then
    redis.call('ZADD', KEYS[5], own, ARGV[16])
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now - 5000)
  redis.call('PEXPIRE', KEYS[5], idle)
  local all = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for j = 1, #all, 2 do
    local s, tk = string.match(all[j], '^(%d+):(%d+)$')
    local turn = tonumber(all[j + 1])
    if s and tonumber(s) < pseq and turn >= sent - 100 then
      after[1] = after[1] + 1
      after[2] = after[2] + tonumber(tk)
      nlate = nlate + 1
    elseif s and tonumber(s) > pseq then
      pend[#pend + 1] = turn
    end
  end
  table.sort(pend)
  -- The same of the calls reported already (an answer can come back before that of a call
  -- sent before it): pairs of reports leave out all of them, the level those sent no more than
  -- 20 ms before this one (ratelimit's reorder window; the others' reports had them counted).
  local done = redis.call('ZRANGEBYSCORE', KEYS[5], sent - 100, '+inf', 'WITHSCORES')
  for j = 1, #done, 2 do
    local s, tk = string.match(done[j], '^(%d+):(%d+)$')
    if s and tonumber(s) < pseq then
      nlate = nlate + 1
      if tonumber(done[j + 1]) >= sent - 20 then
        after[1] = after[1] + 1
        after[2] = after[2] + tonumber(tk)
      end
    end
  end
end
-- The calls admitted after this one that may have reached the provider before it: reported
-- already, or given a turn up to 100 ms after its own.
local early = math.max(0, seq - pseq) - #pend
for _, turn in ipairs(pend) do
  if turn <= sent + 100 then early = early + 1 end
end
local changed = false
for i = 0, 1 do
  local a = 8 + 4 * i
  if ARGV[a] == '1' and pseq >= 0 and pseq <= seq then
    local limit, remaining, reset = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local cap, prate, rseq = tonumber(f[4 + 3 * i]), tonumber(f[5 + 3 * i]), tonumber(f[6 + 3 * i]) or -1
    local rate = 0
    if reset > 0 and remaining == limit - 1 then
      rate = 1 / reset
    elseif reset > 0 and remaining < limit - 1 then
      rate = (limit - remaining - 1) / reset
    end
    if cap == limit and pseq < rseq then
      -- A later admission's report set the bucket; what this one proves of the rate from its
      -- own figures still holds.
      if i == 0 and rate > (tonumber(f[10]) or 0) then
        redis.call('HSET', k, 'r_proved', tostring(rate))
        if prate and rate > prate then
          local tok, ts = tonumber(f[12]), tonumber(f[13])
          if tok and ts then
            redis.call('HSET', k, 'r_tok', tostring(math.min(cap, tok + prate * math.max(0, now - ts))), 'r_ts', now)
          end
          redis.call('HSET', k, 'r_rate', tostring(rate))
        end
      end
    else
      if i == 0 then
        if cap == limit then
          rate = math.max(rate, tonumber(f[10]) or 0)
        else
          redis.call('DEL', KEYS[3])
        end
        local paired, pushed = false, false
        local head
        for _, idx in ipairs({0, 1, 3, 7, 15, 31}) do
          local e = redis.call('LINDEX', KEYS[3], idx)
          if not e then break end
          local hs, hr, ht, he, hn, hf = string.match(e, '^(%d+):(%d+):(%d+):(%d+):(%d+):?(%d*)$')
          hs, hr, ht, he, hn, hf = tonumber(hs), tonumber(hr), tonumber(ht), tonumber(he), tonumber(hn), tonumber(hf) or nref
          if idx == 0 then head = ht end
          local span = sent - ht
          if hs < pseq and span >= 250 and span <= 20000 then
            paired = true
            local gained = remaining - hr + (pseq - hs) - he - nlate - (n429 - hn) - (nref - hf) - 1
            if hr == limit - 1 then gained = gained + 1 end
            if gained > 0 then rate = math.max(rate, gained / span) end
          end
        end
        if not head or sent - head >= 250 then
          redis.call('LPUSH', KEYS[3], pseq .. ':' .. remaining .. ':' .. sent .. ':' .. early .. ':' .. n429 .. ':' .. nref)
          redis.call('LTRIM', KEYS[3], 0, 39)
          pushed = true
        end
        redis.call('PEXPIRE', KEYS[3], idle)
        redis.call('HSET', k, 'r_proved', tostring(rate))
        if not paired and reset > 0 and remaining < limit then
          rate = math.max(rate, limit / math.max(reset, 1000))
        end
        -- A bucket found full while calls queue for it refills faster than it is paced, and a
        -- full bucket proves nothing more (pairs of full reports prove the pace, not the
        -- refill): try 10 % more every 250 ms while reports find it full, and keep the trial
        -- until a 429 says it went too far (by then the bucket ran short of full, and its pairs
        -- proved the rate); then back to the proved rate.
        local trial, ceil = 0, 0
        if cap == limit then trial, ceil = tonumber(f[14]) or 0, tonumber(f[15]) or 0 end
        local ceilAt = tonumber(f[16]) or 0
        if now - ceilAt > 5000 then ceil = 0 end
        local prev = tonumber(f[5]) or 0
        local queued = (tonumber(f[12]) or 0) + prev * math.max(0, now - (tonumber(f[13]) or now)) < 0
        if ARGV[7] == '1' then
          if trial > 0 then
            ceil, ceilAt = math.max(rate, 0.95 * math.max(trial, prev)), now
          end
          trial = 0
        elseif paired and remaining == limit - 1 and queued then
          trial = math.max(trial, rate)
          if pushed then trial = trial * 1.1 end
          if ceil > 0 then trial = math.min(trial, ceil) end
        end
        redis.call('HSET', k, 'r_trial', tostring(trial), 'r_ceil', tostring(ceil), 'r_ceilat', ceilAt)
        redis.call('HSET', k, 'r_trial', tostring(trial))
        rate = math.max(rate, trial)
      elseif cap == limit and prate then
        rate = math.max(rate, prate)
      end
      if rate <= 0 then rate = limit / 60000 end
      local snap = math.min(sent, now)
      local level
      if i == 0 then
        -- The calls admitted after this one took a request each from the bucket as it stood at
        -- their turn, refilled up to the limit in between (a request limit bounds the rate, not
        -- the calls in flight); those still waiting, those already reported (their turns are
        -- no longer kept) and the earlier ones not yet sent come off at the end.
        level = remaining
        local t, ahead = snap, 0
        for _, turn in ipairs(pend) do
          if turn <= now then
            if turn > t then
              level = math.min(limit, level + rate * (turn - t))
              t = turn
            end
            level = level - 1
          else
            ahead = ahead + 1
          end
        end
        level = math.min(limit, level + rate * math.max(0, now - t)) - ahead - (after[1] - #pend)
      else
        level = math.min(limit, remaining + rate * math.max(0, now - snap)) - after[i + 1]
      end
      local n = names[i + 1]
      redis.call('HSET', k, n .. 'cap', limit, n .. 'rate', tostring(rate), n .. 'tok', tostring(level),
        n .. 'ts', now, n .. 'rseq', pseq)
      changed = true
    end
  end
end
if changed then redis.call('HINCRBY', k, 'rep', 1) end
redis.call('PEXPIRE', k, idle)
if changed then return 1 end
return 0
`)

// stateScript returns {seq, blocked for (ms), r cap, r level, r rate, t cap, t level, t rate,
// r proved rate, members} as strings. ARGV: now, memberFor (ms).
var stateScript = redis.NewScript(limiterNowLua + bucketLua + `
local f = redis.call('HMGET', KEYS[1], 'seq', 'blocked',
  'r_cap', 'r_rate', 'r_tok', 'r_ts', 't_cap', 't_rate', 't_tok', 't_ts', 'r_proved')
local out = {tostring(tonumber(f[1]) or 0), tostring(math.max(0, (tonumber(f[2]) or 0) - now))}
for i = 0, 1 do
  local cap = tonumber(f[3 + 4 * i])
  if cap then
    local rate = tonumber(f[4 + 4 * i]) or 0
    out[#out + 1] = tostring(cap)
    out[#out + 1] = tostring(levelAt(cap, rate, f[5 + 4 * i], f[6 + 4 * i]))
    out[#out + 1] = tostring(rate)
  else
    out[#out + 1] = '0'
    out[#out + 1] = '0'
    out[#out + 1] = '0'
  end
end
out[#out + 1] = tostring(tonumber(f[11]) or 0)
out[#out + 1] = tostring(redis.call('ZCOUNT', KEYS[4], now - tonumber(ARGV[2]), '+inf'))
return out
`)
