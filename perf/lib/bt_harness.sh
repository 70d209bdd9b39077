# Sourced by the BitTorrent perf scripts (bt_vs_aria2.sh,
# bt_many_vs_aria2.sh, bt_many.sh): what each of them needs around its own
# workload, written once.

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# The programs the aria2c comparisons start; sets ARIA2C.
require_bt_tools() {
    for tool in opentracker mktorrent /usr/bin/time; do
        command -v "$tool" >/dev/null || die "$tool is not installed (.ci/run installs it)"
    done
    ARIA2C=${ARIA2C:-$(command -v aria2c || true)}
    [[ -x "$ARIA2C" ]] || die "aria2c not found"
}

# Sets ARIETTA, building the release binary unless one was named.
build_arietta() {
    if [[ -z "${ARIETTA:-}" ]]; then
        log "building target/release/arietta"
        cargo build --release -q -p arietta-cli
        ARIETTA=${CARGO_TARGET_DIR:-target}/release/arietta
    fi
}

# make_workdir NAME: WORK, a temporary directory that opentracker (which
# drops privileges) can read, removed at exit unless KEEP=1; the processes
# whose pids are added to PIDS are killed then.
make_workdir() {
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
    chmod 755 "$WORK"
    PIDS=()
    trap cleanup EXIT
}

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [[ ${KEEP:-0} == 0 ]]; then rm -rf "$WORK"; else log "kept $WORK"; fi
}

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

wait_port() {
    for _ in $(seq 1 600); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    die "nothing listens on port $1"
}

# parse_args "$@": the perf scripts' common flags. --keep sets KEEP=1,
# --help prints the script's header comment, --quick calls the script's
# own quick_mode function (each shrinks its workload its own way).
parse_args() {
    for arg in "$@"; do
        case "$arg" in
            --quick) quick_mode ;;
            --keep) KEEP=1 ;;
            -h|--help) awk 'NR > 1 && !/^#/ {exit} NR > 1 {sub(/^# ?/, ""); print}' "$0"; exit 0 ;;
            *) die "unknown argument: $arg (try --help)" ;;
        esac
    done
}
