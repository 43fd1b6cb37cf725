# shellcheck shell=sh
# Translates /etc/config/mpconv (UCI) into what mpconv reads: its INI file,
# the users file and, for transparent mode, the fw4 include.
#
# Sourced by /etc/init.d/mpconv after /lib/functions.sh (config_load,
# config_get, config_get_bool, config_foreach, config_list_foreach) and
# /lib/functions/network.sh (network_get_ipaddr); the tests source it with
# stubs of those. Every function prints to stdout and reports errors on
# stderr, naming the UCI section and option; the return status is non-zero
# after any error. No secret is ever passed on a command line.
#
# shellcheck disable=SC3043
# SC3043: `local` is not POSIX, but busybox ash and dash (the shells this
# runs under) have it, and OpenWrt's own shell libraries rely on it.

MPCONV_NL='
'
# inih's line buffer in the usual build; longer lines are errors in mpconv.
MPCONV_INI_LINE_MAX=198
MPCONV_NFT_TEMPLATE=${MPCONV_NFT_TEMPLATE:-/usr/share/mpconv/mpconv.nft}

MPCONV_MAIN=""      # name of the `config mpconv` section
MPCONV_FAILED=""    # set by mpconv_fail
MPCONV_PATHS=""     # files the configuration names (cert, key, ca, users), one per line
MPCONV_TP_TYPE=""   # the first enabled redirect or tproxy listener: its type
MPCONV_TP_PORT=""   # and its port
_mpconv_pending=""  # INI section whose header is not printed yet
_mpconv_joined=""   # list being joined by _mpconv_join_item
_mpconv_count=0     # users counted by _mpconv_count_user

mpconv_fail() {
	echo "mpconv: /etc/config/mpconv: $*" >&2
	MPCONV_FAILED=1
}

# ---- helpers ----

# Percent-encodes $1 except RFC 3986 unreserved characters and the
# characters in $2, byte by byte (the shells here do not split UTF-8).
mpconv_pct() {
	local s="$1" rest c out=""
	while [ -n "$s" ]; do
		rest=${s#?}
		c=${s%"$rest"}
		s=$rest
		case "$c" in
		[ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-]) ;;
		*)
			case "$2" in
			*"$c"*) ;;
			*) c=$(printf '%%%02X' "'$c") ;;
			esac
			;;
		esac
		out="$out$c"
	done
	printf %s "$out"
}

# Host for a URL: IPv6 addresses go in brackets.
mpconv_url_host() {
	case "$1" in
	\[*) printf %s "$1" ;;
	*:*) printf '[%s]' "$1" ;;
	*) printf %s "$1" ;;
	esac
}

# A firewall mark: decimal, or hex after 0x.
mpconv_is_mark() {
	case "$1" in
	0x*)
		case "${1#0x}" in
		'' | *[!0-9a-fA-F]*) return 1 ;;
		esac
		;;
	'' | *[!0-9]*) return 1 ;;
	esac
}

mpconv_is_port() {
	case "$1" in
	'' | *[!0-9]*) return 1 ;;
	esac
	[ "$1" -ge 1 ] && [ "$1" -le 65535 ]
}

# Remembers a file the configuration names (for the jail's mounts).
_mpconv_path() {
	[ -n "$1" ] || return 0
	MPCONV_PATHS="$MPCONV_PATHS$1$MPCONV_NL"
}

# Appends $1 to _mpconv_joined, comma-separated (config_list_foreach callback).
_mpconv_join_item() {
	[ -n "$1" ] || return 0
	_mpconv_joined="${_mpconv_joined:+$_mpconv_joined,}$1"
}

# Joins list option $2 of section $1 into _mpconv_joined. A plain `option`
# (one value, maybe "a,b" or "a b") is accepted too.
_mpconv_join() {
	local value
	_mpconv_joined=""
	config_list_foreach "$1" "$2" _mpconv_join_item
	[ -n "$_mpconv_joined" ] && return 0
	config_get value "$1" "$2"
	for value in $(echo "$value" | tr ',' ' '); do
		_mpconv_join_item "$value"
	done
}

# Starts an INI section; its header is printed with its first key.
_mpconv_begin() {
	_mpconv_pending=$1
}

