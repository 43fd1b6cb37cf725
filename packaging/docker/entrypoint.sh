#!/bin/sh
# Container entrypoint: runs mpconv from a mounted configuration file and/or
# MPCONV_* environment variables, mapped to command-line options. Arguments
# starting with '-' are passed on to mpconv after those (so they win);
# any other command is run instead (docker run IMAGE sh).
#
#   MPCONV_CONFIG      config file (default /etc/mpconv/mpconv.conf, used when present)
#   MPCONV_LISTEN      listener URLs, space-separated (-l each); without it and
#                      without a config file: socks5://0.0.0.0:1080 http://0.0.0.0:8080
#   MPCONV_UPSTREAM    -u URL
#   MPCONV_MPTCP       --mptcp auto|on|off
#   MPCONV_LOG_LEVEL   --log-level error|warn|info|debug
#   MPCONV_WORKERS     -o mpconv.workers=N|auto
#   MPCONV_METRICS     --metrics HOST:PORT
#   MPCONV_USERS_FILE  -o auth.users_file=FILE (mount it, e.g. as a secret)
#
# Secrets belong in mounted files (MPCONV_CONFIG, MPCONV_USERS_FILE): the
# environment shows in `docker inspect` and the command line in ps. A
# password in MPCONV_LISTEN or MPCONV_UPSTREAM still works, with a warning.
set -eu

MPCONV_BIN=${MPCONV_BIN:-/usr/bin/mpconv}
DEFAULT_CONFIG=${MPCONV_DEFAULT_CONFIG:-/etc/mpconv/mpconv.conf} # tests point it elsewhere
DEFAULT_LISTEN="socks5://0.0.0.0:1080 http://0.0.0.0:8080"

case "${1:-}" in
'' | -*) ;;
*) exec "$@" ;;
esac

warn() {
	echo "mpconv-entrypoint: $*" >&2
}

# A URL with USER:PASS@ before the host.
has_password() {
	case "$1" in
	*://*:*@*) return 0 ;;
	esac
	return 1
}

# The caller's arguments go last: note how many, append ours, rotate.
n_user_args=$#

config=${MPCONV_CONFIG:-$DEFAULT_CONFIG}
if [ -f "$config" ]; then
	set -- "$@" -c "$config"
elif [ -n "${MPCONV_CONFIG:-}" ]; then
	warn "MPCONV_CONFIG=$MPCONV_CONFIG: no such file"
	exit 2
fi

listen=${MPCONV_LISTEN-}
if [ -z "$listen" ] && [ ! -f "$config" ]; then
	listen=$DEFAULT_LISTEN
fi
set -f # URLs are not globs
for url in $listen; do
	has_password "$url" && warn "MPCONV_LISTEN: a password on the command line is visible in ps; use MPCONV_USERS_FILE"
	set -- "$@" -l "$url"
done
set +f

if [ -n "${MPCONV_UPSTREAM:-}" ]; then
	has_password "$MPCONV_UPSTREAM" &&
		warn "MPCONV_UPSTREAM: a password in the environment shows in docker inspect and ps; put 'upstream =' in a mounted config file (MPCONV_CONFIG)"
	set -- "$@" -u "$MPCONV_UPSTREAM"
fi
[ -n "${MPCONV_MPTCP:-}" ] && set -- "$@" --mptcp "$MPCONV_MPTCP"
[ -n "${MPCONV_LOG_LEVEL:-}" ] && set -- "$@" --log-level "$MPCONV_LOG_LEVEL"
[ -n "${MPCONV_WORKERS:-}" ] && set -- "$@" -o "mpconv.workers=$MPCONV_WORKERS"
[ -n "${MPCONV_METRICS:-}" ] && set -- "$@" --metrics "$MPCONV_METRICS"
[ -n "${MPCONV_USERS_FILE:-}" ] && set -- "$@" -o "auth.users_file=$MPCONV_USERS_FILE"

while [ "$n_user_args" -gt 0 ]; do
	set -- "$@" "$1"
	shift
	n_user_args=$((n_user_args - 1))
done

exec "$MPCONV_BIN" "$@"
