#!/usr/bin/env bash
# How arietta scales with cores: the 1 GiB `-x16 -s16` nginx workload of
# perf/http_vs_aria2.sh run with `--cores N` for each N in CORES, aria2c
# beside it each time (aria2c is single-threaded; its numbers show the
# machine's noise). Prints one table per N and a summary of medians.
#
# Usage: perf/cores_scaling.sh
# Environment (besides what http_vs_aria2.sh takes: ARIETTA, ARIA2C, NGINX,
# RUNS, BIG_MIB, TMPDIR):
#   CORES="1 2 4 8 16"   core counts to try (default: 1 2 4 ... up to nproc)
#   NGINX_WORKERS=n      default: half the CPUs, at least 1
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NPROC=$(nproc)
if [[ -z ${CORES:-} ]]; then
    CORES=""
    n=1
    while ((n <= NPROC)); do CORES+="$n "; n=$((n * 2)); done
fi
export NGINX_WORKERS=${NGINX_WORKERS:-$(( NPROC / 2 > 0 ? NPROC / 2 : 1 ))}
export RUNS=${RUNS:-3}
export WORKLOADS=big
if [[ -z ${ARIETTA:-} ]]; then
    (cd "$REPO" && cargo build --release -q -p arietta-cli)
    ARIETTA=${CARGO_TARGET_DIR:-$REPO/target}/release/arietta
fi
WRAP=$(mktemp -d)
trap 'rm -rf "$WRAP"' EXIT
summary="| --cores | arietta wall (s) | aria2c wall (s) | ratio | arietta CPU (s) |\n|---:|---:|---:|---:|---:|\n"
for c in $CORES; do
    # http_vs_aria2.sh runs "$ARIETTA" with aria2c's arguments: a wrapper
    # adds --cores.
    printf '#!/bin/sh\nexec %q --cores=%s "$@"\n' "$ARIETTA" "$c" > "$WRAP/arietta-$c"
    chmod +x "$WRAP/arietta-$c"
    echo "== --cores=$c (nginx workers: $NGINX_WORKERS, $NPROC CPUs)"
    out=$(ARIETTA="$WRAP/arietta-$c" "$REPO/perf/http_vs_aria2.sh" 2>/dev/null)
    echo "$out"
    # Rows look like: | big | arietta | WALL | CPU | RSS | and | big | aria2c | ...
    a_wall=$(echo "$out" | awk -F'|' '$2 ~ /MiB/ && $3 ~ /arietta/ {gsub(/ /,"",$4); print $4; exit}')
    a_cpu=$(echo "$out" | awk -F'|' '$2 ~ /MiB/ && $3 ~ /arietta/ {gsub(/ /,"",$5); print $5; exit}')
    b_wall=$(echo "$out" | awk -F'|' '$2 ~ /MiB/ && $3 ~ /aria2c/ {gsub(/ /,"",$4); print $4; exit}')
    ratio=$(awk -v a="$a_wall" -v b="$b_wall" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }')
    summary+="| $c | $a_wall | $b_wall | ${ratio}x | $a_cpu |\n"
done
echo
echo "## Scaling with --cores ($NPROC CPUs, RUNS=$RUNS, medians)"
printf "%b" "$summary"
