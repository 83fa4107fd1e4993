#!/usr/bin/env python3
"""What one chat request costs ragtrace itself, with tracing off, at 10 % and at 100 %.

    bench/request-cost.py [--rounds 9] [--seconds 4] [--warmup 20] [--connections 8] [--chunks N]
    bench/request-cost.py --baseline-bin-dir DIR   # this build against an older one, same rounds

Release binaries, each service its own process, so each one's CPU is its own:

- ragtrace-sim, the simulator, with the `instant` scenario: the embeddings, chat and catalog
  calls cost the app one loopback HTTP round trip each and nothing else;
- otlp-sink, a real OTLP gRPC receiver that counts the spans it gets;
- three ragtrace apps on the embedded vector store (demo corpus, or --chunks copies of it):
  tracing off (`always_off`), 10 % (`traceidratio` 0.1) and 100 % (`always_on`), the traced
  ones exporting every sampled span to the sink.

Method: many short rounds, interleaved (each round loads every app once, in a rotating order,
with wrk), and for each round the app's CPU time (utime + stime of the process, from
/proc/PID/stat) divided by the requests wrk completed. Reported: the median over rounds of the
CPU per request and of the ratio to tracing off in the same round, with the rounds' spread, so
the resolution of the overhead figure is visible beside it. Then the answer-cache hit path: one
question asked over and over of the 100 % app (and of the baseline's, in interleaved rounds), its
CPU split into user and kernel time (on loopback, the kernel's share of a 60 µs request is large).

The run proves its own premises or refuses to report: no answer-cache hits in the miss rounds
(every question is new: bench/question.lua), every request 2xx, no span dropped by the app, and
the sink received every span the apps exported.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_split(pid: int) -> tuple[float, float]:
    """utime and stime of the whole process (all threads, living and exited), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads, living and exited)."""
    return sum(cpu_split(pid))


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def get(url: str, timeout: float = 5) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line.startswith("#"):
            continue
        m = re.match(r"^([a-zA-Z_:]+)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def wait_ready(url: str, proc: subprocess.Popen, what: str, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode} before it was ready")
        try:
            get(url, timeout=1)
            return
        except Exception:
            time.sleep(0.2)
    sys.exit(f"{what} was not ready at {url} after {seconds:.0f} s")


# Each tracing config's sampler and its argument.
# "disabled" is OTEL_SDK_DISABLED=true: no OpenTelemetry layer at all, the floor tracing is
# measured against; "off" samples nothing but keeps the layer (a request's root span is made).
# "100%-sdk" is "100%" with the `opentelemetry-otlp` crate's exporter instead of the built-in
# one (`telemetry.otlp_exporter`), to compare the two in one run.
SAMPLERS = {"disabled": ("always_off", ""), "off": ("always_off", ""),
            "10%": ("traceidratio", "0.1"), "100%": ("always_on", ""),
            "100%-sdk": ("always_on", "")}


def app_env(sim_port: int, sink_port: int, config: str, queue: int, **extra: str) -> dict:
    """A ragtrace app's environment: the simulator's upstreams, the OTLP sink, `config`'s
    sampler, a span queue of `queue`, quiet logs, no real service's key or URL; `extra` on top."""
    sampler, arg = SAMPLERS[config]
    env = dict(
        os.environ,
        OPENAI_BASE_URL=f"http://127.0.0.1:{sim_port}/v1",
        RAGTRACE__CATALOG__BASE_URL=f"http://127.0.0.1:{sim_port}/catalog",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{sink_port}",
        OTEL_TRACES_SAMPLER=sampler,
        OTEL_TRACES_SAMPLER_ARG=arg,
        RAGTRACE__TELEMETRY__LOG_FILTER="warn",
        RAGTRACE__TELEMETRY__MAX_QUEUE_SIZE=str(queue),
        **extra,
    )
    if config == "disabled":
        env["OTEL_SDK_DISABLED"] = "true"
    if config.endswith("-sdk"):
        env["RAGTRACE__TELEMETRY__OTLP_EXPORTER"] = "opentelemetry-otlp"
    for k in ("OPENAI_API_KEY", "QDRANT_URL", "REDIS_URL"):
        env.pop(k, None)
    return env


