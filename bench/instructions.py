#!/usr/bin/env python3
"""The app's own instructions per chat request, counted by callgrind: OpenTelemetry disabled,
sampling nothing, 10 %, 100 %.

    bench/instructions.py [--requests 200] [--configs disabled,off,10%,100%] [--hit-configs disabled,100%]
                          [--chunks N] [--bin-dir DIR] [--keep DIR]

bench/request-cost.py measures CPU time under load, which on two shared cores scatters by
±10-15 % from round to round: too coarse to say whether 10 % sampling costs 1 %. Instruction
counts are not disturbed by what else runs, so this script counts them instead, for a fixed
number of requests:

- ragtrace-sim (`instant`) and otlp-sink run natively, as in request-cost.py;
- `disabled` is `OTEL_SDK_DISABLED=true` (no OpenTelemetry layer: the floor), `off` samples
  nothing (`always_off`: the layer is there, each request's root span is made and dropped);
- each ragtrace app runs under `valgrind --tool=callgrind --instr-atstart=no` on a copy of one
  seeded data directory (the demo corpus), so startup is not counted;
- the script switches instrumentation on, sends warm-up requests, zeroes the counters, sends
  `--requests` chat requests one at a time (every question new), dumps the counters and reads
  the total instruction count (Ir) of the whole process: every thread, the exporter's included;
- then the answer-cache hit path on the apps of `--hit-configs` (`disabled` and `100%`): one
  question asked `--requests` times;
- with `--chunks N`, the data directory holds about N chunks instead (the demo corpus copied,
  indexed natively with ragtrace-ingest, its HNSW index built natively with `POST /admin/index`).

Each figure comes with the part of it that is the vector store's own work: everything the app
runs on tokio's blocking pool, which on a chat request is the embedded store's search (both
legs, the fusion and the payloads of the hits) and nothing else.

Instructions are not time (a cache miss or a syscall costs more than its count says) but they
resolve a change of about 1 %: the same binary repeats to within 0.3 % on some days and 1 % on
others (the vector store's share and where an export batch lands move most). At 10 % the sampler
keeps a random share of the requests (30 +- 5 of 300), so the script also counts the spans the
measured requests exported and scales the 10 % overhead to exactly one request in ten.

Premises, checked or the run is refused: no answer-cache hit in the miss runs, every answer
2xx, no span dropped, and the sink received every span the apps exported.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("request_cost", ROOT / "bench" / "request-cost.py")
rc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rc)


def ask(url: str, question: str) -> None:
    body = json.dumps({"question": question}).encode()
    req = urllib.request.Request(url + "/v1/chat", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        if r.status != 200:
            sys.exit(f"{url}: HTTP {r.status} for {question!r}")
        r.read()


def newest_dump(dump_dir: Path, pid: int, before: set[Path]) -> Path:
    """The callgrind dump of `pid` written since `before` was listed."""
    new = sorted(set(dump_dir.glob(f"callgrind.out.{pid}*")) - before, key=lambda p: p.stat().st_mtime)
    if not new:
        sys.exit(f"no callgrind dump for {pid} in {dump_dir}")
    return new[-1]


def total_ir(dump: Path) -> int:
    """The instruction count of a callgrind dump."""
    m = re.search(r"^(?:summary|totals):\s+(\d+)", dump.read_text(errors="replace"), re.M)
    if not m:
        sys.exit(f"no instruction total in {dump}")
    return int(m.group(1))


def blocking_ir(dump: Path) -> int:
    """The instructions run on tokio's blocking pool in `dump` (inclusive): the vector store's."""
    out = subprocess.run(["callgrind_annotate", "--auto=no", "--threshold=100", "--inclusive=yes", str(dump)],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if "BlockingTask<T> as core::future::future::Future>::poll" in line:
            return int(line.split()[0].replace(",", ""))
    return 0


def exported_spans(url: str) -> float:
    """The spans the app has exported, once its export queue has drained."""
    rc.drained(url, timeout=600, request_timeout=120)  # the app runs under callgrind
    return rc.metric(rc.get(url + "/metrics", timeout=60), "ragtrace_telemetry_spans_total", outcome="exported")


def control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, stdout=subprocess.DEVNULL, timeout=300)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=100,
                    help="requests before counting; at 10 %% sampling about a tenth of them warm the masking regexes")
    ap.add_argument("--configs", default="disabled,off,10%,100%")
    ap.add_argument("--hit-configs", default="disabled,100%",
                    help="the configurations whose answer-cache hit path is measured too")
    ap.add_argument("--chunks", type=int, default=0,
                    help="index about this many chunks (copies of the demo corpus) instead of the demo corpus alone")
    ap.add_argument("--bin-dir", help="use the release binaries here instead of building them")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--keep", help="copy each run's callgrind dump here (CONFIG.callgrind), for callgrind_annotate")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        sudo = [] if os.geteuid() == 0 else ["sudo"]
        subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
        subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "valgrind"], check=True, stdout=subprocess.DEVNULL)

    bin_dir = Path(args.bin_dir) if args.bin_dir else rc.build()
    work = Path(tempfile.mkdtemp(prefix="ragtrace-instr-"))
    children = rc.Processes(work, work)
    spawn = children.spawn

    try:
        sim_port, sink_port = rc.free_port(), rc.free_port()
        sim_env = dict(os.environ, OTEL_SDK_DISABLED="true", RAGTRACE__TELEMETRY__LOG_FILTER="warn")
        sim = spawn([bin_dir / "ragtrace-sim", "--addr", f"127.0.0.1:{sim_port}", "--scenario", "instant"],
                    env=sim_env, name="sim")
        rc.wait_ready(f"http://127.0.0.1:{sim_port}/metrics", sim, "ragtrace-sim")
        sink = spawn([bin_dir / "otlp-sink", str(sink_port)], name="sink")
        time.sleep(0.5)

        def app_env(config: str) -> dict:
            # Under valgrind the app runs tens of times slower: no request may time out.
            return rc.app_env(sim_port, sink_port, config, queue=32768,
                              RAGTRACE__CHAT__DEADLINE_MS="600000", RAGTRACE__LLM__TIMEOUT_MS="300000")

        # One seeded data directory (the demo corpus indexed natively, or --chunks copies of it
        # with their HNSW index), copied for every app.
        seed_dir = work / "seed"
        if args.chunks:
            seed_dir = rc.index_copies(bin_dir, rc.ingest_env(sim_port), work, args.chunks)
        port = rc.free_port()
        seeder = spawn([bin_dir / "ragtrace", "--addr", f"127.0.0.1:{port}", "--data-dir", seed_dir],
                       env=app_env("off"), name="seed")
        rc.wait_ready(f"http://127.0.0.1:{port}/readyz", seeder, "the seeding app")
        if args.chunks:
            started = time.time()
            built = rc.post_json(f"http://127.0.0.1:{port}/admin/index", timeout=3600)
            print(f"HNSW index built in {time.time() - started:.0f} s: "
                  f"{built['after']['indexed_vectors']} of {built['after']['points']} vectors", file=sys.stderr)
        seeder.send_signal(signal.SIGTERM)
        seeder.wait(timeout=60)

        configs = [c for c in args.configs.split(",") if c]
        results: dict[str, dict] = {}
        problems: list[str] = []
        exported = 0.0
        tag = f"i{int(time.time())}"
        for config in configs:
            slug = config.replace("%", "")
            data = work / f"data-{slug}"
            shutil.copytree(seed_dir, data)
            port = rc.free_port()
            url = f"http://127.0.0.1:{port}"
            cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no",
                   f"--callgrind-out-file={work}/callgrind.out.%p",
                   bin_dir / "ragtrace", "--addr", f"127.0.0.1:{port}", "--data-dir", data]
            p = spawn(cmd, env=app_env(config), name=f"app-{slug}")
            rc.wait_ready(url + "/readyz", p, f"app {config} under callgrind", seconds=900)
            if args.chunks:
                # The index built by the seeding app, as this app found it on disk: nothing to
                # build (the call is made before the counters are zeroed).
                status = rc.post_json(url + "/admin/index", timeout=3600)
                if status["changed"] or status["before"]["indexed_vectors"] < status["before"]["points"] // 2:
                    problems.append(f"{config}: the collection was not indexed when the app started "
                                    f"({status['before']['indexed_vectors']} of {status['before']['points']} vectors)")
            control("-i", "on", str(p.pid))
            runs = {"miss": [f"{tag} {config} question {i}: how do I reset the Lumen Hub 2?"
                             for i in range(args.requests)]}
            hit_run = config in args.hit_configs.split(",")
            if hit_run:
                runs["hit"] = [f"{tag} the same cached question" for _ in range(args.requests)]
            for kind, questions in runs.items():
                warm = [f"{tag} {config} {kind} warm-up {i}" for i in range(args.warmup)]
                if kind == "hit":
                    warm = [questions[0]] * args.warmup  # the first asks, the others hit
                for q in warm:
                    ask(url, q)
                spans_before = exported_spans(url)
                before = set(work.glob(f"callgrind.out.{p.pid}*"))
                control("-z", str(p.pid))
                started = time.time()
                for q in questions:
                    ask(url, q)
                control("-d", str(p.pid))
                dump = newest_dump(work, p.pid, before)
                ir = total_ir(dump)
                name = config if kind == "miss" else f"{config} cache hit"
                if args.keep:
                    Path(args.keep).mkdir(parents=True, exist_ok=True)
                    shutil.copy(dump, Path(args.keep) / f"{name.replace('%', '').replace(' ', '-')}.callgrind")
                store = blocking_ir(dump)
                results[name] = {"requests": len(questions), "ir": ir, "ir_per_request": ir / len(questions),
                                 "store_ir_per_request": store / len(questions),
                                 "seconds": time.time() - started,
                                 "spans": exported_spans(url) - spans_before}
                print(f"{name}: {ir / len(questions):,.0f} instructions per request, of which the vector store "
                      f"{store / len(questions):,.0f} ({len(questions)} requests, "
                      f"{time.time() - started:.0f} s under callgrind)", file=sys.stderr)
            m = rc.get(url + "/metrics", timeout=60)
            hits = rc.metric(m, "ragtrace_cache_requests_total", cache="answer", result="hit")
            expected_hits = args.warmup - 1 + args.requests if hit_run else 0
            if hits != expected_hits:
                problems.append(f"{config}: {hits:.0f} answer-cache hits, {expected_hits} expected")
            dropped = rc.metric(m, "ragtrace_telemetry_spans_total", outcome="dropped")
            failed = rc.metric(m, "ragtrace_telemetry_spans_total", outcome="failed")
            if dropped or failed:
                problems.append(f"{config}: {dropped:.0f} spans dropped, {failed:.0f} failed to export")
            if config == "disabled" and rc.metric(m, "ragtrace_telemetry_spans_total", outcome="exported"):
                problems.append("disabled: spans were exported with OTEL_SDK_DISABLED=true")
            exported += rc.metric(m, "ragtrace_telemetry_spans_total", outcome="exported")
            results.setdefault(config, {})["spans_exported"] = rc.metric(
                m, "ragtrace_telemetry_spans_total", outcome="exported")
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=300)

        sink.send_signal(signal.SIGTERM)
        sink.wait(timeout=30)
        received = int((work / "sink.log").read_text().strip().splitlines()[-1])
        if received < exported:
            problems.append(f"the OTLP sink received {received} spans of the {exported:.0f} exported")

        def vs(name: str, base: str) -> str:
            b = results.get(base, {}).get("ir_per_request")
            r = results[name]["ir_per_request"]
            return f"{(r / b - 1) * 100:+.2f} %" if b and "hit" not in name else "—"

        print("\n| tracing | instructions / request | vs off | vs disabled | of which the vector store |")
        print("|---|---:|---:|---:|---:|")
        for name, r in results.items():
            if "ir_per_request" not in r:
                continue
            share = r["store_ir_per_request"] / r["ir_per_request"] * 100
            print(f"| {name} | {r['ir_per_request']:,.0f} | {vs(name, 'off')} | {vs(name, 'disabled')} "
                  f"| {r['store_ir_per_request']:,.0f} ({share:.0f} %) |")
        print(f"\nspans exported {exported:.0f}, received by the sink {received}")
        # At 10 % the sampler keeps a random share of the requests (30 +- 5 of 300), which moves
        # the figure by about half a point: scaled to exactly one request in ten, by the spans
        # the measured requests exported against the 100 % run's spans per request.
        full, tenth, off = results.get("100%"), results.get("10%"), results.get("off")
        if full and tenth and off and full["spans"]:
            per_request = full["spans"] / full["requests"]
            kept = tenth["spans"] / per_request
            share = kept / tenth["requests"]
            over = tenth["ir_per_request"] / off["ir_per_request"] - 1
            print(f"10 %: {kept:.0f} of {tenth['requests']} requests sampled ({per_request:.1f} spans each); "
                  f"vs off {over * 100:+.2f} %, scaled to exactly one in ten {over * 0.1 / share * 100:+.2f} %")
            tenth["sampled_share"] = share
            tenth["vs_off_at_exactly_10pct"] = over * 0.1 / share
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2))
        if problems:
            print("\nREFUSED: the run does not prove its premises:\n  " + "\n  ".join(problems))
            sys.exit(1)
    finally:
        children.close()


if __name__ == "__main__":
    main()
