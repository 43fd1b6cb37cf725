/* For unit tests: a CIDR list as one string, entries joined with ", ". */
#ifndef MPCONV_TEST_ACL_LIST_TEXT_H
#define MPCONV_TEST_ACL_LIST_TEXT_H

#include <stdio.h>
#include <string.h>

#include "mpconv/acl.h"

/* The result lives in a static buffer until the next call. */
static inline const char *acl_list_text(const struct acl_list *l)
{
    static char out[1024];
    out[0] = '\0';
    for (size_t i = 0; i < l->n; i++) {
        char entry[ACL_CIDR_TEXT_MAX];
        acl_cidr_format(&l->v[i], entry, sizeof(entry));
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? ", " : "", entry);
    }
    return out;
}

#endif
