#!/usr/bin/env bash
# Prints what the realfs tests measured on the real restrictive filesystems
# (internal/realfs, written there through CRYOLOCK_REALFS_REPORT).
set -u
r="${CRYOLOCK_REALFS_REPORT:-}"
if [ -n "$r" ] && [ -s "$r" ]; then
  echo "realfs measurements:"; sed 's/^/  /' "$r"
else
  echo "realfs: no measurements recorded"
fi
