#!/usr/bin/env bash
# down.sh STATE_DIR — undo up.sh: unmount the sshfs and FUSE mounts, stop the
# FUSE servers and sshd. Never fails; safe to run twice.
set -u
state=${1:?usage: down.sh STATE_DIR}
[ -d "$state" ] || exit 0
state=$(cd "$state" && pwd)
PATH="$PATH:/usr/sbin:/sbin"
umnt() {
  grep -q " $1 " /proc/mounts 2>/dev/null || return 0
  fusermount3 -u "$1" 2>/dev/null || fusermount -u "$1" 2>/dev/null || umount -l "$1" 2>/dev/null || true
}
for m in sshfs-a sshfs-b sshfs-fast-a sshfs-fast-b fuse-a fuse-b fuselag-a fuselag-b; do umnt "$state/$m"; done
for f in "$state"/fuse*.pid "$state/ssh/sshd.pid"; do
  pid=$(cat "$f" 2>/dev/null || true)
  [ -n "$pid" ] && kill "$pid" 2>/dev/null
  rm -f "$f"
done
exit 0
