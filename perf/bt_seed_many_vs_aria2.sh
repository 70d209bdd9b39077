#!/usr/bin/env bash
# Seedbox start-up: one process seeding COUNT small single-file torrents
# (default 10,000 × 16 KiB, one 16 KiB piece each) on one --listen-port,
# all active at once (-j COUNT, from an -i list), no tracker/DHT/LPD.
# arietta and aria2c side by side, each started RUNS times (alternating):
#
#   * cold: `-V` (both hash every file: no control files yet);
#   * warm (arietta only, `WARM=1`): a second start from the control files
#     the cold run left, arietta's fast resume. Both runs pass
#     `--force-save` as a seedbox does (README): without it a complete
#     torrent's control file goes, as in aria2.
#
# Reported: seconds from exec to "all COUNT seeding" (polled over JSON-RPC:
# getGlobalStat numActive, then tellActive's `seeder` field), and the
# process's VmRSS at that moment. Issue 9's goal: ≤ 10 s and ≤ 200 MB.
#
# Usage: perf/bt_seed_many_vs_aria2.sh [--quick] [--keep]
#   --quick   RUNS=1
#   --keep    leave the temp dir behind
# Environment: ARIETTA=path (default: build target/release/arietta),
#   ARIA2C=path, RUNS=n (3), COUNT=n (10000), SIZE=n bytes (16384),
#   WARM=0|1 (1), LIMIT=s (300: give up after), TMPDIR.
set -euo pipefail

# shellcheck source=lib/bt_harness.sh
source "$(dirname "$0")/lib/bt_harness.sh"

RUNS=${RUNS:-3}
COUNT=${COUNT:-10000}
SIZE=${SIZE:-16384}
WARM=${WARM:-1}
LIMIT=${LIMIT:-300}
KEEP=0
quick_mode() { RUNS=1; }
parse_args "$@"
require_bt_tools
cd "$(dirname "$0")/.."
build_arietta
# Thousands of torrents: each tool keeps its files' descriptors bounded
# (--bt-max-open-files) but sockets and the -i list need room.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

make_workdir bt-seed-many

log "making $COUNT torrents of $SIZE bytes"
python3 - "$WORK" "$COUNT" "$SIZE" <<'PY'
import hashlib, os, sys
work, count, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
os.makedirs(f"{work}/seed", exist_ok=True)
os.makedirs(f"{work}/torrents", exist_ok=True)
piece = 16384
def b(v):
    if isinstance(v, int): return b"i%de" % v
    if isinstance(v, str): v = v.encode()
    if isinstance(v, bytes): return b"%d:%s" % (len(v), v)
    return b"d" + b"".join(b(k) + b(v[k]) for k in sorted(v)) + b"e"
with open(f"{work}/list", "w") as lst:
    for i in range(count):
        name = f"f{i:05d}.bin"
        data = os.urandom(size)
        open(f"{work}/seed/{name}", "wb").write(data)
        pieces = b"".join(hashlib.sha1(data[o:o + piece]).digest()
                          for o in range(0, size, piece))
        info = {"length": size, "name": name, "piece length": piece, "pieces": pieces}
        path = f"{work}/torrents/{name}.torrent"
        open(path, "wb").write(b({"info": info}))
        lst.write(path + "\n")
PY

# Polls the daemon on port $1 until COUNT downloads are active and all
# report seeder=true; prints "seconds rss_mb" for pid $2 started at $3.
wait_all_seeding() {
    python3 - "$1" "$2" "$3" "$COUNT" "$LIMIT" <<'PY'
import json, sys, time, urllib.request
port, pid, t0, count, limit = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
def call(method, *params):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/jsonrpc", body)
    return json.load(urllib.request.urlopen(req, timeout=30))["result"]
while True:
    now = time.time()
    if now - t0 > limit:
        sys.exit(f"not all seeding after {limit} s")
    try:
        st = call("aria2.getGlobalStat")
        if int(st["numActive"]) >= count:
            active = call("aria2.tellActive", ["gid", "seeder"])
            if sum(1 for d in active if d.get("seeder") == "true") >= count:
                break
    except OSError:
        pass
    time.sleep(0.1)
elapsed = time.time() - t0
rss = 0
for line in open(f"/proc/{pid}/status"):
    if line.startswith("VmRSS:"):
        rss = int(line.split()[1]) / 1024
print(f"{elapsed:.2f} {rss:.0f}")
PY
}

COMMON=(--no-conf --enable-dht=false --enable-dht6=false --bt-enable-lpd=false
    --enable-peer-exchange=false --summary-interval=0 --file-allocation=none
    -q -j "$COUNT" --seed-ratio=0.0 --enable-rpc --rpc-allow-origin-all)

# run TOOL MODE -> prints "seconds rss_mb"
run() {
    local tool=$1 mode=$2 rpc listen bin
    rpc=$(free_port)
    listen=$(free_port)
    local args=("${COMMON[@]}" -d "$WORK/seed" -i "$WORK/list"
        "--rpc-listen-port=$rpc" "--listen-port=$listen")
    args+=(--force-save=true)
    if [[ $mode == cold ]]; then
        args+=(-V)
        find "$WORK/seed" -name '*.aria2' -delete
    fi
    if [[ $tool == arietta ]]; then bin=$ARIETTA; else bin=$ARIA2C; fi
    local t0; t0=$(python3 -c 'import time; print(time.time())')
    HOME="$WORK" "$bin" "${args[@]}" >"$WORK/$tool-$mode.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_port "$rpc"
    wait_all_seeding "$rpc" "$pid" "$t0"
    kill -INT "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

declare -A TIMES RSS
for r in $(seq 1 "$RUNS"); do
    for tool in arietta aria2c; do
        read -r t m < <(run "$tool" cold)
        log "run $r $tool cold: ${t} s, ${m} MB"
        TIMES[$tool-cold]+="$t "
        RSS[$tool-cold]+="$m "
    done
    if [[ $WARM == 1 ]]; then
        read -r t m < <(run arietta warm)
        log "run $r arietta warm: ${t} s, ${m} MB"
        TIMES[arietta-warm]+="$t "
        RSS[arietta-warm]+="$m "
    fi
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo
echo "Seeding $COUNT torrents × $SIZE bytes on one port, from an -i list (-j $COUNT); median of $RUNS"
echo
echo "| start | arietta (s) | arietta RSS (MB) | aria2c (s) | aria2c RSS (MB) | time ratio | RSS ratio |"
echo "|---|---:|---:|---:|---:|---:|---:|"
at=$(median <<< "${TIMES[arietta-cold]}"); am=$(median <<< "${RSS[arietta-cold]}")
ct=$(median <<< "${TIMES[aria2c-cold]}"); cm=$(median <<< "${RSS[aria2c-cold]}")
echo "| cold (-V) | $at | $am | $ct | $cm | $(awk -v a="$at" -v c="$ct" 'BEGIN{printf "%.2f×", a/c}') | $(awk -v a="$am" -v c="$cm" 'BEGIN{printf "%.2f×", a/c}') |"
if [[ $WARM == 1 ]]; then
    wt=$(median <<< "${TIMES[arietta-warm]}"); wm=$(median <<< "${RSS[arietta-warm]}")
    echo "| warm (control files) | $wt | $wm | – | – | | |"
fi
