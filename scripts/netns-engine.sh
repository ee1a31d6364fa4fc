#!/usr/bin/env bash
# Private Docker engines in network namespaces of their own, for the tests that need a host of
# their own: the TLS engine (and the nodes of a swarm). Each engine NAME is a dockerd with its own
# socket, data root, exec root (and so its own containerd), pid file and containerd namespace,
# running in the network namespace gofer-<checkout>-NAME, joined by a veth pair to a bridge of
# ours. The namespaces have no default route: traffic goes only between them and the host.
#
#   scripts/netns-engine.sh NAME start [--tls|--plain-tcp] [--load-image] [--version V]
#                                              # idempotent; prints KEY=VALUE lines:
#                                              # HOST=unix://...  ADDR=<its IP>  [TCP=tcp://IP:2376]
#                                              # VERSION=V  NETNS=/run/netns/<its namespace>
#   scripts/netns-engine.sh NAME stop           # stops the engine, removes its namespace
#   scripts/netns-engine.sh NAME kill           # SIGKILL dockerd only (a crash)
#   scripts/netns-engine.sh NAME host           # prints its unix:// address
#   scripts/netns-engine.sh registry start      # the test bed's registry store served on the
#                                              # bridge; prints REGISTRY=<bridge IP>:5000
#   scripts/netns-engine.sh all down            # stops every engine and the bridge registry,
#                                              # removes the bridge and rule
#
# Names: tls, swarm1, swarm2, swarm3, tcp, matrix (each has a fixed address on the bridge;
# matrix is the engine under test of scripts/test-engine.sh).
# Versions (--version, else $GOFER_ENGINE_VERSION, else docker-20.10): docker-20.10 is the
# system's dockerd (Debian 12); docker-26.1 and docker-28.5 are Debian's newer ones, fetched and
# unpacked under target/dist by scripts/dist.sh; docker-28.5-c8d is 28.5 with the containerd
# image store ("features": {"containerd-snapshotter": true}). Each version of an engine has a
# data root of its own (an older dockerd cannot read a newer one's); an engine running another
# version than the one asked is stopped first.
# With --load-image the test images are copied from the default engine (docker save | docker
# load: the same image ID on every engine of the classic store, as a swarm's nodes want) instead
# of imported anew. Every engine trusts the bridge registry (<bridge IP>:5000, plain HTTP).
# With --tls the engine also listens on tcp://<its IP>:2376 with --tlsverify; the certificates
# (a throwaway CA, the server's with its IP and name, a client's, and a second CA that signed
# nothing the engine trusts) are made with openssl under target/engines/tls-certs/.
# With --plain-tcp it listens on tcp://<its IP>:2375 without TLS (TCP=...): the benchmark's
# baseline for GetState over TLS (benches/tls_bench.py). dockerd applies its TLS settings to
# every TCP listener it has, so the plain one is a second engine (name tcp), not a second port
# of the TLS one.
#
# dockerd is started with `nsenter --net=...`, not `ip netns exec`, which mounts a fresh /sys
# where dockerd finds no cgroups. Inside its namespace it has its own docker0 and iptables,
# which leave the host's alone. The default engine sets the host's FORWARD policy to DROP, so
# traffic between two namespaces over the bridge needs a rule (in DOCKER-USER); it is removed
# with the last engine.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$ROOT/scripts/lib.sh"
ENGINES=$ROOT/target/engines
IMAGE=gofer-test/busybox:latest
MARK=gofer.testbed.rootfs   # same label and version as scripts/testbed.sh's image
MARK_VER=1
# Names and addresses of this checkout's bridge, so that two checkouts on one machine do not
# share one. An interface name has at most 15 characters.
CID=$(( $(printf '%s' "$ROOT" | cksum | cut -d' ' -f1) % 10000 ))
BRIDGE=gofer-nsb$CID
NET=10.231.$((CID % 250 + 1))
TLS_PORT=2376
PLAIN_PORT=2375

log() { echo "netns-engine: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

index_of() {   # the engine's host number on the bridge
  case $1 in
    tls) echo 10 ;;
    swarm1) echo 11 ;;
    swarm2) echo 12 ;;
    swarm3) echo 13 ;;
    tcp) echo 14 ;;
    matrix) echo 15 ;;
    *) die "unknown engine name $1 (tls, swarm1, swarm2, swarm3, tcp, matrix)" ;;
  esac
}

NAME=${1:-}; CMD=${2:-}
[[ -n $NAME && -n $CMD ]] || { echo "usage: $0 NAME start [--tls|--plain-tcp] [--load-image] [--version V]|stop|kill|host, or: $0 registry start, or: $0 all down" >&2; exit 2; }
shift 2 || true
ENTRY_IMAGE=gofer-test/busybox-entrypoint:latest
REG_DIR=$ENGINES/registry
TB=$ROOT/target/testbed

