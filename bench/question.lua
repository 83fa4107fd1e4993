-- wrk script: POST /v1/chat with a question no request of any run has asked before, so every
-- request misses the answer cache and runs the whole pipeline.
--
-- wrk seeds math.random identically in every thread and every run, so randomness cannot make
-- questions distinct; instead each question carries the run's tag (the first argument after
-- `--`), the thread's number and the thread's request counter. bench/request-cost.py checks the
-- app's answer-cache hit counter after the run and refuses to report when it is not zero.
--
--   wrk -t2 -c8 -d5s -s bench/question.lua http://127.0.0.1:8080 -- run-42
local topics = {
  "How do I reset the Lumen Hub 2?",
  "How many weeks of paid parental leave does a birth parent get?",
  "What is the expense limit for a hotel night in Rotterdam?",
  "How soon must a new employee enrol in MFA?",
  "How do I reset a Beam bulb?",
  "How long are print jobs kept in the queue?",
}

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local tag = "untagged"
local n = 0
function init(args)
  tag = args[1] or tostring(os.time())
end

request = function()
  n = n + 1
  local q = topics[(n % #topics) + 1] .. " (" .. tag .. " t" .. thread_number .. " n" .. n .. ")"
  local body = '{"question": "' .. q .. '"}'
  return wrk.format("POST", "/v1/chat", {["content-type"] = "application/json"}, body)
end
