#!/usr/bin/env bash
# Compare arietta with aria2c over BitTorrent on loopback, through a local
# opentracker (HTTP announce), on one single-file torrent (default 1 GiB,
# 1 MiB pieces, made with mktorrent).
#
# Workloads (RUNS timed runs each, medians reported):
#   a2a     arietta seeding -> arietta leeching   vs  aria2c -> aria2c
#   leech   arietta leeching from an aria2c seeder vs aria2c leeching from it
#   hash    arietta -V on the complete file       vs  aria2c --check-integrity
# Every leecher runs with --seed-time=0 and its output is compared with the
# source once per tool. Wall time comes from /usr/bin/time.
#
# Usage: perf/bt_vs_aria2.sh [--quick] [--keep]
#   --quick   RUNS=3, 256 MiB
#   --keep    leave the temp dir (data, logs) behind
# Environment: ARIETTA=path (default: build target/release/arietta),
#   ARIA2C=path, RUNS=n (5), SIZE_MIB=n (1024), PIECE_POW=n (20: 1 MiB
#   pieces), ARIETTA_ARGS="..." (extra arietta options, e.g.
#   --bt-force-encryption=true for RC4 both ways), ARIA2C_ARGS="..." (the
#   same for aria2c), TMPDIR.
set -euo pipefail

# shellcheck source=lib/bt_harness.sh
source "$(dirname "$0")/lib/bt_harness.sh"

RUNS=${RUNS:-5}
SIZE_MIB=${SIZE_MIB:-1024}
PIECE_POW=${PIECE_POW:-20}
KEEP=0
quick_mode() { RUNS=3; SIZE_MIB=256; }
parse_args "$@"
require_bt_tools
cd "$(dirname "$0")/.."
build_arietta

make_workdir bt-perf

log "making ${SIZE_MIB} MiB of data and the torrent"
mkdir -p "$WORK/seed"
head -c "$((SIZE_MIB << 20))" /dev/urandom > "$WORK/seed/big.bin"
TRACKER_PORT=$(free_port)
mktorrent -l "$PIECE_POW" -a "http://127.0.0.1:$TRACKER_PORT/announce" \
    -o "$WORK/big.torrent" "$WORK/seed/big.bin" >/dev/null
INFO_HASH=$(python3 - "$WORK/big.torrent" <<'PY'
import hashlib, sys
d = open(sys.argv[1], 'rb').read()
i = d.index(b'4:info') + 6
print(hashlib.sha1(d[i:-1]).hexdigest())
PY
)
echo "$INFO_HASH" > "$WORK/whitelist"
printf 'listen.tcp_udp 127.0.0.1:%s\naccess.whitelist %s\n' "$TRACKER_PORT" "$WORK/whitelist" > "$WORK/ot.conf"
chmod 644 "$WORK/whitelist" "$WORK/ot.conf"
opentracker -f "$WORK/ot.conf" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$TRACKER_PORT"

COMMON_A2=(--no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false
    --enable-peer-exchange=false --bt-tracker-interval=1 --summary-interval=0
    --file-allocation=none -q)
# shellcheck disable=SC2206
COMMON_A2+=(${ARIA2C_ARGS:-})
COMMON_AR=(--no-conf --bt-tracker-interval=1 --summary-interval=0 --file-allocation=none -q)
# shellcheck disable=SC2206 # word splitting wanted: several options
COMMON_AR+=(${ARIETTA_ARGS:-})
SRC_SUM=$(sha1sum < "$WORK/seed/big.bin" | cut -d' ' -f1)

