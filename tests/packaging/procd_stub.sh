# shellcheck shell=sh
# Stand-ins for the procd helpers of /lib/functions/procd.sh and for
# /etc/rc.common's start(): each call is appended, one line with its
# arguments, to PROCD_LOG, for the init script tests.

_procd_log() {
	echo "$*" >>"$PROCD_LOG"
}

procd_open_instance() { _procd_log procd_open_instance "$@"; }
procd_close_instance() { _procd_log procd_close_instance "$@"; }
procd_set_param() { _procd_log procd_set_param "$@"; }
procd_add_jail() { _procd_log procd_add_jail "$@"; }
procd_add_jail_mount() { _procd_log procd_add_jail_mount "$@"; }
procd_add_reload_trigger() { _procd_log procd_add_reload_trigger "$@"; }
procd_add_reload_interface_trigger() { _procd_log procd_add_reload_interface_trigger "$@"; }

# rc.common's start() for USE_PROCD services, without ubus.
start() {
	start_service "$@"
	service_triggers
}