class Processes:
    """The child processes of a run, each logging to `work/NAME.log`."""

    def __init__(self, work: Path, cwd: Path):
        self.work, self.cwd = work, cwd
        self.procs: list[subprocess.Popen] = []

    def spawn(self, cmd, env=None, name="proc") -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "w")
        p = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd)
        self.procs.append(p)
        return p

    def close(self) -> None:
        """Kills the children still running and removes the run's folder (their logs with it)."""
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(self.work, ignore_errors=True)


class Wrk:
    def __init__(self, connections: int):
        self.connections = connections

    def run(self, url: str, seconds: float, script: str, tag: str) -> dict:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{self.connections}", f"-d{seconds:g}s", "--latency",
             "-s", str(ROOT / "bench" / script), url, "--", tag],
            check=True, capture_output=True, text=True,
        ).stdout
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: (.*)", out)
        lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
        return {
            "requests": requests,
            "rps": float(re.search(r"Requests/sec:\s+(\S+)", out).group(1)),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "socket_errors": errors.group(1) if errors else "",
            "p50_ms": to_ms(lat.get("50", "0ms")),
            "p99_ms": to_ms(lat.get("99", "0ms")),
        }


def to_ms(v: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)", v)
    n, unit = float(m.group(1)), m.group(2)
    return n * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]


def file_digest(path: Path) -> str:
    """SHA-256 of a file (a binary, to tell two builds apart)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build() -> Path:
    """Builds ragtrace, ragtrace-sim, ragtrace-ingest and otlp-sink (release); returns their folder."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/ragtrace/target-release"))
    env = dict(os.environ, CARGO_TARGET_DIR=str(target))
    subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "ragtrace", "-p", "ragtrace-sim",
         "-p", "ragtrace-ingest", "-p", "ragtrace-tests", "--bin", "ragtrace", "--bin", "ragtrace-sim",
         "--bin", "ragtrace-ingest", "--bin", "otlp-sink"],
        check=True, cwd=ROOT, env=env, stdout=sys.stderr,
    )
    return target / "release"


def ensure_wrk() -> None:
    if shutil.which("wrk"):
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq", "wrk"], check=True, stdout=subprocess.DEVNULL)


