#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs the real test-bed servers and cargo
# tools it needs, then formatting, lints, every test, and a short fuzz smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s ==\n' "$*"; }

# The official schemas are the oracle for SCHEMA-001 when present beside the repo.
if [ -z "${MCPSPEC_SCHEMA_DIR:-}" ] && [ -f ../shared/mcp-spec/2025-11-25/schema.json ]; then
  MCPSPEC_SCHEMA_DIR="$(cd ../shared/mcp-spec && pwd)"
  export MCPSPEC_SCHEMA_DIR
fi

step "test bed (real MCP servers)"
bash scripts/install-testbed.sh
export MCPSPEC_REQUIRE_TESTBED=1
# The real servers are also checked over Streamable HTTP (loopback only).
export MCPSPEC_TESTBED_HTTP=1

step "format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
# CI=true makes insta fail on a missing or changed snapshot instead of writing one.
cargo test --workspace --locked

step "fuzz smoke (libFuzzer, nightly)"
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked --quiet
fi
if rustup toolchain list 2>/dev/null | grep -q nightly; then
  for target in $(cd fuzz && cargo +nightly fuzz list); do
    mkdir -p "fuzz/corpus/$target"
    # Per-target libFuzzer flags from corpus/<target>.options (as OSS-Fuzz reads them).
    flags=()
    if [ -f "corpus/$target.options" ]; then
      while read -r key value; do flags+=("-$key=$value"); done \
        < <(sed -n 's/^\([a-z_]*\) *= *\(.*\)$/\1 \2/p' "corpus/$target.options")
    fi
    # The server-driving targets fuzz the clean fixture (built by the tests above): the
    # smoke run proves they drive a real process and stay silent on a correct server.
    fixture="$PWD/target/debug/mcpspec-fixture"
    case "$target" in
      server_stdio) export MCPSPEC_SERVER_CMD="$fixture"; unset MCPSPEC_SERVER_URL ;;
      server_http) export MCPSPEC_SERVER_CMD="$fixture --port {port}" \
        MCPSPEC_SERVER_URL='http://127.0.0.1:{port}/mcp' ;;
      *) unset MCPSPEC_SERVER_CMD MCPSPEC_SERVER_URL ;;
    esac
    seeds="../corpus/$target"
    [ -d "$seeds" ] || seeds="../corpus/server_stdio"   # server_http shares its seeds
    (cd fuzz && cargo +nightly fuzz run "$target" "corpus/$target" "$seeds" \
      -- -max_total_time="${MCPSPEC_FUZZ_SMOKE_SECONDS:-15}" -print_final_stats=1 "${flags[@]}" 2>&1 | tail -n 3)
  done
else
  echo "no nightly toolchain: fuzz smoke skipped (stable cargo test replayed every seed)"
fi
echo "all checks passed"
