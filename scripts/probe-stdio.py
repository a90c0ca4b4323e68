#!/usr/bin/env python3
"""Tiny stdlib-only smoke probe for an MCP server over stdio.

Usage: probe-stdio.py [--timeout S] -- CMD [ARGS...]

Spawns CMD, sends `initialize` (protocolVersion 2025-06-18), waits for its
response, sends `notifications/initialized`, then `tools/list`, and prints both
results compactly. Lines on stdout that are not JSON-RPC messages for us
(server notifications, requests, non-JSON noise) are reported and skipped.
Finally closes stdin and waits up to 5 s for the server to exit (killing it
otherwise). Exit status 0 on success, 1 otherwise.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

PROTOCOL_VERSION = "2025-06-18"


def usage() -> None:
    print(__doc__.strip(), file=sys.stderr)
    sys.exit(1)


def compact(obj: object, limit: int = 4000) -> str:
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def main(argv: list[str]) -> int:
    timeout = 20.0
    if "--" not in argv:
        usage()
    split = argv.index("--")
    opts, cmd = argv[:split], argv[split + 1 :]
    if opts[:1] == ["--timeout"] and len(opts) == 2:
        timeout = float(opts[1])
    elif opts:
        usage()
    if not cmd:
        usage()

    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as exc:
        print(f"probe: cannot start {cmd[0]!r}: {exc}", file=sys.stderr)
        return 1

    lines: queue.Queue[bytes | None] = queue.Queue()
    stderr_chunks: list[bytes] = []

    def read_stdout() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def read_stderr() -> None:
        assert proc.stderr is not None
        for chunk in proc.stderr:
            stderr_chunks.append(chunk)

    threading.Thread(target=read_stdout, daemon=True).start()
    threading.Thread(target=read_stderr, daemon=True).start()

    def send(msg: dict) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(msg).encode() + b"\n")
        proc.stdin.flush()

    def wait_for(req_id: int, deadline: float) -> dict | None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                print(f"probe: timed out waiting for response id={req_id}", file=sys.stderr)
                return None
            try:
                raw = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if raw is None:
                print(f"probe: server closed stdout before response id={req_id}", file=sys.stderr)
                return None
            text = raw.decode("utf-8", "replace").rstrip("\r\n")
            try:
                msg = json.loads(text)
            except ValueError:
                print(f"probe: non-JSON stdout line: {text[:200]!r}")
                continue
            if isinstance(msg, dict) and msg.get("id") == req_id and "method" not in msg:
                return msg
            print(f"probe: other message: {compact(msg, 300)}")

    ok = False
    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": PROTOCOL_VERSION,
                    "capabilities": {},
                    "clientInfo": {"name": "mcpspec-probe", "version": "0.1.0"},
                },
            }
        )
        init = wait_for(1, start + timeout)
        if init is not None:
            elapsed = time.monotonic() - start
            print(f"initialize ({elapsed:.2f}s): {compact(init.get('result', init))}")
            send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            send({"jsonrpc": "2.0", "id": 2, "method": "tools/list", "params": {}})
            tools = wait_for(2, time.monotonic() + timeout)
            if tools is not None:
                result = tools.get("result")
                if isinstance(result, dict) and isinstance(result.get("tools"), list):
                    names = [t.get("name") for t in result["tools"] if isinstance(t, dict)]
                    print(f"tools/list: {len(names)} tools: {', '.join(map(str, names))}")
                    print(f"tools/list result: {compact(result)}")
                    ok = "error" not in init
                else:
                    print(f"tools/list failed: {compact(tools)}")
    except BrokenPipeError:
        print("probe: server closed stdin", file=sys.stderr)
    finally:
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except BrokenPipeError:
            pass
        eof_start = time.monotonic()
        try:
            rc = proc.wait(timeout=5)
            print(f"server exited with status {rc} {time.monotonic() - eof_start:.2f}s after stdin EOF")
        except subprocess.TimeoutExpired:
            print("server still running 5s after stdin EOF: killed")
            proc.kill()
            proc.wait()
        time.sleep(0.05)
        err = b"".join(stderr_chunks).decode("utf-8", "replace").strip()
        if err:
            print(f"stderr ({len(err)} chars): {err[:1500]}")

    print("PROBE OK" if ok else "PROBE FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