def index_copies(bin_dir: Path, env: dict, work: Path, chunks: int) -> Path:
    """A store holding about `chunks` chunks: the demo corpus copied (222 chunks a copy),
    ingested once with ragtrace-ingest; each app gets a copy of the store."""
    corpus, store = work / "corpus", work / "store"
    copies = max(1, round(chunks / 222))
    for i in range(copies):
        shutil.copytree(ROOT / "data" / "docs", corpus / f"copy-{i:04d}")
    started = time.time()
    subprocess.run([bin_dir / "ragtrace-ingest", "--data-dir", store, corpus], check=True, env=env,
                   cwd=work, stdout=subprocess.DEVNULL)
    print(f"indexed {copies} copies of the demo corpus in {time.time() - started:.0f} s", file=sys.stderr)
    return store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--warmup", type=float, default=20,
                    help="seconds of load per app before the rounds: long enough for the trace "
                         "store to reach its cap at 10 %% sampling, so that no round pays for "
                         "filling it (default 20)")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--chunks", type=int, default=0,
                    help="index about this many chunks (copies of the demo corpus) instead of the demo corpus alone")
    ap.add_argument("--configs", default="off,10%,100%")
    ap.add_argument("--soak", type=float, default=0,
                    help="instead of the rounds: load the 100 %% app for this many seconds and print "
                         "its resident memory and trace-store size every 10 s")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--bin-dir", help="use the release binaries here instead of building them (to measure an older build)")
    ap.add_argument("--baseline-bin-dir",
                    help="also run each config from the ragtrace binary here (named CONFIG@base), in the same "
                         "interleaved rounds, and report this build against it")
    args = ap.parse_args()

    ensure_wrk()
    bin_dir = Path(args.bin_dir) if args.bin_dir else build()
    work = Path(tempfile.mkdtemp(prefix="ragtrace-bench-"))
    children = Processes(work, ROOT)
    spawn, procs = children.spawn, children.procs

    try:
        sim_port, sink_port = free_port(), free_port()
        sim_env = dict(os.environ, OTEL_SDK_DISABLED="true", OTEL_TRACES_SAMPLER="always_off",
                       RAGTRACE__TELEMETRY__LOG_FILTER="warn")
        sim = spawn([bin_dir / "ragtrace-sim", "--addr", f"127.0.0.1:{sim_port}", "--scenario", "instant"],
                    env=sim_env, name="sim")
        wait_ready(f"http://127.0.0.1:{sim_port}/metrics", sim, "ragtrace-sim")
        sink = spawn([bin_dir / "otlp-sink", str(sink_port)], name="sink")
        time.sleep(0.5)

        store = None
        if args.chunks:
            store = index_copies(bin_dir, ingest_env(sim_port), work, args.chunks)

        configs = [c for c in args.configs.split(",") if c]
        if args.baseline_bin_dir:
            # The premise of an A/B: two different builds. Cargo takes a git worktree's crates
            # for fresh when the same target dir last built them from another checkout (their
            # dep-info names the other checkout's files), and links this build again.
            same = [b for b in ("ragtrace",)
                    if file_digest(bin_dir / b) == file_digest(Path(args.baseline_bin_dir) / b)]
            if same:
                sys.exit(f"REFUSED: the baseline's {same[0]} is byte for byte this build's: rebuild the "
                         "baseline after `cargo clean --release -p ragtrace-core` in its worktree")
            configs += [f"{c}@base" for c in configs]
        apps = {}
        for name in configs:
            config, _, which = name.partition("@")
            app_bin = Path(args.baseline_bin_dir) if which == "base" else bin_dir
            port = free_port()
            # The cache-hit run answers 15,000 to 33,000 requests a second, 60,000 to 130,000
            # spans a second, faster than one batch exporter sends them: a queue that holds a
            # whole 4 s run, so that a run that claims full export exports every span.
            env = app_env(sim_port, sink_port, config, queue=524288)
            slug = name.replace("%", "").replace("@", "-")
            data = work / f"data-{slug}"
            if store:
                shutil.copytree(store, data)
            p = spawn([app_bin / "ragtrace", "--addr", f"127.0.0.1:{port}", "--data-dir", data],
                      env=env, name=f"app-{slug}")
            url = f"http://127.0.0.1:{port}"
            wait_ready(url + "/readyz", p, f"app {name}")
            if store:  # the search index (HNSW), as a production collection of this size has
                post_json(url + "/admin/index", timeout=3600)
            apps[name] = {"proc": p, "url": url, "rounds": []}
        ready = ", ".join(f"{n} ({points(a['url']):.0f} chunks)" for n, a in apps.items())
        print(f"apps ready: {ready}", file=sys.stderr)

        wrk = Wrk(args.connections)
        traced = apps.get("100%") or next(iter(apps.values()))  # the cache-hit and soak runs' app
        if args.soak:
            soak(traced, args)
            return
        run_tag = f"r{int(time.time())}"
        # Warm-up: connections, the allocator's pages, and the trace store filled to its cap
        # (2,000 traces: at 10 % sampling and ~1,200 req/s, about 17 s), so that the rounds
        # measure the steady state.
        for name, app in apps.items():
            wrk.run(app["url"], args.warmup, "question.lua", f"{run_tag}-warm-{name}")
        order = list(apps)
        sim_before = cpu_seconds(sim.pid)
        for r in range(args.rounds):
            rotated = order[r % len(order):] + order[: r % len(order)]
            for name in rotated:
                app = apps[name]
                app["rounds"].append(measured(wrk, app, args.seconds, "question.lua", f"{run_tag}-{r}-{name}"))
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{n} {apps[n]['rounds'][-1]['cpu_us_per_req']:.0f} µs" for n in order), file=sys.stderr)
        # The simulator's work in the miss rounds only (not the seeding, warm-ups or cache hits).
        sim_cpu = cpu_seconds(sim.pid) - sim_before
        problems = []

        # The cache-hit path: one question over and over, every request but the first a hit, on
        # the traced app of this build and of the baseline's, in interleaved rounds.
        traced_name = next(n for n, a in apps.items() if a is traced)
        cached = {n: [] for n in (traced_name, traced_name + "@base", "100%-sdk") if n in apps}
        for r in range(args.rounds):
            for name in (list(cached) if r % 2 == 0 else list(cached)[::-1]):
                app = apps[name]
                m0 = get(app["url"] + "/metrics")
                hits0 = metric(m0, "ragtrace_cache_requests_total", cache="answer", result="hit")
                res = measured(wrk, app, args.seconds, "cached.lua", f"{run_tag}-cached")
                m1 = get(app["url"] + "/metrics")
                res["hits"] = metric(m1, "ragtrace_cache_requests_total", cache="answer", result="hit") - hits0
                # The first request of each connection can miss before the first answer is stored.
                if res["hits"] < res["requests"] - args.connections:
                    problems.append(f"cache-hit run of {name}: only {res['hits']:.0f} hits for {res['requests']} requests")
                cached[name].append(res)
                app["hits_meant"] = app.get("hits_meant", 0) + res["hits"]

        # Premises of the miss rounds.
        for name, app in apps.items():
            m = get(app["url"] + "/metrics")
            app["answer_hits"] = metric(m, "ragtrace_cache_requests_total", cache="answer", result="hit")
            app["dropped"] = metric(m, "ragtrace_telemetry_spans_total", outcome="dropped")
            app["exported"] = metric(m, "ragtrace_telemetry_spans_total", outcome="exported")
            app["failed"] = metric(m, "ragtrace_telemetry_spans_total", outcome="failed")
            if app["answer_hits"] > app.get("hits_meant", 0):
                problems.append(f"{name}: {app['answer_hits']:.0f} answer-cache hits in rounds meant to miss")
            if any(r["non2xx"] or r["socket_errors"] for r in app["rounds"]):
                problems.append(f"{name}: non-2xx responses or socket errors")
            if app["dropped"] or app["failed"]:
                problems.append(f"{name}: {app['dropped']:.0f} spans dropped, {app['failed']:.0f} failed to export")

        exported = sum(a["exported"] for a in apps.values())
        sink_cpu = cpu_seconds(sink.pid)
        rss = {n: rss_mib(a["proc"].pid) for n, a in apps.items()}
        # The apps first (each flushes its last spans to the sink), then the simulator and the
        # sink, which prints its count once its clients are gone.
        app_procs = [a["proc"] for a in apps.values()]
        for group in (app_procs, [p for p in procs if p not in app_procs]):
            for p in group:
                p.send_signal(signal.SIGTERM)
            for p in group:
                p.wait(timeout=120)
        # The sink prints its count when stopped. It got every span the apps had exported when
        # asked, plus the cache-hit run's and the flush at exit: at least `exported`.
        received = int((work / "sink.log").read_text().strip().splitlines()[-1])
        if received < exported:
            problems.append(f"the OTLP sink received {received} spans of the {exported:.0f} exported")

        report(apps, cached, args, received, exported, sink_cpu, sim_cpu, rss, traced)
        if args.json:
            Path(args.json).write_text(json.dumps({
                n: {k: v for k, v in a.items() if k != "proc"} for n, a in apps.items()
            } | {"cached": cached}, indent=2))
        if problems:
            print("\nREFUSED: the run does not prove its premises:\n  " + "\n  ".join(problems))
            sys.exit(1)
    finally:
        children.close()


