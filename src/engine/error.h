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

/* Puts formatted context before (ld_err_prefix) or after (ld_err_suffix)
 * the message err already holds, e.g. the file a failure concerns or what
 * the caller did about it; err may be NULL. Both return -1. */
int ld_err_prefix(ld_err *err, const char *fmt, ...)
    LD_PRINTF(2, 3);
int ld_err_suffix(ld_err *err, const char *fmt, ...)
    LD_PRINTF(2, 3);

#endif
