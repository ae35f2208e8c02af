#!/usr/bin/env bash
# Tears down everything the netfs scripts started under $NETFS_STATE (the
# VM, the rclone processes and the sshfs pair, by their recorded pids). Safe
# to call twice.
source "$(dirname "$0")/common.sh"
rc=0
bash "$NETFS_SCRIPTS/vm-down.sh" || rc=1
bash "$NETFS_SCRIPTS/rclone-down.sh" || rc=1
# the sshfs pair (internal/realfs's scripts, started by check-netfs.sh)
bash "$NETFS_SCRIPTS/../../realfs/scripts/down.sh" "$NETFS_STATE/realfs" || rc=1
exit $rc