if [[ $NAME != all && $NAME != registry ]]; then
  IDX=$(index_of "$NAME")
  ADDR=$NET.$IDX
  NS=gofer-$CID-$NAME
  VETH=gv$CID$IDX          # the host's end of the pair
  DIR=$ENGINES/$NAME
  SOCK=$DIR/docker.sock
  HOST=unix://$SOCK
  PIDFILE=$DIR/dockerd.pid
  EXEC=$DIR/exec
fi
CERTS=$ENGINES/tls-certs

d() { timeout "${T:-30}" docker -H "$HOST" "$@"; }
answers() { [[ -S $SOCK ]] && timeout 5 docker -H "$HOST" version >/dev/null 2>&1; }

# True when pid $1 is a live $2 whose command line mentions this engine's directory.
ours() {
  local pid=$1 comm=$2
  [[ -n $pid && -r /proc/$pid/comm && $(cat "/proc/$pid/comm" 2>/dev/null) == "$comm" ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$DIR/"
}
dockerd_pid() { local p; p=$(cat "$PIDFILE" 2>/dev/null || true); ours "$p" dockerd && echo "$p"; }
containerd_pid() { local p; p=$(cat "$EXEC/containerd/containerd.pid" 2>/dev/null || true); ours "$p" containerd && echo "$p"; }
wait_gone() { local deadline=$((SECONDS + $2)); while [[ -e /proc/$1 ]] && ((SECONDS < deadline)); do sleep 0.1; done; [[ ! -e /proc/$1 ]]; }

ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    [[ -z $(ip route show "$NET.0/24" 2>/dev/null) ]] || die "$NET.0/24 is already routed; cannot create $BRIDGE"
    log "creating bridge $BRIDGE ($NET.1/24)"
    ip link add "$BRIDGE" type bridge
    ip addr add "$NET.1/24" dev "$BRIDGE"
    ip link set "$BRIDGE" up
  fi
  # Bridged traffic between namespaces passes the host's FORWARD chain (policy DROP).
  if iptables -S DOCKER-USER >/dev/null 2>&1 && ! iptables -C DOCKER-USER -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null; then
    iptables -I DOCKER-USER -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT
  fi
}

ensure_netns() {
  ip netns list | grep -qw "$NS" || ip netns add "$NS"
  if ! ip link show "$VETH" >/dev/null 2>&1; then
    ip link add "$VETH" type veth peer name "${VETH}p"
    ip link set "${VETH}p" netns "$NS"
    ip -n "$NS" link set "${VETH}p" name eth0
    ip -n "$NS" addr add "$ADDR/24" dev eth0
    ip -n "$NS" link set eth0 up
    ip -n "$NS" link set lo up
    ip link set "$VETH" master "$BRIDGE"
    ip link set "$VETH" up
  fi
}

make_certs() {
  [[ -f $CERTS/done ]] && grep -qx "$ADDR" "$CERTS/done" && return
  log "making a throwaway CA and certificates for $ADDR under $CERTS"
  rm -rf "$CERTS"; mkdir -p "$CERTS/client" "$CERTS/wrong-ca"
  local c=$CERTS
  # The CA, the engine's certificate (its IP and name), a client's, and a CA that signed
  # nothing the engine uses.
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=gofer-test-ca" \
    -keyout "$c/ca-key.pem" -out "$c/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=gofer-tls" -keyout "$c/server-key.pem" -out "$c/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s,DNS:gofer-tls\nextendedKeyUsage=serverAuth\n' "$ADDR" >"$c/server.ext"
  openssl x509 -req -in "$c/server.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial -days 30 \
    -extfile "$c/server.ext" -out "$c/server-cert.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=gofer-client" -keyout "$c/client/key.pem" -out "$c/client.csr" 2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >"$c/client.ext"
  openssl x509 -req -in "$c/client.csr" -CA "$c/ca.pem" -CAkey "$c/ca-key.pem" -CAcreateserial -days 30 \
    -extfile "$c/client.ext" -out "$c/client/cert.pem" 2>/dev/null
  cp "$c/ca.pem" "$c/client/ca.pem"
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=gofer-wrong-ca" \
    -keyout "$c/wrong-ca/ca-key.pem" -out "$c/wrong-ca/ca.pem" 2>/dev/null
  chmod 600 "$c"/*-key.pem "$c/client/key.pem" "$c/wrong-ca/ca-key.pem"
  echo "$ADDR" >"$c/done"
}

# The version asked (--version V, else $GOFER_ENGINE_VERSION, else the system's docker-20.10).
version_of() {
  local v=${GOFER_ENGINE_VERSION:-docker-20.10} prev="" a
  for a in "$@"; do [[ $prev == --version ]] && v=$a; prev=$a; done
  case $v in
    docker-20.10 | docker-26.1 | docker-28.5 | docker-28.5-c8d) echo "$v" ;;
    *) die "unknown engine version $v (docker-20.10, docker-26.1, docker-28.5, docker-28.5-c8d)" ;;
  esac
}

# Copies image $1 from the default engine unless this engine holds the same one. The classic
# store keeps the image's ID across save and load (a swarm's nodes want one ID); the containerd
# store names an image by its manifest, so there its config is compared.
load_image() {
  local image=$1 fmt='{{.Id}}'
  [[ $VERSION == *-c8d ]] && fmt='{{.Config.Labels}}{{.Config.Cmd}}{{.Config.Entrypoint}}'
  local want have
  want=$(timeout 30 docker image inspect -f "$fmt" "$image") || die "no $image in the default engine (scripts/testbed.sh up)"
  have=$(d image inspect -f "$fmt" "$image" 2>/dev/null || true)
  if [[ $have != "$want" ]]; then
    log "loading $image into $NAME from the default engine"
    timeout 120 docker save "$image" | T=120 d load -q >/dev/null || die "cannot load $image into $NAME"
  fi
}

start() {
  local tls=0 load=0 plain=0 a
  for a in "$@"; do [[ $a == --tls ]] && tls=1; [[ $a == --load-image ]] && load=1; [[ $a == --plain-tcp ]] && plain=1; done
  VERSION=$(version_of "$@")
  local data=$DIR/data-$VERSION path=$PATH
  [[ $VERSION == docker-20.10 ]] || path=$("$ROOT/scripts/dist.sh" "${VERSION%-c8d}" path):$PATH
  # Another version of this engine runs: it goes first (same namespace, address and socket).
  if [[ -n $(dockerd_pid) && $(cat "$DIR/version" 2>/dev/null) != "$VERSION" ]]; then
    log "$NAME runs $(cat "$DIR/version" 2>/dev/null || echo another version); stopping it for $VERSION"
    stop
  fi
  mkdir -p "$DIR" "$data" "$EXEC"
  gofer_need_packages dockerd=docker.io openssl=openssl nsenter=util-linux runc=runc
  ensure_bridge
  ensure_netns
  local listen=(--host "$HOST")
  if ((tls)); then
    make_certs
    listen+=(--host "tcp://$ADDR:$TLS_PORT" --tlsverify --tlscacert "$CERTS/ca.pem"
      --tlscert "$CERTS/server-cert.pem" --tlskey "$CERTS/server-key.pem")
  fi
  # --tls=false: said explicitly, dockerd skips the 15 s pause it makes to warn of a plain listener.
  ((plain)) && listen+=(--host "tcp://$ADDR:$PLAIN_PORT" --tls=false)
  if ! answers; then
    if [[ -z $(dockerd_pid) ]]; then
      rm -f "$SOCK"
      local features=""
      [[ $VERSION == *-c8d ]] && features=', "features": {"containerd-snapshotter": true}'
      echo "{\"insecure-registries\": [\"$NET.1:5000\"]$features}" >"$DIR/daemon.json"
      echo "$VERSION" >"$DIR/version"
      log "starting dockerd $NAME ($VERSION) in $NS ($ADDR; log: $DIR/dockerd.log)"
      # A newer engine's dockerd finds its own containerd, shim and docker-proxy first on the
      # PATH, and the system's runc after them.
      PATH=$path setsid nohup nsenter --net="/run/netns/$NS" dockerd "${listen[@]}" \
        --data-root "$data" --exec-root "$EXEC" --pidfile "$PIDFILE" \
        --containerd-namespace "gofer-$NAME" --containerd-plugins-namespace "gofer-$NAME-plugins" \
        --cgroup-parent "gofer-$NAME" --shutdown-timeout 2 --config-file "$DIR/daemon.json" \
        >>"$DIR/dockerd.log" 2>&1 </dev/null 9>&- &
    fi
    local deadline=$((SECONDS + 90))
    until answers; do
      ((SECONDS < deadline)) || die "dockerd $NAME did not answer within 90 s; see $DIR/dockerd.log"
      sleep 0.2
    done
  fi
  if ((load)); then
    load_image "$IMAGE"
    [[ $NAME == swarm* ]] || load_image "$ENTRY_IMAGE"
  elif [[ $(d image inspect -f "{{index .Config.Labels \"$MARK\"}}" "$IMAGE" 2>/dev/null) != "$MARK_VER" ]]; then
    log "importing $IMAGE into $NAME"
    TMPDIR=$DIR gofer_import_busybox "$IMAGE" "$MARK" "$MARK_VER" docker -H "$HOST" || die "cannot import $IMAGE"
  fi
  echo "HOST=$HOST"
  echo "ADDR=$ADDR"
  echo "VERSION=$VERSION"
  echo "NETNS=/run/netns/$NS"
  if ((tls)); then
    echo "TCP=tcp://$ADDR:$TLS_PORT"
    echo "CERTS=$CERTS"
  fi
  if ((plain)); then echo "TCP=tcp://$ADDR:$PLAIN_PORT"; fi
}

stop() {
  local pid shim m
  if pid=$(dockerd_pid); then
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 30 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 10 || true; }
  fi
  if pid=$(containerd_pid); then
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || { kill -KILL "$pid" 2>/dev/null || true; wait_gone "$pid" 5 || true; }
  fi
  for shim in $(pgrep -f "containerd-shim.*-namespace gofer-$NAME " || true); do
    tr '\0' ' ' <"/proc/$shim/cmdline" 2>/dev/null | grep -qF -- "$EXEC/" && kill -KILL "$shim" 2>/dev/null || true
  done
  # Mounts left by a killed engine would pin its data roots; their own binds go last.
  for m in $(awk -v a="$DIR/data" -v b="$EXEC" 'index($2, a) == 1 || $2 == b || index($2, b "/") == 1 { print $2 }' /proc/self/mounts | sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  rm -f "$SOCK" "$PIDFILE"
  ip link del "$VETH" 2>/dev/null || true
  ip netns del "$NS" 2>/dev/null || true
}

# The test bed's registry store (scripts/testbed.sh), same users, served on the bridge: the
# engines in namespaces cannot reach the host's 127.0.0.1:5000.
registry_up() {
  local addr=$NET.1:5000 pid
  pid=$(cat "$REG_DIR/registry.pid" 2>/dev/null || true)
  [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == docker-registry ]] &&
    [[ $(curl -s -m 3 -o /dev/null -w '%{http_code}' "http://$addr/v2/" || true) == 401 ]]
}

registry_start() {
  local addr=$NET.1:5000
  ensure_bridge
  if ! registry_up; then
    [[ -f $TB/registry/htpasswd ]] || die "no test bed registry (scripts/testbed.sh up)"
    mkdir -p "$REG_DIR"
    {
      echo "# Written by scripts/netns-engine.sh: the test bed's registry store, served on the bridge."
      echo "version: 0.1"
      echo "log: {level: info}"
      echo "storage:"
      echo "  filesystem: {rootdirectory: $TB/registry/data}"
      echo "  delete: {enabled: true}"
      echo "http: {addr: $addr, secret: gofer-bridge-not-secret}"
      echo "auth:"
      echo "  htpasswd: {realm: gofer-testbed, path: $TB/registry/htpasswd}"
    } >"$REG_DIR/config.yml"
    log "starting a registry on $addr (log: $REG_DIR/registry.log)"
    setsid nohup docker-registry serve "$REG_DIR/config.yml" >>"$REG_DIR/registry.log" 2>&1 </dev/null 9>&- &
    echo $! >"$REG_DIR/registry.pid"
    local deadline=$((SECONDS + 30))
    until registry_up; do
      ((SECONDS < deadline)) || die "the registry on $addr did not answer; see $REG_DIR/registry.log"
      sleep 0.3
    done
  fi
  echo "REGISTRY=$addr"
}

registry_stop() {
  local pid
  pid=$(cat "$REG_DIR/registry.pid" 2>/dev/null || true)
  if [[ -n $pid && $(cat "/proc/$pid/comm" 2>/dev/null) == docker-registry ]]; then kill "$pid" 2>/dev/null || true; fi
  rm -f "$REG_DIR/registry.pid"
}

down_all() {
  local n
  for n in tls swarm1 swarm2 swarm3 tcp matrix; do
    if [[ -d $ENGINES/$n ]] || ip netns list | grep -qw "gofer-$CID-$n"; then "$0" "$n" stop; fi
  done
  registry_stop
  iptables -D DOCKER-USER -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT 2>/dev/null || true
  ip link del "$BRIDGE" 2>/dev/null || true
}

mkdir -p "$ENGINES"
# One invocation at a time per engine (tests and humans may overlap).
exec 9>"$ENGINES/.$NAME.lock"
flock -w 180 9 || die "timed out waiting for $ENGINES/.$NAME.lock"
case $NAME/$CMD in
  all/down) down_all ;;
  registry/start) registry_start ;;
  registry/stop) registry_stop ;;
  */start) start "$@" ;;
  */stop) stop ;;
  */kill) pid=$(dockerd_pid) || die "no dockerd $NAME running"; kill -KILL "$pid"; wait_gone "$pid" 10 || die "dockerd $pid survived SIGKILL" ;;
  */host) echo "$HOST" ;;
  *) echo "usage: $0 NAME start [--tls|--plain-tcp] [--load-image] [--version V]|stop|kill|host, or: $0 registry start|stop, or: $0 all down" >&2; exit 2 ;;
esac
