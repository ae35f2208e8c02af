#!/usr/bin/env bash
# Tears down everything the netfs scripts started under $NETFS_STATE (the
# VM and the rclone processes, by their recorded pids). Safe to call twice.
source "$(dirname "$0")/common.sh"
rc=0
bash "$NETFS_SCRIPTS/vm-down.sh" || rc=1
bash "$NETFS_SCRIPTS/rclone-down.sh" || rc=1
exit $rc