# Prints "KEY = VALUE" (nothing when VALUE is empty). $3 names the UCI
# option it came from, for error messages.
_mpconv_key() {
	local key="$1" value="$2" where="$3" line
	[ -n "$value" ] || return 0
	case "$value" in
	*"$MPCONV_NL"*)
		mpconv_fail "$where: the value must be a single line"
		return 1
		;;
	*[[:space:]]\;*)
		mpconv_fail "$where: ' ;' would start an INI comment; leave out the blank before ';'"
		return 1
		;;
	esac
	line="$key = $value"
	if [ "${#line}" -gt "$MPCONV_INI_LINE_MAX" ]; then
		mpconv_fail "$where: makes a ${#line}-byte INI line, mpconv reads at most $MPCONV_INI_LINE_MAX"
		return 1
	fi
	if [ -n "$_mpconv_pending" ]; then
		printf '\n[%s]\n' "$_mpconv_pending"
		_mpconv_pending=""
	fi
	printf '%s\n' "$line"
}

# Option $2 of section $1 as INI key $3 (default: the same name).
_mpconv_copy() {
	local value
	config_get value "$1" "$2"
	_mpconv_key "${3:-$2}" "$value" "$1.$2"
}

# A UCI boolean as "on"/"off"; nothing when unset.
_mpconv_copy_onoff() {
	local value
	config_get value "$1" "$2"
	[ -n "$value" ] || return 0
	config_get_bool value "$1" "$2"
	case "$value" in
	1) value=on ;;
	0) value=off ;;
	*)
		mpconv_fail "$1.$2: expected a boolean (0/1, on/off), got '$value'"
		return 1
		;;
	esac
	_mpconv_key "$2" "$value" "$1.$2"
}

# ---- the main section ----

_mpconv_take_main() {
	[ -n "$MPCONV_MAIN" ] || MPCONV_MAIN=$1
}

# Finds the `config mpconv` section (the first one) and resets the state.
mpconv_uci_find_main() {
	MPCONV_MAIN=""
	MPCONV_FAILED=""
	MPCONV_PATHS=""
	config_foreach _mpconv_take_main mpconv
	[ -n "$MPCONV_MAIN" ] && return 0
	mpconv_fail "no 'config mpconv' section"
	return 1
}

# ---- listeners ----

# The scheme for a listener type, with TLS when $2 is 1.
_mpconv_scheme() {
	case "$1:$2" in
	socks5:0 | http:0 | mixed:0 | redirect:0 | tproxy:0 | forward:0) echo "$1" ;;
	socks5:1 | mixed:1) echo "$1+tls" ;;
	http:1) echo https ;;
	*) return 1 ;;
	esac
}

# The bind address: `address`, or the IPv4 address of `interface` (a
# netifd interface such as lan), or 0.0.0.0.
_mpconv_listener_host() {
	local s="$1" address iface
	config_get address "$s" address
	config_get iface "$s" interface
	if [ -n "$address" ] && [ -n "$iface" ]; then
		mpconv_fail "$s: set either 'address' or 'interface', not both"
		return 1
	fi
	if [ -n "$iface" ]; then
		network_get_ipaddr address "$iface"
		if [ -z "$address" ]; then
			mpconv_fail "$s.interface: '$iface' has no IPv4 address (is it up?)"
			return 1
		fi
	fi
	mpconv_url_host "${address:-0.0.0.0}"
}

