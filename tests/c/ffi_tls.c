/* A remote engine over mutual TLS through the C ABI: the test bed's TLS engine
 * (scripts/netns-engine.sh tls start --tls), reached with explicit options and, as the docker CLI
 * finds it, through DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH. Run under valgrind. */
#define _POSIX_C_SOURCE 200809L
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static char tcp[128], unix_host[256], certs[256];
static char name[64];

static void read_engine(void) {
    FILE *p = popen("timeout 180 scripts/netns-engine.sh tls start --tls", "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "TCP=", 4) == 0) snprintf(tcp, sizeof tcp, "%s", line + 4);
        if (strncmp(line, "HOST=", 5) == 0) snprintf(unix_host, sizeof unix_host, "%s", line + 5);
        if (strncmp(line, "CERTS=", 6) == 0) snprintf(certs, sizeof certs, "%s", line + 6);
    }
    if (p) pclose(p);
}

static void clean_up(void) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "timeout 30 docker -H %s rm -fv %s >/dev/null 2>&1", unix_host, name);
    if (system(cmd) != 0) { /* nothing to remove */ }
}

static void run_over(GoferEngine *engine, const char *how) {
    const char *command[] = {"sh", "-c", "echo c over tls; exit 8"};
    GoferStartRequest req;
    memset(&req, 0, sizeof req);
    req.id = name;
    req.image_name = "gofer-test/busybox:latest";
    req.command = command;
    req.command_count = 3;
    GoferError *err = NULL;
    GoferStatus st = gofer_engine_start_container(engine, &req, NULL, &err);
    CHECK(st == GOFER_OK, "%s: start: %s", how, gofer_error_message(err));
    gofer_error_free(err);
    GoferWait *wait = NULL;
    GoferStateInfo info = {0};
    CHECK(gofer_engine_wait_container(engine, name, &wait, NULL) == GOFER_OK, "wait handle");
    CHECK(gofer_wait_result(wait, &info, NULL) == GOFER_OK && info.exit_code == 8, "%s: exit code %lld", how,
          (long long)info.exit_code);
    gofer_wait_free(wait);
    GoferLogs *logs = NULL;
    char buf[64] = {0};
    size_t n = 0;
    CHECK(gofer_engine_get_logs(engine, name, &logs, NULL) == GOFER_OK, "%s: logs", how);
    CHECK(gofer_logs_read(logs, (uint8_t *)buf, sizeof buf - 1, &n, NULL) == GOFER_OK && strcmp(buf, "c over tls\n") == 0,
          "%s: logs \"%s\"", how, buf);
    gofer_logs_free(logs);
}

int main(void) {
    read_engine();
    if (!tcp[0] || !certs[0]) {
        fprintf(stderr, "the TLS engine did not start\n");
        return 1;
    }
    snprintf(name, sizeof name, "gofer-test-c-tls-%d", (int)getpid());
    atexit(clean_up);
    char ca[300], cert[300], key[300], wrong[300];
    snprintf(ca, sizeof ca, "%s/client/ca.pem", certs);
    snprintf(cert, sizeof cert, "%s/client/cert.pem", certs);
    snprintf(key, sizeof key, "%s/client/key.pem", certs);
    snprintf(wrong, sizeof wrong, "%s/wrong-ca/ca.pem", certs);

    GoferEngineOptions options = {.host = tcp, .timeout_ms = 30000, .tls_ca = ca, .tls_cert = cert, .tls_key = key};
    GoferEngine *engine = NULL;
    GoferError *err = NULL;
    GoferStatus st = gofer_engine_new(&options, &engine, &err);
    CHECK(st == GOFER_OK, "explicit TLS options: %s", gofer_error_message(err));
    gofer_error_free(err);
    if (st == GOFER_OK) run_over(engine, "explicit options");
    gofer_engine_free(engine);

    options.tls_ca = wrong;
    err = NULL;
    st = gofer_engine_new(&options, &engine, &err);
    check_error("another CA", st, err, GOFER_CONNECTION, "not trusted");
    options.tls_ca = NULL;
    err = NULL;
    st = gofer_engine_new(&options, &engine, &err);
    check_error("a key without a CA", st, err, GOFER_INVALID_ARGUMENT, "options.tls_ca");

    /* As the docker CLI finds it. */
    char cert_dir[300];
    snprintf(cert_dir, sizeof cert_dir, "%s/client", certs);
    setenv("DOCKER_HOST", tcp, 1);
    setenv("DOCKER_TLS_VERIFY", "1", 1);
    setenv("DOCKER_CERT_PATH", cert_dir, 1);
    engine = NULL;
    err = NULL;
    st = gofer_engine_new(NULL, &engine, &err);
    CHECK(st == GOFER_OK, "from the environment: %s", gofer_error_message(err));
    gofer_error_free(err);
    if (st == GOFER_OK) run_over(engine, "environment");
    gofer_engine_free(engine);
    return check_summary("ffi_tls");
}
