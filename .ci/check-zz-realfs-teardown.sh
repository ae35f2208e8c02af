#!/usr/bin/env bash
# Stops what .ci/setup-realfs.sh started (the EXIT trap of .ci/run does it
# too; running it twice is harmless). Reports anything that stayed mounted
# (down.sh already fell back to a lazy unmount, so what is left is inert).
set -u
state="${CRYOLOCK_CI_STATE:-}/realfs"
[ -n "${CRYOLOCK_CI_STATE:-}" ] && [ -d "$state" ] || exit 0
bash "$(dirname "$0")/../internal/realfs/scripts/down.sh" "$state"
if grep -q " $state/" /proc/mounts; then
  echo "realfs: WARNING: mounts left behind under $state:"; grep " $state/" /proc/mounts
  exit 0
fi
echo "realfs: torn down"
