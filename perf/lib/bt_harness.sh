# Sourced by the BitTorrent perf scripts (bt_vs_aria2.sh,
# bt_many_vs_aria2.sh, bt_many.sh): what each of them needs around its own
# workload, written once.

# shellcheck source=harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# The programs the aria2c comparisons start; sets ARIA2C.
require_bt_tools() {
    for tool in opentracker mktorrent /usr/bin/time; do
        command -v "$tool" >/dev/null || die "$tool is not installed (.ci/run installs it)"
    done
    ARIA2C=${ARIA2C:-$(command -v aria2c || true)}
    [[ -x "$ARIA2C" ]] || die "aria2c not found"
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
