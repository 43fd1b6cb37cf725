# shellcheck shell=sh
# Runs mpconv-uci.sh over one UCI file, as /etc/init.d/mpconv does, with the
# stubs of uci_stub.sh. Sourced by the shell under test:
#   SHELL -c '. openwrt_generate.sh' -- UCI_FILE OUT_DIR
# Writes OUT_DIR/{mpconv.conf,users,fw4.nft} and OUT_DIR.paths (the files
# the configuration names, for the jail).
# shellcheck source=tests/packaging/uci_stub.sh
. "$TESTS_DIR/uci_stub.sh"
# shellcheck source=packaging/openwrt/mpconv/files/mpconv-uci.sh
. "$FILES_DIR/mpconv-uci.sh"
MPCONV_NFT_TEMPLATE="$FILES_DIR/mpconv.nft"
config_load "$1"
mpconv_uci_find_main || exit 1
mpconv_uci_write "$2"
status=$?
printf '%s' "$MPCONV_PATHS" >"$2.paths"
exit $status
