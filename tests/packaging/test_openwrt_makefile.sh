#!/bin/sh
# packaging/openwrt/mpconv/Makefile without an OpenWrt SDK: GNU make runs it
# against stand-ins for rules.mk, package.mk and cmake.mk that keep the
# SDK's INSTALL_* commands and turn BuildPackage into three targets:
#   info     PKG_VERSION, conffiles, CMAKE_OPTIONS
#   prepare  Build/Prepare (copies the sources into PKG_BUILD_DIR)
#   install  Package/mpconv/install into a package root
# Then: the version is CMakeLists.txt's, the prepared tree configures with
# the package's CMAKE_OPTIONS, and the package root holds every file with
# the right mode (the binary is the build's, placed where cmake.mk's
# install step would put it).
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PKG_DIR="$ROOT/packaging/openwrt/mpconv"
MPCONV_BIN=${MPCONV_BIN:-$ROOT/build/mpconv}

# shellcheck source=tests/packaging/tap.sh
. "$ROOT/tests/packaging/tap.sh"

for tool in make cmake; do
	if ! command -v "$tool" >/dev/null; then
		echo "$tool is not installed"
		exit 1
	fi
done
TMP=$(mktemp -d /tmp/mpconv-openwrt-make.XXXXXX)
trap 'rm -rf "$TMP"' EXIT INT TERM
SDK="$TMP/sdk"
mkdir -p "$SDK/include"

# As in the SDK's rules.mk.
cat >"$SDK/rules.mk" <<'EOF'
INCLUDE_DIR:=$(TOPDIR)/include
INSTALL_DIR:=install -d -m0755
INSTALL_BIN:=install -m0755
INSTALL_DATA:=install -m0644
INSTALL_CONF:=install -m0600
CP:=cp -fpR
LN:=ln -sf
EOF
cat >"$SDK/include/package.mk" <<'EOF'
PKG_BUILD_DIR:=$(BUILD_DIR)/$(PKG_NAME)-$(PKG_VERSION)
PKG_INSTALL_DIR:=$(PKG_BUILD_DIR)/ipkg-install
define BuildPackage
info:
	@echo "PKG_VERSION=$(PKG_VERSION)"
	@echo "CONFFILES=$(strip $(Package/$(1)/conffiles))"
	@echo "CMAKE_OPTIONS=$(strip $(CMAKE_OPTIONS))"
prepare:
	$(Build/Prepare)
install:
	$(call Package/$(1)/install,$(PKG_ROOT))
endef
EOF
cat >"$SDK/include/cmake.mk" <<'EOF'
CMAKE_OPTIONS:=
EOF

pkg_make() {
	make --no-print-directory -C "$PKG_DIR" TOPDIR="$SDK" BUILD_DIR="$TMP/build" PKG_ROOT="$TMP/root" "$@"
}

# ---- info ----
if ! pkg_make info >"$TMP/info" 2>&1; then
	not_ok "make info: $(cat "$TMP/info")"
else
	ok "make info"
	want=$(sed -n 's/^project(mpconv VERSION \([0-9.]*\).*/\1/p' "$ROOT/CMakeLists.txt")
	check "PKG_VERSION is CMakeLists.txt's ($want)" grep -qxF "PKG_VERSION=$want" "$TMP/info"
	check "conffiles: /etc/config/mpconv" grep -qxF "CONFFILES=/etc/config/mpconv" "$TMP/info"
	check "CMAKE_OPTIONS turn the tests off" grep -q "^CMAKE_OPTIONS=.*-DMPCONV_TESTS=OFF" "$TMP/info"
	check "DEPENDS: libuv, libopenssl, libinih" \
		grep -q 'DEPENDS:=+libuv +libopenssl +libinih' "$PKG_DIR/Makefile"
	check "a mpconv user and group" grep -q '^  USERID:=mpconv:mpconv$' "$PKG_DIR/Makefile"
fi

# ---- prepare: the copied tree configures with the package's options ----
version=$(sed -n 's/^PKG_VERSION=//p' "$TMP/info")
if pkg_make prepare >"$TMP/prepare" 2>&1; then
	ok "make prepare (Build/Prepare)"
	options=$(sed -n 's/^CMAKE_OPTIONS=//p' "$TMP/info")
	# shellcheck disable=SC2086 # the package's options, one word each
	if cmake -S "$TMP/build/mpconv-$version" -B "$TMP/cmake" $options >"$TMP/configure" 2>&1; then
		ok "the prepared sources configure with CMAKE_OPTIONS"
	else
		not_ok "cmake on the prepared sources: $(tail -n 20 "$TMP/configure")"
	fi
else
	not_ok "make prepare: $(cat "$TMP/prepare")"
fi

# ---- install ----
mkdir -p "$TMP/build/mpconv-$version/ipkg-install/usr/bin"
cp "$MPCONV_BIN" "$TMP/build/mpconv-$version/ipkg-install/usr/bin/mpconv"
if pkg_make install >"$TMP/install" 2>&1; then
	ok "make install (Package/mpconv/install)"
else
	not_ok "make install: $(cat "$TMP/install")"
fi
R="$TMP/root"
for entry in 755:/usr/bin/mpconv 755:/etc/init.d/mpconv 600:/etc/config/mpconv \
	644:/etc/capabilities/mpconv.json 644:/etc/sysctl.d/99-mptcp.conf \
	644:/usr/share/mpconv/mpconv-uci.sh 644:/usr/share/mpconv/mpconv.nft; do
	mode=${entry%%:*}
	file=${entry#*:}
	if [ -f "$R$file" ] && [ "$(stat -c %a "$R$file")" = "$mode" ]; then
		ok "package has $file, mode $mode"
	else
		not_ok "package lacks $file with mode $mode ($(stat -c %a "$R$file" 2>&1))"
	fi
done
check "fw4 include link points into /var/etc/mpconv" \
	test "$(readlink "$R/usr/share/nftables.d/table-post/90-mpconv.nft")" = /var/etc/mpconv/fw4.nft
check "init script sources the installed library and template" \
	sh -c "grep -q '/usr/share/mpconv/mpconv-uci.sh' '$R/etc/init.d/mpconv' &&
		grep -q 'MPCONV_NFT_TEMPLATE=\"\$IPKG_INSTROOT/usr/share/mpconv/mpconv.nft\"' '$R/etc/init.d/mpconv'"
check "init script names the installed capabilities file" \
	grep -qxF 'CAPABILITIES=/etc/capabilities/mpconv.json' "$R/etc/init.d/mpconv"
if command -v python3 >/dev/null; then
	check "capabilities JSON: CAP_NET_ADMIN and CAP_NET_BIND_SERVICE in every set" python3 -c '
import json, sys
caps = json.load(open(sys.argv[1]))
want = {"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"}
sets = ("bounding", "effective", "ambient", "permitted", "inheritable")
sys.exit(0 if all(set(caps[s]) == want for s in sets) else 1)' "$R/etc/capabilities/mpconv.json"
fi
check "sysctl file enables MPTCP" grep -qxF 'net.mptcp.enabled=1' "$R/etc/sysctl.d/99-mptcp.conf"

finish
