#!/usr/bin/env python3
"""A flame graph of the app under load: where a chat request's CPU goes, by call stack.

    bench/flamegraph.py [--config 100%] [--cached] [--seconds 6] [--bin-dir DIR]
                        [--out docs/img/flamegraph-100.svg] [--top 15]

The same services as bench/request-cost.py (ragtrace-sim `instant`, the otlp-sink receiver, the
app on the embedded store with the demo corpus), one app in `--config` (off, 10%, 100%); wrk
loads it with new questions (`bench/question.lua`), or with one question over and over
(`--cached`, `bench/cached.lua`: the answer-cache hit path), while `perf record` samples the
app's threads with their call stacks. The release build keeps no frame pointers, so the stacks
are unwound from DWARF (`--call-graph dwarf`: 16 KiB of stack a sample, hence the low rate).
The samples are folded and drawn by inferno (`inferno-collapse-perf`, `inferno-flamegraph`,
installed with `cargo install inferno` when missing) into an SVG that opens in a browser (click
a frame to zoom). It also prints the app's samples by whose code ran (the kernel, mimalloc,
each crate) and ragtrace's own functions with the share of samples inside them: what
docs/benchmarks.md quotes.

perf sees the kernel's part too ([k] frames: sending on loopback, waking wrk, scheduling), which
callgrind (bench/instructions.py) does not count; callgrind's counts are exact, these are
samples (about 500 a second, a few thousand a run: a frame's share moves by a point or two from
run to run).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("request_cost", ROOT / "bench" / "request-cost.py")
rc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(rc)


def tool(name: str, install: list[str]) -> str:
    """The path of `name`, installed with `install` when it is not on PATH or in ~/.cargo/bin."""
    found = shutil.which(name) or shutil.which(name, path=str(Path.home() / ".cargo" / "bin"))
    if found:
        return found
    print(f"installing {name}: {' '.join(install)}", file=sys.stderr)
    subprocess.run(install, check=True, stdout=sys.stderr)
    found = shutil.which(name) or shutil.which(name, path=str(Path.home() / ".cargo" / "bin"))
    if not found:
        sys.exit(f"{name} is still missing after `{' '.join(install)}`")
    return found


def apt(package: str) -> list[str]:
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    return ["sh", "-c", f"{' '.join(sudo)} apt-get update -qq && {' '.join(sudo)} apt-get install -y -qq {package}"]


def owner(frame: str) -> str:
    """Who a frame's code belongs to: the kernel, libc, mimalloc, or the Rust crate (of the type,
    for a trait method `<Type as Trait>::f`)."""
    if frame.endswith("_[k]"):
        return "kernel"
    if frame.startswith(("mi_", "_mi_")):
        return "mimalloc"
    path = frame.lstrip("<&").split(" as ")[0]
    if "::" in path:
        return path.split("::")[0]
    return "[unknown]" if frame == "[unknown]" else "libc and other C"


def summary(folded: Path, n: int) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """The app's samples by who runs them (the stack's last frame), and ragtrace's own
    functions with the share of samples inside them (what they call included, counted once a
    stack)."""
    by_owner: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        samples = int(count)
        total += samples
        frames = stack.split(";")
        by_owner[owner(frames[-1])] += samples
        for frame in set(frames):
            if owner(frame) in ("ragtrace", "ragtrace_core"):
                own[frame] += samples
    if not total:
        return [], []
    share = lambda counter, k: [(name, c / total * 100) for name, c in counter.most_common(k)]  # noqa: E731
    return share(by_owner, n), share(own, n)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="100%", choices=sorted(rc.SAMPLERS))
    ap.add_argument("--cached", action="store_true", help="one question over and over: the answer-cache hit path")
    ap.add_argument("--seconds", type=float, default=6)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--bin-dir", help="use the release binaries here instead of building them")
    ap.add_argument("--out", help="the SVG (default docs/img/flamegraph-CONFIG[-cache-hit].svg)")
    ap.add_argument("--top", type=int, default=15, help="how many rows each table lists")
    args = ap.parse_args()

    perf = tool("perf", apt("linux-perf"))
    collapse = tool("inferno-collapse-perf", ["cargo", "install", "--locked", "inferno"])
    draw = tool("inferno-flamegraph", ["cargo", "install", "--locked", "inferno"])
    rc.ensure_wrk()
    bin_dir = Path(args.bin_dir) if args.bin_dir else rc.build()
    slug = args.config.replace("%", "") + ("-cache-hit" if args.cached else "")
    out = Path(args.out) if args.out else ROOT / "docs" / "img" / f"flamegraph-{slug}.svg"

    work = Path(tempfile.mkdtemp(prefix="ragtrace-flame-"))
    children = rc.Processes(work, work)
    spawn = children.spawn
    try:
        sim_port, sink_port, port = rc.free_port(), rc.free_port(), rc.free_port()
        sim_env = dict(os.environ, OTEL_SDK_DISABLED="true", RAGTRACE__TELEMETRY__LOG_FILTER="warn")
        sim = spawn([bin_dir / "ragtrace-sim", "--addr", f"127.0.0.1:{sim_port}", "--scenario", "instant"],
                    env=sim_env, name="sim")
        rc.wait_ready(f"http://127.0.0.1:{sim_port}/metrics", sim, "ragtrace-sim")
        spawn([bin_dir / "otlp-sink", str(sink_port)], name="sink")
        time.sleep(0.5)
        url = f"http://127.0.0.1:{port}"
        app = spawn([bin_dir / "ragtrace", "--addr", f"127.0.0.1:{port}", "--data-dir", work / "data"],
                    env=rc.app_env(sim_port, sink_port, args.config, queue=262144), name="app")
        rc.wait_ready(url + "/readyz", app, f"app {args.config}")

        script = "cached.lua" if args.cached else "question.lua"
        tag = f"f{int(time.time())}"
        wrk = rc.Wrk(args.connections)
        wrk.run(url, 2, script, tag + "-warm" if not args.cached else tag)  # warm-up
        data = work / "perf.data"
        record = subprocess.Popen(
            [perf, "record", "-F", "499", "--call-graph", "dwarf,16384", "-p", str(app.pid), "-o", str(data),
             "--", "sleep", str(args.seconds + 0.5)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        res = wrk.run(url, args.seconds, script, tag)
        _, err = record.communicate(timeout=120)
        if record.returncode != 0:
            sys.exit(f"perf record failed ({record.returncode}): {err.strip()}")
        if res["non2xx"] or res["socket_errors"]:
            sys.exit(f"the load got non-2xx responses or socket errors: {res}")
        print(f"{res['requests']} requests in {args.seconds:g} s ({res['rps']:.0f} req/s) sampled; "
              "unwinding the stacks (a minute or more)", file=sys.stderr)

        folded = work / "folded.txt"
        # --no-inline: resolving inlined frames through addr2line takes minutes and adds little.
        script_out = subprocess.run([perf, "script", "--no-inline", "-i", str(data)], check=True,
                                    capture_output=True).stdout
        folded.write_bytes(subprocess.run([collapse, "--kernel"], input=script_out, check=True, capture_output=True).stdout)
        title = (f"ragtrace, tracing {args.config}, "
                 f"{'answer-cache hits' if args.cached else 'every question new'} "
                 f"({res['rps']:.0f} req/s, wrk -c{args.connections}, {os.cpu_count()} CPUs)")
        svg = subprocess.run([draw, "--title", title, "--width", "1600", str(folded)], check=True,
                             capture_output=True).stdout
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(svg)
        print(f"wrote {out} ({len(svg) // 1024} KiB)", file=sys.stderr)

        owners, own = summary(folded, args.top)
        print("\n| code (the sampled stack's last frame) | share of the app's samples |")
        print("|---|---:|")
        for name, pct in owners:
            print(f"| {name} | {pct:.1f} % |")
        print("\n| ragtrace function (with what it calls) | share of the app's samples |")
        print("|---|---:|")
        for name, pct in own:
            print(f"| `{name}` | {pct:.1f} % |")
    finally:
        children.close()


if __name__ == "__main__":
    main()
