/* Error reporting for the library: functions return a status and fill a
 * message the caller can show. The library never prints or exits. */
#ifndef LD_ERROR_H
#define LD_ERROR_H

#include <stddef.h>

#include "engine/compiler.h"

#define LD_ERR_LEN 512

typedef struct ld_err {
    char msg[LD_ERR_LEN];
} ld_err;

/* Formats a message into err (if not NULL) and returns -1, so that
 * `return ld_errf(err, "...")` reports and fails in one line. */
int ld_errf(ld_err *err, const char *fmt, ...)
    LD_PRINTF(2, 3);

#endif
