/* Error message formatting shared by every layer of the library. */
#include "engine/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int ld_errf(ld_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* err's message with the formatted text put before it (before = 1) or
 * after it. */
static void err_join(ld_err *err, int before, const char *fmt, va_list ap)
{
    char added[LD_ERR_LEN], held[LD_ERR_LEN];
    vsnprintf(added, sizeof added, fmt, ap);
    memcpy(held, err->msg, sizeof held);
    const char *first = before ? added : held, *second = before ? held : added;
    size_t len = strnlen(first, sizeof err->msg - 1);
    memcpy(err->msg, first, len);
    snprintf(err->msg + len, sizeof err->msg - len, "%s", second);
}

int ld_err_prefix(ld_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_join(err, 1, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int ld_err_suffix(ld_err *err, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err_join(err, 0, fmt, ap);
        va_end(ap);
    }
    return -1;
}
