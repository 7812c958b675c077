/* Files written whole or not at all: write to a temporary name beside the
 * target, flush and sync, then rename over the target. Every writer in the
 * project goes through this; and removing the outputs an earlier run left
 * that a new one does not rewrite. On the reading side, every reader of a
 * whole file opens it through ld_open_regular_file. */
#ifndef LD_ATOMIC_FILE_H
#define LD_ATOMIC_FILE_H

#include <stddef.h>
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
/* Commits n files as a set: all are flushed and synced before any is
 * renamed into place, so a write that fails (a full disk) leaves every
 * target as it was and removes every temporary file. */
int ld_atomic_commit_all(ld_atomic_file *files, int n, ld_err *err);
/* Abandons the write: closes and removes the temporary file. */
void ld_atomic_abort(ld_atomic_file *f);

/* Removes dir/name if it is there (an output an earlier run left that
 * this one does not write); a missing file is no error. */
int ld_remove_output(const char *dir, const char *name, ld_err *err);
/* ld_remove_output for the names FORMAT (one %03d) of indices
 * first..last-1. */
int ld_remove_numbered(const char *dir, const char *format, int first, int last, ld_err *err);

/* Opens path for reading ("rb") when it is a regular file, its size in
 * bytes in *size (when size is not NULL). A folder fails with "PATH: is a
 * folder, not a file", a device, pipe or socket with "PATH: not a regular
 * file" (opened without blocking and examined before any read, so that a
 * pipe cannot block), a missing or unreadable file with "PATH: cannot
 * open: REASON". */
FILE *ld_open_regular_file(const char *path, size_t *size, ld_err *err);

#endif
