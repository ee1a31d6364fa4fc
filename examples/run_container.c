/* run_container: the main job of gofer-scheduler, end to end, through the C ABI.
 *
 *   run_container [IMAGE [COMMAND...]]
 *
 * Starts a container (default: the test bed's busybox image running a short script), streams
 * its logs to stdout as they come, waits for its exit, prints its final state and exit code
 * and exits with that code. It removes nothing: the container stays for `docker logs` /
 * `docker inspect` (its name is printed). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gofer_scheduler.h"

static int fail(const char *what, GoferError *err) {
    fprintf(stderr, "%s failed: %s\n", what, gofer_error_message(err));
    gofer_error_free(err);
    return 1;
}

int main(int argc, char **argv) {
    const char *image = argc > 1 ? argv[1] : "gofer-test/busybox:latest";
    const char *default_command[] = {
        "sh", "-c",
        "echo \"hello from $GOFER_TASK\"; for i in 1 2 3; do echo \"step $i\"; sleep 0.3; done; "
        "echo 'a warning' >&2; exit 0"};
    const char *const *command = argc > 2 ? (const char *const *)argv + 2 : default_command;
    size_t command_count = argc > 2 ? (size_t)argc - 2 : 3;

    char id[64];
    snprintf(id, sizeof id, "gofer-example-%d", (int)getpid());
    const char *env_keys[] = {"GOFER_TASK"};
    const char *env_values[] = {id};

    GoferError *err = NULL;
    GoferEngine *engine = NULL;
    if (gofer_engine_new(NULL, &engine, &err) != GOFER_OK) return fail("connecting to Docker", err);

    GoferStartRequest request;
    memset(&request, 0, sizeof request);
    request.id = id;
    request.image_name = image;
    request.env_keys = env_keys;
    request.env_values = env_values;
    request.env_count = 1;
    request.command = command;
    request.command_count = command_count;
    if (gofer_engine_start_container(engine, &request, NULL, &err) != GOFER_OK) {
        gofer_engine_free(engine);
        return fail("StartContainer", err);
    }
    fprintf(stderr, "started container %s (%s)\n", id, image);

    GoferLogs *logs = NULL;
    if (gofer_engine_get_logs(engine, id, &logs, &err) != GOFER_OK) {
        gofer_engine_free(engine);
        return fail("GetLogs", err);
    }
    uint8_t buf[64 * 1024];
    size_t n = 0;
    GoferStatus st;
    while ((st = gofer_logs_read(logs, buf, sizeof buf, &n, &err)) == GOFER_OK && n > 0) {
        fwrite(buf, 1, n, stdout);
        fflush(stdout);
    }
    gofer_logs_free(logs);
    if (st != GOFER_OK) {
        gofer_engine_free(engine);
        return fail("reading the logs", err);
    }

    GoferWait *wait = NULL;
    GoferStateInfo info;
    if (gofer_engine_wait_container(engine, id, &wait, &err) != GOFER_OK || gofer_wait_result(wait, &info, &err) != GOFER_OK) {
        gofer_wait_free(wait);
        gofer_engine_free(engine);
        return fail("WaitContainer", err);
    }
    gofer_wait_free(wait);
    printf("state: %s, exit code: %lld%s\n", gofer_container_state_name(info.state), (long long)info.exit_code,
           info.oom_killed ? " (out of memory)" : "");
    gofer_engine_free(engine);
    return (int)(info.exit_code & 0xff);
}
