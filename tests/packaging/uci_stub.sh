# shellcheck shell=sh
# Stand-ins for the UCI helpers of OpenWrt's /lib/functions.sh, with the same
# semantics, for sourcing mpconv-uci.sh and the init script off the router.
# config_load reads a UCI file as shell, as the real one evaluates
# `uci export`: `config TYPE [NAME]`, `option NAME VALUE`, `list NAME VALUE`.
# Values land in CONFIG_<section>_<option>; lists also in _ITEM<n>/_LENGTH
# and, space-joined, in the option itself, like the real thing.
#
# shellcheck disable=SC3043
# SC3043: `local`, as in the functions.sh these replace (busybox ash, dash).

CONFIG_SECTIONS=""
CONFIG_NUM_SECTIONS=0
CONFIG_SECTION=""

_uci_set() {
	eval "CONFIG_${1}_${2}=\$3"
}

package() {
	:
}

config() {
	local type="$1" name="$2"
	CONFIG_NUM_SECTIONS=$((CONFIG_NUM_SECTIONS + 1))
	name="${name:-cfg$CONFIG_NUM_SECTIONS}"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $name"
	CONFIG_SECTION="$name"
	_uci_set "$name" TYPE "$type"
}

option() {
	_uci_set "$CONFIG_SECTION" "$1" "$2"
}

list() {
	local len joined
	config_get len "$CONFIG_SECTION" "${1}_LENGTH" 0
	len=$((len + 1))
	_uci_set "$CONFIG_SECTION" "${1}_ITEM$len" "$2"
	_uci_set "$CONFIG_SECTION" "${1}_LENGTH" "$len"
	config_get joined "$CONFIG_SECTION" "$1"
	_uci_set "$CONFIG_SECTION" "$1" "${joined:+$joined }$2"
}

# config_load PACKAGE reads UCI_CONFIG_DIR/PACKAGE; without UCI_CONFIG_DIR
# PACKAGE is taken as the file name.
config_load() {
	local section file="$1"
	[ -n "${UCI_CONFIG_DIR:-}" ] && file="$UCI_CONFIG_DIR/$1"
	for section in $CONFIG_SECTIONS; do
		unset "CONFIG_${section}_TYPE"
	done
	CONFIG_SECTIONS=""
	CONFIG_NUM_SECTIONS=0
	# shellcheck source=/dev/null
	. "$file"
}

# config_get VAR SECTION OPTION [DEFAULT], or config_get SECTION OPTION.
config_get() {
	case "$3" in
	"") eval "echo \"\${CONFIG_${1}_${2}:-\${4}}\"" ;;
	*) eval "$1=\${CONFIG_${2}_${3}:-\${4}}" ;;
	esac
}

config_get_bool() {
	local _tmp
	config_get _tmp "$2" "$3" "$4"
	case "$_tmp" in
	1 | on | true | yes | enabled) _tmp=1 ;;
	0 | off | false | no | disabled) _tmp=0 ;;
	*) _tmp="$4" ;;
	esac
	eval "$1=\$_tmp"
}

config_foreach() {
	local ___function="$1" ___type="$2" section cfgtype
	[ "$#" -ge 1 ] && shift
	[ "$#" -ge 1 ] && shift
	for section in $CONFIG_SECTIONS; do
		config_get cfgtype "$section" TYPE
		[ -n "$___type" ] && [ "$cfgtype" != "$___type" ] && continue
		eval "$___function \"\$section\" \"\$@\""
	done
}

config_list_foreach() {
	[ "$#" -ge 3 ] || return 0
	# shellcheck disable=SC2034 # val is set by config_get through eval
	local section="$1" option="$2" function="$3" val len c=1
	shift 3
	config_get len "$section" "${option}_LENGTH"
	[ -z "$len" ] && return 0
	while [ "$c" -le "$len" ]; do
		config_get val "$section" "${option}_ITEM$c"
		eval "$function \"\$val\" \"\$@\""
		c=$((c + 1))
	done
}

user_exists() {
	[ "$1" = "${STUB_USER:-}" ]
}

# /lib/functions/network.sh: an interface's address from STUB_IPADDR_<iface>.
network_get_ipaddr() {
	eval "$1=\${STUB_IPADDR_$2:-}"
}