def measured(wrk: Wrk, app: dict, seconds: float, script: str, tag: str) -> dict:
    """One wrk run against `app`, with the app's CPU time per request it cost."""
    user0, sys0 = cpu_split(app["proc"].pid)
    res = wrk.run(app["url"], seconds, script, tag)
    drained(app["url"])  # the run's spans exported, so their export is counted in this run
    user1, sys1 = cpu_split(app["proc"].pid)
    res["cpu_s"] = (user1 - user0) + (sys1 - sys0)
    res["cpu_us_per_req"] = res["cpu_s"] / res["requests"] * 1e6
    res["user_us_per_req"] = (user1 - user0) / res["requests"] * 1e6
    res["kernel_us_per_req"] = (sys1 - sys0) / res["requests"] * 1e6
    return res


def drained(url: str, timeout: float = 120, request_timeout: float = 5) -> None:
    """Waits until the app has finished with every span it queued for export: its span counter
    (exported, dropped or failed) stops moving. A cache-hit run makes spans faster than one
    batch exporter sends them; without the wait, a round's export would be billed to the next."""
    time.sleep(0.3)
    last, deadline = None, time.time() + timeout
    while time.time() < deadline:
        m = get(url + "/metrics", timeout=request_timeout)
        done = sum(metric(m, "ragtrace_telemetry_spans_total", outcome=o) for o in ("exported", "dropped", "failed"))
        if done == last:
            return
        last = done
        time.sleep(0.6)  # longer than the exporter's scheduled delay (500 ms)


