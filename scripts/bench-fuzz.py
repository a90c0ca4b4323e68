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
import re
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


CPU_LINE = re.compile(r"\[profile\] cpu: mcpspec \d+ ms \(([\d.]+) µs/message\), "
                      r"servers \d+ ms \(([\d.]+) µs/message\)")


def run_json(argv, timeout, profile=False):
    # The profile is always on: its last line gives CPU per message (ours, servers').
    env = dict(os.environ, MCPSPEC_FUZZ_PROFILE="1")
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        proc = subprocess.run(argv[:2] + ["--format", "json", "--output", out.name] + argv[2:],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout,
                              env=env)
        if proc.returncode not in (0, 1):
            raise RuntimeError(proc.stderr.decode(errors="replace").strip())
        report = json.load(open(out.name))
        lines = [line for line in proc.stderr.decode(errors="replace").splitlines()
                 if line.startswith("[profile]")]
        cpu = [CPU_LINE.match(line) for line in lines]
        cpu = [m for m in cpu if m]
        report["cpu_us"] = (float(cpu[-1][1]), float(cpu[-1][2])) if cpu else (0.0, 0.0)
        report["profile"] = lines if profile else []
        return report


def ceiling(mcpspec, cmd, secs, extra=()):
    out = subprocess.run([mcpspec, "fuzz", "--ceiling", "--time", f"{secs}s", *extra, "--", *cmd],
                         capture_output=True, timeout=2 * secs + 120)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.decode(errors="replace").strip())
    return json.loads(out.stdout)


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

    cores = os.cpu_count() or 1
    artifacts = tempfile.mkdtemp(prefix="mcpspec-bench-")
    print(f"CPU per message in µs (ours / the server's); 'server bound': the most any fuzzer "
          f"could reach on {cores} cores,\nif it cost nothing itself, with the server's own CPU "
          f"per fuzz message, as % of the ceiling")
    print(f"{'server':<18} {'ceiling msg/s':>14} {'cpu/ping':>11} {'jobs':>4} {'fuzz msg/s':>11} "
          f"{'% ceiling':>9} {'cpu/message':>12} {'server bound':>12} {'sessions/s':>10} "
          f"{'restarts':>8} {'findings':>8}")
    for name, cmd, extra in servers:
        top = ceiling(args.mcpspec, cmd, 5, extra)
        flood = top["pipelined"]
        rate = flood["messages_per_sec"]
        ping_cpu = f"{flood['mcpspec_cpu_us_per_message']:.1f}/{flood['server_cpu_us_per_message']:.1f}"
        for jobs in (1, 2):
            r = throughput(args.mcpspec, cmd, args.time, jobs, artifacts, extra, args.profile)
            t, s = r["timings"], r["stats"]
            ours, theirs = r["cpu_us"]
            bound = 100 * cores * 1e6 / theirs / rate if theirs > 0 else float("nan")
            print(f"{name:<18} {rate:>14.0f} {ping_cpu:>11} {jobs:>4} {t['messages_per_sec']:>11.0f} "
                  f"{100 * t['messages_per_sec'] / rate:>8.1f}% {f'{ours:.1f}/{theirs:.1f}':>12} "
                  f"{min(bound, 100.0):>11.0f}% {t['execs_per_sec']:>10.1f} "
                  f"{s['restarts']:>8} {len(r['findings']):>8}")
            for line in r["profile"]:
                print(f"    {line}")
        each = top["one_write_per_message"]
        print(f"{'':<18} one write per ping: {each['messages_per_sec']:.0f} msg/s, cpu/ping "
              f"{each['mcpspec_cpu_us_per_message']:.1f}/{each['server_cpu_us_per_message']:.1f}")

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