start_seeder() { # tool -> sets SEEDER_PID
    local port; port=$(free_port)
    if [[ $1 == arietta ]]; then
        HOME="$WORK" "$ARIETTA" "${COMMON_AR[@]}" -d "$WORK/seed" --seed-ratio=0 \
            --bt-seed-unverified --listen-port="$port" "$WORK/big.torrent" >"$WORK/seeder.log" 2>&1 &
    else
        HOME="$WORK" "$ARIA2C" "${COMMON_A2[@]}" -d "$WORK/seed" --seed-ratio=0 \
            --bt-seed-unverified=true --listen-port="$port" "$WORK/big.torrent" >"$WORK/seeder.log" 2>&1 &
    fi
    SEEDER_PID=$!
    PIDS+=("$SEEDER_PID")
    wait_port "$port"
    sleep 1.5 # its first announce
}
stop_seeder() {
    kill "$SEEDER_PID" 2>/dev/null || true
    wait "$SEEDER_PID" 2>/dev/null || true
    # An interrupted seeder leaves its control file; the other tool must not
    # read it (arietta's format is its own).
    rm -f "$WORK/seed/big.bin.aria2"
    sleep 1
}

# time_run NAME CMD... : appends wall seconds to $WORK/NAME.times
time_run() {
    local name=$1; shift
    /usr/bin/time -f '%e' -o "$WORK/t.out" "$@" >"$WORK/$name.log" 2>&1 || die "$name failed (see $WORK/$name.log)"
    cat "$WORK/t.out" >> "$WORK/$name.times"
}
leech() { # tool name
    rm -rf "$WORK/leech"
    local port; port=$(free_port)
    if [[ $1 == arietta ]]; then
        time_run "$2" env HOME="$WORK" "$ARIETTA" "${COMMON_AR[@]}" -d "$WORK/leech" --seed-time=0 \
            --listen-port="$port" "$WORK/big.torrent"
    else
        time_run "$2" env HOME="$WORK" "$ARIA2C" "${COMMON_A2[@]}" -d "$WORK/leech" --seed-time=0 \
            --listen-port="$port" "$WORK/big.torrent"
    fi
    if [[ ! -e "$WORK/$2.checked" ]]; then
        [[ $(sha1sum < "$WORK/leech/big.bin" | cut -d' ' -f1) == "$SRC_SUM" ]] || die "$2: wrong data"
        touch "$WORK/$2.checked"
    fi
}
median() { sort -n "$WORK/$1.times" | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

log "a2a: arietta -> arietta"
start_seeder arietta
for _ in $(seq 1 "$RUNS"); do leech arietta a2a_arietta; done
stop_seeder
log "a2a: aria2c -> aria2c, and leeching from aria2c"
start_seeder aria2c
for _ in $(seq 1 "$RUNS"); do
    leech aria2c a2a_aria2c
    leech arietta leech_arietta
done
cp "$WORK/a2a_aria2c.times" "$WORK/leech_aria2c.times"
stop_seeder
log "hash: -V on the complete file"
for _ in $(seq 1 "$RUNS"); do
    time_run hash_arietta env HOME="$WORK" "$ARIETTA" "${COMMON_AR[@]}" -d "$WORK/seed" -V --seed-time=0 \
        --bt-exclude-tracker='*' --listen-port="$(free_port)" "$WORK/big.torrent"
    rm -f "$WORK/seed/big.bin.aria2"
    time_run hash_aria2c env HOME="$WORK" "$ARIA2C" "${COMMON_A2[@]}" -d "$WORK/seed" -V --seed-time=0 \
        --bt-exclude-tracker='*' --listen-port="$(free_port)" "$WORK/big.torrent"
    rm -f "$WORK/seed/big.bin.aria2"
done

echo
echo "BitTorrent, ${SIZE_MIB} MiB single file, $((1 << (PIECE_POW - 10))) KiB pieces, loopback, opentracker; median of $RUNS wall-clock seconds"
echo
echo "| workload | arietta (s) | aria2c (s) | arietta/aria2c |"
echo "|---|---:|---:|---:|"
for w in "a2a:seeder → leecher, same tool" "leech:leech from an aria2c seeder" "hash:-V / --check-integrity"; do
    key=${w%%:*}; label=${w#*:}
    a=$(median "${key}_arietta"); b=$(median "${key}_aria2c")
    echo "| $label | $a | $b | $(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f×", a / b}') |"
done
