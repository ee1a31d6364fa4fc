/* Every exported function, given a NULL for each pointer and invalid UTF-8 for each string,
 * answers GOFER_INVALID_ARGUMENT naming the argument, and never crashes. Run under valgrind. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"

static const char BAD_UTF8[] = {'a', (char)0xff, (char)0xfe, 'z', 0};

#define EXPECT_INVALID(call_with_err, needle)                                       \
    do {                                                                            \
        GoferError *err = NULL;                                                     \
        GoferStatus st = call_with_err;                                             \
        check_error(#call_with_err, st, err, GOFER_INVALID_ARGUMENT, needle);       \
    } while (0)

static GoferStartRequest valid_request(void) {
    GoferStartRequest r;
    memset(&r, 0, sizeof r);
    r.id = "gofer-test-c-never-started";
    r.image_name = "gofer-test/busybox:latest";
    return r;
}

/* Checks done before the engine is needed: NULL handles and bad request fields. */
static void without_an_engine(void) {
    GoferEngine *engine = NULL;
    GoferLogs *logs = NULL;
    GoferAttach *attach = NULL;
    char *url = NULL;
    GoferContainerState state;
    int64_t code;
    size_t n;
    uint8_t buf[16];
    bool exited;
    const char *cmd[] = {"sh"};
    GoferStartRequest req = valid_request();

    EXPECT_INVALID(gofer_engine_new(NULL, NULL, &err), "engine_out");
    GoferEngineOptions bad_host = {.host = BAD_UTF8};
    EXPECT_INVALID(gofer_engine_new(&bad_host, &engine, &err), "options.host");
    GoferEngineOptions bad_type = {.engine_type = BAD_UTF8};
    EXPECT_INVALID(gofer_engine_new(&bad_type, &engine, &err), "options.engine_type");
    GoferEngineOptions unknown_type = {.engine_type = "nomad"};
    EXPECT_INVALID(gofer_engine_new(&unknown_type, &engine, &err), "is not an engine type");
    /* TLS files that cannot be read are refused before any connection, naming the option. */
    GoferEngineOptions tls_host = {.host = "https://127.0.0.1:2376", .tls_ca = "/nonexistent/ca.pem"};
    EXPECT_INVALID(gofer_engine_new(&tls_host, &engine, &err), "tls.ca");
    CHECK(engine == NULL, "engine_out written on failure");

    EXPECT_INVALID(gofer_engine_start_container(NULL, &req, &url, &err), "engine");
    EXPECT_INVALID(gofer_engine_stop_container(NULL, "x", 0, &err), "engine");
    EXPECT_INVALID(gofer_engine_get_state(NULL, "x", &state, &code, &err), "engine");
    EXPECT_INVALID(gofer_engine_get_logs(NULL, "x", &logs, &err), "engine");
    EXPECT_INVALID(gofer_engine_attach_container(NULL, "x", cmd, 1, &attach, &err), "engine");
    EXPECT_INVALID(gofer_engine_prune(NULL, &n, &err), "engine");
    EXPECT_INVALID(gofer_logs_read(NULL, buf, sizeof buf, &n, &err), "logs");
    EXPECT_INVALID(gofer_attach_resize(NULL, 80, 24, &err), "attach");
    EXPECT_INVALID(gofer_attach_exit_code(NULL, &exited, &code, &err), "attach");
    CHECK(url == NULL && logs == NULL && attach == NULL, "out-parameters written on failure");

    /* A NULL err_out is allowed: the status alone still says what happened. */
    CHECK(gofer_engine_stop_container(NULL, "x", 0, NULL) == GOFER_INVALID_ARGUMENT, "NULL err_out");

    /* NULL-tolerant functions. */
    gofer_engine_free(NULL);
    gofer_logs_close(NULL);
    gofer_logs_free(NULL);
    gofer_attach_close(NULL);
    gofer_attach_free(NULL);
    gofer_error_free(NULL);
    gofer_string_free(NULL);
    CHECK(gofer_attach_fd(NULL) == -1, "fd of NULL");
    CHECK(gofer_error_status(NULL) == GOFER_INVALID_ARGUMENT, "status of NULL error");
    CHECK(strcmp(gofer_error_message(NULL), "") == 0, "message of NULL error");
    CHECK(gofer_error_http_status(NULL) == 0, "http status of NULL error");
    CHECK(strcmp(gofer_status_name(-7), "GOFER_UNKNOWN_STATUS") == 0, "unknown status name");
    CHECK(strcmp(gofer_status_name(GOFER_NO_SUCH_IMAGE), "GOFER_NO_SUCH_IMAGE") == 0, "status name");
    CHECK(strcmp(gofer_container_state_name(99), "UNKNOWN") == 0, "unknown state name");
    CHECK(strcmp(gofer_container_state_name(GOFER_STATE_CANCELLED), "CANCELLED") == 0, "state name");
    CHECK(strcmp(gofer_status_description(GOFER_NO_SUCH_CONTAINER), "scheduler: entity not found") == 0, "sentinel text");
    CHECK(strcmp(gofer_status_description(GOFER_PANIC), "scheduler: internal error") == 0, "panic text");
    CHECK(strcmp(gofer_status_description(GOFER_OK), "") == 0 && strcmp(gofer_status_description(99), "") == 0, "no text");
    CHECK(strlen(gofer_version()) > 0, "version");
}

