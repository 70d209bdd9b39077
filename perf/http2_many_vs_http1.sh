#!/usr/bin/env bash
# Many small files from one nginx: arietta over HTTP/2 (h2c,
# --http2-prior-knowledge; or h2 over TLS with TLS=1, --enable-http2)
# against arietta's own HTTP/1.1 to the same nginx, and wget2 (HTTP/2
# over TLS: wget2 has no h2c) when it is installed (apt-get install
# wget2; a perf-only tool, no test needs it).
#
# LATENCY_MS puts a round trip between the clients and nginx: every tool
# reaches nginx through arietta-delay-relay (crates/testserver), which
# delays each byte LATENCY_MS in each direction (RTT = 2 x LATENCY_MS). A
# userspace relay because this kernel has no netem qdisc; LATENCY_MS=0 is
# plain loopback, no relay.
#
# Each tool runs alternately RUNS times on `-i list -j16`; the median wall
# time is printed with the HTTP/2 : HTTP/1.1 ratio (issue 13's target:
# <= 0.5). The output is checked against the source on the first run.
#
# Usage: perf/http2_many_vs_http1.sh [--quick] [--keep]
#   --quick   RUNS=3, 500 files
#   --keep    leave the temp dir behind
# Environment:
#   ARIETTA=path   this binary instead of building target/release/arietta
#   RUNS=n         runs per tool (default 5)
#   N=n            number of files (default 5000)
#   KIB=n          size of each file in KiB (default 64)
#   TLS=1          both arietta runs over HTTPS (h2 via ALPN vs HTTP/1.1)
#   JOBS=n         -j for every tool, wget2's --max-threads (default 16)
#   LATENCY_MS=n   one-way delay to nginx in ms (default 5; 0: none)
#   OUT_ROOT=dir   where the downloads go (default /dev/shm when it is
#                  writable, else the temp dir): on ext4, deleting 5,000
#                  files and creating 5,000 more right away makes the
#                  inode allocator (recently_deleted) cost ~1.8 ms of
#                  system time a file for every tool alike, 8x the
#                  protocol's cost on loopback
set -euo pipefail

# shellcheck source=lib/harness.sh
source "$(dirname "$0")/lib/harness.sh"

RUNS=${RUNS:-5}
N=${N:-5000}
KIB=${KIB:-64}
TLS=${TLS:-0}
JOBS=${JOBS:-16}
LATENCY_MS=${LATENCY_MS:-5}
KEEP=0
quick_mode() { RUNS=3; N=500; }
parse_args "$@"

NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[[ -x $NGINX ]] || die "nginx not found (apt-get install nginx-light)"
"$NGINX" -V 2>&1 | grep -q http_v2_module || die "this nginx lacks the http_v2 module"
command -v openssl >/dev/null || die "openssl is needed for the test certificate"
WGET2=${WGET2:-$(command -v wget2 || true)}
build_arietta
RELAY=${CARGO_TARGET_DIR:-$PERF_REPO/target}/release/arietta-delay-relay
if [[ $LATENCY_MS != 0 ]]; then
    (cd "$PERF_REPO" && cargo build --release -q -p arietta-testserver --bin arietta-delay-relay) ||
        die "cargo build of arietta-delay-relay failed"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/arietta-h2perf.XXXXXX")
