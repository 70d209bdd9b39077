#!/usr/bin/env bash
# Compare arietta with aria2c over SFTP on loopback, served by OpenSSH's
# internal-sftp (an sshd started here on a free port with its own host key).
#
# Workloads, each tool run alternately (A B A B ...) RUNS times:
#   x1   one connection
#   x4   -x4 -s4 (four SSH sessions reading ranges)
# Wall time and user+sys CPU come from /usr/bin/time; the output is checked
# against the source once per workload and tool. Medians are printed as a
# markdown table.
#
# Needs root (sshd switches to the login user) and the user arietta-sftp
# with password arietta-sftp-pw, which .ci/run creates.
#
# Usage: perf/sftp_vs_aria2.sh
# Environment:
#   ARIETTA=path   binary to test (default: build target/release/arietta)
#   ARIA2C=path    aria2c to compare against (default: aria2c on PATH)
#   RUNS=n         runs per tool and workload (default 5)
#   BIG_MIB=n      file size in MiB (default 512)
#   WORKLOADS="x1 x4"
set -euo pipefail

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

RUNS=${RUNS:-5}
BIG_MIB=${BIG_MIB:-512}
WORKLOADS=${WORKLOADS:-"x1 x4"}
ARIA2C=${ARIA2C:-$(command -v aria2c || true)}
USER_NAME=arietta-sftp
PASSWORD=arietta-sftp-pw

[[ $(id -u) -eq 0 ]] || die "run as root (sshd must switch users)"
id "$USER_NAME" >/dev/null 2>&1 || die "user $USER_NAME missing (see .ci/run)"
[[ -x /usr/sbin/sshd ]] || die "openssh-server is not installed"
[[ -n $ARIA2C ]] || die "aria2c not found"
[[ -x /usr/bin/time ]] || die "/usr/bin/time not found (apt-get install time)"

cd "$(dirname "$0")/.."
if [[ -z ${ARIETTA:-} ]]; then
    log "building arietta (release)"
    cargo build --release -q -p arietta-cli
    ARIETTA=${CARGO_TARGET_DIR:-target}/release/arietta
fi

WORK=$(mktemp -d /tmp/arietta-sftp-perf.XXXXXX)
chmod 755 "$WORK"
SSHD_PID=""
cleanup() {
    [[ -n $SSHD_PID ]] && kill "$SSHD_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p /run/sshd "$WORK/out"
ssh-keygen -q -t ed25519 -N '' -f "$WORK/host_key"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/sshd_config" <<CONF
Port $PORT
ListenAddress 127.0.0.1
HostKey $WORK/host_key
PidFile none
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
AllowUsers $USER_NAME
MaxStartups 100
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$WORK/sshd_config" 2>"$WORK/sshd.log" &
SSHD_PID=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
done

log "writing a $BIG_MIB MiB file"
head -c "$((BIG_MIB << 20))" /dev/urandom >"$WORK/big.bin"
chmod 644 "$WORK/big.bin"
WANT=$(sha256sum <"$WORK/big.bin" | cut -d' ' -f1)
URL="sftp://$USER_NAME:$PASSWORD@127.0.0.1:$PORT$WORK/big.bin"

args_for() {
    case "$1" in
        x1) echo "-x1 -s1" ;;
        x4) echo "-x4 -s4" ;;
    esac
}

# run TOOL WORKLOAD -> "wall cpu" on stdout
run_one() {
    local tool=$1 wl=$2 bin
    [[ $tool == arietta ]] && bin=$ARIETTA || bin=$ARIA2C
    rm -f "$WORK/out/"*
    # shellcheck disable=SC2046
    /usr/bin/time -f '%e %U %S' -o "$WORK/time" \
        "$bin" --no-conf -q --file-allocation=none --allow-overwrite=true \
        --auto-file-renaming=false -d "$WORK/out" -o big.bin $(args_for "$wl") "$URL" \
        >/dev/null 2>&1 || die "$tool $wl failed"
    awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$WORK/time"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "| workload | arietta wall s | aria2c wall s | ratio | arietta CPU s | aria2c CPU s |"
echo "|---|---|---|---|---|---|"
for wl in $WORKLOADS; do
    for tool in arietta aria2c; do
        run_one "$tool" "$wl" >/dev/null
        got=$(sha256sum <"$WORK/out/big.bin" | cut -d' ' -f1)
        [[ $got == "$WANT" ]] || die "$tool $wl wrote a different file"
    done
    : >"$WORK/arietta.$wl"
    : >"$WORK/aria2c.$wl"
    for _ in $(seq "$RUNS"); do
        for tool in arietta aria2c; do
            run_one "$tool" "$wl" >>"$WORK/$tool.$wl"
            log "$wl $tool $(tail -1 "$WORK/$tool.$wl")"
        done
    done
    aw=$(cut -d' ' -f1 "$WORK/arietta.$wl" | median)
    bw=$(cut -d' ' -f1 "$WORK/aria2c.$wl" | median)
    ac=$(cut -d' ' -f2 "$WORK/arietta.$wl" | median)
    bc=$(cut -d' ' -f2 "$WORK/aria2c.$wl" | median)
    ratio=$(awk -v a="$aw" -v b="$bw" 'BEGIN { printf "%.2f", a / b }')
    echo "| $wl ($BIG_MIB MiB) | $aw | $bw | $ratio | $ac | $bc |"
done
