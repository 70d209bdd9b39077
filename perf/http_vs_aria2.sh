#!/usr/bin/env bash
# Compare arietta with aria2c over HTTP on loopback, served by nginx.
#
# Workloads (each tool run alternately, A B A B ..., RUNS times each):
#   big    one large file, -x16 -s16 --file-allocation=none
#   small  many 64 KiB files from an input list, -i list.txt -j16
# Each run is measured with /usr/bin/time (wall, user+sys CPU, peak RSS);
# the output is checked against the source once per workload and tool.
# A markdown table of medians and arietta/aria2c ratios is printed at the end.
#
# Usage: perf/http_vs_aria2.sh [--quick] [--keep]
#   --quick       RUNS=3, 128 MiB big file, 200 small files (smoke test)
#   --keep        leave the temp dir (data, logs, raw timings) behind
# Environment:
#   ARIETTA=path      use this binary instead of building target/release/arietta
#   ARIA2C=path       aria2c to compare against (default: aria2c on PATH)
#   RUNS=n            runs per tool and workload (default 5)
#   BIG_MIB=n         size of the big file in MiB (default 1024)
#   SMALL_N=n         number of small files (default 2000)
#   SMALL_KIB=n       size of each small file in KiB (default 64)
#   WORKLOADS="big small"   which workloads to run
#   WARMUP=n          untimed runs per tool before the timed ones (default 1):
#                     the first write of a big file into a cold page cache is
#                     up to 4x slower for both tools and would skew medians
#   PROFILE=1         after the timed runs, record one more arietta run per
#                     workload with `perf record --call-graph dwarf` and keep
#                     perf.WORKLOAD.data and profile.WORKLOAD.txt (implies --keep)
#   NGINX_WORKERS=n   nginx worker processes (default 2; 1 = a single process)
#   TMPDIR            where the temp dir goes (needs BIG + SMALL + 2x that)
#   CARGO_TARGET_DIR  honoured when building arietta
# Caches are deliberately not dropped: both tools read from nginx serving
# page-cached files and write into the page cache, like a repeat download.
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-1024}
SMALL_N=${SMALL_N:-2000}
SMALL_KIB=${SMALL_KIB:-64}
WORKLOADS=${WORKLOADS:-"big small"}
NGINX_WORKERS=${NGINX_WORKERS:-2}
WARMUP=${WARMUP:-1}
PROFILE=${PROFILE:-0}
KEEP=0
[[ $PROFILE == 1 ]] && KEEP=1
for arg in "$@"; do
    case "$arg" in
        --quick) RUNS=3; BIG_MIB=128; SMALL_N=200; WARMUP=0 ;;
        --keep) KEEP=1 ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer"