static void with_an_engine(GoferEngine *engine) {
    char *url = NULL;
    GoferLogs *logs = NULL;
    GoferAttach *attach = NULL;
    GoferContainerState state;
    int64_t code;
    const char *one[] = {"sh"};
    const char *null_item[] = {"sh", NULL};
    const char *bad_item[] = {BAD_UTF8};
    const char *keys[] = {"A"};
    const char *values[] = {"1"};
    const char *bad_keys[] = {"A=B"};
    GoferStartRequest r;

    EXPECT_INVALID(gofer_engine_start_container(engine, NULL, &url, &err), "request");
#define START_WITH(field_assignment, needle)                                       \
    do {                                                                           \
        r = valid_request();                                                       \
        field_assignment;                                                          \
        EXPECT_INVALID(gofer_engine_start_container(engine, &r, &url, &err), needle); \
    } while (0)
    START_WITH(r.id = NULL, "request.id");
    START_WITH(r.id = BAD_UTF8, "request.id");
    START_WITH(r.id = "bad/name", "id");
    START_WITH(r.image_name = NULL, "request.image_name");
    START_WITH(r.image_name = BAD_UTF8, "request.image_name");
    START_WITH(r.image_name = "", "image_name");
    START_WITH((r.env_keys = NULL, r.env_values = values, r.env_count = 1), "request.env_keys");
    START_WITH((r.env_keys = keys, r.env_values = NULL, r.env_count = 1), "request.env_values");
    START_WITH((r.env_keys = null_item + 1, r.env_values = values, r.env_count = 1), "request.env_keys[0]");
    START_WITH((r.env_keys = keys, r.env_values = bad_item, r.env_count = 1), "request.env_values[0]");
    START_WITH((r.env_keys = bad_keys, r.env_values = values, r.env_count = 1), "env_vars");
    START_WITH(r.registry_user = BAD_UTF8, "request.registry_user");
    START_WITH((r.registry_user = "u", r.registry_pass = NULL), "request.registry_pass");
    START_WITH((r.registry_user = "u", r.registry_pass = BAD_UTF8), "request.registry_pass");
    START_WITH(r.port = -1, "request.port");
    START_WITH(r.port = 65536, "request.port");
    START_WITH((r.entrypoint = NULL, r.entrypoint_count = 2), "request.entrypoint");
    START_WITH((r.entrypoint = null_item, r.entrypoint_count = 2), "request.entrypoint[1]");
    START_WITH((r.entrypoint = bad_item, r.entrypoint_count = 1), "request.entrypoint[0]");
    START_WITH((r.command = NULL, r.command_count = 1), "request.command");
    START_WITH((r.command = bad_item, r.command_count = 1), "request.command[0]");
    START_WITH((r.command = one, r.command_count = (size_t)1 << 40), "request.command");
    CHECK(url == NULL, "url_out written on failure");

    /* The task contract's fields. */
    GoferMount mount = {.kind = GOFER_MOUNT_BIND, .source = "/tmp", .target = "/work"};
    GoferMount bad_mounts[4] = {mount, mount, mount, mount};
    bad_mounts[0].kind = 7;
    bad_mounts[1].source = NULL;
    bad_mounts[2].target = BAD_UTF8;
    bad_mounts[3].target = "relative";
    START_WITH(r.memory_bytes = -1, "resources.memory_bytes");
    START_WITH(r.memory_bytes = 1024, "resources.memory_bytes");
    START_WITH(r.cpus = -0.5, "resources.cpus");
    START_WITH(r.pids_limit = -3, "resources.pids_limit");
    START_WITH(r.shm_size_bytes = -1, "resources.shm_size_bytes");
    START_WITH((r.mounts = NULL, r.mount_count = 1), "request.mounts");
    START_WITH((r.mounts = &bad_mounts[0], r.mount_count = 1), "request.mounts[0].kind");
    START_WITH((r.mounts = &bad_mounts[1], r.mount_count = 1), "request.mounts[0].source");
    START_WITH((r.mounts = &bad_mounts[2], r.mount_count = 1), "request.mounts[0].target");
    START_WITH((r.mounts = &bad_mounts[3], r.mount_count = 1), "mounts[0].target");
    START_WITH((r.mounts = bad_mounts, r.mount_count = (size_t)1 << 40), "request.mounts");
    START_WITH(r.working_dir = BAD_UTF8, "request.working_dir");
    START_WITH(r.working_dir = "relative", "working_dir");
    START_WITH(r.user = BAD_UTF8, "request.user");
    START_WITH((r.label_keys = NULL, r.label_values = values, r.label_count = 1), "request.label_keys");
    START_WITH((r.label_keys = keys, r.label_values = bad_item, r.label_count = 1), "request.label_values[0]");
    const char *managed[] = {"dev.gofer.scheduler.managed"};
    START_WITH((r.label_keys = managed, r.label_values = values, r.label_count = 1), "labels");
    GoferStartResult result = {0};
    r = valid_request();
    EXPECT_INVALID(gofer_engine_start(engine, &r, NULL, &err), "result_out");
    r.id = NULL;
    EXPECT_INVALID(gofer_engine_start(engine, &r, &result, &err), "request.id");
    EXPECT_INVALID(gofer_engine_start(engine, NULL, &result, &err), "request");
    CHECK(result.url == NULL && result.container_id == NULL && result.image_id == NULL, "result written on failure");
    gofer_start_result_clear(NULL);
    gofer_start_result_clear(&result);

    GoferStateInfo info;
    GoferWait *wait = NULL;
    GoferContainerList *list = NULL;
    GoferContainerInfo item;
    GoferLogStream stream;
    size_t n;
    uint8_t buf[16];
    EXPECT_INVALID(gofer_engine_get_state_info(engine, NULL, &info, &err), "id");
    EXPECT_INVALID(gofer_engine_get_state_info(engine, BAD_UTF8, &info, &err), "id");
    EXPECT_INVALID(gofer_engine_get_state_info(engine, "x", NULL, &err), "info_out");
    EXPECT_INVALID(gofer_engine_wait_container(engine, NULL, &wait, &err), "id");
    EXPECT_INVALID(gofer_engine_wait_container(engine, BAD_UTF8, &wait, &err), "id");
    EXPECT_INVALID(gofer_engine_wait_container(engine, "../x", &wait, &err), "id");
    EXPECT_INVALID(gofer_engine_wait_container(engine, "x", NULL, &err), "wait_out");
    EXPECT_INVALID(gofer_wait_result(NULL, &info, &err), "wait");
    CHECK(wait == NULL, "wait_out written on failure");
    CHECK(gofer_engine_wait_container(engine, "x", &wait, NULL) == GOFER_OK, "a wait handle");
    EXPECT_INVALID(gofer_wait_result(wait, NULL, &err), "info_out");
    gofer_wait_close(NULL);
    gofer_wait_free(wait);
    gofer_wait_free(NULL);
    EXPECT_INVALID(gofer_engine_list_containers(engine, NULL, &err), "list_out");
    EXPECT_INVALID(gofer_engine_list_containers(NULL, &list, &err), "engine");
    CHECK(gofer_container_list_len(NULL) == 0, "length of a NULL list");
    EXPECT_INVALID(gofer_container_list_get(NULL, 0, &item, &err), "list");
    gofer_container_list_free(NULL);
    EXPECT_INVALID(gofer_logs_read_frame(NULL, buf, sizeof buf, &n, &stream, &err), "logs");

    EXPECT_INVALID(gofer_engine_stop_container(engine, NULL, 0, &err), "id");
    EXPECT_INVALID(gofer_engine_stop_container(engine, BAD_UTF8, 0, &err), "id");
    EXPECT_INVALID(gofer_engine_get_state(engine, NULL, &state, &code, &err), "id");
    EXPECT_INVALID(gofer_engine_get_state(engine, BAD_UTF8, &state, &code, &err), "id");
    EXPECT_INVALID(gofer_engine_get_state(engine, "x", NULL, &code, &err), "state_out");
    EXPECT_INVALID(gofer_engine_get_state(engine, "x", &state, NULL, &err), "exit_code_out");
    EXPECT_INVALID(gofer_engine_get_logs(engine, NULL, &logs, &err), "id");
    EXPECT_INVALID(gofer_engine_get_logs(engine, BAD_UTF8, &logs, &err), "id");
    EXPECT_INVALID(gofer_engine_get_logs(engine, "x", NULL, &err), "logs_out");
    EXPECT_INVALID(gofer_engine_attach_container(engine, NULL, one, 1, &attach, &err), "id");
    EXPECT_INVALID(gofer_engine_attach_container(engine, BAD_UTF8, one, 1, &attach, &err), "id");
    EXPECT_INVALID(gofer_engine_attach_container(engine, "x", NULL, 0, &attach, &err), "command");
    EXPECT_INVALID(gofer_engine_attach_container(engine, "x", one, 0, &attach, &err), "command");
    EXPECT_INVALID(gofer_engine_attach_container(engine, "x", null_item, 2, &attach, &err), "command[1]");
    EXPECT_INVALID(gofer_engine_attach_container(engine, "x", bad_item, 1, &attach, &err), "command[0]");
    EXPECT_INVALID(gofer_engine_attach_container(engine, "x", one, 1, NULL, &err), "attach_out");
    CHECK(logs == NULL && attach == NULL, "out-parameters written on failure");

    /* A list of real containers, misused. */
    CHECK(gofer_engine_list_containers(engine, &list, NULL) == GOFER_OK, "list");
    size_t len = gofer_container_list_len(list);
    EXPECT_INVALID(gofer_container_list_get(list, len, &item, &err), "index");
    EXPECT_INVALID(gofer_container_list_get(list, 0, NULL, &err), "info_out");
    gofer_container_list_free(list);
}

int main(void) {
    without_an_engine();

    GoferEngine *engine = NULL;
    GoferError *err = NULL;
    GoferStatus st = gofer_engine_new(NULL, &engine, &err);
    CHECK(st == GOFER_OK, "engine: %s", err ? gofer_error_message(err) : "");
    gofer_error_free(err);
    if (st == GOFER_OK) {
        with_an_engine(engine);
        gofer_engine_free(engine);
    }
    return check_summary("ffi_arguments");
}
