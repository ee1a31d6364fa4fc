/*
 * The C ABI client of the benchmark suite: include/gofer_scheduler.h, linked statically
 * (target/release/libgofer_scheduler.a), the way examples/run_container.c uses it.
 *
 *   gofer_bench <op> key=value...     prints one JSON object on stdout (see benches/run.py)
 *
 * ops: state, start, logs, attach, parallel, wait, poll, overhead. Same semantics as every other
 * client (poll is this client's only: Gofer's own way of learning of an exit).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "gofer_scheduler.h"

#define MAX_ARGS 32
#define PIECE (64 * 1024)

static int n_args;
static char *arg_keys[MAX_ARGS], *arg_values[MAX_ARGS];

static void die(const char *what, GoferError *err) {
    fprintf(stderr, "error: %s%s%s\n", what, err ? ": " : "", err ? gofer_error_message(err) : "");
    gofer_error_free(err);
    exit(2);
}

static const char *arg_str(const char *key, const char *def) {
    for (int i = 0; i < n_args; i++)
        if (strcmp(arg_keys[i], key) == 0) return arg_values[i];
    if (!def) {
        fprintf(stderr, "error: missing argument %s=\n", key);
        exit(2);
    }
    return def;
}

static uint64_t arg_num(const char *key, uint64_t def) {
    const char *v = arg_str(key, "");
    return *v ? strtoull(v, NULL, 10) : def;
}

static uint64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Wall-clock time (CLOCK_REALTIME, the clock of the engine's log timestamps), in ns. */
static uint64_t realtime_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static uint64_t cpu_ns(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static uint64_t vmhwm_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtoull(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static void print_samples(const uint64_t *s, uint64_t n) {
    printf("{\"samples_ns\":[");
    for (uint64_t i = 0; i < n; i++) printf("%s%" PRIu64, i ? "," : "", s[i]);
    printf("]}\n");
}

/* The log line of the fixture (see benches/rust/src/lib.rs: line()), repeated. */
typedef struct {
    char *pattern;
    uint64_t period, total;
    bool ok;
} Verifier;

static void verifier_init(Verifier *v, uint64_t line) {
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    uint64_t copies = PIECE / line + 2;
    v->pattern = malloc(copies * line);
    for (uint64_t c = 0; c < copies; c++) {
        for (uint64_t i = 0; i + 1 < line; i++) v->pattern[c * line + i] = alphabet[i % 36];
        v->pattern[c * line + line - 1] = '\n';
    }
    v->period = line;
    v->total = 0;
    v->ok = true;
}

static void verifier_feed(Verifier *v, const uint8_t *data, size_t len) {
    while (len > 0) {
        size_t n = len < PIECE ? len : PIECE;
        if (memcmp(v->pattern + v->total % v->period, data, n) != 0) v->ok = false;
        v->total += n;
        data += n;
        len -= n;
    }
}

static const char *env_keys[] = {"GOFER_BENCH_A", "GOFER_BENCH_B", "GOFER_BENCH_C"};
static const char *env_values[] = {"1", "two", "three"};
static const char *start_command[] = {"sh", "-c", "exit 0"};
static const char *parallel_command[] = {"echo", "parallel-ok"};
static const char parallel_output[] = "parallel-ok\n";
/* The exit-notice job: its last act is the log line "bye", whose engine timestamp the runner
 * takes for the moment of the exit. */
static const char *wait_command[] = {"sh", "-c", "sleep 0.3; echo bye"};

static GoferEngine *engine;
static const char *image;

static void start(const char *name, const char **command, size_t command_count) {
    GoferStartRequest req = {0};
    req.id = name;
    req.image_name = image;
    req.env_keys = env_keys;
    req.env_values = env_values;
    req.env_count = 3;
    req.command = command;
    req.command_count = command_count;
    GoferError *err = NULL;
    if (gofer_engine_start_container(engine, &req, NULL, &err) != GOFER_OK) die("start", err);
}

static void get_state(const char *id, GoferContainerState *state, int64_t *code) {
    GoferError *err = NULL;
    if (gofer_engine_get_state(engine, id, state, code, &err) != GOFER_OK) die("state", err);
}

static void wait_exited(const char *id, GoferContainerState *state, int64_t *code) {
    uint64_t deadline = now_ns() + 60000000000u;
    for (;;) {
        get_state(id, state, code);
        if (*state != GOFER_STATE_RUNNING || now_ns() > deadline) return;
        usleep(10000);
    }
}

static void op_state(void) {
    const char *id = arg_str("id", NULL);
    int64_t expect = (int64_t)arg_num("expect_code", 0);
    uint64_t n = arg_num("n", 1000), warmup = arg_num("warmup", 20);
    uint64_t *samples = calloc(n, sizeof *samples);
    for (uint64_t i = 0; i < warmup + n; i++) {
        GoferContainerState st;
        int64_t code;
        uint64_t t = now_ns();
        get_state(id, &st, &code);
        uint64_t dt = now_ns() - t;
        if (st != GOFER_STATE_EXITED || code != expect) die("state: unexpected state", NULL);
        if (i >= warmup) samples[i - warmup] = dt;
    }
    print_samples(samples, n);
}

static void op_start(void) {
    const char *name = arg_str("name", NULL);
    uint64_t n = arg_num("n", 5);
    uint64_t *samples = calloc(n + 1, sizeof *samples);
    for (uint64_t i = 0; i <= n; i++) {
        uint64_t t = now_ns();
        start(name, start_command, 3);
        uint64_t dt = now_ns() - t;
        GoferContainerState st;
        int64_t code;
        wait_exited(name, &st, &code); /* untimed */
        if (i > 0) samples[i - 1] = dt;
    }
    print_samples(samples, n);
}

static void op_logs(void) {
    const char *id = arg_str("id", NULL);
    Verifier v;
    verifier_init(&v, arg_num("line", 1024));
    size_t cap = arg_num("buf", PIECE);
    uint8_t *buf = malloc(cap);
    uint64_t cpu0 = cpu_ns(), t = now_ns();
    GoferLogs *logs = NULL;
    GoferError *err = NULL;
    if (gofer_engine_get_logs(engine, id, &logs, &err) != GOFER_OK) die("logs", err);
    for (;;) {
        size_t n = 0;
        if (gofer_logs_read(logs, buf, cap, &n, &err) != GOFER_OK) die("logs read", err);
        if (n == 0) break;
        verifier_feed(&v, buf, n);
    }
    gofer_logs_free(logs);
    uint64_t wall = now_ns() - t, cpu = cpu_ns() - cpu0;
    if (!v.ok || v.total != arg_num("bytes", 0)) {
        fprintf(stderr, "error: logs: %" PRIu64 " bytes, content ok: %d\n", v.total, v.ok);
        exit(2);
    }
    printf("{\"bytes\":%" PRIu64 ",\"wall_ns\":%" PRIu64 ",\"cpu_ns\":%" PRIu64 ",\"vmhwm_kb\":%" PRIu64 "}\n",
           v.total, wall, cpu, vmhwm_kb());
}

static size_t count(const char *hay, size_t len, const char *needle) {
    size_t k = strlen(needle), c = 0;
    for (size_t i = 0; i + k <= len; i++)
        if (memcmp(hay + i, needle, k) == 0) c++;
    return c;
}

static void op_attach(void) {
    const char *id = arg_str("id", NULL);
    uint64_t n = arg_num("n", 100), warmup = arg_num("warmup", 10);
    const char *cmd[] = {"cat"};
    GoferAttach *att = NULL;
    GoferError *err = NULL;
    if (gofer_engine_attach_container(engine, id, cmd, 1, &att, &err) != GOFER_OK) die("attach", err);
    int fd = gofer_attach_fd(att);
    uint64_t *samples = calloc(n, sizeof *samples);
    char acc[4096];
    for (uint64_t i = 0; i < warmup + n; i++) {
        char sent[64], back[64];
        snprintf(sent, sizeof sent, "ping-%08" PRIu64 "\n", i);
        snprintf(back, sizeof back, "ping-%08" PRIu64 "\r\n", i);
        size_t have = 0;
        uint64_t t = now_ns();
        if (write(fd, sent, strlen(sent)) != (ssize_t)strlen(sent)) die("attach write", NULL);
        while (count(acc, have, back) < 2) {
            if (have == sizeof acc) die("attach: too much output", NULL);
            ssize_t k = read(fd, acc + have, sizeof acc - have);
            if (k <= 0) die("attach read", NULL);
            have += (size_t)k;
        }
        if (i >= warmup) samples[i - warmup] = now_ns() - t;
    }
    if (write(fd, "\x04", 1) != 1) { /* best effort: end cat */ }
    gofer_attach_free(att);
    print_samples(samples, n);
}

typedef struct {
    char name[128];
    uint64_t cycles;
} Worker;

static void *parallel_worker(void *p) {
    Worker *w = p;
    char out[256];
    uint8_t buf[4096];
    for (uint64_t c = 0; c < w->cycles; c++) {
        start(w->name, parallel_command, 2);
        GoferLogs *logs = NULL;
        GoferError *err = NULL;
        if (gofer_engine_get_logs(engine, w->name, &logs, &err) != GOFER_OK) die("logs", err);
        size_t have = 0;
        for (;;) {
            size_t n = 0;
            if (gofer_logs_read(logs, buf, sizeof buf, &n, &err) != GOFER_OK) die("logs read", err);
            if (n == 0) break;
            if (have + n > sizeof out) die("parallel: too much output", NULL);
            memcpy(out + have, buf, n);
            have += n;
        }
        gofer_logs_free(logs);
        if (have != strlen(parallel_output) || memcmp(out, parallel_output, have) != 0)
            die("parallel: unexpected logs", NULL);
        GoferContainerState st;
        int64_t code;
        wait_exited(w->name, &st, &code);
        if (st != GOFER_STATE_EXITED || code != 0) die("parallel: unexpected state", NULL);
    }
    return NULL;
}

static void op_parallel(void) {
    const char *prefix = arg_str("prefix", NULL);
    uint64_t workers = arg_num("workers", 16), cycles = arg_num("cycles", 1);
    Worker *w = calloc(workers, sizeof *w);
    pthread_t *threads = calloc(workers, sizeof *threads);
    uint64_t t = now_ns();
    for (uint64_t i = 0; i < workers; i++) {
        snprintf(w[i].name, sizeof w[i].name, "%s-%" PRIu64, prefix, i);
        w[i].cycles = cycles;
        if (pthread_create(&threads[i], NULL, parallel_worker, &w[i]) != 0) die("pthread_create", NULL);
    }
    for (uint64_t i = 0; i < workers; i++) pthread_join(threads[i], NULL);
    uint64_t wall = now_ns() - t;
    printf("{\"containers\":%" PRIu64 ",\"wall_ns\":%" PRIu64 "}\n", workers * cycles, wall);
}

/* The exit notice: start <prefix>-<i> (untimed), learn of its exit, note the wall-clock time of
 * knowing. `poll`: by GetState every 500 ms until EXITED or CANCELLED (what Gofer does); else
 * by the library's wait (the engine's wait endpoint). */
static void exit_notice(bool poll) {
    const char *prefix = arg_str("prefix", NULL);
    uint64_t n = arg_num("n", 3);
    uint64_t *knew = calloc(n, sizeof *knew);
    char (*names)[128] = calloc(n, sizeof *names);
    for (uint64_t i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], "%s-%" PRIu64, prefix, i);
        start(names[i], wait_command, 3);
        GoferContainerState st;
        int64_t code;
        if (poll) {
            for (;;) {
                get_state(names[i], &st, &code);
                if (st == GOFER_STATE_EXITED || st == GOFER_STATE_CANCELLED) break;
                usleep(500000);
            }
            knew[i] = realtime_ns();
        } else {
            GoferWait *wait = NULL;
            GoferError *err = NULL;
            GoferStateInfo info;
            if (gofer_engine_wait_container(engine, names[i], &wait, &err) != GOFER_OK) die("wait", err);
            if (gofer_wait_result(wait, &info, &err) != GOFER_OK) die("wait result", err);
            knew[i] = realtime_ns();
            gofer_wait_free(wait);
            st = info.state;
            code = info.exit_code;
        }
        if (st != GOFER_STATE_EXITED || code != 0) die("wait: unexpected state", NULL);
    }
    printf("{\"knew_ns\":[");
    for (uint64_t i = 0; i < n; i++) printf("%s%" PRIu64, i ? "," : "", knew[i]);
    printf("],\"names\":[");
    for (uint64_t i = 0; i < n; i++) printf("%s\"%s\"", i ? "," : "", names[i]);
    printf("]}\n");
}

