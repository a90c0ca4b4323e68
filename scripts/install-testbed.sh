#!/usr/bin/env bash
# Install the mcpspec test bed: three real MCP servers, into the git-ignored
# folder .testbed/ at the repo root.
#
#   .testbed/node/          @modelcontextprotocol/server-everything (npm ci from testbed/node/package-lock.json)
#   .testbed/venv/          Python venv with the official SDK, mcp==$PY_MCP_VERSION (runs testbed/python/server.py)
#   .testbed/rmcp-target/   cargo target dir of testbed/rmcp-server (binary mcpspec-testbed-rmcp)
#   .testbed/servers.env    sourceable file with the stdio command of each server
#
# Idempotent: each step writes a stamp keyed on its inputs (versions, hashes of
# the committed sources/lock files, tool versions) and is skipped when the stamp
# still matches, so a second run takes a second or two.
#
# Environment:
#   MCPSPEC_TESTBED_RMCP_FEATURES  cargo features for the rmcp server (default "http";
#                                  set to "" for a stdio-only build, ~25 s faster cold)
#   MCPSPEC_TESTBED_FORCE=1        ignore stamps and redo every step
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd -P)"
TB="$ROOT/.testbed"

EVERYTHING_VERSION="2026.8.31"
PY_MCP_VERSION="2.3.0"
RMCP_FEATURES="${MCPSPEC_TESTBED_RMCP_FEATURES-http}"
FORCE="${MCPSPEC_TESTBED_FORCE:-0}"

log() { printf 'install-testbed: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

case "$ROOT" in
  *[[:space:]]*) die "repo path '$ROOT' contains whitespace; servers.env uses space-separated words" ;;
esac

