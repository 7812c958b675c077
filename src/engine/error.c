/* Error message formatting shared by every layer of the library. */
#include "engine/error.h"

#include <stdarg.h>
#include <stdio.h>

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
