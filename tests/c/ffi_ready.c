/* The non-blocking face of the C ABI against the real engine: one poll(2) loop follows the logs
 * and waits of several containers through their descriptors, GOFER_WOULD_BLOCK writes no error,
 * an unknown container is reported by the opening, and the calls refuse blocking handles. Run
 * under valgrind: no leak, no error. Containers are named gofer-test-c-ready-<pid>-<n> and
 * removed at exit, also when a check fails. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "tasks.h"

#define JOBS 3
static char names[JOBS + 1][64];
static int name_count = 0;

static const char *new_name(void) {
    snprintf(names[name_count], sizeof names[0], "gofer-test-c-ready-%d-%d", (int)getpid(), name_count);
    return names[name_count++];
}

static void clean_up(void) {
    char cmd[160];
    for (int i = 0; i < name_count; i++) {
        snprintf(cmd, sizeof cmd, "timeout 30 docker rm -fv %s >/dev/null 2>&1", names[i]);
        if (system(cmd) != 0) { /* nothing to remove */ }
    }
}

static bool start(GoferEngine *engine, const char *name, const char *script) {
    const char *command[] = {"sh", "-c", script};
    GoferStartRequest req = shell_request(name, command);
    GoferError *err = NULL;
    GoferStatus st = gofer_engine_start_container(engine, &req, NULL, &err);
    CHECK(st == GOFER_OK, "start %s: %s", name, gofer_error_message(err));
    gofer_error_free(err);
    return st == GOFER_OK;
}

struct job {
    GoferLogs *logs;
    GoferWait *wait;
    char out[256], err[256];
    size_t out_len, err_len;
    bool ended, exited;
    GoferStateInfo info;
};

/* Takes what a job's log and wait have; adds their descriptors to `fds` when they would block. */
static void drain(struct job *job, struct pollfd *fds, nfds_t *count, int *would_block) {
    while (!job->ended) {
        uint8_t buf[5]; /* small on purpose: frames are taken in pieces */
        size_t n = 99;
        GoferLogStream stream = 0;
        GoferError *err = NULL;
        GoferStatus st = gofer_logs_try_read(job->logs, buf, sizeof buf, &n, &stream, &err);
        if (st == GOFER_WOULD_BLOCK) {
            CHECK(err == NULL && n == 99, "would block writes nothing");
            (*would_block)++;
            fds[(*count)++] = (struct pollfd){.fd = gofer_logs_fd(job->logs), .events = POLLIN};
            break;
        }
        CHECK(st == GOFER_OK, "try_read: %s", gofer_error_message(err));
        gofer_error_free(err);
        if (st != GOFER_OK || n == 0) {
            job->ended = true;
            break;
        }
        char *into = stream == GOFER_STDERR ? job->err : job->out;
        size_t *len = stream == GOFER_STDERR ? &job->err_len : &job->out_len;
        if (*len + n < sizeof job->out) {
            memcpy(into + *len, buf, n);
            *len += n;
        }
    }
    if (!job->exited) {
        GoferError *err = NULL;
        GoferStatus st = gofer_wait_try_result(job->wait, &job->info, &err);
        if (st == GOFER_WOULD_BLOCK) {
            CHECK(err == NULL, "would block writes no error");
            fds[(*count)++] = (struct pollfd){.fd = gofer_wait_fd(job->wait), .events = POLLIN};
        } else {
            CHECK(st == GOFER_OK, "try_result: %s", gofer_error_message(err));
            gofer_error_free(err);
            job->exited = true;
        }
    }
}

static void one_poll_loop_follows_several_jobs(GoferEngine *engine) {
    struct job jobs[JOBS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < JOBS; i++) {
        char script[160];
        snprintf(script, sizeof script, "for n in 1 2 3; do echo o%d$n; echo e%d$n >&2; sleep 0.1; done; exit %d", i, i, i + 1);
        const char *name = new_name();
        if (!start(engine, name, script)) return;
        CHECK(gofer_engine_get_logs_nonblocking(engine, name, &jobs[i].logs, NULL) == GOFER_OK, "open logs");
        CHECK(gofer_engine_wait_container_nonblocking(engine, name, &jobs[i].wait, NULL) == GOFER_OK, "open wait");
        CHECK(gofer_logs_fd(jobs[i].logs) >= 0 && gofer_wait_fd(jobs[i].wait) >= 0, "descriptors");
    }
    int would_block = 0;
    for (int round = 0; round < 2000; round++) {
        struct pollfd fds[2 * JOBS];
        nfds_t count = 0;
        for (int i = 0; i < JOBS; i++) drain(&jobs[i], fds, &count, &would_block);
        if (count == 0) break;
        CHECK(poll(fds, count, 30000) > 0, "something becomes ready within 30 s");
    }
    for (int i = 0; i < JOBS; i++) {
        char out[64], err[64];
        snprintf(out, sizeof out, "o%d1\no%d2\no%d3\n", i, i, i);
        snprintf(err, sizeof err, "e%d1\ne%d2\ne%d3\n", i, i, i);
        jobs[i].out[jobs[i].out_len] = 0;
        jobs[i].err[jobs[i].err_len] = 0;
        CHECK(strcmp(jobs[i].out, out) == 0 && strcmp(jobs[i].err, err) == 0, "job %d: \"%s\" \"%s\"", i, jobs[i].out, jobs[i].err);
        CHECK(jobs[i].exited && jobs[i].info.state == GOFER_STATE_EXITED && jobs[i].info.exit_code == i + 1,
              "job %d: state %d exit %lld", i, (int)jobs[i].info.state, (long long)jobs[i].info.exit_code);
        gofer_logs_free(jobs[i].logs);
        gofer_wait_free(jobs[i].wait);
    }
    CHECK(would_block > 0, "some reads found nothing yet");
}

