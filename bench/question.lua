-- wrk script: POST /v1/chat with a different question each time, so every request misses the
-- answer cache and runs the whole pipeline.
local topics = {
  "How do I reset the Lumen Hub 2?",
  "How many weeks of paid parental leave does a birth parent get?",
  "What is the expense limit for a hotel night in Rotterdam?",
  "How soon must a new employee enrol in MFA?",
  "How do I reset a Beam bulb?",
  "How long are print jobs kept in the queue?",
}
local n = 0
request = function()
  n = n + 1
  local q = topics[(n % #topics) + 1] .. " (" .. n .. "-" .. math.random(1000000) .. ")"
  local body = '{"question": "' .. q .. '"}'
  return wrk.format("POST", "/v1/chat", {["content-type"] = "application/json"}, body)
end
