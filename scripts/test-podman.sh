#!/usr/bin/env bash
# The Rust engine tests against Podman's Docker-compatible API: brings up the test bed (its
# registry and the images it builds in the default Docker engine), starts Podman
# (scripts/podman.sh), runs every engine test that Podman supports and stops Podman at the end,
# also on failure. About 40 s here once the test binaries are built.
#
#   scripts/test-podman.sh              # extra arguments go to the test binaries (libtest)
#
# The tests find Podman through DOCKER_HOST (the library, and the docker CLI for fixtures);
# GOFER_TEST_ENGINE=podman makes two fixture steps that the docker CLI cannot take through
# Podman take another way (tests/common/mod.rs). What a test asserts is never changed: a test
# whose behaviour differs on Podman is skipped below, with the reason.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
started=$SECONDS

scripts/testbed.sh up >/dev/null
trap 'scripts/podman.sh stop || true' EXIT   # set first: a start that fails half-way is undone
host=$(scripts/podman.sh start)
export DOCKER_HOST=$host GOFER_TEST_ENGINE=podman

skips=(
  # Podman's compat wait answers once the container is "exited", i.e. after the cleanup that
  # conmon's exit command (a new `podman container cleanup` process) does after the exit:
  # 70-600 ms after the exit on this 2-core machine under load, against the test's 700 ms
  # bound for a 500 ms grace period (seen: 831 ms). Docker answers at the exit. Flaky here.
  a_sub_second_grace_period_is_honoured_as_given
  # Run alone below: the library's prune removes every exited container it created, including
  # those of tests running at the same time (a race of the test suite, Docker's too; Podman
  # then answers the other test's GetState with 500 "container <id> does not exist in
  # database: no such container").
  prune_removes_only_exited_containers_created_by_the_library
  # logs.rs -------------------------------------------------------------------------------
  # A follow stream of a silent container gets no answer at all from Podman until the first
  # log line (its handler calls WriteHeader without a flush): the library's get_logs waits
  # for the response head and fails with Timeout after its request timeout.
  closing_a_blocking_reader_from_another_thread_wakes_the_blocked_read
  # images.rs -----------------------------------------------------------------------------
  # Podman 4.3's pull progress has "Pulling fs layer" and "Download complete" per blob, never
  # "Downloading" with byte counts nor "Pull complete" (Docker sends both).
  a_pull_reports_its_progress_per_layer
  # task.rs -------------------------------------------------------------------------------
  # Podman's compat create makes every missing absolute source of a mount (bind mounts of
  # HostConfig.Mounts included) a directory on the host and starts the container; Docker
  # refuses with 400 "bind source path does not exist". (Run, it would create
  # /nonexistent/gofer on this machine.)
  a_bind_source_that_does_not_exist_is_refused_and_nothing_is_created
  # Podman 4.3 never reports OOMKilled with conmon 2.1.6: conmon writes its "oom" marker into
  # its working directory, Podman looks for it in the container's bundle directory.
  a_job_past_its_memory_limit_is_reported_oom_killed_in_state_wait_and_list
  # The same late wait answer (see a_sub_second_grace_period_is_honoured_as_given): the test
  # allows 500 ms between the exit and the wait's return (seen: 517 ms, 690 ms). Flaky here.
  waits_started_before_and_after_the_exit_return_the_exit_code_and_times
  # A container removed during the wait (`--rm`): about one time in two Podman answers the wait
  # with 200 {"StatusCode":0,"Error":{"Message":"container ... does not exist in database: no
  # such container"}} (Docker: {"StatusCode":3,"Error":null}): the exit code is lost, and the
  # library reports NoSuchContainer (never the answer's 0 as an exit code).
  a_wait_on_a_container_removed_at_its_exit_gives_the_exit_code_it_answered
)
args=()
for name in "${skips[@]}"; do args+=(--skip "$name"); done

# A test that fails is run once more, alone: a failure that does not repeat is reported as
# flaky (with its first output above) and does not fail the suite; one that repeats does. CI
# once saw two tests fail here that never failed again in dozens of runs (fresh storage, fresh
# clone, under load); the rerun keeps such a one-off from hiding the other suites' results
# while still failing on anything Podman does wrong every time.
tests=(--test engine --test logs --test attach --test task --test images)
out=$ROOT/target/podman/test-output.txt
status=0 prune=0
cargo test --release --no-fail-fast "${tests[@]}" -- "${args[@]}" "$@" 2>&1 | tee "$out" || status=$?
cargo test --release --test engine -- --exact prune_removes_only_exited_containers_created_by_the_library "$@" || prune=$?
mapfile -t failed < <(sed -n 's/^test \([a-z0-9_]*\) \.\.\. FAILED$/\1/p' "$out")
if ((status != 0 && ${#failed[@]} > 0)); then
  echo "test-podman: failed once, run again alone: ${failed[*]}" >&2
  if cargo test --release "${tests[@]}" -- --exact --test-threads=1 "${failed[@]}"; then
    echo "test-podman: FLAKY against Podman (failed once, then passed alone): ${failed[*]}" >&2
    status=0
  fi
fi
((status != 0)) || status=$prune
echo "test-podman: $((${#skips[@]} - 1)) tests skipped (see $0); $((SECONDS - started)) s; exit $status" >&2
exit $status
