#!/usr/bin/env python3
"""Benchmark `mcpspec fuzz`: throughput beside the server's own ceiling, and the time to
the first finding for each fixture fault.

Usage: scripts/bench-fuzz.py [--time SECS] [--mcpspec PATH] [--fixture PATH] [--profile]

Throughput is measured against the clean fixture and, when the test bed is installed
(.testbed/servers.env), against server-everything. The ceiling is a pipelined ping flood
through the same harness (`mcpspec fuzz --ceiling`), measured in the same run.
"sessions/s" counts fuzz inputs (short sessions of messages; up to 16 of them run back to
back share one liveness ping). With --profile, each throughput run also prints where its
wall time went (MCPSPEC_FUZZ_PROFILE=1: writes, awaits, pings, trailing answers, probes,
restarts...). This is a benchmark, not a test: nothing here asserts a time.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Each fixture fault and the oracle that must find it (as in tests/it/fuzz.rs).
FAULTS = [
    ("read-per-chunk", "lost-response"),
    ("utf8-per-chunk", "mismatched-id"),
    ("line-limit-64k", "hang"),
    ("interleave-writes", "framing"),
    ("swap-ids-under-load", "mismatched-id"),
    ("lose-responses-under-load", "lost-response"),
    ("duplicate-responses", "duplicate-response"),
    ("log-to-stdout", "stdout-pollution"),
    ("crash-on-malformed", "crash"),
    ("stop-reading-after-malformed", "liveness"),
    ("never-answer", "hang"),
    ("memory-leak", "memory"),
    ("string-error-code", "invalid-message"),
]
FRAMING_FAULTS = {"read-per-chunk", "utf8-per-chunk", "line-limit-64k", "interleave-writes"}


def testbed_everything():
    env_file = os.path.join(ROOT, ".testbed/servers.env")
    if not os.path.exists(env_file):
        return None
    for line in open(env_file):
        line = line.strip().removeprefix("export ")
        if line.startswith("MCPSPEC_EVERYTHING_CMD="):
            return line.split("=", 1)[1].strip('"').split()
    return None


def run_json(argv, timeout, profile=False):
    env = dict(os.environ)
    if profile:
        env["MCPSPEC_FUZZ_PROFILE"] = "1"
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.run(argv[:2] + ["--format", "json", "--output", out.name] + argv[2:],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                              env=env)
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.decode(errors="replace").strip())
        report = json.load(open(out.name))
        report["profile"] = [line for line in proc.stderr.decode(errors="replace").splitlines()
                             if line.startswith("[profile]")]
        return report


def ceiling(mcpspec, cmd, secs, extra=()):
    out = subprocess.run([mcpspec, "fuzz", "--ceiling", "--time", f"{secs}s", *extra, "--", *cmd],
                         capture_output=True, timeout=secs + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode(errors="replace").strip())
    return json.loads(out.stdout)["messages_per_sec"]


def throughput(mcpspec, cmd, secs, jobs, artifacts, extra=(), profile=False):
    report = run_json([mcpspec, "fuzz", "--time", f"{secs}s", "--seed", "1", "--quiet",
                       "--jobs", str(jobs), "--artifacts", artifacts, *extra, "--", *cmd],
                      secs + 300, profile)
    return report


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--time", type=int, default=10, help="seconds per throughput run")
    ap.add_argument("--mcpspec", default=os.path.join(ROOT, "target/release/mcpspec"))
    ap.add_argument("--fixture", default=os.path.join(ROOT, "target/release/mcpspec-fixture"))
    ap.add_argument("--profile", action="store_true",
                    help="print where each throughput run's wall time went")
    args = ap.parse_args()
    for path in (args.mcpspec, args.fixture):
        if not os.path.exists(path):
            sys.exit(f"{path} is missing: run cargo build --release first")

    # (name, command, extra fuzz arguments): the fixture over stdio and over
    # Streamable HTTP (a fixture started per connection on a free port).
    servers = [("fixture", [args.fixture], ()),
               ("fixture (HTTP)", [args.fixture, "--port", "{port}"],
                ("--url", "http://127.0.0.1:{port}/mcp"))]
    everything = testbed_everything()
    if everything:
        servers.append(("server-everything", everything, ()))
    else:
        print("(test bed not installed: server-everything skipped)")

    artifacts = tempfile.mkdtemp(prefix="mcpspec-bench-")
    print(f"{'server':<18} {'ceiling msg/s':>14} {'jobs':>4} {'fuzz msg/s':>11} {'% ceiling':>9} "
          f"{'sessions/s':>10} {'restarts':>8} {'findings':>8}")
    for name, cmd, extra in servers:
        top = ceiling(args.mcpspec, cmd, 5, extra)
        for jobs in (1, 2):
            r = throughput(args.mcpspec, cmd, args.time, jobs, artifacts, extra, args.profile)
            t, s = r["timings"], r["stats"]
            print(f"{name:<18} {top:>14.0f} {jobs:>4} {t['messages_per_sec']:>11.0f} "
                  f"{100 * t['messages_per_sec'] / top:>8.1f}% {t['execs_per_sec']:>10.1f} "
                  f"{s['restarts']:>8} {len(r['findings']):>8}")
            for line in r["profile"]:
                print(f"    {line}")

    print()
    print(f"{'fixture fault':<30} {'oracle':<20} {'first finding':>14}")
    for fault, oracle in FAULTS:
        r = run_json([args.mcpspec, "fuzz", "--time", "60s", "--seed", "1", "--quiet",
                      "--no-minimize", "--stop-on", oracle, "--artifacts", artifacts, "--",
                      args.fixture, "--fault", fault], 400)
        times = [ms for sig, ms in r["timings"]["first_found_ms"].items()
                 if sig.split(" ")[0] == oracle]
        found = f"{min(times) / 1000:.2f} s" if times else "not found"
        mark = "  (framing fault: aim <= 10 s)" if fault in FRAMING_FAULTS else ""
        print(f"{fault:<30} {oracle:<20} {found:>14}{mark}")


if __name__ == "__main__":
    main()
