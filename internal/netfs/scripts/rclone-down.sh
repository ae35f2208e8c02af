#!/usr/bin/env bash
# Unmounts the rclone mounts of rclone-up.sh and stops the rclone processes
# it recorded (by pid only), then removes their data (their logs are kept,
# under $NETFS_STATE/rclone-logs).
source "$(dirname "$0")/common.sh"
for m in sftpa sftpb locala localb sftpdef; do
  if mountpoint -q "$RCL/mnt/$m" 2>/dev/null; then
    fusermount3 -u "$RCL/mnt/$m" 2>/dev/null || fusermount3 -uz "$RCL/mnt/$m" 2>/dev/null || umount -l "$RCL/mnt/$m" || true
  fi
done
for p in "$RCL"/pids/*; do
  [ -e "$p" ] || continue
  stop_pid "$(cat "$p")" rclone
  rm -f "$p"
done
for m in sftpa sftpb locala localb sftpdef; do
  if mountpoint -q "$RCL/mnt/$m" 2>/dev/null; then log "still mounted: $RCL/mnt/$m"; exit 1; fi
done
if [ -d "$RCL/logs" ]; then
  rm -rf "$NETFS_STATE/rclone-logs" && mv "$RCL/logs" "$NETFS_STATE/rclone-logs" || true
fi
rm -rf "$RCL"
