#!/usr/bin/env bash
# A Docker Swarm of three nodes on this machine, for the swarm engine's tests: one manager
# (swarm1) and two workers (swarm2, swarm3), each a private dockerd in a network namespace of
# its own on the bridge of scripts/netns-engine.sh (private addresses, no default route), each
# holding the test image copied from the default engine (docker save | docker load: one image ID
# on every node). A registry on the bridge (<bridge IP>:5000) serves the test bed's registry
# store with the same htpasswd, so that a worker can pull the private image with credentials.
#
#   scripts/swarm.sh up      # idempotent; needs `scripts/testbed.sh up` first (image, registry)
#   scripts/swarm.sh down    # leaves the swarm, stops the nodes and the bridge registry
#   scripts/swarm.sh env     # prints the path of the KEY=VALUE file the tests read
#
# The env file: GOFER_SWARM_MANAGER (the manager's unix:// address), GOFER_SWARM_NODES
# (addr=engine,... : every node's address as the swarm knows it, and its engine),
# GOFER_SWARM_WORKERS (the workers' netns-engine names, for the tests that kill one),
# GOFER_SWARM_REGISTRY and GOFER_SWARM_PRIVATE_IMAGE (the private image on the bridge),
# GOFER_SWARM_NODE_VERSIONS (name=version,...: a node restarted by a test comes back as it was).
#
# The ingress routing mesh (a published port on every node) needs IPVS, which this kernel does
# not have; the tests publish in host mode. The default engine is not touched.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ENGINES=$ROOT/target/engines
TB=$ROOT/target/testbed
ENV_FILE=$ENGINES/swarm.env
NETNS=$ROOT/scripts/netns-engine.sh
MANAGER=swarm1
WORKERS=(swarm2 swarm3)
# The engine version of each node (scripts/netns-engine.sh --version): the matrix's engine for
# all, or a manager of one version with workers of another (the mixed case).
MANAGER_VERSION=${GOFER_SWARM_MANAGER_VERSION:-${GOFER_ENGINE_VERSION:-docker-20.10}}
WORKER_VERSION=${GOFER_SWARM_WORKER_VERSION:-${GOFER_ENGINE_VERSION:-docker-20.10}}

log() { echo "swarm: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
d() { local node=$1; shift; timeout "${T:-30}" docker -H "$("$NETNS" "$node" host)" "$@"; }

# The value of KEY $2 of `netns-engine.sh NODE start` for node $1 of version $3.
start_node() {
  local out
  # 8>&-: the dockerd it starts must not inherit (and hold for ever) this script's lock.
  out=$("$NETNS" "$1" start --load-image --version "$3" 8>&-) || die "cannot start node $1"
  sed -n "s/^$2=//p" <<<"$out"
}

swarm_state() { d "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null || true; }

up() {
  [[ -f $TB/env ]] || die "the test bed is not up (scripts/testbed.sh up)"
  local manager_addr worker_addr token nodes
  manager_addr=$(start_node "$MANAGER" ADDR "$MANAGER_VERSION")
  if [[ $(swarm_state "$MANAGER") != active ]]; then
    log "init: manager $MANAGER ($manager_addr)"
    d "$MANAGER" swarm init --advertise-addr "$manager_addr" --listen-addr "$manager_addr:2377" >/dev/null
  fi
  token=$(d "$MANAGER" swarm join-token -q worker)
  nodes="$manager_addr=$("$NETNS" "$MANAGER" host)"
  for w in "${WORKERS[@]}"; do
    worker_addr=$(start_node "$w" ADDR "$WORKER_VERSION")
    if [[ $(swarm_state "$w") != active ]]; then
      log "join: worker $w ($worker_addr)"
      d "$w" swarm join --token "$token" --advertise-addr "$worker_addr" --listen-addr "$worker_addr:2377" "$manager_addr:2377" >/dev/null
    fi
    nodes+=",$worker_addr=$("$NETNS" "$w" host)"
  done
  # Every node ready (a worker that rejoins after a restart is "down" for a few seconds).
  local deadline=$((SECONDS + 60)) ready
  until ready=$(d "$MANAGER" node ls --format '{{.Status}}' | grep -c '^Ready$') && ((ready == 1 + ${#WORKERS[@]})); do
    ((SECONDS < deadline)) || die "the swarm's nodes are not all ready: $(d "$MANAGER" node ls)"
    sleep 0.5
  done
  local registry bridge_ip
  registry=$("$NETNS" registry start 8>&- | sed -n 's/^REGISTRY=//p') || die "no registry on the bridge"
  bridge_ip=${registry%:*}
  cat >"$ENV_FILE.tmp" <<EOF
GOFER_SWARM_MANAGER=$("$NETNS" "$MANAGER" host)
GOFER_SWARM_NODES=$nodes
GOFER_SWARM_WORKERS="${WORKERS[*]}"
GOFER_SWARM_REGISTRY=$bridge_ip:5000
GOFER_SWARM_PRIVATE_IMAGE=$bridge_ip:5000/gofer/private-busybox:latest
GOFER_SWARM_NODE_VERSIONS=$MANAGER=$MANAGER_VERSION$(printf ',%s' "${WORKERS[@]/%/=$WORKER_VERSION}")
EOF
  mv "$ENV_FILE.tmp" "$ENV_FILE"
  log "up: manager $manager_addr ($MANAGER_VERSION), ${#WORKERS[@]} workers ($WORKER_VERSION), registry $registry, env $ENV_FILE"
}

down() {
  "$NETNS" registry stop || true
  local n
  for n in "${WORKERS[@]}" "$MANAGER"; do
    if [[ -d $ENGINES/$n ]]; then "$NETNS" "$n" stop || true; fi
  done
  # The swarm's state lives in each node's data root: a later `up` starts a new swarm.
  for n in "$MANAGER" "${WORKERS[@]}"; do rm -rf "${ENGINES:?}/$n"/data-*/swarm; done
  rm -f "$ENV_FILE"
}

case ${1:-} in
  up) mkdir -p "$ENGINES"; exec 8>"$ENGINES/.swarm.lock"; flock -w 300 8 || die "timed out waiting for the lock"; up ;;
  down) mkdir -p "$ENGINES"; exec 8>"$ENGINES/.swarm.lock"; flock -w 300 8 || die "timed out waiting for the lock"; down; log down ;;
  env) echo "$ENV_FILE"; [[ -f $ENV_FILE ]] || { log "no env file yet; run: $0 up"; exit 1; } ;;
  *) echo "usage: $0 up|down|env" >&2; exit 2 ;;
esac
