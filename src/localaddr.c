/* The host's own addresses from getifaddrs, cached (see localaddr.h). */
#include "mpconv/localaddr.h"

#include <errno.h>
#include <ifaddrs.h>
#include <string.h>

#include "mpconv/log.h"

static int read_addresses(struct acl_list *out)
{
    struct ifaddrs *all;
    if (getifaddrs(&all) != 0)
        return -errno;
    int rc = 0;
    for (const struct ifaddrs *i = all; i && rc == 0; i = i->ifa_next) {
        int family = i->ifa_addr ? i->ifa_addr->sa_family : AF_UNSPEC;
        if (family == AF_INET || family == AF_INET6)
            rc = acl_list_add_address(out, i->ifa_addr) == 0 ? 0 : -ENOMEM;
    }
    freeifaddrs(all);
    return rc;
}

const struct acl_list *local_addrs_get(struct local_addrs *l, uint64_t now_ms)
{
    if (l->read_once && now_ms - l->read_at_ms < LOCALADDR_MAX_AGE_MS)
        return &l->list;
    struct acl_list fresh = {NULL, 0};
    int err = read_addresses(&fresh);
    if (err == 0) {
        acl_list_clear(&l->list);
        l->list = fresh;
    } else {
        acl_list_clear(&fresh);
        log_warn("cannot list this host's addresses (getifaddrs: %s); using the previous list",
                 strerror(-err));
    }
    l->read_at_ms = now_ms;
    l->read_once = true;
    return &l->list;
}

void local_addrs_free(struct local_addrs *l)
{
    acl_list_clear(&l->list);
    l->read_once = false;
}