def soak(app: dict, args) -> None:
    """Full load for `args.soak` seconds; the app's RSS and its trace store's size every 10 s."""
    load = subprocess.Popen(
        ["wrk", "-t2", f"-c{args.connections}", f"-d{args.soak:g}s", "-s",
         str(ROOT / "bench" / "question.lua"), app["url"], "--", f"soak{int(time.time())}"],
        stdout=subprocess.PIPE, text=True)
    print(f"{'s':>5} {'RSS MiB':>8} {'store traces':>13} {'store MiB':>10} {'cap MiB':>8} {'evicted':>9}")
    started = time.time()
    curve = []
    while load.poll() is None:
        store = json.loads(get(app["url"] + "/api/traces?limit=1"))["store"]
        row = (time.time() - started, rss_mib(app["proc"].pid), store["traces"],
               store["bytes"] / 2**20, store["max_bytes"] / 2**20, store["evicted"])
        curve.append(row)
        print(f"{row[0]:5.0f} {row[1]:8.0f} {row[2]:13d} {row[3]:10.1f} {row[4]:8.0f} {row[5]:9d}", flush=True)
        time.sleep(10)
    out = load.communicate()[0]
    print(re.search(r"Requests/sec:\s+\S+", out).group(0))
    if args.json:
        Path(args.json).write_text(json.dumps(curve))


def post_json(url: str, timeout: float) -> dict:
    """POSTs an empty body to `url` and returns the JSON answer."""
    req = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def ingest_env(sim_port: int) -> dict:
    """ragtrace-ingest's environment for index_copies: the simulator's embeddings, no tracing."""
    env = dict(os.environ, OPENAI_BASE_URL=f"http://127.0.0.1:{sim_port}/v1",
               RAGTRACE__TELEMETRY__LOG_FILTER="warn", OTEL_SDK_DISABLED="true")
    for k in ("OPENAI_API_KEY", "QDRANT_URL"):
        env.pop(k, None)
    return env