[[ "$BIG_MIB" =~ ^[1-9][0-9]*$ ]] || die "BIG_MIB must be a positive integer"
[[ "$SMALL_N" =~ ^[1-9][0-9]*$ ]] || die "SMALL_N must be a positive integer"
[[ "$SMALL_KIB" =~ ^[1-9][0-9]*$ ]] || die "SMALL_KIB must be a positive integer"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- tools -----------------------------------------------------------------
TIME_BIN=${TIME_BIN:-/usr/bin/time}
if [[ ! -x $TIME_BIN ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        log "installing GNU time"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q time >/dev/null
    fi
    [[ -x $TIME_BIN ]] || die "GNU time (/usr/bin/time) is required: apt-get install time"
fi
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[[ -x $NGINX ]] || die "nginx not found (apt-get install nginx-light)"
ARIA2C=${ARIA2C:-$(command -v aria2c || true)}
[[ -n $ARIA2C && -x $ARIA2C ]] || die "aria2c not found (apt-get install aria2)"
command -v python3 >/dev/null || die "python3 is needed to pick a free port"
if [[ $PROFILE == 1 ]]; then
    command -v perf >/dev/null || die "PROFILE=1 needs perf (apt-get install linux-perf)"
fi

if [[ -z ${ARIETTA:-} ]]; then
    log "building arietta (release)"
    (cd "$REPO" && cargo build --release -q -p arietta-cli) || die "cargo build failed"
    ARIETTA=${CARGO_TARGET_DIR:-$REPO/target}/release/arietta
fi
[[ -x $ARIETTA ]] || die "arietta binary not found at $ARIETTA"

# --- temp dir and cleanup ----------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arietta-perf.XXXXXX")
NGINX_PID=
cleanup() {
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ $KEEP -eq 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/www/small" "$WORK/out" "$WORK/nginx" "$WORK/times" "$WORK/logs"

# --- test data ---------------------------------------------------------------
# Random bytes, so no layer can shortcut compressible data. /dev/urandom runs
# at several hundred MB/s on current kernels: a few seconds for 1 GiB.
if [[ " $WORKLOADS " == *" big "* ]]; then
    log "generating ${BIG_MIB} MiB big file"
    head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/www/big.bin"
fi
if [[ " $WORKLOADS " == *" small "* ]]; then
    log "generating ${SMALL_N} x ${SMALL_KIB} KiB files"
    (cd "$WORK/www/small" &&
        head -c $((SMALL_N * SMALL_KIB << 10)) /dev/urandom |
        split -b $((SMALL_KIB << 10)) -d -a 6 --additional-suffix=.bin - f)
    n=$(find "$WORK/www/small" -type f | wc -l)
    [[ $n -eq $SMALL_N ]] || die "generated $n small files, wanted $SMALL_N"
fi

# --- nginx ---------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user root;"
cat > "$WORK/nginx/nginx.conf" <<EOF
$USER_LINE
daemon off;
master_process $([[ $NGINX_WORKERS -gt 1 ]] && echo on || echo off);
worker_processes $NGINX_WORKERS;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 65;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server {
        listen 127.0.0.1:$PORT;
        root $WORK/www;
    }
}
EOF
# With NGINX_WORKERS=1 nginx serves from this one process (master_process
# off); more workers need the master, which stays in the foreground
# (daemon off) so killing NGINX_PID stops them all.
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
    >"$WORK/logs/nginx.out" 2>&1 &
NGINX_PID=$!
BASE="http://127.0.0.1:$PORT"
for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/logs/nginx.out" "$WORK/nginx/error.log" >&2 || true; die "nginx did not start"; }
    sleep 0.1
done
log "nginx on $BASE (pid $NGINX_PID)"

if [[ " $WORKLOADS " == *" small "* ]]; then
    (cd "$WORK/www/small" && ls) | sed "s|^|$BASE/small/|" > "$WORK/list.txt"
fi

# --- runs ------------------------------------------------------------------------
COMMON=(--file-allocation=none --allow-overwrite=true --auto-file-renaming=false
    --console-log-level=warn -q --summary-interval=0)

# fresh_out TOOL WORKLOAD: empties TOOL's output dir and sets ARGS for WORKLOAD.
fresh_out() {
    local out="$WORK/out/$1"
    rm -rf "$out"
    mkdir -p "$out"
    case $2 in
        big) ARGS=(-x16 -s16 -d "$out" -o big.bin "$BASE/big.bin") ;;
        small) ARGS=(-i "$WORK/list.txt" -j16 -d "$out") ;;
    esac
}

# run_one TOOL WORKLOAD N: one timed run into a fresh, empty output dir.
run_one() {
    local tool=$1 wl=$2 n=$3 bin
    case $tool in arietta) bin=$ARIETTA ;; aria2c) bin=$ARIA2C ;; esac
    fresh_out "$tool" "$wl"
    local tf="$WORK/times/$wl.$tool.$n" lf="$WORK/logs/$wl.$tool.$n.log"
    local t0 t1
    t0=$(date +%s%N)
    if ! "$TIME_BIN" -f "%e %U %S %M" -o "$tf" "$bin" "${COMMON[@]}" "${ARGS[@]}" >"$lf" 2>&1; then
        echo "---- $tool $wl run $n failed; last lines of its output:" >&2
        tail -n 20 "$lf" >&2
        die "$tool failed on workload $wl"
    fi
    # GNU time prints "Command exited with non-zero status" first on failure;
    # keep only the numbers line.
    # %e has only centisecond resolution, too coarse for runs well under a
    # second: replace it with the wall time measured around the command.
    t1=$(date +%s%N)
    tail -n 1 "$tf" | awk -v ns=$((t1 - t0)) '{printf "%.4f %s %s %s\n", ns/1e9, $2, $3, $4}' > "$tf.tmp"
    mv "$tf.tmp" "$tf"
    log "$wl $tool run $n: $(awk '{printf "wall %.3fs cpu %.2fs rss %.1fMB", $1, $2+$3, $4/1024}' "$tf")"
}

