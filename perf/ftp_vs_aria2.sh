#!/usr/bin/env bash
# Compare arietta with aria2c over FTP on loopback, served by vsftpd.
#
# Workload: one large file (default 1 GiB) with -x8 -s8
# --file-allocation=none, each tool run alternately (A B A B ...) RUNS times
# after WARMUP untimed runs each. Each run is measured with /usr/bin/time
# (user+sys CPU, peak RSS) and the wall clock around it; the output is
# checked against the source once per tool. A markdown table of medians and
# the arietta/aria2c ratios is printed at the end.
#
# Usage: perf/ftp_vs_aria2.sh [--quick] [--keep]
#   --quick       RUNS=3, 128 MiB, no warm-up (smoke test)
#   --keep        leave the temp dir (data, logs, raw timings) behind
# Environment:
#   ARIETTA=path      use this binary instead of building target/release/arietta
#   ARIA2C=path       aria2c to compare against (default: aria2c on PATH)
#   VSFTPD=path       vsftpd binary (default: /usr/sbin/vsftpd)
#   RUNS=n            timed runs per tool (default 5)
#   BIG_MIB=n         file size in MiB (default 1024)
#   CONNS=n           -x and -s (default 8)
#   WARMUP=n          untimed runs per tool first (default 1): the first write
#                     of a big file into a cold page cache is slower for both
#   TMPDIR            where the temp dir goes (needs 3x the file size)
# Caches are deliberately not dropped: vsftpd sends page-cached data with
# sendfile and both tools write into the page cache, like a repeat download.
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-1024}
CONNS=${CONNS:-8}
WARMUP=${WARMUP:-1}
KEEP=0
for arg in "$@"; do
    case "$arg" in
        --quick) RUNS=3; BIG_MIB=128; WARMUP=0 ;;
        --keep) KEEP=1 ;;
        -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer"
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "WARMUP must be a non-negative integer"
[[ "$BIG_MIB" =~ ^[1-9][0-9]*$ ]] || die "BIG_MIB must be a positive integer"
[[ "$CONNS" =~ ^[1-9][0-9]*$ ]] || die "CONNS must be a positive integer"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# --- tools -----------------------------------------------------------------
TIME_BIN=/usr/bin/time
[[ -x $TIME_BIN ]] || die "GNU time (/usr/bin/time) is required: apt-get install time"
VSFTPD=${VSFTPD:-$(command -v vsftpd || echo /usr/sbin/vsftpd)}
[[ -x $VSFTPD ]] || die "vsftpd not found (apt-get install vsftpd)"
ARIA2C=${ARIA2C:-$(command -v aria2c || true)}
[[ -n $ARIA2C && -x $ARIA2C ]] || die "aria2c not found (apt-get install aria2)"
command -v python3 >/dev/null || die "python3 is needed to pick a free port"

if [[ -z ${ARIETTA:-} ]]; then
    log "building arietta (release)"
    (cd "$REPO" && cargo build --release -q -p arietta-cli) || die "cargo build failed"
    ARIETTA=${CARGO_TARGET_DIR:-$REPO/target}/release/arietta
fi
[[ -x $ARIETTA ]] || die "arietta binary not found at $ARIETTA"

