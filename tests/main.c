/* Test runner: runs every suite (or those whose test names contain the
 * argument) and ends with "N passed, N failed, N skipped". */
#include <stdio.h>
#include <string.h>

#include "test.h"

void test_begin(void);
int test_end(int *skipped);
void test_release(void);

#define X(name) extern const ld_test_case ld_suite_##name[];
#include "suites.h"
#undef X

static const struct {
    const char *name;
    const ld_test_case *cases;
} suites[] = {
#define X(name) {#name, ld_suite_##name},
#include "suites.h"
#undef X
};

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (size_t s = 0; s < sizeof suites / sizeof suites[0]; s++) {
        for (const ld_test_case *t = suites[s].cases; t->name; t++) {
            char full[256];
            snprintf(full, sizeof full, "%s.%s", suites[s].name, t->name);
            if (filter && !strstr(full, filter))
                continue;
            test_begin();
            t->fn();
            int skip = 0;
            int bad = test_end(&skip);
            printf("%s %s\n", bad ? "FAIL" : skip ? "skip" : "ok  ", full);
            if (bad)
                failed++;
            else if (skip)
                skipped++;
            else
                passed++;
        }
    }
    test_release();
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
