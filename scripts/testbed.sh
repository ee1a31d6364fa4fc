#!/usr/bin/env bash
# Test bed for gofer-scheduler's test suite: a Docker engine, a local busybox image built
# without any registry (Docker Hub is unreachable here), and a private htpasswd-protected
# registry holding a copy of that image, so the pull-with-credentials path can be tested.
#
#   scripts/testbed.sh up     # idempotent; the second run only checks things (a few seconds)
#   scripts/testbed.sh down   # stops only what WE started (pid files) + gofer-test-* containers
#   scripts/testbed.sh env    # prints the path of the KEY=VALUE env file for tests
#
# Tests: `set -a; . "$(scripts/testbed.sh env)"; set +a`, or parse the KEY=VALUE lines.
# Everything lives under target/testbed/ so `cargo clean` wipes it and nothing in $HOME is touched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TB=$ROOT/target/testbed
ENV_FILE=$TB/env
IMAGE=gofer-test/busybox:latest
MARK=gofer.testbed.rootfs   # image label: tells OUR image from a same-named one.
MARK_VER=1                  # bump when the rootfs recipe below changes, to force a rebuild.
REG=127.0.0.1:5000          # 127.0.0.0/8 is an insecure registry by default: plain HTTP works.
REG_USER=gofer
REG_PASS=gofer-secret-pw
PRIV=$REG/gofer/private-busybox:latest
# An image of three layers (the busybox one and two of random bytes) in the registry only: a
# pull of it reports progress per layer.
MULTI=$REG/gofer/multilayer:latest
# The same rootfs with an ENTRYPOINT and a CMD of its own: tests tell "absent" (the image's)
# from "empty" (none) for entrypoint and command with it.
ENTRY_IMAGE=gofer-test/busybox-entrypoint:latest
# Private docker CLI config: `docker login` must not write into the user's ~/.docker.
export DOCKER_CONFIG=$TB/docker-config
# The test bed is the default engine's, whatever engine the caller's suites point at
# (scripts/test-engine.sh exports DOCKER_HOST for another engine, then runs suites that call us).
unset DOCKER_HOST