_mpconv_listener_url() {
	local s="$1" type port tls mptcp scheme host target cert key params=""
	config_get type "$s" type
	config_get port "$s" port
	config_get_bool tls "$s" tls 0
	config_get_bool mptcp "$s" mptcp 0
	if ! scheme=$(_mpconv_scheme "$type" "$tls"); then
		if [ "$tls" = 1 ]; then
			mpconv_fail "$s.tls: TLS is for socks5, http and mixed listeners, not '$type'"
		else
			mpconv_fail "$s.type: expected socks5, http, mixed, redirect, tproxy or forward, got '$type'"
		fi
		return 1
	fi
	if ! mpconv_is_port "$port"; then
		mpconv_fail "$s.port: expected 1..65535, got '$port'"
		return 1
	fi
	host=$(_mpconv_listener_host "$s") || return 1

	config_get target "$s" target
	if [ "$type" = forward ]; then
		[ -n "$target" ] || {
			mpconv_fail "$s.target: a forward listener needs target 'HOST:PORT'"
			return 1
		}
		target="/$target"
	elif [ -n "$target" ]; then
		mpconv_fail "$s.target: only forward listeners take a target"
		return 1
	fi

	[ "$mptcp" = 1 ] && params="&mptcp=1"
	_mpconv_join "$s" allow
	[ -n "$_mpconv_joined" ] && params="$params&allow=$(mpconv_pct "$_mpconv_joined" ',:/')"
	if [ "$tls" = 1 ]; then
		config_get cert "$s" cert
		config_get key "$s" key
		if [ -z "$cert" ] || [ -z "$key" ]; then
			mpconv_fail "$s: a TLS listener needs 'cert' and 'key' (PEM files)"
			return 1
		fi
		params="$params&cert=$(mpconv_pct "$cert" /)&key=$(mpconv_pct "$key" /)"
	fi
	[ -n "$params" ] && params="?${params#&}"
	printf '%s://%s:%s%s%s' "$scheme" "$host" "$port" "$target" "$params"
}

_mpconv_listener() {
	local s="$1" enabled url tls cert key
	config_get_bool enabled "$s" enabled 1
	[ "$enabled" = 1 ] || return 0
	if url=$(_mpconv_listener_url "$s"); then
		_mpconv_key listen "$url" "$s"
	else
		MPCONV_FAILED=1 # the error was reported inside the subshell
	fi
	# The url subshell cannot add to MPCONV_PATHS: add the TLS files here.
	config_get_bool tls "$s" tls 0
	[ "$tls" = 1 ] || return 0
	config_get cert "$s" cert
	config_get key "$s" key
	_mpconv_path "$cert"
	_mpconv_path "$key"
}

_mpconv_take_transparent() {
	local s="$1" enabled type
	[ -z "$MPCONV_TP_TYPE" ] || return 0
	config_get_bool enabled "$s" enabled 1
	config_get type "$s" type
	[ "$enabled" = 1 ] || return 0
	case "$type" in
	redirect | tproxy)
		MPCONV_TP_TYPE=$type
		config_get MPCONV_TP_PORT "$s" port
		;;
	esac
}

# Sets MPCONV_TP_TYPE and MPCONV_TP_PORT from the first enabled redirect or
# tproxy listener; fails when there is none.
mpconv_uci_transparent_listener() {
	MPCONV_TP_TYPE=""
	MPCONV_TP_PORT=""
	config_foreach _mpconv_take_transparent listener
	[ -n "$MPCONV_TP_TYPE" ] && return 0
	mpconv_fail "$MPCONV_MAIN.transparent: needs an enabled listener of type redirect or tproxy"
	return 1
}

# ---- upstream ----

# The upstream URL: `upstream` as written, or built from upstream_type,
# upstream_host, upstream_port, upstream_user and upstream_password (the
# credentials percent-encoded); `ca` and `sni` become URL parameters.
_mpconv_upstream_url() {
	local m="$MPCONV_MAIN" url type host port user pass ca sni
	config_get url "$m" upstream
	config_get type "$m" upstream_type
	config_get host "$m" upstream_host
	config_get port "$m" upstream_port
	config_get user "$m" upstream_user
	config_get pass "$m" upstream_password
	config_get ca "$m" ca
	config_get sni "$m" sni
	if [ -n "$type$host$port$user$pass" ]; then
		if [ -n "$url" ]; then
			mpconv_fail "$m.upstream: set either 'upstream' (a URL) or the upstream_* options, not both"
			return 1
		fi
		case "$type" in
		socks5 | socks5+tls | http | https) ;;
		*)
			mpconv_fail "$m.upstream_type: expected socks5, socks5+tls, http or https, got '$type'"
			return 1
			;;
		esac
		if [ -z "$host" ] || ! mpconv_is_port "$port"; then
			mpconv_fail "$m: upstream_host and upstream_port (1..65535) are required with upstream_type"
			return 1
		fi
		if [ -n "$pass" ] && [ -z "$user" ]; then
			mpconv_fail "$m.upstream_password: needs upstream_user"
			return 1
		fi
		url="$type://"
		[ -n "$user" ] && url="$url$(mpconv_pct "$user"):$(mpconv_pct "$pass")@"
		url="$url$(mpconv_url_host "$host"):$port"
	fi
	if [ -n "$ca$sni" ] && [ -z "$url" ]; then
		mpconv_fail "$m: 'ca' and 'sni' need a TLS upstream"
		return 1
	fi
	[ -n "$ca" ] && url="$url$(case "$url" in *\?*) echo '&' ;; *) echo '?' ;; esac)ca=$(mpconv_pct "$ca" /)"
	[ -n "$sni" ] && url="$url$(case "$url" in *\?*) echo '&' ;; *) echo '?' ;; esac)sni=$(mpconv_pct "$sni")"
	printf %s "$url"
}

