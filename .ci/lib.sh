# shellcheck shell=bash
# Shared by the .ci/check-*.sh scripts (sourced, not run; no check-/setup-
# prefix, so .ci/run does not pick it up itself).

# need_pkg CMD PKG: install the Debian package PKG when the command CMD is
# missing (as root, or through sudo), quietly; fails the caller if it cannot.
need_pkg() {
  local cmd=$1 pkg=$2 sudo=""
  command -v "$cmd" >/dev/null 2>&1 && return 0
  echo "$cmd not found: installing the Debian package $pkg"
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
  command -v "$cmd" >/dev/null 2>&1 || { echo "installing $pkg did not provide $cmd" >&2; return 1; }
}
