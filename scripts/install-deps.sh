#!/bin/sh
# Installs the Debian packages mpconv needs, only those that are missing.
#   scripts/install-deps.sh build   compiler, cmake, libraries
#   scripts/install-deps.sh test    the above plus test clients and tools
set -eu

BUILD_PKGS="build-essential cmake pkg-config libuv1-dev libssl-dev libinih-dev"
TEST_PKGS="libcmocka-dev python3 curl ncat proxychains4 iproute2 nftables openssl procps clang libclang-rt-14-dev valgrind shellcheck busybox groff-base man-db systemd python3-yaml"

case "${1:-build}" in
  build) want="$BUILD_PKGS" ;;
  test) want="$BUILD_PKGS $TEST_PKGS" ;;
  *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "installing:$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
