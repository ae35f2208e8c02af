#!/usr/bin/env bash
# up.sh STATE_DIR — start the real restrictive filesystems of the realfs tests
# and print, on stdout, `export NAME=value` lines telling the tests where they
# are. Installs nothing: missing tools are reported on stderr and the
# corresponding variables are left out (the tests then skip, or fail in CI,
# naming what is missing). Idempotent: what already runs for STATE_DIR is
# reused. Stop everything with down.sh STATE_DIR.
#
# What it starts:
#   - a loopback sshd on 127.0.0.1 (own config, host key and client key in
#     STATE_DIR/ssh, a free port from 2222 on, root login by key only);
#   - the same directory STATE_DIR/sshfs-shared mounted TWICE with sshfs,
#     default cache options: STATE_DIR/sshfs-a and STATE_DIR/sshfs-b (two
#     independent client caches of one directory, like two NFS hosts);
#   - a second pair, STATE_DIR/sshfs-fast-a and -b over
#     STATE_DIR/sshfs-fast-shared, with -o cache_timeout=2;
#   - the test FUSE filesystem (internal/realfs/cmd/realfs-fuse) mounted
#     twice over STATE_DIR/fuse-backing with 2 s entry/attribute timeouts and
#     kernel-cached listings: STATE_DIR/fuse-a and STATE_DIR/fuse-b;
#   - the same FUSE filesystem mounted twice over STATE_DIR/fuselag-backing
#     with listings served from per-mount snapshots refreshed every 1 s, in
#     which a mount's own create does not refresh what it sees of the other's
#     (an eventually consistent listing): STATE_DIR/fuselag-a and -b;
#   - nothing for WASI but a lookup of the wazero CLI.
set -uo pipefail
state=${1:?usage: up.sh STATE_DIR}
mkdir -p "$state" || exit 1
state=$(cd "$state" && pwd)
repo=$(cd "$(dirname "$0")/../../.." && pwd)
PATH="$PATH:/usr/sbin:/sbin:/usr/local/go/bin"
FUSE_TIMEOUT=${CRYOLOCK_FUSE_TIMEOUT:-2s}
FUSELAG_TTL=${CRYOLOCK_FUSELAG_TTL:-1s}
SSHFS_FAST_CACHE=2

warn() { echo "realfs: $*" >&2; }
mounted() { grep -q " $1 " /proc/mounts 2>/dev/null; }
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# wait_for CMD...: poll CMD up to 15 s (readiness of a daemon, not a test).
wait_for() {
  local i
  for i in $(seq 1 150); do "$@" && return 0; sleep 0.1; done
  return 1
}

exports=()

