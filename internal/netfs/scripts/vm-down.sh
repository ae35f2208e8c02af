#!/usr/bin/env bash
# Stops the test VM that vm-up.sh started (its recorded qemu pid only) and
# removes its run state. The root image is opened with snapshot=on, so the
# VM is simply stopped. The image cache is kept.
source "$(dirname "$0")/common.sh"
if pid=$(alive "$RUN/qemu.pid"); then
  stop_pid "$pid" qemu-system-x86
  log "VM (pid $pid) stopped"
fi
rm -rf "$RUN" "$XFER"