# --- temp dir and cleanup ----------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/arietta-ftp-perf.XXXXXX")
VSFTPD_PID=
cleanup() {
    if [[ -n $VSFTPD_PID ]] && kill -0 "$VSFTPD_PID" 2>/dev/null; then
        kill "$VSFTPD_PID" 2>/dev/null || true
        wait "$VSFTPD_PID" 2>/dev/null || true
    fi
    if [[ $KEEP -eq 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$WORK/www" "$WORK/out" "$WORK/vsftpd/empty" "$WORK/times" "$WORK/logs"
chmod 755 "$WORK" "$WORK/www"

# Random bytes, so no layer can shortcut compressible data.
log "generating ${BIG_MIB} MiB file"
head -c $((BIG_MIB << 20)) /dev/urandom > "$WORK/www/big.bin"
chmod 644 "$WORK/www/big.bin"

# --- vsftpd ----------------------------------------------------------------------
# run_as_launching_user: no privilege separation, so it runs as root or as
# an ordinary user alike; the config must be owned by the user running it,
# which a file written here is.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/vsftpd/vsftpd.conf" <<EOF
listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=$PORT
background=NO
anonymous_enable=YES
anon_root=$WORK/www
no_anon_password=YES
local_enable=NO
write_enable=NO
seccomp_sandbox=NO
pasv_enable=YES
port_enable=YES
connect_from_port_20=NO
run_as_launching_user=YES
secure_chroot_dir=$WORK/vsftpd/empty
xferlog_enable=NO
max_clients=0
max_per_ip=0
use_sendfile=YES
EOF
"$VSFTPD" "$WORK/vsftpd/vsftpd.conf" >"$WORK/logs/vsftpd.out" 2>&1 &
VSFTPD_PID=$!
URL="ftp://127.0.0.1:$PORT/big.bin"
for _ in $(seq 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    kill -0 "$VSFTPD_PID" 2>/dev/null || { cat "$WORK/logs/vsftpd.out" >&2 || true; die "vsftpd did not start"; }
    sleep 0.1
done
log "vsftpd on 127.0.0.1:$PORT (pid $VSFTPD_PID)"

# --- runs ------------------------------------------------------------------------
COMMON=(--file-allocation=none --allow-overwrite=true --auto-file-renaming=false
    --console-log-level=warn -q --summary-interval=0 "-x$CONNS" "-s$CONNS")

# run_one TOOL N: one timed run into a fresh, empty output dir.
run_one() {
    local tool=$1 n=$2 bin out="$WORK/out/$1"
    case $tool in arietta) bin=$ARIETTA ;; aria2c) bin=$ARIA2C ;; esac
    rm -rf "$out"
    mkdir -p "$out"
    local tf="$WORK/times/$tool.$n" lf="$WORK/logs/$tool.$n.log" t0 t1
    t0=$(date +%s%N)
    if ! "$TIME_BIN" -f "%e %U %S %M" -o "$tf" "$bin" "${COMMON[@]}" -d "$out" -o big.bin "$URL" >"$lf" 2>&1; then
        echo "---- $tool run $n failed; last lines of its output:" >&2
        tail -n 20 "$lf" >&2
        die "$tool failed"
    fi
    t1=$(date +%s%N)
    tail -n 1 "$tf" | awk -v ns=$((t1 - t0)) '{printf "%.4f %s %s %s\n", ns/1e9, $2, $3, $4}' > "$tf.tmp"
    mv "$tf.tmp" "$tf"
    log "$tool run $n: $(awk '{printf "wall %.3fs cpu %.2fs rss %.1fMB", $1, $2+$3, $4/1024}' "$tf")"
}

verify() {
    local tool=$1 out="$WORK/out/$1"
    cmp "$WORK/www/big.bin" "$out/big.bin" || die "$tool: big.bin differs from the source"
    [[ ! -e $out/big.bin.aria2 ]] || die "$tool: control file left behind"
    log "$tool: output verified"
}

for n in $(seq "$WARMUP"); do
    for tool in arietta aria2c; do run_one "$tool" "warmup$n"; done
done
rm -f "$WORK"/times/*.warmup*
for n in $(seq "$RUNS"); do
    for tool in arietta aria2c; do
        run_one "$tool" "$n"
        [[ $n -eq 1 ]] && verify "$tool"
    done
done

# --- report ----------------------------------------------------------------------
median() {
    local tool=$1 expr=$2
    cat "$WORK/times/$tool".* | awk "{print $expr}" | sort -g |
        awk '{v[NR]=$1} END {if (NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }

LABEL="${BIG_MIB} MiB FTP, -x$CONNS -s$CONNS"
echo
echo "arietta: $ARIETTA"
echo "aria2c:  $ARIA2C ($("$ARIA2C" --version | sed -n 1p))"
echo "server:  vsftpd $(dpkg-query -W -f='${Version}' vsftpd 2>/dev/null || echo '?')"
echo "runs per tool: $RUNS (alternating, after $WARMUP untimed warm-up each), medians shown"
echo
echo "| workload | tool | wall s | CPU s (user+sys) | peak RSS MB |"
echo "|---|---|---:|---:|---:|"
declare -A W C R
# The awk expressions are meant literally (single-quoted) for median().
# shellcheck disable=SC2016
for tool in arietta aria2c; do
    W[$tool]=$(median "$tool" '$1')
    C[$tool]=$(median "$tool" '$2+$3')
    R[$tool]=$(median "$tool" '$4/1024')
    printf '| %s | %s | %.3f | %.2f | %.1f |\n' "$LABEL" "$tool" "${W[$tool]}" "${C[$tool]}" "${R[$tool]}"
done
printf '| %s | **arietta/aria2c** | **%s×** | **%s×** | **%s×** |\n' "$LABEL" \
    "$(ratio "${W[arietta]}" "${W[aria2c]}")" \
    "$(ratio "${C[arietta]}" "${C[aria2c]}")" \
    "$(ratio "${R[arietta]}" "${R[aria2c]}")"