# ---- sshd + sshfs -------------------------------------------------------
start_sshfs() {
  local missing=()
  command -v sshfs >/dev/null || missing+=(sshfs)
  [ -x /usr/sbin/sshd ] || missing+=("/usr/sbin/sshd (openssh-server)")
  command -v ssh-keygen >/dev/null || missing+=("ssh-keygen (openssh-client)")
  command -v fusermount3 >/dev/null || command -v fusermount >/dev/null || missing+=("fusermount3 (fuse3)")
  [ -e /dev/fuse ] || missing+=(/dev/fuse)
  if [ ${#missing[@]} -gt 0 ]; then
    warn "sshfs not started, missing: ${missing[*]}"
    return 1
  fi
  local s="$state/ssh"
  mkdir -p "$s" /run/sshd || return 1
  chmod 700 "$s"
  [ -f "$s/hostkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$s/hostkey" || return 1
  [ -f "$s/clientkey" ] || ssh-keygen -q -t ed25519 -N '' -f "$s/clientkey" || return 1
  cp "$s/clientkey.pub" "$s/authorized_keys"
  local port pid
  pid=$(cat "$s/sshd.pid" 2>/dev/null || true)
  if alive "$pid" && [ -f "$s/port" ]; then
    port=$(cat "$s/port")
  else
    port=""
    local p
    for p in $(seq 2222 2299); do
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then port=$p; break; fi
    done
    [ -n "$port" ] || { warn "no free port for sshd in 2222-2299"; return 1; }
    cat > "$s/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $s/hostkey
PidFile $s/sshd.pid
AuthorizedKeysFile $s/authorized_keys
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
MaxStartups 100
Subsystem sftp internal-sftp
LogLevel ERROR
CONF
    /usr/sbin/sshd -f "$s/sshd_config" -E "$s/sshd.log" || { warn "sshd failed to start: $(cat "$s/sshd.log" 2>/dev/null)"; return 1; }
    echo "$port" > "$s/port"
    wait_for test -s "$s/sshd.pid" || { warn "sshd wrote no pid file"; return 1; }
  fi
  local m
  for m in a b; do
    # Default cache options on purpose: the tests measure what they do.
    sshfs_mount "$port" sshfs-shared "sshfs-$m" || return 1
  done
  exports+=("CRYOLOCK_SSHFS_A=$state/sshfs-a" "CRYOLOCK_SSHFS_B=$state/sshfs-b"
            "CRYOLOCK_SSHFS_BACKING=$state/sshfs-shared" "CRYOLOCK_SSHFS_PORT=$port")
  # A second pair with sshfs's caches cut to SSHFS_FAST_CACHE seconds, so
  # that the probe's two-party mode and the recommended settle delay fit in
  # a CI run (with the default 20 s the settle recommended is about 1 min).
  for m in a b; do
    sshfs_mount "$port" sshfs-fast-shared "sshfs-fast-$m" -o "cache_timeout=$SSHFS_FAST_CACHE" || return 1
  done
  exports+=("CRYOLOCK_SSHFS_FAST_A=$state/sshfs-fast-a" "CRYOLOCK_SSHFS_FAST_B=$state/sshfs-fast-b"
            "CRYOLOCK_SSHFS_FAST_BACKING=$state/sshfs-fast-shared" "CRYOLOCK_SSHFS_FAST_CACHE=${SSHFS_FAST_CACHE}s")
}

# sshfs_mount PORT SHARED NAME [OPTIONS...]: mount STATE/SHARED at STATE/NAME.
sshfs_mount() {
  local port=$1 shared=$2 name=$3 s="$state/ssh"; shift 3
  mkdir -p "$state/$shared" "$state/$name" || return 1
  mounted "$state/$name" && return 0
  sshfs -p "$port" \
    -o IdentityFile="$s/clientkey",StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes,LogLevel=ERROR \
    "$@" "root@127.0.0.1:$state/$shared" "$state/$name" 2>"$s/$name.log" \
    || { warn "sshfs mount $name failed: $(cat "$s/$name.log")"; return 1; }
}

# ---- the test FUSE filesystem ------------------------------------------
start_fuse() {
  [ -e /dev/fuse ] || { warn "FUSE filesystem not started, missing: /dev/fuse"; return 1; }
  command -v go >/dev/null || { warn "FUSE filesystem not started, missing: go"; return 1; }
  local bin="$state/bin/realfs-fuse"
  mkdir -p "$state/bin" || return 1
  if [ ! -x "$bin" ]; then
    (cd "$repo" && go build -o "$bin" ./internal/realfs/cmd/realfs-fuse) || { warn "building realfs-fuse failed"; return 1; }
  fi
  local m
  for m in a b; do
    start_fuse_mount "fuse-$m" fuse-backing -attr "$FUSE_TIMEOUT" -entry "$FUSE_TIMEOUT" -negative "$FUSE_TIMEOUT" -cachedir || return 1
  done
  exports+=("CRYOLOCK_FUSE_A=$state/fuse-a" "CRYOLOCK_FUSE_B=$state/fuse-b"
            "CRYOLOCK_FUSE_DIR=$state/fuse-a" "CRYOLOCK_FUSE_BACKING=$state/fuse-backing"
            "CRYOLOCK_FUSE_TIMEOUT=$FUSE_TIMEOUT")
  for m in a b; do
    start_fuse_mount "fuselag-$m" fuselag-backing -attr "$FUSELAG_TTL" -entry "$FUSELAG_TTL" -negative "$FUSELAG_TTL" -listttl "$FUSELAG_TTL" || return 1
  done
  exports+=("CRYOLOCK_FUSELAG_A=$state/fuselag-a" "CRYOLOCK_FUSELAG_B=$state/fuselag-b"
            "CRYOLOCK_FUSELAG_BACKING=$state/fuselag-backing" "CRYOLOCK_FUSELAG_TTL=$FUSELAG_TTL")
}

# start_fuse_mount NAME BACKING FLAGS...: serve STATE/BACKING at STATE/NAME.
start_fuse_mount() {
  local name=$1 backing=$2; shift 2
  mkdir -p "$state/$name" "$state/$backing" || return 1
  mounted "$state/$name" && return 0
  setsid "$state/bin/realfs-fuse" "$@" "$state/$backing" "$state/$name" >"$state/$name.log" 2>&1 </dev/null &
  echo $! > "$state/$name.pid"
  wait_for mounted "$state/$name" || { warn "FUSE mount $name did not come up: $(cat "$state/$name.log")"; return 1; }
}

find_wazero() {
  local w
  w=$(command -v wazero 2>/dev/null || true)
  if [ -z "$w" ] && command -v go >/dev/null; then
    w="$(go env GOPATH)/bin/wazero"
    [ -x "$w" ] || w=""
  fi
  [ -n "$w" ] || { warn "missing: wazero (go install github.com/tetratelabs/wazero/cmd/wazero@v1.11.0)"; return 1; }
  exports+=("CRYOLOCK_WAZERO=$w")
}

start_sshfs || true
start_fuse || true
find_wazero || true
exports+=("CRYOLOCK_REALFS_STATE=$state")
for e in "${exports[@]}"; do
  printf 'export %s=%q\n' "${e%%=*}" "${e#*=}"
done
