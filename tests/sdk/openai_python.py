"""Talks to the simulator with the official OpenAI Python SDK and prints what it got as JSON.

Usage: python3 tests/sdk/openai_python.py BASE_URL [ratelimit]   (BASE_URL e.g. http://127.0.0.1:8090/v1)
With `ratelimit`, makes one chat call that the simulator is expected to refuse with a 429.
"""
import json
import sys

from openai import OpenAI, RateLimitError

client = OpenAI(base_url=sys.argv[1], api_key="sk-test", max_retries=0)
prompt = (
    "Context:\n[1] Parental leave\nBirth parents get 20 weeks of paid parental leave.\n\n"
    "Question: How many weeks of parental leave do birth parents get?"
)
out = {}

if len(sys.argv) > 2 and sys.argv[2] == "ratelimit":
    try:
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}])
        out["error"] = None
    except RateLimitError as e:
        out["error"] = {"status": e.status_code, "retry_after": e.response.headers.get("retry-after")}
    print(json.dumps(out))
    sys.exit(0)

chat = client.chat.completions.create(
    model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
)
out["chat"] = {
    "model": chat.model,
    "text": chat.choices[0].message.content,
    "finish_reason": chat.choices[0].finish_reason,
    "prompt_tokens": chat.usage.prompt_tokens,
}

text, usage = "", None
for chunk in client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": prompt}],
    stream=True,
    stream_options={"include_usage": True},
):
    for choice in chunk.choices:
        text += choice.delta.content or ""
    if chunk.usage:
        usage = chunk.usage.completion_tokens
out["stream"] = {"text": text, "completion_tokens": usage}

# The SDK asks for base64 embeddings by default and decodes them itself.
emb = client.embeddings.create(model="text-embedding-3-small", input=["reset the hub", "leave"], dimensions=32)
out["embeddings"] = {
    "count": len(emb.data),
    "dim": len(emb.data[0].embedding),
    "norm": sum(x * x for x in emb.data[0].embedding),
    "prompt_tokens": emb.usage.prompt_tokens,
}
out["models"] = [m.id for m in client.models.list()]
print(json.dumps(out))