/* One C ABI call that does no I/O: gofer_engine_get_state with a NULL id returns
 * GOFER_INVALID_ARGUMENT before anything is sent. Without and with an error object. */
static void op_overhead(void) {
    uint64_t n = arg_num("n", 1000000);
    GoferContainerState st;
    int64_t code;
    uint64_t t = now_ns();
    for (uint64_t i = 0; i < n; i++)
        if (gofer_engine_get_state(engine, NULL, &st, &code, NULL) != GOFER_INVALID_ARGUMENT)
            die("overhead: expected GOFER_INVALID_ARGUMENT", NULL);
    double plain = (double)(now_ns() - t) / (double)n;
    t = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        GoferError *err = NULL;
        if (gofer_engine_get_state(engine, NULL, &st, &code, &err) != GOFER_INVALID_ARGUMENT)
            die("overhead: expected GOFER_INVALID_ARGUMENT", NULL);
        gofer_error_free(err);
    }
    double with_error = (double)(now_ns() - t) / (double)n;
    t = now_ns();
    for (uint64_t i = 0; i < n; i++)
        if (gofer_status_name((int)(i & 7)) == NULL) die("overhead: NULL name", NULL);
    double trivial = (double)(now_ns() - t) / (double)n;
    printf("{\"ns_per_call\":%.1f,\"ns_per_call_with_error\":%.1f,\"ns_per_trivial_call\":%.1f}\n", plain,
           with_error, trivial);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <op> key=value...\n", argv[0]);
        return 2;
    }
    for (int i = 2; i < argc && n_args < MAX_ARGS; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "error: bad argument %s\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        arg_keys[n_args] = argv[i];
        arg_values[n_args++] = eq + 1;
    }
    image = arg_str("image", "gofer-test/busybox:latest");
    GoferEngineOptions options = {0};
    options.timeout_ms = arg_num("timeout_s", 30) * 1000;
    GoferError *err = NULL;
    if (gofer_engine_new(&options, &engine, &err) != GOFER_OK) die("connect", err);
    const char *op = argv[1];
    if (strcmp(op, "state") == 0) op_state();
    else if (strcmp(op, "start") == 0) op_start();
    else if (strcmp(op, "logs") == 0) op_logs();
    else if (strcmp(op, "attach") == 0) op_attach();
    else if (strcmp(op, "parallel") == 0) op_parallel();
    else if (strcmp(op, "wait") == 0) exit_notice(false);
    else if (strcmp(op, "poll") == 0) exit_notice(true);
    else if (strcmp(op, "overhead") == 0) op_overhead();
    else {
        fprintf(stderr, "error: unknown op %s\n", op);
        return 2;
    }
    fflush(stdout);
    gofer_engine_free(engine);
    return 0;
}