# verify TOOL WORKLOAD: the output must equal what nginx served.
verify() {
    local tool=$1 wl=$2 out="$WORK/out/$1"
    case $wl in
        big)
            cmp "$WORK/www/big.bin" "$out/big.bin" || die "$tool: big.bin differs from the source"
            ;;
        small)
            local n
            n=$(find "$out" -maxdepth 1 -type f -name 'f*.bin' | wc -l)
            [[ $n -eq $SMALL_N ]] || die "$tool: $n of $SMALL_N small files downloaded"
            diff -rq "$WORK/www/small" "$out" >/dev/null || { diff -rq "$WORK/www/small" "$out" | head >&2; die "$tool: small files differ from the source"; }
            ;;
    esac
    local extra
    extra=$(find "$out" -name '*.aria2' -print -quit)
    [[ -z $extra ]] || die "$tool: control file left behind: $extra"
    log "$wl $tool: output verified"
}

# profile WORKLOAD: one arietta run under perf, report kept in the temp dir.
profile() {
    local wl=$1 data="$WORK/perf.$1.data" txt="$WORK/profile.$1.txt"
    fresh_out arietta "$wl"
    log "$wl: profiling arietta"
    perf record -q -F 2000 --call-graph dwarf,16384 -o "$data" -- \
        "$ARIETTA" "${COMMON[@]}" "${ARGS[@]}" >"$WORK/logs/$wl.perf.log" 2>&1 ||
        die "perf record failed, see $WORK/logs/$wl.perf.log"
    {
        echo "== by thread"
        perf report -i "$data" --no-children --sort comm --stdio -g none 2>/dev/null | awk '/%/ && n++ < 12'
        echo "== by symbol (self)"
        perf report -i "$data" --no-children --sort dso,sym --stdio -g none 2>/dev/null | awk '/%/ && n++ < 40'
    } >"$txt" # awk, not head: under pipefail an early-closing reader kills perf

    log "$wl: profile summary in $txt (full: perf report -i $data)"
}

for wl in $WORKLOADS; do
    for n in $(seq "$WARMUP"); do
        for tool in arietta aria2c; do
            run_one "$tool" "$wl" "warmup$n"
        done
    done
    rm -f "$WORK/times/$wl".*.warmup*
    for n in $(seq "$RUNS"); do
        for tool in arietta aria2c; do
            run_one "$tool" "$wl" "$n"
            [[ $n -eq 1 ]] && verify "$tool" "$wl"
        done
    done
    [[ $PROFILE == 1 ]] && profile "$wl"
    rm -rf "$WORK/out/arietta" "$WORK/out/aria2c"
done

# --- report ----------------------------------------------------------------------
# median FIELD_EXPR over the runs of one tool and workload.
median() {
    local wl=$1 tool=$2 expr=$3
    cat "$WORK/times/$wl.$tool".* | awk "{print $expr}" | sort -g |
        awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }

declare -A LABEL=(
    [big]="${BIG_MIB} MiB, -x16 -s16"
    [small]="${SMALL_N} x ${SMALL_KIB} KiB, -i -j16"
)
echo
echo "arietta: $ARIETTA ($("$ARIETTA" --version 2>/dev/null | sed -n 1p || echo '?'))"
echo "aria2c:  $ARIA2C ($("$ARIA2C" --version | sed -n 1p))"
echo "runs per tool: $RUNS (alternating, after $WARMUP untimed warm-up each), medians shown; nginx $("$NGINX" -v 2>&1 | sed 's/.*\///')"
echo
echo "| workload | tool | wall s | CPU s (user+sys) | peak RSS MB |"
echo "|---|---|---:|---:|---:|"
for wl in $WORKLOADS; do
    declare -A W C R
    # The awk expressions are meant literally (single-quoted) for median().
    # shellcheck disable=SC2016
    for tool in arietta aria2c; do
        W[$tool]=$(median "$wl" "$tool" '$1')
        C[$tool]=$(median "$wl" "$tool" '$2+$3')
        R[$tool]=$(median "$wl" "$tool" '$4/1024')
        printf '| %s | %s | %.3f | %.2f | %.1f |\n' "${LABEL[$wl]}" "$tool" "${W[$tool]}" "${C[$tool]}" "${R[$tool]}"
    done
    printf '| %s | **arietta/aria2c** | **%s×** | **%s×** | **%s×** |\n' "${LABEL[$wl]}" \
        "$(ratio "${W[arietta]}" "${W[aria2c]}")" \
        "$(ratio "${C[arietta]}" "${C[aria2c]}")" \
        "$(ratio "${R[arietta]}" "${R[aria2c]}")"
    unset W C R
done
