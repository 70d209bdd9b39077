#!/usr/bin/env bash
# Many torrents, one port each side: one seeder process serving COUNT
# single-file torrents (default 40 × 16 MiB, 1 MiB pieces, made with
# mktorrent) to one leecher process fetching them all at once (-j COUNT),
# through a local opentracker. arietta → arietta against aria2c → aria2c;
# both seeders listen on one --listen-port (the shared listener of issue 9).
#
# RUNS timed leecher runs per tool, median wall-clock seconds reported with
# the ratio (target ≤ 0.35×). The leeched data is compared with the source
# once per tool. Wall time comes from /usr/bin/time.
#
# Usage: perf/bt_many_vs_aria2.sh [--quick] [--keep]
#   --quick   RUNS=1
#   --keep    leave the temp dir (data, logs) behind
# Environment: ARIETTA=path (default: build target/release/arietta),
#   ARIA2C=path, RUNS=n (3), COUNT=n (40), SIZE_MIB=n (16 per torrent),
#   PIECE_POW=n (20: 1 MiB pieces), ARIETTA_ARGS="...", ARIA2C_ARGS="...",
#   TMPDIR.
set -euo pipefail

# shellcheck source=lib/bt_harness.sh
source "$(dirname "$0")/lib/bt_harness.sh"

RUNS=${RUNS:-3}
COUNT=${COUNT:-40}
SIZE_MIB=${SIZE_MIB:-16}
PIECE_POW=${PIECE_POW:-20}
KEEP=0
quick_mode() { RUNS=1; }
parse_args "$@"
require_bt_tools
cd "$(dirname "$0")/.."
build_arietta

make_workdir bt-many-perf

log "making $COUNT × ${SIZE_MIB} MiB of data and the torrents"
mkdir -p "$WORK/seed" "$WORK/torrents"
TRACKER_PORT=$(free_port)
: > "$WORK/whitelist"
: > "$WORK/list"
for i in $(seq -w 1 "$COUNT"); do
    head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/seed/f$i.bin"
    mktorrent -l "$PIECE_POW" -a "http://127.0.0.1:$TRACKER_PORT/announce" \
        -o "$WORK/torrents/f$i.torrent" "$WORK/seed/f$i.bin" >/dev/null
    echo "$WORK/torrents/f$i.torrent" >> "$WORK/list"
done
python3 - "$WORK"/torrents/*.torrent >> "$WORK/whitelist" <<'PY'
import hashlib, sys
for p in sys.argv[1:]:
    d = open(p, 'rb').read()
    i = d.index(b'4:info') + 6
    print(hashlib.sha1(d[i:-1]).hexdigest())
PY
printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist %s\n' "$TRACKER_PORT" "$WORK/whitelist" > "$WORK/ot.conf"
chmod 644 "$WORK/whitelist" "$WORK/ot.conf"
opentracker -f "$WORK/ot.conf" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$TRACKER_PORT"
(cd "$WORK/seed" && sha1sum f*.bin) > "$WORK/src.sums"

COMMON_A2=(--no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false
    --enable-peer-exchange=false --bt-tracker-interval=1 --summary-interval=0
    --file-allocation=none -q -j "$COUNT")
# shellcheck disable=SC2206
COMMON_A2+=(${ARIA2C_ARGS:-})
COMMON_AR=(--no-conf --enable-dht=false --bt-tracker-interval=1 --summary-interval=0
    --file-allocation=none -q -j "$COUNT")
# shellcheck disable=SC2206 # word splitting wanted: several options
COMMON_AR+=(${ARIETTA_ARGS:-})

start_seeder() { # tool -> sets SEEDER_PID
    local port; port=$(free_port)
    if [[ $1 == arietta ]]; then
        HOME="$WORK" "$ARIETTA" "${COMMON_AR[@]}" -d "$WORK/seed" --seed-ratio=0 \
            --bt-seed-unverified --listen-port="$port" -i "$WORK/list" >"$WORK/seeder.log" 2>&1 &
    else
        HOME="$WORK" "$ARIA2C" "${COMMON_A2[@]}" -d "$WORK/seed" --seed-ratio=0 \
            --bt-seed-unverified=true --listen-port="$port" -i "$WORK/list" >"$WORK/seeder.log" 2>&1 &
    fi
    SEEDER_PID=$!
    PIDS+=("$SEEDER_PID")
    wait_port "$port"
    sleep 3 # every torrent up and announced
}
stop_seeder() {
    kill "$SEEDER_PID" 2>/dev/null || true
    wait "$SEEDER_PID" 2>/dev/null || true
    rm -f "$WORK"/seed/*.aria2
    sleep 1
}

leech() { # tool
    rm -rf "$WORK/leech"
    local port; port=$(free_port)
    local cmd
    if [[ $1 == arietta ]]; then
        cmd=("$ARIETTA" "${COMMON_AR[@]}")
    else
        cmd=("$ARIA2C" "${COMMON_A2[@]}")
    fi
    /usr/bin/time -f '%e' -o "$WORK/t.out" env HOME="$WORK" "${cmd[@]}" -d "$WORK/leech" \
        --seed-time=0 --listen-port="$port" -i "$WORK/list" >"$WORK/$1.log" 2>&1 \
        || die "$1 leecher failed (see $WORK/$1.log)"
    cat "$WORK/t.out" >> "$WORK/$1.times"
    if [[ ! -e "$WORK/$1.checked" ]]; then
        (cd "$WORK/leech" && sha1sum -c --quiet "$WORK/src.sums") || die "$1: wrong data"
        touch "$WORK/$1.checked"
    fi
}
median() { sort -n "$WORK/$1.times" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

for tool in arietta aria2c; do
    log "$tool -> $tool"
    start_seeder "$tool"
    for _ in $(seq 1 "$RUNS"); do leech "$tool"; done
    stop_seeder
done

a=$(median arietta); b=$(median aria2c)
echo
echo "BitTorrent, $COUNT torrents × ${SIZE_MIB} MiB, $((1 << (PIECE_POW - 10))) KiB pieces, one seeder process → one leecher process, one port each, loopback, opentracker; median of $RUNS wall-clock seconds"
echo
echo "| workload | arietta (s) | aria2c (s) | arietta/aria2c |"
echo "|---|---:|---:|---:|"
echo "| seeder → leecher, same tool | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f×", a / b}') |"
