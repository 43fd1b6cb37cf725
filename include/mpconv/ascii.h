/* Locale-independent character classes for the parsers (<ctype.h> depends
 * on the locale and takes int). */
#ifndef MPCONV_ASCII_H
#define MPCONV_ASCII_H

#include <stdbool.h>

static inline bool ascii_is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static inline bool ascii_is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* 0..15 for a hex digit, else -1. */
static inline int ascii_hex_value(unsigned char c)
{
    if (ascii_is_digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

#endif
