-- wrk script: the same question every time, so every request after the first is an answer-cache
-- hit (bench/request-cost.py checks the hit counter). The tag (first argument after `--`) keeps
-- one run's question apart from an earlier run's against the same app.
local tag = "untagged"
function init(args)
  tag = args[1] or "untagged"
end

request = function()
  local body = '{"question": "How do I reset the Lumen Hub 2? (' .. tag .. ')"}'
  return wrk.format("POST", "/v1/chat", {["content-type"] = "application/json"}, body)
end