log() { echo "testbed: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# Every docker CLI call goes through here so a wedged daemon can never hang the script.
d() { timeout "${T:-60}" docker "$@"; }
docker_ok() { timeout 5 docker info >/dev/null 2>&1; }
# HTTP status of the registry's /v2/ ("000" = nothing answers). Our registry must say 401.
reg_code() { curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$REG/v2/" || true; }
# True if pid $1 is alive and is the program $2 (guards against stale pid files / pid reuse).
is_proc() { [[ -n $1 && -r /proc/$1/comm && $(cat "/proc/$1/comm" 2>/dev/null) == "$2" ]]; }

. "$ROOT/scripts/lib.sh"

install_packages() {
  # /usr/local/bin/docker (a newer CLI) is fine too; the *static* busybox is needed (the image
  # has no libc), plain `busybox` is not enough.
  gofer_need_packages dockerd=docker.io docker=docker.io docker-registry=docker-registry busybox-static \
    htpasswd=apache2-utils gcc=gcc valgrind=valgrind pkg-config=pkg-config curl=curl file=file
}

start_docker() {
  docker_ok && return
  if pidof dockerd >/dev/null; then
    log "a dockerd is running but not answering yet; waiting for it"
  else
    log "starting dockerd (log: $TB/dockerd.log)"
    # setsid+nohup: detach so the daemon outlives this script; 9>&-: must not inherit our flock.
    setsid nohup dockerd >>"$TB/dockerd.log" 2>&1 </dev/null 9>&- &
    echo $! >"$TB/dockerd.pid"   # the pid file is our proof that *we* own it (see `down`)
  fi
  local deadline=$((SECONDS + 60))
  until docker_ok; do
    ((SECONDS < deadline)) || die "docker engine did not answer within 60 s; see $TB/dockerd.log"
    sleep 1
  done
  # dockerd writes its real pid here; prefer it in case setsid forked.
  if [[ -f $TB/dockerd.pid && -s /var/run/docker.pid ]]; then cp /var/run/docker.pid "$TB/dockerd.pid"; fi
}

build_image() {
  [[ $(d image inspect -f "{{index .Config.Labels \"$MARK\"}}" "$IMAGE" 2>/dev/null) != "$MARK_VER" ]] || return 0
  log "building $IMAGE from busybox-static"
  TMPDIR=$TB gofer_import_busybox "$IMAGE" "$MARK" "$MARK_VER" docker || die "cannot import $IMAGE"
  # Smoke test once, right after building. Named gofer-test-* so `down` reaps it if it hangs.
  [[ $(T=60 d run --rm --name "gofer-test-testbed-smoke-$$" "$IMAGE" sh -c 'echo ok') == ok ]] ||
    die "smoke run of $IMAGE failed"
}

build_entrypoint_image() {
  if [[ $(d image inspect -f "{{index .Config.Labels \"gofer.testbed.entrypoint\"}}" "$ENTRY_IMAGE" 2>/dev/null) == "$MARK_VER" ]]; then
    return
  fi
  log "building $ENTRY_IMAGE"
  local cid
  cid=$(d create --name "gofer-test-testbed-entry-$$" "$IMAGE" true)
  d commit -c 'ENTRYPOINT ["/bin/echo","image-entrypoint"]' -c 'CMD ["image-cmd"]' \
    -c "LABEL gofer.testbed.entrypoint=$MARK_VER" "$cid" "$ENTRY_IMAGE" >/dev/null
  d rm -f "$cid" >/dev/null
}

start_registry() {
  local code; code=$(reg_code)
  if [[ $code == 401 ]]; then    # ours from an earlier `up`, or someone's: reuse it either way
    is_proc "$(cat "$TB/registry.pid" 2>/dev/null)" docker-registry || rm -f "$TB/registry.pid"
    return
  fi
  [[ $code == 000 ]] || die "something on $REG answers HTTP $code (not an auth-protected registry); stop it"
  log "starting docker-registry on $REG (log: $TB/registry.log)"
  mkdir -p "$TB/registry/data"
  htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$TB/registry/htpasswd"   # registry only accepts bcrypt
  cat >"$TB/registry/config.yml" <<EOF
# Written by scripts/testbed.sh; Debian's docker-registry run directly (no systemd here).
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $TB/registry/data}
  delete: {enabled: true}
http: {addr: $REG, secret: gofer-testbed-not-secret}
auth:
  htpasswd: {realm: gofer-testbed, path: $TB/registry/htpasswd}
EOF
  setsid nohup docker-registry serve "$TB/registry/config.yml" >>"$TB/registry.log" 2>&1 </dev/null 9>&- &
  echo $! >"$TB/registry.pid"
  local deadline=$((SECONDS + 30))
  until [[ $(reg_code) == 401 ]]; do
    is_proc "$(cat "$TB/registry.pid")" docker-registry || die "docker-registry exited; see $TB/registry.log"
    ((SECONDS < deadline)) || die "registry did not answer 401 on $REG within 30 s; see $TB/registry.log"
    sleep 0.5
  done
}

push_private() {
  mkdir -p "$DOCKER_CONFIG"
  local out
  out=$(printf '%s' "$REG_PASS" | T=30 d login "$REG" -u "$REG_USER" --password-stdin 2>&1) ||
    die "docker login $REG failed (a foreign registry with other users on :5000?): $out"
  # Skip the push when the registry already holds exactly this image: the manifest's config
  # digest equals the local image ID. Makes the second `up` (and `down`+`up`) fast.
  local want have
  want=$(d image inspect -f '{{.Id}}' "$IMAGE")
  have=$(curl -s -m 10 -u "$REG_USER:$REG_PASS" \
      -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
      "http://$REG/v2/gofer/private-busybox/manifests/latest" | tr -d ' \t\r\n' |
    grep -o '"config":{[^}]*}' | grep -o 'sha256:[0-9a-f]\{64\}' || true)
  if [[ $want != "$have" ]]; then
    log "pushing $PRIV"
    d tag "$IMAGE" "$PRIV"
    out=$(T=300 d push "$PRIV" 2>&1) || die "docker push $PRIV failed: $out"
  fi
  # The tests must *pull* the private image, so it must not be present locally.
  if d image inspect "$PRIV" >/dev/null 2>&1; then d rmi "$PRIV" >/dev/null; fi
  push_multilayer
}

push_multilayer() {
  local status
  status=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -u "$REG_USER:$REG_PASS" \
    -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' "http://$REG/v2/gofer/multilayer/manifests/latest" || true)
  if [[ $status != 200 ]]; then
    log "building and pushing $MULTI"
    local ctx; ctx=$(mktemp -d "$TB/multilayer.XXXXXX")
    printf 'FROM %s\nRUN head -c 4000000 /dev/urandom > /layer-one\nRUN head -c 4000000 /dev/urandom > /layer-two\n' "$IMAGE" >"$ctx/Dockerfile"
    DOCKER_BUILDKIT=0 T=300 d build -q -t "$MULTI" "$ctx" >/dev/null || { rm -rf "$ctx"; die "docker build of $MULTI failed"; }
    rm -rf "$ctx"
    out=$(T=300 d push "$MULTI" 2>&1) || die "docker push $MULTI failed: $out"
  fi
  if d image inspect "$MULTI" >/dev/null 2>&1; then d rmi "$MULTI" >/dev/null; fi
}

write_env() {
  [[ $TB != *[[:space:]]* ]] || die "repo path contains whitespace; env file would not be parseable"
  cat >"$ENV_FILE.tmp" <<EOF
GOFER_TEST_IMAGE=$IMAGE
GOFER_TEST_REGISTRY=$REG
GOFER_TEST_REGISTRY_USER=$REG_USER
GOFER_TEST_REGISTRY_PASS=$REG_PASS
GOFER_TEST_PRIVATE_IMAGE=$PRIV
GOFER_TEST_MULTILAYER_IMAGE=$MULTI
GOFER_TEST_ENTRYPOINT_IMAGE=$ENTRY_IMAGE
DOCKER_CONFIG=$DOCKER_CONFIG
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"   # atomic: a test never reads a half-written file
}

stop_pidfile() {   # $1 = pid file name, $2 = expected program name
  local f=$TB/$1 pid
  [[ -f $f ]] || return 0
  pid=$(cat "$f")
  if is_proc "$pid" "$2"; then
    log "stopping $2 (pid $pid)"
    kill "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))   # dockerd may take a while to stop its containers
    while is_proc "$pid" "$2" && ((SECONDS < deadline)); do sleep 0.5; done
    if is_proc "$pid" "$2"; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$f"
}

down() {
  if docker_ok; then
    local id name
    # Filter names in bash, not with `--filter name=` (a substring/regex match on "/name").
    while read -r id name; do
      if [[ $name == gofer-test-* ]]; then log "removing container $name"; d rm -f "$id" >/dev/null || true; fi
    done < <(d ps -a --format '{{.ID}} {{.Names}}')
  fi
  # The swarm (its bridge registry), the private engines in network namespaces (TLS, swarm)
  # and their bridge.
  "$ROOT/scripts/swarm.sh" down || true
  "$ROOT/scripts/netns-engine.sh" all down || true
  # The Podman service of scripts/test-podman.sh, if one was left running.
  "$ROOT/scripts/podman.sh" stop >/dev/null 2>&1 || true
  stop_pidfile registry.pid docker-registry
  stop_pidfile dockerd.pid dockerd
  rm -f "$ENV_FILE"   # its facts no longer hold
}

cmd=${1:-}
case $cmd in
  env) echo "$ENV_FILE"; [[ -f $ENV_FILE ]] || { log "no env file yet; run: $0 up"; exit 1; } ;;
  up|down)
    mkdir -p "$TB"
    # Serialise concurrent runs (parallel test jobs / engineers) on one lock.
    exec 9>"$TB/.lock"
    flock -w 600 9 || die "timed out waiting for $TB/.lock"
    if [[ $cmd == down ]]; then down; log "down"; exit 0; fi
    install_packages
    start_docker
    build_image
    build_entrypoint_image
    start_registry
    push_private
    write_env
    echo "testbed: up: image=$IMAGE registry=$REG (user $REG_USER) private=$PRIV env=$ENV_FILE" ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
