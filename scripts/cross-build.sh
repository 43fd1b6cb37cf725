#!/bin/sh
# Cross-builds mpconv for a router CPU and tests it under qemu-user.
#   scripts/cross-build.sh mipsel|arm64
# 1. installs what is missing: Debian's cross gcc and qemu-user, and the
#    target's libraries (Debian packages of that arch) unpacked into
#    build-sysroot-ARCH; apt-get update only when something must be fetched;
# 2. configures and builds build-ARCH (-Werror) with cmake/toolchain-ARCH.cmake;
# 3. runs the unit tests under qemu (ctest), then test_transfer.py with the
#    daemon under qemu (MPCONV_WRAPPER);
# 4. prints the stripped binary's size and its NEEDED libraries.
# See "Router CPUs (cross-builds)" in README.md.
set -eu
cd "$(dirname "$0")/.."

ARCH="${1:-}"
case "$ARCH" in
  mipsel) TRIPLET=mipsel-linux-gnu QEMU=qemu-mipsel ;;
  arm64) TRIPLET=aarch64-linux-gnu QEMU=qemu-aarch64 ;;
  *) echo "usage: $0 mipsel|arm64" >&2; exit 2 ;;
esac
BUILD="build-$ARCH"
SYSROOT="$PWD/build-sysroot-$ARCH"
JOBS="${JOBS:-$(nproc)}"

HOST_PKGS="cmake make pkg-config python3 curl openssl gcc-$TRIPLET qemu-user"
# The target's C library, libatomic (64-bit atomics on 32-bit CPUs) and
# mpconv's libraries with their headers.
TARGET_PKGS="libc6 libc6-dev linux-libc-dev libcrypt1 libcrypt-dev libgcc-s1 libatomic1
  libuv1 libuv1-dev libssl3 libssl-dev libinih1 libinih-dev libcmocka0 libcmocka-dev"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
updated=""
debs=""
trap '[ -z "$debs" ] || rm -rf "$debs"' EXIT
apt_update_once() {
  [ -n "$updated" ] && return 0
  $SUDO apt-get update -qq
  updated=1
}

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

# Before any apt-get update, so that one update also fetches the arch's lists.
add_architecture() {
  dpkg --print-foreign-architectures | grep -qx "$ARCH" || $SUDO dpkg --add-architecture "$ARCH"
}

install_host_packages() {
  missing=""
  for p in $HOST_PKGS; do
    installed "$p" || missing="$missing $p"
  done
  [ -z "$missing" ] && return 0
  echo "installing:$missing"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
}

# The target's packages are unpacked, not installed: installed :mipsel or
# :arm64 libraries must have exactly the host's version (Multi-Arch: same),
# and bookworm-security has no mipsel builds, so dpkg would have to hold back
# or downgrade the host's OpenSSL. The stamp's first line says which packages
# were unpacked (remove build-sysroot-ARCH to fetch newer versions).
make_sysroot() {
  want=$(echo $TARGET_PKGS)
  [ -f "$SYSROOT/.packages" ] && [ "$(head -n 1 "$SYSROOT/.packages")" = "$want" ] && return 0
  apt_update_once
  debs=$(mktemp -d)
  # apt downloads as user _apt where it can write.
  ! id _apt >/dev/null 2>&1 || $SUDO chown _apt "$debs"
  echo "unpacking into $SYSROOT:$(for p in $want; do printf ' %s' "$p:$ARCH"; done)"
  (cd "$debs" && apt-get download -qq $(for p in $want; do echo "$p:$ARCH"; done))
  rm -rf "$SYSROOT"
  mkdir -p "$SYSROOT"
  for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$SYSROOT"
  done
  echo "$want" > "$SYSROOT/.packages"
  (cd "$debs" && ls) >> "$SYSROOT/.packages"
  # Absolute symlinks (libm.so -> /lib/...) must point into the sysroot.
  find "$SYSROOT" -type l -lname '/*' | while read -r link; do
    ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$SYSROOT$(readlink "$link")")" "$link"
  done
}

add_architecture
install_host_packages
make_sysroot

cmake -S . -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="cmake/toolchain-$ARCH.cmake" \
  -DCMAKE_BUILD_TYPE=Release -DMPCONV_WERROR=ON >/dev/null
cmake --build "$BUILD" -j "$JOBS"

echo "== unit tests under $QEMU"
(cd "$BUILD" && ctest -L unit --output-on-failure)
# Cases that cannot run under qemu-user say why (tests/unit/test_dial.c).
grep -h "skipped:" "$BUILD/Testing/Temporary/LastTest.log" | sed 's/^/  /' || true

echo "== tests/integration/test_transfer.py, mpconv under $QEMU"
MPCONV_BIN="$BUILD/mpconv" MPCONV_WRAPPER="$QEMU -L $SYSROOT" \
  python3 tests/integration/test_transfer.py

"$TRIPLET-strip" -o "$BUILD/mpconv.stripped" "$BUILD/mpconv"
echo "== $ARCH: $BUILD/mpconv.stripped, $(stat -c %s "$BUILD/mpconv.stripped") bytes stripped"
"$TRIPLET-readelf" -d "$BUILD/mpconv.stripped" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/  needs \1/p'
