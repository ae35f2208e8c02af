# shellcheck shell=bash
# Sourced by the netfs scripts. Two places, both overridable:
#   NETFS_CACHE  what is built once and reused (kernel, initramfs, root image):
#                default /var/cache/cryolock-ci/netfs
#   NETFS_STATE  what one run starts (qemu and rclone pids, 9p share, logs):
#                default $CRYOLOCK_CI_STATE/netfs, else /tmp/cryolock-netfs
# Only processes whose pids are recorded under NETFS_STATE are ever signalled.
set -euo pipefail

NETFS_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NETFS_CACHE="${NETFS_CACHE:-/var/cache/cryolock-ci/netfs}"
if [ -n "${CRYOLOCK_CI_STATE:-}" ]; then
  NETFS_STATE="${NETFS_STATE:-$CRYOLOCK_CI_STATE/netfs}"
else
  NETFS_STATE="${NETFS_STATE:-/tmp/cryolock-netfs}"
fi
NETFS_MEM="${NETFS_MEM:-1024}"   # MiB of guest memory
NETFS_SMP="${NETFS_SMP:-2}"
SUITE=bookworm

RUN="$NETFS_STATE/run"           # qemu pid, console log
XFER="$NETFS_STATE/xfer"         # 9p share: guest script, jobs, results
RCL="$NETFS_STATE/rclone"        # rclone data, mounts, pids, logs

log() { printf '[netfs %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# with_retry N cmd...: run cmd, and again (up to N tries in all) if it fails.
with_retry() {
  local n=$1 i=1; shift
  until "$@"; do
    [ "$i" -ge "$n" ] && return 1
    log "failed (try $i of $n): $*; retrying in 5 s"
    i=$((i + 1)); sleep 5
  done
}

apt_update_once() {
  [ -e "$NETFS_STATE/.apt-updated" ] && return 0
  mkdir -p "$NETFS_STATE"
  timeout 300 apt-get update -qq >"$NETFS_STATE/apt-update.log" 2>&1 || { tail -5 "$NETFS_STATE/apt-update.log" >&2; return 1; }
  touch "$NETFS_STATE/.apt-updated"
}

# need_pkgs pkg...: install those missing (apt-get update first, retried once).
need_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  _install() {
    apt_update_once || { rm -f "$NETFS_STATE/.apt-updated"; return 1; }
    DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${missing[@]}" \
      >"$NETFS_STATE/apt-install.log" 2>&1 || { tail -5 "$NETFS_STATE/apt-install.log" >&2; rm -f "$NETFS_STATE/.apt-updated"; return 1; }
  }
  with_retry 2 _install
}

# alive PIDFILE: print the pid recorded in PIDFILE if that process still runs.
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null && cat "$1"; }

# stop_pid PID COMM: TERM, wait up to 5 s, then KILL; only if the process
# still has the command name COMM (a recorded pid may have been reused).
stop_pid() {
  local pid=$1 comm=$2 i
  kill -0 "$pid" 2>/dev/null || return 0
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$comm" ] || return 0
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
