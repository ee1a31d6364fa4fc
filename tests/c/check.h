/* A tiny test harness for the C tests: CHECK records a failure without stopping, and
 * check_summary() prints the plain "N passed, M failed" line that CI reads. */
#ifndef GOFER_TEST_CHECK_H
#define GOFER_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "gofer_scheduler.h"

static int checks_passed = 0;
static int checks_failed = 0;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        if (cond) {                                                             \
            checks_passed++;                                                    \
        } else {                                                                \
            checks_failed++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                       \
            fprintf(stderr, "\n");                                              \
        }                                                                       \
    } while (0)

/* Checks that a call failed with `want`, that the error object says the same, and that its
 * message mentions `needle`; frees the error. */
static void check_error(const char *what, GoferStatus got, GoferError *err, GoferStatus want,
                        const char *needle) {
    CHECK(got == want, "%s: status %s, want %s", what, gofer_status_name(got),
          gofer_status_name(want));
    CHECK(err != NULL, "%s: no error object", what);
    if (err != NULL) {
        const char *msg = gofer_error_message(err);
        CHECK(gofer_error_status(err) == got, "%s: error object disagrees with status", what);
        CHECK(needle == NULL || strstr(msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"",
              what, msg, needle);
        gofer_error_free(err);
    }
}

static int check_summary(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, checks_passed, checks_failed);
    return checks_failed == 0 ? 0 : 1;
}

#endif