for tool in env node npm python3 cargo rustc sha256sum; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH"
done
abs_tool() {
  local p
  p="$(command -v "$1")"
  case "$p" in /*) ;; *) p="$(cd "$(dirname "$p")" && pwd -P)/$(basename "$p")" ;; esac
  printf '%s\n' "$p"
}
NODE_BIN="$(abs_tool node)"
ENV_BIN="$(abs_tool env)"

mkdir -p "$TB"

# stamp_key PARTS... -> one sha256 over the given strings and files (a part that
# names an existing file contributes the file's content).
stamp_key() {
  local part
  for part in "$@"; do
    if [ -f "$part" ]; then
      printf 'file %s\n' "${part#"$ROOT"/}"
      cat "$part"
    else
      printf 'str %s\n' "$part"
    fi
  done | sha256sum | cut -d' ' -f1
}

# up_to_date STAMP_FILE KEY [REQUIRED_PATH...]
up_to_date() {
  local stamp="$1" key="$2"
  shift 2
  [ "$FORCE" = 1 ] && return 1
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$key" ] || return 1
  local p
  for p in "$@"; do [ -e "$p" ] || return 1; done
  return 0
}

elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

# --- 1. server-everything (Node) -------------------------------------------
NODE_DIR="$TB/node"
EVERYTHING_BIN="$NODE_DIR/node_modules/.bin/mcp-server-everything"
EVERYTHING_PKG="$NODE_DIR/node_modules/@modelcontextprotocol/server-everything/package.json"
node_key="$(stamp_key "everything=$EVERYTHING_VERSION" "node=$(node --version)" \
  "$ROOT/testbed/node/package.json" "$ROOT/testbed/node/package-lock.json")"
if up_to_date "$NODE_DIR/.mcpspec-stamp" "$node_key" "$EVERYTHING_BIN" "$EVERYTHING_PKG"; then
  log "server-everything: up to date"
else
  t0=$(date +%s)
  log "server-everything: npm ci (@modelcontextprotocol/server-everything@$EVERYTHING_VERSION)"
  grep -q "\"@modelcontextprotocol/server-everything\": \"$EVERYTHING_VERSION\"" "$ROOT/testbed/node/package.json" \
    || die "testbed/node/package.json does not pin server-everything $EVERYTHING_VERSION"
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$ROOT/testbed/node/package.json" "$ROOT/testbed/node/package-lock.json" "$NODE_DIR/"
  npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error >&2
  installed="$(node -p "require(process.argv[1]).version" "$EVERYTHING_PKG")"
  [ "$installed" = "$EVERYTHING_VERSION" ] || die "server-everything $installed installed, expected $EVERYTHING_VERSION"
  printf '%s\n' "$node_key" >"$NODE_DIR/.mcpspec-stamp"
  log "server-everything: installed in $(elapsed "$t0")"
fi

# --- 2. Python SDK server ---------------------------------------------------
VENV="$TB/venv"
VENV_PY="$VENV/bin/python"
py_key="$(stamp_key "mcp==$PY_MCP_VERSION" "$(cat "$ROOT/testbed/python/constraints.txt" 2>/dev/null)" "$(python3 --version 2>&1)" "$(command -v python3)")"
if up_to_date "$VENV/.mcpspec-stamp" "$py_key" "$VENV_PY"; then
  log "python sdk: up to date"
else
  t0=$(date +%s)
  log "python sdk: venv + pip install mcp==$PY_MCP_VERSION"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV_PY" -m pip install --quiet --disable-pip-version-check -c "$ROOT/testbed/python/constraints.txt" "mcp==$PY_MCP_VERSION" >&2
  installed="$("$VENV_PY" -c 'import importlib.metadata as m; print(m.version("mcp"))')"
  [ "$installed" = "$PY_MCP_VERSION" ] || die "mcp $installed installed, expected $PY_MCP_VERSION"
  "$VENV_PY" -c 'from mcp.server.mcpserver import MCPServer' || die "mcp.server.mcpserver.MCPServer not importable"
  printf '%s\n' "$py_key" >"$VENV/.mcpspec-stamp"
  log "python sdk: installed in $(elapsed "$t0")"
fi

# --- 3. rmcp server ---------------------------------------------------------
RMCP_DIR="$ROOT/testbed/rmcp-server"
RMCP_TARGET="$TB/rmcp-target"
RMCP_BIN="$RMCP_TARGET/release/mcpspec-testbed-rmcp"
rmcp_key="$(stamp_key "features=$RMCP_FEATURES" "$(rustc --version 2>&1)" "$(cargo --version 2>&1)" \
  "$RMCP_DIR/Cargo.toml" "$RMCP_DIR/Cargo.lock" $(find "$RMCP_DIR/src" -type f -name '*.rs' | LC_ALL=C sort))"
if up_to_date "$RMCP_TARGET/.mcpspec-stamp" "$rmcp_key" "$RMCP_BIN"; then
  log "rmcp: up to date"
else
  t0=$(date +%s)
  log "rmcp: cargo build --release${RMCP_FEATURES:+ --features $RMCP_FEATURES} (cold build takes 1-2 min on 2 cores)"
  feature_args=()
  [ -n "$RMCP_FEATURES" ] && feature_args=(--features "$RMCP_FEATURES")
  CARGO_TARGET_DIR="$RMCP_TARGET" cargo build --release --locked --quiet \
    --manifest-path "$RMCP_DIR/Cargo.toml" "${feature_args[@]}" >&2
  [ -x "$RMCP_BIN" ] || die "build finished but $RMCP_BIN is missing"
  printf '%s\n' "$rmcp_key" >"$RMCP_TARGET/.mcpspec-stamp"
  log "rmcp: built in $(elapsed "$t0")"
fi

# --- servers.env ------------------------------------------------------------
# GZIP_ALLOWED_DOMAINS keeps server-everything's gzip-file-as-resource tool (whose
# default argument is a github URL) from fetching anything but loopback URLs.
EVERYTHING_CMD="$ENV_BIN GZIP_ALLOWED_DOMAINS=127.0.0.1 $NODE_BIN $EVERYTHING_BIN stdio"
PYTHON_CMD="$VENV_PY $ROOT/testbed/python/server.py"
RMCP_CMD="$RMCP_BIN"
ENV_FILE="$TB/servers.env"
tmp="$ENV_FILE.tmp.$$"
cat >"$tmp" <<EOF
# Generated by scripts/install-testbed.sh; do not edit. Source it from bash:
#   source .testbed/servers.env
# Each *_CMD is the stdio command line of one test-bed server as space-separated
# words (no path here contains spaces), so expand it unquoted: \$MCPSPEC_RMCP_CMD
# or read it into an array: read -ra cmd <<<"\$MCPSPEC_RMCP_CMD".
# HTTP variants (loopback only) are described in testbed/README.md.
export MCPSPEC_TESTBED_DIR="$TB"
export MCPSPEC_EVERYTHING_VERSION="$EVERYTHING_VERSION"
export MCPSPEC_PYTHON_SDK_VERSION="$PY_MCP_VERSION"
export MCPSPEC_RMCP_FEATURES="$RMCP_FEATURES"
export MCPSPEC_LOOPBACK_MJS="$ROOT/testbed/loopback.mjs"
export MCPSPEC_EVERYTHING_CMD="$EVERYTHING_CMD"
export MCPSPEC_PYTHON_CMD="$PYTHON_CMD"
export MCPSPEC_RMCP_CMD="$RMCP_CMD"
EOF
mv "$tmp" "$ENV_FILE"

echo "ready: server-everything $EVERYTHING_VERSION: $EVERYTHING_CMD"
echo "ready: python-sdk mcp $PY_MCP_VERSION: $PYTHON_CMD"
echo "ready: rmcp 3.11.0${RMCP_FEATURES:+ (features: $RMCP_FEATURES)}: $RMCP_CMD"
echo "(source $ENV_FILE for MCPSPEC_EVERYTHING_CMD, MCPSPEC_PYTHON_CMD, MCPSPEC_RMCP_CMD)"