# ---- users ----

_mpconv_user_line() {
	local name="${1%%:*}" where="$2"
	case "$1" in
	*:*) ;;
	*)
		mpconv_fail "$where: expected 'name:password', got an entry without ':'"
		return 1
		;;
	esac
	if [ -z "$name" ]; then
		mpconv_fail "$where: empty user name"
		return 1
	fi
	case "$1" in
	*"$MPCONV_NL"*)
		mpconv_fail "$where: user '$name': newline in the password"
		return 1
		;;
	esac
	printf '%s\n' "$1"
}

_mpconv_list_user() {
	_mpconv_user_line "$1" "$MPCONV_MAIN.user"
}

_mpconv_section_user() {
	local s="$1" enabled name password
	config_get_bool enabled "$s" enabled 1
	[ "$enabled" = 1 ] || return 0
	config_get name "$s" name
	config_get password "$s" password
	case "$name" in
	*:*)
		mpconv_fail "$s.name: ':' is not allowed in a user name"
		return 1
		;;
	esac
	_mpconv_user_line "$name:$password" "$s"
}

# The users file: `list user 'name:password'` of the main section, then the
# `config user` sections (name, password), one "name:password" per line.
mpconv_uci_users() {
	config_list_foreach "$MPCONV_MAIN" user _mpconv_list_user
	config_foreach _mpconv_section_user user
	[ -z "$MPCONV_FAILED" ]
}

_mpconv_count_user() {
	_mpconv_count=$((_mpconv_count + 1))
}

_mpconv_count_section_user() {
	local enabled
	config_get_bool enabled "$1" enabled 1
	[ "$enabled" = 1 ] && _mpconv_count_user
}

mpconv_uci_has_users() {
	_mpconv_count=0
	config_list_foreach "$MPCONV_MAIN" user _mpconv_count_user
	config_foreach _mpconv_count_section_user user
	[ "$_mpconv_count" -gt 0 ]
}

# ---- the INI file ----

_mpconv_timeouts() {
	local key
	for key in connect handshake idle drain; do
		_mpconv_copy "$1" "$key"
	done
}

_mpconv_http() {
	_mpconv_copy_onoff "$1" pac
	_mpconv_copy "$1" max_header_bytes
}

_mpconv_acl() {
	local key
	for key in clients deny allow tcp require_mptcp; do
		_mpconv_join "$1" "$key"
		_mpconv_key "$key" "$_mpconv_joined" "$1.$key"
	done
}

_mpconv_wan() {
	_mpconv_key wan "$1" "$MPCONV_MAIN.wan"
}

