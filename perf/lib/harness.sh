# Sourced by every perf script: messages, the release binary, ports and
# the common flags, written once.

die() { echo "error: $*" >&2; exit 1; }
log() { echo "[$(date +%H:%M:%S)] $*" >&2; }

# The repository's root, wherever the script is run from.
PERF_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Sets ARIETTA, building the release binary unless one was named.
build_arietta() {
    if [[ -z "${ARIETTA:-}" ]]; then
        log "building target/release/arietta"
        (cd "$PERF_REPO" && cargo build --release -q -p arietta-cli) || die "cargo build failed"
        ARIETTA=${CARGO_TARGET_DIR:-$PERF_REPO/target}/release/arietta
    fi
    [[ -x $ARIETTA ]] || die "arietta binary not found at $ARIETTA"
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
