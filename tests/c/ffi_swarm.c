/* The swarm engine through the C ABI, on the test swarm (scripts/swarm.sh up): an engine of
 * type "swarm" with the nodes' engines, a task's exit code, typed log frames and IDs, a stop
 * with its grace period, an attach through the node's engine, the list, prune, and the errors
 * (a non-manager, nodes given to a Docker engine, an unknown task). Run under valgrind: no leak,
 * no error. Services are named gofer-test-c-swarm-<pid>-<n> and removed at exit, also when a
 * check fails. Reads GOFER_SWARM_MANAGER and GOFER_SWARM_NODES (addr=engine,...). */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "tasks.h"

#define MAX_NAMES 8
#define MAX_NODES 8
static char names[MAX_NAMES][64];
static int name_count = 0;
static const char *manager;

static const char *new_name(void) {
    snprintf(names[name_count], sizeof names[0], "gofer-test-c-swarm-%d-%d", (int)getpid(), name_count);
    return names[name_count++];
}

static void clean_up(void) {
    char cmd[256];
    for (int i = 0; i < name_count; i++) {
        snprintf(cmd, sizeof cmd, "timeout 30 docker -H %s service rm %s >/dev/null 2>&1", manager, names[i]);
        if (system(cmd) != 0) { /* already gone */ }
    }
}

