/* What the C tests that run tasks share: the test image, a request to run `sh -c` (a command of
 * three strings), and a wait for a task's exit through a wait handle. Inline: a test that does
 * not use one of them compiles without a warning. */
#ifndef GOFER_TEST_TASKS_H
#define GOFER_TEST_TASKS_H

#include <stdlib.h>
#include <string.h>

#include "check.h"

static inline const char *image(void) {
    const char *img = getenv("GOFER_TEST_IMAGE");
    return img ? img : "gofer-test/busybox:latest";
}

static inline GoferStartRequest shell_request(const char *name, const char **command) {
    GoferStartRequest req;
    memset(&req, 0, sizeof req);
    req.id = name;
    req.image_name = image();
    req.command = command;
    req.command_count = 3;
    return req;
}

static inline GoferStateInfo wait_for(GoferEngine *engine, const char *id) {
    GoferStateInfo info;
    memset(&info, 0, sizeof info);
    GoferWait *wait = NULL;
    GoferError *err = NULL;
    CHECK(gofer_engine_wait_container(engine, id, &wait, NULL) == GOFER_OK, "wait handle");
    GoferStatus st = gofer_wait_result(wait, &info, &err);
    CHECK(st == GOFER_OK, "wait %s: %s", id, gofer_error_message(err));
    gofer_error_free(err);
    gofer_wait_free(wait);
    return info;
}

#endif
