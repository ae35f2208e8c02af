# shellcheck shell=bash
# Sourced by .ci/run (set -euo pipefail is active): installs and starts the
# real restrictive filesystems of internal/realfs and exports where they are
# (CRYOLOCK_SSHFS_A/B, CRYOLOCK_FUSE_A/B, CRYOLOCK_WAZERO, ...). Never aborts
# CI: a component that cannot be had is reported here and left out, and the
# realfs tests then fail in CI naming it. Idempotent and quick when already
# installed. Everything started is stopped when .ci/run exits (EXIT trap,
# chained to any earlier one) and again by .ci/check-zz-realfs-teardown.sh.
realfs_setup() {
  local t0=$SECONDS
  local pkgs=()
  command -v sshfs >/dev/null 2>&1 || pkgs+=(sshfs)
  [ -x /usr/sbin/sshd ] || pkgs+=(openssh-server)
  command -v ssh-keygen >/dev/null 2>&1 || pkgs+=(openssh-client)
  command -v fusermount3 >/dev/null 2>&1 || pkgs+=(fuse3)
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "realfs: apt-get install ${pkgs[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}"; } >"$CRYOLOCK_CI_STATE/realfs-apt.log" 2>&1; then
      echo "realfs: apt-get failed (tail of the log follows); the realfs tests will say what is missing"
      tail -5 "$CRYOLOCK_CI_STATE/realfs-apt.log" || true
    fi
  fi
  local wz
  wz="$(go env GOPATH)/bin/wazero"
  if [ ! -x "$wz" ] || ! "$wz" version 2>/dev/null | grep -q 'v1\.11\.0'; then
    echo "realfs: go install wazero CLI v1.11.0"
    GOFLAGS=-buildvcs=false go install github.com/tetratelabs/wazero/cmd/wazero@v1.11.0 || echo "realfs: go install wazero failed"
  fi
  local out
  out=$(bash internal/realfs/scripts/up.sh "$CRYOLOCK_CI_STATE/realfs") || true
  eval "$out" || true
  export CRYOLOCK_REALFS_REPORT="$CRYOLOCK_CI_STATE/realfs-report.txt"
  echo "realfs: ready in $((SECONDS - t0)) s:"
  sed 's/^export /  /' <<<"$out" || true
}

realfs_teardown() { bash internal/realfs/scripts/down.sh "$CRYOLOCK_CI_STATE/realfs" || true; }

# Chain the EXIT trap: keep whatever an earlier setup script installed.
__realfs_prev_trap=$(trap -p EXIT || true)
__realfs_prev_trap=${__realfs_prev_trap#trap -- }
__realfs_prev_trap=${__realfs_prev_trap% EXIT}
if [ -n "$__realfs_prev_trap" ]; then
  eval "__realfs_prev_trap=$__realfs_prev_trap" || __realfs_prev_trap=""
fi
# shellcheck disable=SC2064
trap "realfs_teardown; ${__realfs_prev_trap}" EXIT

realfs_setup || echo "realfs: setup failed; the realfs tests will say what is missing"