/* GOFER_SWARM_NODES split into names and hosts (pointers into `buf`). */
static size_t parse_nodes(char *buf, const char **node_names, const char **hosts) {
    size_t n = 0;
    for (char *save = NULL, *pair = strtok_r(buf, ",", &save); pair && n < MAX_NODES; pair = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(pair, '=');
        if (!eq) continue;
        *eq = 0;
        node_names[n] = pair;
        hosts[n++] = eq + 1;
    }
    return n;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void test_errors(const char **node_names, const char **hosts, size_t nodes) {
    GoferEngineOptions o;
    memset(&o, 0, sizeof o);
    o.engine_type = "docker";
    o.node_names = node_names;
    o.node_hosts = hosts;
    o.node_count = nodes;
    GoferEngine *engine = NULL;
    GoferError *err = NULL;
    GoferStatus st = gofer_engine_new(&o, &engine, &err);
    check_error("nodes for a docker engine", st, err, GOFER_INVALID_ARGUMENT, "options.node_count");
    /* A worker's engine is no manager. */
    memset(&o, 0, sizeof o);
    o.engine_type = "swarm";
    o.host = hosts[nodes - 1];
    err = NULL;
    st = gofer_engine_new(&o, &engine, &err);
    check_error("a worker as manager", st, err, GOFER_ENGINE, "not a manager");
}

static void test_task(GoferEngine *engine) {
    const char *name = new_name();
    const char *command[] = {"sh", "-c", "echo out; echo err >&2; exit 3"};
    GoferStartRequest req = shell_request(name, command);
    GoferStartResult result;
    GoferError *err = NULL;
    GoferStatus st = gofer_engine_start(engine, &req, &result, &err);
    CHECK(st == GOFER_OK, "start: %s", err ? gofer_error_message(err) : "");
    gofer_error_free(err);
    if (st != GOFER_OK) return;
    CHECK(strlen(result.container_id) == 25, "the service ID: %s", result.container_id);
    CHECK(strncmp(result.image_id, "sha256:", 7) == 0, "image ID %s", result.image_id);
    CHECK(strcmp(result.url, "") == 0, "no URL without a port");
    gofer_start_result_clear(&result);

    GoferStateInfo info = wait_for(engine, name);
    CHECK(info.state == GOFER_STATE_EXITED && info.exit_code == 3, "state %d code %lld", info.state, (long long)info.exit_code);

    GoferLogs *logs = NULL;
    CHECK(gofer_engine_get_logs(engine, name, &logs, NULL) == GOFER_OK, "logs");
    char out[64] = "", errs[64] = "";
    for (;;) {
        uint8_t buf[64];
        size_t n = 0;
        GoferLogStream stream = GOFER_STDOUT;
        if (gofer_logs_read_frame(logs, buf, sizeof buf - 1, &n, &stream, NULL) != GOFER_OK || n == 0) break;
        buf[n] = 0;
        strncat(stream == GOFER_STDERR ? errs : out, (const char *)buf, sizeof out - 1 - strlen(stream == GOFER_STDERR ? errs : out));
    }
    gofer_logs_free(logs);
    CHECK(strcmp(out, "out\n") == 0 && strcmp(errs, "err\n") == 0, "frames: out=\"%s\" err=\"%s\"", out, errs);

    GoferContainerList *list = NULL;
    CHECK(gofer_engine_list_containers(engine, &list, NULL) == GOFER_OK, "list");
    bool found = false;
    for (size_t i = 0; i < gofer_container_list_len(list); i++) {
        GoferContainerInfo c;
        if (gofer_container_list_get(list, i, &c, NULL) == GOFER_OK && strcmp(c.name, name) == 0) {
            found = c.state.state == GOFER_STATE_EXITED && c.state.exit_code == 3;
        }
    }
    gofer_container_list_free(list);
    CHECK(found, "%s listed as EXITED 3", name);
}

static void test_stop_and_attach(GoferEngine *engine) {
    const char *name = new_name();
    const char *command[] = {"sh", "-c", "trap '' TERM; echo here > /tmp/mark; while :; do sleep 0.1; done"};
    GoferStartRequest req = shell_request(name, command);
    GoferStartResult result;
    GoferError *err = NULL;
    GoferStatus st = gofer_engine_start(engine, &req, &result, &err);
    if (st != GOFER_OK) {
        CHECK(false, "start: %s", gofer_error_message(err));
        gofer_error_free(err);
        return;
    }
    gofer_start_result_clear(&result);

    const char *shell[] = {"cat", "/tmp/mark"};
    GoferAttach *attach = NULL;
    st = gofer_engine_attach_container(engine, name, shell, 2, &attach, &err);
    CHECK(st == GOFER_OK, "attach: %s", err ? gofer_error_message(err) : "");
    gofer_error_free(err);
    if (st == GOFER_OK) {
        char buf[256];
        size_t len = 0;
        ssize_t n;
        while (len < sizeof buf - 1 && (n = read(gofer_attach_fd(attach), buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)n;
        buf[len] = 0;
        CHECK(strstr(buf, "here") != NULL, "attach output \"%s\"", buf);
        gofer_attach_free(attach);
    }

    double asked = now();
    CHECK(gofer_engine_stop_container(engine, name, 500, NULL) == GOFER_OK, "stop");
    double took = now() - asked;
    CHECK(took >= 0.5 && took < 5.0, "stop took %.3f s", took);
    GoferStateInfo info;
    CHECK(gofer_engine_get_state_info(engine, name, &info, NULL) == GOFER_OK, "state");
    CHECK(info.state == GOFER_STATE_CANCELLED && info.exit_code == 137, "state %d code %lld", info.state, (long long)info.exit_code);

    err = NULL;
    GoferContainerState state;
    int64_t code;
    st = gofer_engine_get_state(engine, "gofer-test-c-no-such-service", &state, &code, &err);
    check_error("unknown", st, err, GOFER_NO_SUCH_CONTAINER, "not found");
    size_t removed = 0;
    CHECK(gofer_engine_prune(engine, &removed, NULL) == GOFER_OK && removed >= 2, "prune removed %zu", removed);
}

int main(void) {
    manager = getenv("GOFER_SWARM_MANAGER");
    const char *nodes_env = getenv("GOFER_SWARM_NODES");
    if (!manager || !nodes_env) {
        fprintf(stderr, "GOFER_SWARM_MANAGER and GOFER_SWARM_NODES must be set (scripts/swarm.sh env)\n");
        return 2;
    }
    atexit(clean_up);
    char *buf = strdup(nodes_env);
    const char *node_names[MAX_NODES], *hosts[MAX_NODES];
    size_t nodes = parse_nodes(buf, node_names, hosts);
    CHECK(nodes >= 3, "three nodes: %s", nodes_env);

    GoferEngineOptions o;
    memset(&o, 0, sizeof o);
    o.engine_type = "swarm";
    o.host = manager;
    o.timeout_ms = 20000;
    o.node_names = node_names;
    o.node_hosts = hosts;
    o.node_count = nodes;
    GoferEngine *engine = NULL;
    GoferError *err = NULL;
    if (gofer_engine_new(&o, &engine, &err) != GOFER_OK) {
        fprintf(stderr, "swarm engine: %s\n", gofer_error_message(err));
        gofer_error_free(err);
        free(buf);
        return 1;
    }
    test_errors(node_names, hosts, nodes);
    test_task(engine);
    test_stop_and_attach(engine);
    gofer_engine_free(engine);
    free(buf);
    return check_summary("ffi_swarm");
}
