#!/usr/bin/env bash
# `-o -` against curl: one large file from nginx on loopback piped into a
# consumer, `arietta -o - URL | CONSUMER` beside `curl -s URL | CONSUMER`.
#
# Pipelines (each run alternately, A B A B ..., RUNS times each, after
# WARMUP untimed runs of each):
#   arietta       arietta -o - URL        | sha256sum
#   arietta-x4    arietta -x4 -s4 -o - URL | sha256sum
#   curl          curl -s URL             | sha256sum
# and, with SINK=1, the same into `cat >/dev/null` (the pipe alone, without
# the hash as the bottleneck). The wall time of the whole pipeline is
# measured; every run's digest is checked against the file's. A markdown
# table of medians and ratios to curl is printed at the end.
#
# Usage: perf/stdout_vs_curl.sh [--quick] [--keep]
#   --quick       RUNS=3, 256 MiB file, no warm-up
#   --keep        leave the temp dir behind
# Environment:
#   ARIETTA=path  use this binary instead of building target/release/arietta
#   RUNS=n        timed runs per pipeline (default 5)
#   BIG_MIB=n     file size in MiB (default 1024)
#   WARMUP=n      untimed runs per pipeline first (default 1)
#   SINK=1        also run the pipelines into cat >/dev/null
#   TMPDIR        where the temp dir goes (needs BIG_MIB of space)
set -euo pipefail

# shellcheck source=lib/harness.sh
source "$(dirname "$0")/lib/harness.sh"

RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-1024}
WARMUP=${WARMUP:-1}
SINK=${SINK:-0}
KEEP=0
quick_mode() { RUNS=3; BIG_MIB=256; WARMUP=0; }
parse_args "$@"
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ "$BIG_MIB" =~ ^[1-9][0-9]*$ ]] || die "BIG_MIB must be a positive integer"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[[ -x $NGINX ]] || die "nginx not found (apt-get install nginx-light)"
command -v curl >/dev/null || die "curl not found (apt-get install curl)"
command -v python3 >/dev/null || die "python3 is needed to pick a free port"
build_arietta

WORK=$(mktemp -d "${TMPDIR:-/tmp}/arietta-stdout.XXXXXX")
NGINX_PID=
cleanup() {
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ $KEEP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/www" "$WORK/nginx" "$WORK/times" "$WORK/logs" "$WORK/run"

log "generating ${BIG_MIB} MiB file"
head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/www/big.bin"
WANT=$(sha256sum < "$WORK/www/big.bin" | cut -d' ' -f1)

PORT=$(free_port)
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user root;"
cat > "$WORK/nginx/nginx.conf" <<EOF
$USER_LINE
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/client_body;
    proxy_temp_path $WORK/nginx/proxy;
    fastcgi_temp_path $WORK/nginx/fastcgi;
    uwsgi_temp_path $WORK/nginx/uwsgi;
    scgi_temp_path $WORK/nginx/scgi;
    server { listen 127.0.0.1:$PORT; root $WORK/www; }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" \
    >"$WORK/logs/nginx.out" 2>&1 &
NGINX_PID=$!
URL="http://127.0.0.1:$PORT/big.bin"
for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    kill -0 "$NGINX_PID" 2>/dev/null || die "nginx did not start"
    sleep 0.1
done
log "nginx on $URL"

QUIET=(--no-conf -q --summary-interval=0)
PIPES=(arietta arietta-x4 curl)
CONSUMERS=(sha256sum)
[[ $SINK == 1 ]] && CONSUMERS+=(devnull)

# run_one PIPE CONSUMER N: one pipeline; records its wall seconds.
run_one() {
    local p=$1 c=$2 n=$3 out="$WORK/run/digest" t0 t1 rc
    local -a src
    case $p in
        arietta) src=("$ARIETTA" "${QUIET[@]}" -d "$WORK/run" -o - "$URL") ;;
        arietta-x4) src=("$ARIETTA" "${QUIET[@]}" -d "$WORK/run" -x4 -s4 -o - "$URL") ;;
        curl) src=(curl -s "$URL") ;;
    esac
    t0=$(date +%s%N)
    set +e
    if [[ $c == sha256sum ]]; then
        "${src[@]}" 2>"$WORK/logs/$p.$n.err" | sha256sum > "$out"
    else
        "${src[@]}" 2>"$WORK/logs/$p.$n.err" | cat > /dev/null
    fi
    rc=${PIPESTATUS[0]}
    set -e
    t1=$(date +%s%N)
    [[ $rc -eq 0 ]] || { cat "$WORK/logs/$p.$n.err" >&2; die "$p exited with $rc"; }
    if [[ $c == sha256sum ]]; then
        [[ $(cut -d' ' -f1 < "$out") == "$WANT" ]] || die "$p run $n: wrong digest"
    fi
    [[ $n == w* ]] || echo "$(( (t1 - t0) / 1000000 ))" >> "$WORK/times/$p.$c"
}

for c in "${CONSUMERS[@]}"; do
    for ((w = 1; w <= WARMUP; w++)); do
        for p in "${PIPES[@]}"; do run_one "$p" "$c" "w$w"; done
    done
    for ((n = 1; n <= RUNS; n++)); do
        log "$c run $n/$RUNS"
        for p in "${PIPES[@]}"; do run_one "$p" "$c" "$n"; done
    done
done

median() { sort -n "$1" | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
echo
echo "${BIG_MIB} MiB from nginx on loopback, median of $RUNS runs (wall ms of the whole pipeline)"
echo
echo "| consumer | pipeline | wall ms | MiB/s | vs curl |"
echo "|---|---|---|---|---|"
for c in "${CONSUMERS[@]}"; do
    base=$(median "$WORK/times/curl.$c")
    for p in "${PIPES[@]}"; do
        m=$(median "$WORK/times/$p.$c")
        echo "| $c | $p | $m | $(( BIG_MIB * 1000 / (m > 0 ? m : 1) )) | $(awk -v a="$m" -v b="$base" 'BEGIN {printf "%.2fx", a / b}') |"
    done
done
