#!/bin/bash -eu
# Build every cargo-fuzz target and package its seeds, as OSS-Fuzz / ClusterFuzzLite expect.
cd "$SRC/mcpspec/fuzz"
cargo fuzz build -O
for target in $(cargo fuzz list); do
  cp "target/x86_64-unknown-linux-gnu/release/$target" "$OUT/"
  # libFuzzer flags per target (e.g. max_len for the framing decoders).
  [ -f "../corpus/$target.options" ] && cp "../corpus/$target.options" "$OUT/"
  if [ -d "../corpus/$target" ]; then
    (cd "../corpus/$target" && find . -maxdepth 2 -type f -print0 | xargs -0 -r zip -q -j "$OUT/${target}_seed_corpus.zip")
  fi
done