def points(url: str) -> float:
    return metric(get(url + "/metrics"), "ragtrace_vector_store_points")


def report(apps, cached, args, received, exported, sink_cpu, sim_cpu, rss, traced) -> None:
    def ratio_text(app, other):
        ratios = [a["cpu_us_per_req"] / b["cpu_us_per_req"] for a, b in zip(app["rounds"], other["rounds"])]
        return f"{(statistics.median(ratios) - 1) * 100:+.1f} % ({(min(ratios) - 1) * 100:+.1f}..{(max(ratios) - 1) * 100:+.1f})"

    print(f"\n{args.rounds} interleaved rounds of {args.seconds:g} s per app, wrk -t2 -c{args.connections}, "
          f"{os.cpu_count()} CPUs; every miss-round request a new question\n")
    print(f"{'tracing':<9} {'app CPU/req':>11} {'user':>7} {'kernel':>7} {'vs off (median, range)':>26} {'req/s':>8} {'p50':>8} {'p99':>8} {'RSS':>9}")
    for name, app in apps.items():
        base = apps.get("off@base" if name.endswith("@base") else "off")
        cpu = statistics.median(r["cpu_us_per_req"] for r in app["rounds"])
        rps = statistics.median(r["rps"] for r in app["rounds"])
        p50 = statistics.median(r["p50_ms"] for r in app["rounds"])
        p99 = statistics.median(r["p99_ms"] for r in app["rounds"])
        user = statistics.median(r["user_us_per_req"] for r in app["rounds"])
        kernel = statistics.median(r["kernel_us_per_req"] for r in app["rounds"])
        rel = ratio_text(app, base) if base and app is not base else "—"
        print(f"{name:<9} {cpu:>8.0f} µs {user:>7.0f} {kernel:>7.0f} {rel:>26} {rps:>8.0f} {p50:>6.2f}ms "
              f"{p99:>6.2f}ms {rss[name]:>6.0f} MiB")
    against = [(n, n + "@base") for n in apps if n + "@base" in apps]
    if against:
        print("\nthis build against the baseline build, app CPU per request (median of the per-round ratios, range):")
        for name, base_name in against:
            print(f"  {name:<6} {ratio_text(apps[name], apps[base_name])}")
    misses = sum(r["requests"] for a in apps.values() for r in a["rounds"])
    print(f"\ncache-hit path: one question over and over, {args.rounds} interleaved rounds of {args.seconds:g} s "
          "(median of the rounds; user and kernel time apart)")
    for name, rounds in cached.items():
        med = {k: statistics.median(r[k] for r in rounds)
               for k in ("cpu_us_per_req", "user_us_per_req", "kernel_us_per_req", "rps", "p50_ms")}
        print(f"  {name:<9} {med['cpu_us_per_req']:5.1f} µs CPU/req (user {med['user_us_per_req']:.1f}, "
              f"kernel {med['kernel_us_per_req']:.1f}), {med['rps']:.0f} req/s, p50 {med['p50_ms']:.2f} ms, "
              f"{sum(r['hits'] for r in rounds):.0f} hits of {sum(r['requests'] for r in rounds)} requests")
    names = list(cached)
    for other in names[1:]:
        print(f"  {names[0]} against {other}: {ratio_text({'rounds': cached[names[0]]}, {'rounds': cached[other]})}")
    if "100%" in apps and "100%-sdk" in apps:
        print("\nthe built-in OTLP exporter against opentelemetry-otlp's, app CPU per request, miss rounds: "
              + ratio_text(apps["100%"], apps["100%-sdk"]))
    print(f"spans: {exported:.0f} exported by the apps, {received} received by the sink, 0 dropped required")
    print(f"outside the apps: simulator {sim_cpu / max(misses, 1) * 1e6:.0f} µs CPU/req (miss rounds), "
          f"OTLP sink {sink_cpu:.1f} s CPU in all")


if __name__ == "__main__":
    main()