static void an_unknown_container_is_reported_by_the_opening(GoferEngine *engine) {
    GoferLogs *logs = NULL;
    CHECK(gofer_engine_get_logs_nonblocking(engine, "gofer-test-c-no-such-container", &logs, NULL) == GOFER_OK, "returns at once");
    struct pollfd p = {.fd = gofer_logs_fd(logs), .events = POLLIN};
    CHECK(poll(&p, 1, 30000) == 1, "the failed opening makes the descriptor readable");
    GoferError *err = NULL;
    GoferStatus st = gofer_logs_try_open(logs, &err);
    check_error("try_open", st, err, GOFER_NO_SUCH_CONTAINER, "scheduler: entity not found");
    err = NULL;
    uint8_t buf[8];
    size_t n;
    st = gofer_logs_try_read(logs, buf, sizeof buf, &n, NULL, &err);
    check_error("try_read", st, err, GOFER_NO_SUCH_CONTAINER, "entity not found");
    gofer_logs_free(logs);
}

static void blocking_handles_and_bad_arguments_are_refused(GoferEngine *engine) {
    const char *name = new_name();
    if (!start(engine, name, "echo hi; sleep 300")) return;
    GoferLogs *logs = NULL;
    GoferWait *wait = NULL;
    CHECK(gofer_engine_get_logs(engine, name, &logs, NULL) == GOFER_OK, "blocking logs");
    CHECK(gofer_engine_wait_container(engine, name, &wait, NULL) == GOFER_OK, "blocking wait");
    CHECK(gofer_logs_fd(logs) == -1 && gofer_wait_fd(wait) == -1 && gofer_logs_fd(NULL) == -1 && gofer_wait_fd(NULL) == -1, "no descriptor");
    uint8_t buf[8];
    size_t n;
    GoferStateInfo info;
    GoferError *err = NULL;
    GoferStatus st = gofer_logs_try_read(logs, buf, sizeof buf, &n, NULL, &err);
    check_error("try_read blocking", st, err, GOFER_INVALID_STATE, "gofer_engine_get_logs_nonblocking");
    err = NULL;
    st = gofer_wait_try_result(wait, &info, &err);
    check_error("try_result blocking", st, err, GOFER_INVALID_STATE, "nonblocking");
    gofer_logs_free(logs);
    gofer_wait_free(wait);

    err = NULL;
    st = gofer_engine_get_logs_nonblocking(engine, NULL, &logs, &err);
    check_error("NULL id", st, err, GOFER_INVALID_ARGUMENT, "id");
    err = NULL;
    st = gofer_engine_wait_container_nonblocking(engine, "no/slash", &wait, &err);
    check_error("bad id", st, err, GOFER_INVALID_ARGUMENT, "id");
    CHECK(gofer_engine_get_logs_nonblocking(engine, name, &logs, NULL) == GOFER_OK, "open");
    err = NULL;
    st = gofer_logs_try_read(logs, buf, 0, &n, NULL, &err);
    check_error("capacity 0", st, err, GOFER_INVALID_ARGUMENT, "capacity");
    /* A blocking read works on a non-blocking stream; a close ends the next one. */
    CHECK(gofer_logs_read(logs, buf, sizeof buf, &n, NULL) == GOFER_OK && n == 3 && memcmp(buf, "hi\n", 3) == 0, "blocking read");
    gofer_logs_close(logs);
    err = NULL;
    st = gofer_logs_try_read(logs, buf, sizeof buf, &n, NULL, &err);
    check_error("read after close", st, err, GOFER_INVALID_STATE, "closed");
    gofer_logs_free(logs);
}

int main(void) {
    atexit(clean_up);
    GoferEngine *engine = NULL;
    GoferError *err = NULL;
    GoferEngineOptions options = {.timeout_ms = 30000};
    if (gofer_engine_new(&options, &engine, &err) != GOFER_OK) {
        fprintf(stderr, "cannot create the engine: %s\n", gofer_error_message(err));
        gofer_error_free(err);
        return 1;
    }
    one_poll_loop_follows_several_jobs(engine);
    an_unknown_container_is_reported_by_the_opening(engine);
    blocking_handles_and_bad_arguments_are_refused(engine);
    gofer_engine_free(engine);
    return check_summary("ffi_ready");
}
