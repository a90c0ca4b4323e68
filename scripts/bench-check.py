#!/usr/bin/env python3
"""Benchmark: wall time of a full `mcpspec check` beside the server's own start-up time.

Usage: scripts/bench-check.py [--runs N] [--mcpspec PATH] -- SERVER_CMD...
With no server command, benchmarks the fixture and every installed test-bed server.
Prints medians and the ratio check/start-up (how many server start-ups a check costs).
This is a benchmark, not a test: nothing here asserts a time.
"""
import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def startup_seconds(cmd, timeout=60.0):
    """Time from spawn to the first line answering initialize."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    init = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                       "clientInfo": {"name": "bench", "version": "0"}}}
    try:
        proc.stdin.write((json.dumps(init) + "\n").encode())
        proc.stdin.flush()
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("server closed stdout before answering initialize")
            if b'"id":1' in line.replace(b" ", b""):
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("no initialize answer")
    finally:
        proc.kill()
        proc.wait()


def check_seconds(mcpspec, cmd):
    t0 = time.monotonic()
    subprocess.run([mcpspec, "check", "--quiet", "--format", "json", "--output", os.devnull,
                    "--", *cmd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def testbed_servers():
    servers = {"fixture": [os.path.join(ROOT, "target/release/mcpspec-fixture")]}
    env_file = os.path.join(ROOT, ".testbed/servers.env")
    if os.path.exists(env_file):
        for line in open(env_file):
            line = line.strip().removeprefix("export ")
            if "_CMD=" in line:
                name, value = line.split("=", 1)
                label = name.removeprefix("MCPSPEC_").removesuffix("_CMD").lower()
                servers[label] = shlex.split(value.strip('"'))
    return servers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mcpspec", default=os.path.join(ROOT, "target/release/mcpspec"))
    parser.add_argument("command", nargs="*")
    args = parser.parse_args()
    if not os.path.exists(args.mcpspec):
        sys.exit("build first: cargo build --release")
    servers = {"server": args.command} if args.command else testbed_servers()
    print(f"{'server':<12} {'start-up s':>11} {'check s':>9} {'check/start-up':>15}")
    for name, cmd in servers.items():
        startup = statistics.median(startup_seconds(cmd) for _ in range(max(args.runs, 5)))
        check = statistics.median(check_seconds(args.mcpspec, cmd) for _ in range(args.runs))
        print(f"{name:<12} {startup:>11.3f} {check:>9.2f} {check / startup:>15.0f}")


if __name__ == "__main__":
    main()
