#!/usr/bin/env bash
# Runs a static binary (CGO_ENABLED=0) in the test VM and relays its output
# (stdout and stderr merged) and exit code:
#   vm-run.sh [-t SECONDS] BINARY [ARGS...]    (default timeout 900 s)
# In the guest it runs as root in /tmp (a tmpfs) with
#   CRYOLOCK_NETFS_PAIRS="nfs3:/mnt/nfs3a:/mnt/nfs3b nfs4:/mnt/nfs4a:/mnt/nfs4b cifs:/mnt/cifsa:/mnt/cifsb"
#   CRYOLOCK_NETFS_WHERE=guest  (the tests' CPU figures are the emulation's)
# and every CRYOLOCK_NETFS_* variable of the caller. On a timeout the job is
# given up (exit 124) and the guest console tail is printed.
source "$(dirname "$0")/common.sh"
tmo=900
if [ "${1:-}" = -t ]; then tmo=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: $0 [-t SECONDS] BINARY [ARGS...]" >&2; exit 2; }
[ -e "$XFER/state/ready" ] && alive "$RUN/qemu.pid" >/dev/null || { log "VM not up: run vm-up.sh"; exit 1; }
bin=$1; shift
[ -f "$bin" ] || { log "no such file: $bin"; exit 2; }
id="j$(date +%s%N)"
job="$XFER/jobs/$id"
cp "$bin" "$XFER/bin/$id"
chmod +x "$XFER/bin/$id"
{
  echo 'export CRYOLOCK_NETFS_PAIRS="nfs3:/mnt/nfs3a:/mnt/nfs3b nfs4:/mnt/nfs4a:/mnt/nfs4b cifs:/mnt/cifsa:/mnt/cifsb"'
  echo 'export CRYOLOCK_NETFS_WHERE=guest'
  { env | grep -E '^CRYOLOCK_NETFS_[A-Z0-9_]+=' | grep -vE '^CRYOLOCK_NETFS_(PAIRS|WHERE)=' || true; } | while IFS= read -r kv; do
    printf 'export %q\n' "$kv"
  done
  # copied to the guest's tmpfs first: paging a binary in over 9p is slow
  echo "cp /xfer/bin/$id /tmp/$id || exit 125"
  printf '/tmp/%s' "$id"
  for a in "$@"; do printf ' %q' "$a"; done
  echo
} >"$job.sh.tmp"
mv "$job.sh.tmp" "$job.sh"
touch "$job.out"
tail -n +1 -f "$job.out" &
tailpid=$!
deadline=$((SECONDS + tmo))
rc=
while :; do
  if [ -e "$job.rc" ]; then rc=$(cat "$job.rc"); break; fi
  if ! alive "$RUN/qemu.pid" >/dev/null; then log "job $id: the VM is gone"; rc=125; break; fi
  if [ $SECONDS -gt $deadline ]; then
    log "job $id: no result after $tmo s: killing it"
    touch "$job.kill"
    rc=124
    break
  fi
  sleep 0.2
done
sleep 0.5
kill "$tailpid" 2>/dev/null || true
wait "$tailpid" 2>/dev/null || true
if [ "$rc" != 0 ]; then
  log "job exit $rc; guest console tail:"
  tail -c 2000 "$RUN/console.log" >&2 2>/dev/null || true
fi
rm -f "$XFER/bin/$id"
exit "$rc"