NGINX_PID=
PROXY_PIDS=()
cleanup() {
    for p in "${PROXY_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null && wait "$NGINX_PID" 2>/dev/null
    [[ -n ${OUT:-} ]] && rm -rf "$OUT"
    if [[ $KEEP -eq 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/www" "$WORK/nginx" "$WORK/times" "$WORK/logs"
if [[ -z ${OUT_ROOT:-} ]]; then
    if [[ -d /dev/shm && -w /dev/shm ]]; then OUT_ROOT=/dev/shm; else OUT_ROOT=$WORK; fi
fi
OUT=$(mktemp -d "$OUT_ROOT/arietta-h2perf-out.XXXXXX")

log "generating $N x $KIB KiB files"
(cd "$WORK/www" && head -c $((N * KIB << 10)) /dev/urandom |
    split -b $((KIB << 10)) -d -a 6 --additional-suffix=.bin - f)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
    -keyout "$WORK/nginx/key.pem" -out "$WORK/nginx/cert.pem" 2>/dev/null

P1=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port)
# nginx 1.22 cannot serve HTTP/1.1 and h2c on one plain listener: one port
# for each protocol, cleartext and TLS.
cat > "$WORK/nginx/nginx.conf" <<EOF
$([[ $(id -u) -eq 0 ]] && echo "user root;")
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path $WORK/nginx/cb;
    proxy_temp_path $WORK/nginx/p;
    fastcgi_temp_path $WORK/nginx/f;
    uwsgi_temp_path $WORK/nginx/u;
    scgi_temp_path $WORK/nginx/s;
    ssl_certificate $WORK/nginx/cert.pem;
    ssl_certificate_key $WORK/nginx/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    server { listen 127.0.0.1:$P1; root $WORK/www; }
    server { listen 127.0.0.1:$P2 http2; root $WORK/www; }
    server { listen 127.0.0.1:$P3 ssl; root $WORK/www; }
    server { listen 127.0.0.1:$P4 ssl http2; root $WORK/www; }
}
EOF
"$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" >"$WORK/logs/nginx.out" 2>&1 &
NGINX_PID=$!
for _ in $(seq 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$P4") 2>/dev/null && break
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$WORK/logs/nginx.out" >&2; die "nginx did not start"; }
    sleep 0.1
done

# Sets variable $1 to the port a client dials for nginx's port $2: a
# delaying relay in front of it when LATENCY_MS is set.
via_delay() {
    if [[ $LATENCY_MS == 0 ]]; then printf -v "$1" %s "$2"; return; fi
    local p ready
    p=$(free_port)
    exec {ready}< <(exec "$RELAY" "$p" "$2" "$LATENCY_MS")
    PROXY_PIDS+=($!)
    read -r -t 10 -u "$ready" || die "arietta-delay-relay did not start"
    exec {ready}<&-
    printf -v "$1" %s "$p"
}
via_delay Q1 "$P1"; via_delay Q2 "$P2"; via_delay Q3 "$P3"; via_delay Q4 "$P4"

if [[ $TLS == 1 ]]; then
    H1="https://127.0.0.1:$Q3"; H2="https://127.0.0.1:$Q4"; H2OPT=--enable-http2
else
    H1="http://127.0.0.1:$Q1"; H2="http://127.0.0.1:$Q2"; H2OPT=--http2-prior-knowledge
fi
(cd "$WORK/www" && ls) | sed "s|^|$H1/|" > "$WORK/list.h1"
(cd "$WORK/www" && ls) | sed "s|^|$H2/|" > "$WORK/list.h2"
(cd "$WORK/www" && ls) | sed "s|^|https://127.0.0.1:$Q4/|" > "$WORK/list.wget2"

COMMON=(--file-allocation=none --allow-overwrite=true --auto-file-renaming=false
    --check-certificate=false --console-log-level=warn -q --summary-interval=0 -j"$JOBS")
TOOLS=(http1 http2)
[[ -n $WGET2 ]] && TOOLS+=(wget2)

run_one() {
    local tool=$1 n=$2 out="$OUT/$1" t0 t1
    rm -rf "$out"; mkdir -p "$out"
    local cmd
    case $tool in
        http1) cmd=("$ARIETTA" "${COMMON[@]}" -d "$out" -i "$WORK/list.h1") ;;
        http2) cmd=("$ARIETTA" "${COMMON[@]}" "$H2OPT" -d "$out" -i "$WORK/list.h2") ;;
        wget2) cmd=("$WGET2" -q --no-check-certificate --http2 --max-threads="$JOBS"
            -P "$out" -nd -i "$WORK/list.wget2") ;;
    esac
    t0=$(date +%s%N)
    "${cmd[@]}" >"$WORK/logs/$tool.$n.log" 2>&1 || { tail "$WORK/logs/$tool.$n.log" >&2; die "$tool failed"; }
    t1=$(date +%s%N)
    echo $((t1 - t0)) > "$WORK/times/$tool.$n"
    log "$tool run $n: $(awk '{printf "%.3f s", $1/1e9}' "$WORK/times/$tool.$n")"
    if [[ $n -eq 1 ]]; then
        diff -rq "$WORK/www" "$out" >/dev/null || die "$tool: output differs from the source"
    fi
}

for n in $(seq "$RUNS"); do
    for tool in "${TOOLS[@]}"; do run_one "$tool" "$n"; done
done

median() {
    cat "$WORK/times/$1".* | sort -n |
        awk '{v[NR]=$1} END {m = (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.3f", m/1e9}'
}
echo
echo "$N x $KIB KiB, -j$JOBS, $([[ $TLS == 1 ]] && echo "HTTPS (h2 via ALPN)" || echo "cleartext (h2c)"), one-way delay ${LATENCY_MS} ms, output on $OUT_ROOT, median of $RUNS; arietta: $ARIETTA"
echo
echo "| tool | wall s |"
echo "|---|---:|"
for tool in "${TOOLS[@]}"; do echo "| $tool | $(median "$tool") |"; done
awk -v a="$(median http2)" -v b="$(median http1)" 'BEGIN { printf "| **http2/http1** | **%.2f×** |\n", a/b }'
[[ -n $WGET2 ]] && awk -v a="$(median http2)" -v b="$(median wget2)" 'BEGIN { printf "| **http2/wget2** | **%.2f×** |\n", a/b }'
[[ -n $WGET2 ]] || echo "(wget2 not installed: no wget2 column)"
