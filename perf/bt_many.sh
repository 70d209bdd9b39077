#!/usr/bin/env bash
# Many torrents at once: COUNT single-file torrents of SIZE_MIB each, one
# arietta seeding all of them, and one arietta process leeching all of them
# (`-i` list, `-j COUNT`) with `--cores=CORES`. Each binary in ARIETTAS is
# timed RUNS times, alternating, against the same seeder (the first binary),
# so an old and a new build can be compared on the same noisy machine.
# Also prints, from the leecher's log, how many BlocksWritten messages
# carried how many blocks (builds that log `block_reports`).
#
# Usage: perf/bt_many.sh
# Environment: ARIETTAS="new old" (paths; default target/release/arietta),
#   COUNT=8, SIZE_MIB=64, PIECE_POW=20, CORES=2, RUNS=5, TMPDIR, KEEP=1.
set -euo pipefail
# shellcheck source=lib/bt_harness.sh
source "$(dirname "$0")/lib/bt_harness.sh"
COUNT=${COUNT:-8}
SIZE_MIB=${SIZE_MIB:-64}
PIECE_POW=${PIECE_POW:-20}
CORES=${CORES:-2}
RUNS=${RUNS:-5}
KEEP=${KEEP:-0}
cd "$(dirname "$0")/.."
if [[ -z "${ARIETTAS:-}" ]]; then
    cargo build --release -q -p arietta-cli
    ARIETTAS=${CARGO_TARGET_DIR:-target}/release/arietta
fi
read -r -a BINS <<< "$ARIETTAS"
make_workdir bt-many
# A run of COUNT free ports starting at a random base.
port_range() {
    local base
    while :; do
        base=$((20000 + RANDOM % 30000))
        python3 - "$base" "$COUNT" <<'PY' && break
import socket, sys
b, n = int(sys.argv[1]), int(sys.argv[2])
for p in range(b, b + n):
    s = socket.socket(); s.bind(("0.0.0.0", p)); s.close()
PY
    done
    echo "$base-$((base + COUNT - 1))"
}

log "making $COUNT × ${SIZE_MIB} MiB and their torrents"
mkdir -p "$WORK/seed"
TRACKER_PORT=$(free_port)
: > "$WORK/whitelist"
: > "$WORK/list"
for i in $(seq 1 "$COUNT"); do
    head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/seed/f$i.bin"
    mktorrent -l "$PIECE_POW" -a "http://127.0.0.1:$TRACKER_PORT/announce" \
        -o "$WORK/t$i.torrent" "$WORK/seed/f$i.bin" >/dev/null
    python3 - "$WORK/t$i.torrent" >> "$WORK/whitelist" <<'PY'
import hashlib, sys
d = open(sys.argv[1], 'rb').read()
i = d.index(b'4:info') + 6
print(hashlib.sha1(d[i:-1]).hexdigest())
PY
    echo "$WORK/t$i.torrent" >> "$WORK/list"
done
(cd "$WORK/seed" && sha1sum f*.bin) > "$WORK/sums"
printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist %s\n' "$TRACKER_PORT" "$WORK/whitelist" > "$WORK/ot.conf"
chmod 644 "$WORK/whitelist" "$WORK/ot.conf"
opentracker -f "$WORK/ot.conf" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$TRACKER_PORT"

COMMON=(--no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false
    --enable-peer-exchange=false --bt-tracker-interval=1 --summary-interval=0
    --file-allocation=none -q -j "$COUNT")
SEED_PORTS=$(port_range)
HOME="$WORK" "${BINS[0]}" "${COMMON[@]}" -d "$WORK/seed" --seed-ratio=0 --bt-seed-unverified \
    --listen-port="$SEED_PORTS" -i "$WORK/list" > "$WORK/seeder.log" 2>&1 &
PIDS+=($!)
wait_port "${SEED_PORTS%-*}"
sleep 2

for r in $(seq 1 "$RUNS"); do
    for n in "${!BINS[@]}"; do
        rm -rf "$WORK/leech"
        /usr/bin/time -f '%e %U %S' -o "$WORK/t.out" env HOME="$WORK" "${BINS[$n]}" "${COMMON[@]}" \
            --cores="$CORES" -d "$WORK/leech" --seed-time=0 --listen-port="$(port_range)" \
            -l "$WORK/leech$n.log" --log-level=info -i "$WORK/list" > "$WORK/run.log" 2>&1 \
            || die "${BINS[$n]} failed (see $WORK/run.log)"
        read -r wall user sys < "$WORK/t.out"
        echo "$wall $(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" >> "$WORK/bin$n.times"
        log "run $r, ${BINS[$n]}: ${wall}s"
        if [[ $r == 1 ]]; then
            (cd "$WORK/leech" && sha1sum -c --quiet "$WORK/sums") || die "${BINS[$n]}: wrong data"
        fi
    done
done
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
total=$((COUNT * SIZE_MIB))
echo
echo "$COUNT torrents × ${SIZE_MIB} MiB at once, --cores=$CORES, $(nproc) CPUs, arietta seeder (${BINS[0]}); median of $RUNS"
echo
echo "| binary | wall (s) | MiB/s | CPU (s) | BlocksWritten msgs / blocks (all runs) |"
echo "|---|---:|---:|---:|---:|"
for n in "${!BINS[@]}"; do
    wall=$(cut -d' ' -f1 "$WORK/bin$n.times" | median)
    cpu=$(cut -d' ' -f2 "$WORK/bin$n.times" | median)
    msgs=$( (grep -o "block_reports=[0-9]*" "$WORK/leech$n.log" || true) | awk -F= '{s+=$2} END {print s+0}')
    blocks=$( (grep -o " blocks=[0-9]*" "$WORK/leech$n.log" || true) | awk -F= '{s+=$2} END {print s+0}')
    echo "| ${BINS[$n]} | $wall | $(awk -v t="$total" -v w="$wall" 'BEGIN {printf "%.0f", t / w}') | $cpu | $msgs / $blocks |"
done
