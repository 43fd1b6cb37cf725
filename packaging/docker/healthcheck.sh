#!/bin/bash
# Container HEALTHCHECK (the slim image has no curl; bash's /dev/tcp will do).
# With MPCONV_METRICS set, GET /status on it must answer 200; otherwise the
# first listener must accept a TCP connection. Which listener: MPCONV_HEALTHCHECK
# (HOST:PORT) if set, else the first of MPCONV_LISTEN, else the first listen
# line of the config file as `mpconv -t` reads it, else 127.0.0.1:1080.
# Wildcard addresses are checked on loopback. Exit 0 healthy, 1 not.
set -u

MPCONV_BIN=${MPCONV_BIN:-/usr/bin/mpconv}
CONFIG=${MPCONV_CONFIG:-/etc/mpconv/mpconv.conf}
TIMEOUT=${MPCONV_HEALTHCHECK_TIMEOUT:-3}

# HOST:PORT of a listener URL: scheme://[user[:pass]@]host:port[/...][?...]
url_hostport() {
	local rest=${1#*://}
	rest=${rest%%[/?]*}
	echo "${rest##*@}"
}

first_listener() {
	local urls
	if [ -n "${MPCONV_LISTEN:-}" ]; then
		read -r urls _ <<<"$MPCONV_LISTEN"
		url_hostport "$urls"
	elif [ -f "$CONFIG" ] &&
		urls=$("$MPCONV_BIN" -t -c "$CONFIG" 2>/dev/null | sed -n 's/^listen = //p') &&
		[ -n "$urls" ]; then
		url_hostport "${urls%%$'\n'*}"
	else
		echo 127.0.0.1:1080
	fi
}

# Splits HOST:PORT (HOST maybe [v6]) into $host and $port; wildcards -> loopback.
split_hostport() {
	port=${1##*:}
	host=${1%:*}
	host=${host#[}
	host=${host%]}
	case "$host" in
	0.0.0.0 | '') host=127.0.0.1 ;;
	:: | ::0) host=::1 ;;
	esac
}

if [ -n "${MPCONV_METRICS:-}" ]; then
	split_hostport "$MPCONV_METRICS"
	# shellcheck disable=SC2016 # $0/$1 expand in the inner bash
	timeout "$TIMEOUT" bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		printf "GET /status HTTP/1.0\r\nHost: localhost\r\n\r\n" >&3
		read -r version code _ <&3
		[ "$code" = 200 ]' "$host" "$port"
	exit
fi

split_hostport "${MPCONV_HEALTHCHECK:-$(first_listener)}"
# shellcheck disable=SC2016 # $0/$1 expand in the inner bash
timeout "$TIMEOUT" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port"
