/* Temporary-file-then-rename writes, and the opening of files read whole:
 * see atomic_file.h. */
#include "engine/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ld_atomic_open(ld_atomic_file *f, const char *path, ld_err *err)
{
    f->fp = NULL;
    if (strlen(path) + 32 >= sizeof f->tmp_path)
        return ld_errf(err, "%s: path too long", path);
    strcpy(f->path, path);
    snprintf(f->tmp_path, sizeof f->tmp_path, "%s.tmp.%ld", path, (long)getpid());
    f->fp = fopen(f->tmp_path, "wb");
    if (!f->fp)
        return ld_errf(err, "%s: cannot write: %s", path, strerror(errno));
    return 0;
}

/* Flushes, syncs and closes f's temporary file; on failure removes it. */
static int finish(ld_atomic_file *f, ld_err *err)
{
    if (!f->fp)
        return 0; /* finished already (by an earlier, failed commit) */
    int bad = ferror(f->fp) != 0;
    bad |= fflush(f->fp) != 0;
    bad |= fsync(fileno(f->fp)) != 0;
    int saved = errno;
    bad |= fclose(f->fp) != 0;
    f->fp = NULL;
    if (bad) {
        remove(f->tmp_path);
        return ld_errf(err, "%s: write failed: %s", f->path, strerror(saved ? saved : EIO));
    }
    return 0;
}

int ld_atomic_commit_all(ld_atomic_file *files, int n, ld_err *err)
{
    int rc = 0;
    for (int i = 0; i < n && !rc; i++)
        rc = finish(&files[i], err);
    if (rc) {
        for (int i = 0; i < n; i++)
            ld_atomic_abort(&files[i]);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (rename(files[i].tmp_path, files[i].path) != 0) {
            int saved = errno;
            for (int k = i; k < n; k++)
                remove(files[k].tmp_path);
            return ld_errf(err, "%s: cannot rename into place: %s", files[i].path,
                           strerror(saved));
        }
    return 0;
}

int ld_atomic_commit(ld_atomic_file *f, ld_err *err) { return ld_atomic_commit_all(f, 1, err); }

void ld_atomic_abort(ld_atomic_file *f)
{
    if (f->fp)
        fclose(f->fp);
    f->fp = NULL;
    remove(f->tmp_path);
}

int ld_remove_output(const char *dir, const char *name, ld_err *err)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return ld_errf(err, "%s/%s: path too long", dir, name);
    if (remove(path) != 0 && errno != ENOENT)
        return ld_errf(err, "cannot remove %s (left by an earlier run): %s", path,
                       strerror(errno));
    return 0;
}

int ld_remove_numbered(const char *dir, const char *format, int first, int last, ld_err *err)
{
    char name[256];
    for (int i = first; i < last; i++) {
        snprintf(name, sizeof name, format, i);
        if (ld_remove_output(dir, name, err))
            return -1;
    }
    return 0;
}

FILE *ld_open_regular_file(const char *path, size_t *size, ld_err *err)
{
    /* opened first, without blocking, and then examined: nothing can be
     * swapped in between the check and the read */
    int fd = open(path, O_RDONLY | O_NONBLOCK);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        ld_errf(err, "%s: cannot open: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode))
            ld_errf(err, "%s: is a folder, not a file", path);
        else
            ld_errf(err, "%s: not a regular file (a device, pipe or socket)", path);
        close(fd);
        return NULL;
    }
    FILE *fp = fdopen(fd, "rb");
    if (!fp) {
        ld_errf(err, "%s: cannot open: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (size)
        *size = (size_t)st.st_size;
    return fp;
}