# Prints the INI file. $1: the users file name to write into it when UCI
# lists users (relative to the INI file's directory, as mpconv resolves it).
# Only what UCI sets is written; everything else keeps mpconv's defaults.
mpconv_uci_ini() {
	local users_file="$1" m="$MPCONV_MAIN" url value
	config_get value "$m" ca
	_mpconv_path "$value"
	echo "# Generated by /etc/init.d/mpconv from /etc/config/mpconv: edit that file."

	_mpconv_begin mpconv
	config_foreach _mpconv_listener listener
	if url=$(_mpconv_upstream_url); then
		_mpconv_key upstream "$url" "$m.upstream"
	else
		MPCONV_FAILED=1
	fi
	for value in mptcp mark log_level workers metrics; do
		_mpconv_copy "$m" "$value"
	done
	config_list_foreach "$m" wan _mpconv_wan

	_mpconv_begin timeouts
	config_foreach _mpconv_timeouts timeouts
	_mpconv_begin http
	config_foreach _mpconv_http http
	_mpconv_begin acl
	config_foreach _mpconv_acl acl

	_mpconv_begin auth
	config_get value "$m" users_file
	if mpconv_uci_has_users; then
		if [ -n "$value" ]; then
			mpconv_fail "$m.users_file: set either users_file or user entries, not both"
		else
			_mpconv_key users_file "$users_file" "$m.user"
		fi
	elif [ -n "$value" ]; then
		_mpconv_path "$value"
		_mpconv_key users_file "$value" "$m.users_file"
	fi
	[ -z "$MPCONV_FAILED" ]
}

# ---- transparent mode: the fw4 include ----

_mpconv_quote_item() {
	case "$1" in
	'' | *[!A-Za-z0-9._@-]*)
		mpconv_fail "$MPCONV_MAIN.lan_device: '$1' is not a network device name"
		return 1
		;;
	esac
	_mpconv_joined="${_mpconv_joined:+$_mpconv_joined, }\"$1\""
}

# Prints the fw4 include for main.transparent = 1 (nothing when it is 0):
# MPCONV_NFT_TEMPLATE with the LAN devices (list lan_device, default br-lan),
# the port of the first redirect or tproxy listener and, for tproxy, the
# firewall mark (tproxy_mark, default 0x1) filled in; the chain for the
# other mode is left out.
mpconv_uci_nft() {
	local m="$MPCONV_MAIN" transparent devices mark unused
	config_get_bool transparent "$m" transparent 0
	[ "$transparent" = 1 ] || return 0
	mpconv_uci_transparent_listener || return 1
	if ! mpconv_is_port "$MPCONV_TP_PORT"; then
		mpconv_fail "$m.transparent: the $MPCONV_TP_TYPE listener has no valid port"
		return 1
	fi
	_mpconv_joined=""
	config_list_foreach "$m" lan_device _mpconv_quote_item
	[ -z "$MPCONV_FAILED" ] || return 1
	devices=${_mpconv_joined:-\"br-lan\"}
	case "$devices" in
	*,*) devices="{ $devices }" ;;
	esac
	config_get mark "$m" tproxy_mark 0x1
	if ! mpconv_is_mark "$mark"; then
		mpconv_fail "$m.tproxy_mark: expected a number (decimal or 0x hex), got '$mark'"
		return 1
	fi
	unused=tproxy
	[ "$MPCONV_TP_TYPE" = tproxy ] && unused=redirect
	echo "# Generated by /etc/init.d/mpconv from /usr/share/mpconv/mpconv.nft and /etc/config/mpconv."
	# Without the template's own header comment and the unused chain; the
	# awk squeezes the blank lines they leave.
	sed -e '/^#/d' -e "/^chain mpconv_$unused {/,/^}/d" \
		-e "s/@LAN@/$devices/g" -e "s/@PORT@/$MPCONV_TP_PORT/g" -e "s/@MARK@/$mark/g" \
		"$MPCONV_NFT_TEMPLATE" |
		awk 'NF { if (blank) print ""; blank = 0; print; next } { blank = 1 }'
}

# ---- writing the files ----

# Writes DIR/mpconv.conf and, when UCI lists users, DIR/users, both mode
# 0600 from the start (umask), plus DIR/fw4.nft (empty when transparent is
# off). The INI names the users file relative to itself, so the directory
# can be checked and then moved into place as a whole.
mpconv_uci_write() {
	local dir="$1" mask status=1
	mask=$(umask)
	umask 077
	mkdir -p "$dir" && rm -f "$dir/users" &&
		{ ! mpconv_uci_has_users || mpconv_uci_users >"$dir/users"; } &&
		mpconv_uci_ini users >"$dir/mpconv.conf" &&
		mpconv_uci_nft >"$dir/fw4.nft" &&
		status=0
	umask "$mask"
	return $status
}
