#!/usr/bin/env bash
# Boots the NFS/SMB test VM (building its image first if the cache lacks it)
# and waits until its six mounts are ready. Software emulation (TCG): nested
# KVM on this machine kind does not boot a stock kernel. A boot that fails or
# times out is retried once; on failure the guest's log and console tail are
# printed. The qemu pid is recorded in $NETFS_STATE/run/qemu.pid.
#   NETFS_BOOT_TIMEOUT=s (default 300) per boot
source "$(dirname "$0")/common.sh"
t0=$SECONDS
if pid=$(alive "$RUN/qemu.pid") && [ -e "$XFER/state/ready" ]; then log "VM already up (pid $pid)"; exit 0; fi
timeout 1200 bash "$NETFS_SCRIPTS/vm-build.sh"

boot() {
  bash "$NETFS_SCRIPTS/vm-down.sh" >/dev/null 2>&1 || true
  mkdir -p "$RUN" "$XFER/state" "$XFER/jobs" "$XFER/bin"
  cp "$NETFS_SCRIPTS/guest-init.sh" "$XFER/guest-init.sh"
  local t1=$SECONDS
  TMPDIR="$RUN" qemu-system-x86_64 -name cryolock-netfs -nodefaults -no-user-config -machine pc \
    -accel tcg,thread=multi -smp "$NETFS_SMP" -m "$NETFS_MEM" \
    -display none -serial "file:$RUN/console.log" -no-reboot -nic none \
    -kernel "$NETFS_CACHE/vmlinux" -initrd "$NETFS_CACHE/initrd.gz" \
    -append "console=ttyS0 quiet panic=-1 mitigations=off" \
    -drive "file=$NETFS_CACHE/root.img,if=virtio,format=raw,snapshot=on" \
    -virtfs "local,path=$XFER,mount_tag=xfer,security_model=none,id=xfer" \
    -daemonize -pidfile "$RUN/qemu.pid" || { log "qemu did not start"; return 1; }
  log "qemu started (pid $(cat "$RUN/qemu.pid"), TCG, ${NETFS_MEM} MiB, $NETFS_SMP vCPUs)"
  local deadline=$((SECONDS + ${NETFS_BOOT_TIMEOUT:-300}))
  until [ -e "$XFER/state/ready" ]; do
    if [ -e "$XFER/state/failed" ] || ! alive "$RUN/qemu.pid" >/dev/null || [ $SECONDS -gt $deadline ]; then
      log "VM did not come up after $((SECONDS - t1)) s. Guest log:"
      tail -n 40 "$XFER/state/guest.log" >&2 2>/dev/null || true
      log "console tail:"
      tail -c 3000 "$RUN/console.log" >&2 2>/dev/null || true
      return 1
    fi
    sleep 0.5
  done
  log "VM ready: boot took $((SECONDS - t1)) s"
}
if ! with_retry 2 boot; then
  bash "$NETFS_SCRIPTS/vm-down.sh" >/dev/null 2>&1 || true
  exit 1
fi
log "vm-up done in $((SECONDS - t0)) s"
