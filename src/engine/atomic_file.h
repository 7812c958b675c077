/* Files written whole or not at all: write to a temporary name beside the
 * target, flush and sync, then rename over the target. Every writer in the
 * project goes through this. */
#ifndef LD_ATOMIC_FILE_H
#define LD_ATOMIC_FILE_H

#include <stdio.h>

#include "engine/error.h"

typedef struct ld_atomic_file {
    FILE *fp;
    char tmp_path[4096];
    char path[4096];
} ld_atomic_file;

int ld_atomic_open(ld_atomic_file *f, const char *path, ld_err *err);
/* Flushes, syncs and renames into place; on any failure removes the
 * temporary file and returns -1. */
int ld_atomic_commit(ld_atomic_file *f, ld_err *err);
/* Abandons the write: closes and removes the temporary file. */
void ld_atomic_abort(ld_atomic_file *f);

#endif
