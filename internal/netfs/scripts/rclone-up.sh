#!/usr/bin/env bash
# Two rclone FUSE mounts (on this host, no VM) of each of two remotes:
#   sftp   `rclone serve sftp` on 127.0.0.1 (throwaway user and password;
#          rclone makes its own host key) serving $RCL/data-sftp
#   local  the local path $RCL/data-local
# Mount points $RCL/mnt/{sftpa,sftpb,locala,localb}; each mount has its own
# caches. A fifth, $RCL/mnt/sftpdef, mounts the sftp remote with rclone's
# default options (listings cached 5 minutes), for the probe to find. Mount options: $NETFS_RCLONE_OPTS, by default the ones that make
# rclone usable for a lock (see FINDINGS.md):
#   --dir-cache-time 0   re-list the remote at every readdir (default 5m: a
#                        listing may be five minutes old)
#   --attr-timeout 0     no kernel attribute cache (default 1s)
#   --no-checksum        no hash check of what a read returned (not the lock's
#                        concern, the test's counter's): over sftp, whose mtimes
#                        are whole seconds, a file rewritten through one mount
#                        within the second at the same size keeps its old hash
#                        in the other mount's cache, so a read there returned
#                        the new bytes and then failed with EIO ("corrupted on
#                        transfer: md5 hash differ") for seconds: 60 of 120
#                        alternating rewrite-then-read rounds without the flag,
#                        0 with it, every read fresh either way. Under CI's load
#                        another EIO remains now and then: the sftp read ends
#                        early ("unexpected EOF" in the mount's log) for seconds,
#                        4-5 holds of a gate (the test counts them as unread)
# Prints `export VAR=...` lines for the caller; pids under $RCL/pids.
source "$(dirname "$0")/common.sh"
t0=$SECONDS
OPTS="${NETFS_RCLONE_OPTS---dir-cache-time 0 --attr-timeout 0 --no-checksum}"
names=(sftpa sftpb locala localb sftpdef)
all_up() { local m; for m in "${names[@]}"; do mountpoint -q "$RCL/mnt/$m" || return 1; done; }
emit() {
  echo "export CRYOLOCK_NETFS_RCLONE_PAIRS='rclone-sftp:$RCL/mnt/sftpa:$RCL/mnt/sftpb rclone-local:$RCL/mnt/locala:$RCL/mnt/localb'"
  echo "export CRYOLOCK_NETFS_RCLONE_OPTS='$OPTS'"
  echo "export CRYOLOCK_NETFS_RCLONE_DEFAULT_MOUNT='$RCL/mnt/sftpdef'"
}
if all_up; then emit; exit 0; fi
bash "$NETFS_SCRIPTS/rclone-down.sh" >/dev/null 2>&1 || true
need_pkgs rclone fuse3 >&2
[ -e /dev/fuse ] || { log "no /dev/fuse"; exit 1; }
mkdir -p "$RCL"/{data-sftp,data-local,cache,pids,logs} "$RCL"/mnt/{sftpa,sftpb,locala,localb,sftpdef}
# The sftp server's port: $NETFS_SFTP_PORT, or the first free one from 18722
# (another run on this machine may hold one: its server must never serve
# our mounts, or its teardown breaks them).
PORT="${NETFS_SFTP_PORT:-}"
if [ -z "$PORT" ]; then
  for p in $(seq 18722 18799); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then PORT=$p; break; fi
  done
  [ -n "$PORT" ] || { log "no free port for rclone serve sftp in 18722-18799"; exit 1; }
fi
export RCLONE_CONFIG="$RCL/rclone.conf"
cat >"$RCLONE_CONFIG" <<CONF
[netfs-sftp]
type = sftp
host = 127.0.0.1
port = $PORT
user = netfs
pass = $(rclone obscure netfs)
CONF
start() { # start NAME cmd...: in the background, its pid recorded
  local name=$1; shift
  setsid "$@" >"$RCL/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$RCL/pids/$name"
}
start serve rclone serve sftp "$RCL/data-sftp" --addr "127.0.0.1:$PORT" --user netfs --pass netfs \
  --cache-dir "$RCL/cache/serve"
for _ in $(seq 1 150); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
# The port answers: it must be our server that does (it exits at once if
# another process took the port first).
sleep 0.5
if ! kill -0 "$(cat "$RCL/pids/serve")" 2>/dev/null; then
  log "rclone serve sftp on 127.0.0.1:$PORT did not stay up:"
  tail -n 20 "$RCL/logs/serve.log" >&2 || true
  exit 1
fi
# shellcheck disable=SC2086
for m in sftpa sftpb; do start "$m" rclone mount netfs-sftp: "$RCL/mnt/$m" --cache-dir "$RCL/cache/$m" $OPTS; done
start sftpdef rclone mount netfs-sftp: "$RCL/mnt/sftpdef" --cache-dir "$RCL/cache/sftpdef"
# shellcheck disable=SC2086
for m in locala localb; do start "$m" rclone mount "$RCL/data-local" "$RCL/mnt/$m" --cache-dir "$RCL/cache/$m" $OPTS; done
for _ in $(seq 1 300); do all_up && break; sleep 0.1; done
if ! all_up; then
  log "rclone mounts did not come up:"
  tail -n 20 "$RCL"/logs/*.log >&2 || true
  bash "$NETFS_SCRIPTS/rclone-down.sh" >/dev/null 2>&1 || true
  exit 1
fi
log "rclone mounts up in $((SECONDS - t0)) s (options: $OPTS)"
emit
