#!/usr/bin/env bash
# Builds the release binary with profile-guided optimization (PGO), the build
# the image ships:
#
#   scripts/build-pgo.sh [OUT]            (default target/pgo/audex)
#
# 1. an instrumented release build (target/pgo-gen);
# 2. training: it replays the audit logs of this repository (tests/golden,
#    tests/storm: real kernel captures, user-space records, ENRICHED logs) as
#    JSON and protobuf, on one and two threads, as ECS and OTLP/JSON, and
#    through a spool and a JSON-lines exporter (`replay --config`), which are
#    the paths `run` and `watch` take after reading;
# 3. the profiles merged by llvm-profdata (rustup's llvm-tools component,
#    added when missing) and the release build redone with them (target/pgo).
#
# Same source, same output (checked in .ci/run on the golden logs); the
# compiler lays out branches and inlines by what the training took. Measured
# on the auditd storm capture (crates/audex/benches/replay_compare.rs, see the
# README): `replay --format proto` on one thread takes 12-15 % less CPU.
# Two release builds with fat LTO: about 12 min on 2 cores (the instrumented
# one is kept while the source does not change: about 5 min then).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/pgo/audex}

sysroot=$(rustc --print sysroot)
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$sysroot/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    command -v rustup >/dev/null || {
        echo "build-pgo: no llvm-profdata at $profdata and no rustup to add it (rustup component add llvm-tools)" >&2
        exit 2
    }
    rustup component add llvm-tools >&2
    [ -x "$profdata" ] || { echo "build-pgo: rustup added llvm-tools but $profdata is missing" >&2; exit 2; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
profiles="$work/profiles"
mkdir -p "$profiles"

echo "build-pgo: instrumented build (target/pgo-gen)" >&2
# Flags that do not change from run to run, so that cargo keeps this build
# while the source does not change; the training below sends its profiles
# to this run's directory (LLVM_PROFILE_FILE).
RUSTFLAGS="-Cprofile-generate=$PWD/target/pgo-gen/profiles" \
    cargo build --release -p audex --locked --target-dir target/pgo-gen
gen=target/pgo-gen/release/audex
export LLVM_PROFILE_FILE="$profiles/audex-%m-%p.profraw"

echo "build-pgo: training" >&2
logs=(tests/golden/*.log tests/storm/*.log)
[ -e "${logs[0]}" ] || { echo "build-pgo: no training logs under tests/" >&2; exit 2; }
cat > "$work/config.yaml" <<EOF
tenants:
  - name: default
    exporters: [out]
exporters:
  - {name: out, type: jsonl, path: $work/out.jsonl}
spool: {dir: $work/spool, max_bytes: 268435456}
EOF
for log in "${logs[@]}"; do
    for format in proto json; do
        for threads in 1 2; do
            "$gen" replay -q --threads "$threads" --format "$format" -o /dev/null "$log"
        done
    done
    for format in ecs otlp-json; do
        "$gen" replay -q --format "$format" -o /dev/null "$log"
    done
    "$gen" replay -q --config "$work/config.yaml" "$log" >/dev/null
    rm -rf "$work/spool" "$work/out.jsonl"
done
"$profdata" merge -o "$work/audex.profdata" "$profiles"

unset LLVM_PROFILE_FILE

echo "build-pgo: optimized build (target/pgo)" >&2
# A function the training never ran has no profile: not a warning's worth.
# The profile's path is this run's on purpose: cargo compares flags, not the
# file's content, so a fixed path would keep crates built with an older
# profile.
RUSTFLAGS="-Cprofile-use=$work/audex.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
    cargo build --release -p audex --locked --target-dir target/pgo
install -D -m 0755 target/pgo/release/audex "$out"
echo "build-pgo: $out" >&2
