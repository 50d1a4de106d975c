#!/usr/bin/env bash
# The Docker smoke test: a real 4-node medledger network in containers, on this machine only.
#
#   deploy/smoke.sh                      (as root; about 1 minute warm, 5 cold)
#   MEDLEDGER_DOCKER_SMOKE=1 npx vitest run test/docker-smoke.test.ts   (the same, from the suite)
#
# What it does, each step timed, failing loudly (a non-zero exit, the failing step, the containers'
# state and their last log lines) and cleaning up after itself (trap) on success, failure or Ctrl-C:
#  1. tools: docker.io, docker-compose (v1) and debootstrap from Debian, installed when missing;
#  2. a Docker daemon: DOCKER_HOST if set and answering, else its own `dockerd --iptables=false
#     --ip-forward=false` with its state under MEDLEDGER_SMOKE_STATE (default /tmp/medledger-docker),
#     started for this run and stopped at its end (MEDLEDGER_SMOKE_KEEP_DAEMON=1 keeps it running);
#  3. the base image: MEDLEDGER_NODE_IMAGE if given (e.g. node:22-bookworm-slim where images can be
#     pulled), else deploy/base-image.sh makes medledger-node-base:local (debootstrap + the host's Node);
#  4. `docker build -f deploy/Dockerfile -t medledger:local` of the work tree
#     (MEDLEDGER_SMOKE_CONTEXT=head: of the last commit, `git archive HEAD`), with --network host so
#     that the build reaches the npm registry and the Debian mirror without any NAT rules;
#  5. `medledger network create --nodes 4 --out <tmp> --docker` (the image's own CLI) on free ports;
#  6. `docker-compose up -d` (a project of its own), then every node's GET /ready answers 200;
#  7. a consent and access scenario through the CLI (run from the image, --network host, against
#     127.0.0.1): a patient and a provider register, the provider stores a lab record at its hospital,
#     the patient grants a consent, the provider reads the record (permitted), the patient revokes, the
#     provider tries again (denied, and logged), the patient's audit trail shows both;
#  8. every node's `medledger status --json` agrees on the height and the block hash; node-1 is backed
#     up while it runs (`medledger backup` in its container), restored elsewhere and `medledger verify`d;
#  9. the monitoring profile that `network create --docker` wrote (Prometheus, its alert rules and
#     Grafana): `docker-compose --profile monitoring config`, `promtool check config` (when promtool is
#     installed: apt-get install prometheus), the Grafana dashboard parses, the admin password file;
# 10. a summary; then `docker-compose down -v`, the temporary files and (if it started it) the daemon go.
#
# Only addresses on this machine are ever used: the API ports are published on 127.0.0.1, the nodes
# talk over a local Docker bridge, and without --iptables/--ip-forward the containers cannot reach past
# this host. Idempotent: each run has its own compose project, ports and files; leftovers of a run that
# was killed are removed by the next one. The daemon's state (images, build cache) is kept between
# runs so that a second run does not rebuild from nothing; `rm -rf /tmp/medledger-docker` frees it.
set -Eeuo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODES=4
IMAGE=medledger:local # the image name that `network create --docker` writes into the compose file
BASE_IMAGE="${MEDLEDGER_NODE_IMAGE:-medledger-node-base:local}"
STATE="${MEDLEDGER_SMOKE_STATE:-/tmp/medledger-docker}"
CONTEXT="${MEDLEDGER_SMOKE_CONTEXT:-worktree}"
READY_TIMEOUT_S="${MEDLEDGER_SMOKE_READY_TIMEOUT_S:-120}"
PROJECT="medledger-smoke-$$"
NODE_UID=10001 # the image's user (deploy/Dockerfile)

STEP="start"
STARTED_DAEMON=0
DAEMON_PID=""
PROM_PID=""
WORK=""
COMPOSE_FILE=""
declare -a TIMINGS=()
T0=$SECONDS

log() { printf '[smoke %4ds] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() {
  log "FAILED in step '$STEP': $*"
  exit 1
}
step() {
  STEP="$1"
  STEP_T=$SECONDS
  log "== $1"
}
done_step() { TIMINGS+=("$(printf '%-26s %4ds' "$STEP" "$((SECONDS - STEP_T))")"); }

on_error() {
  local status=$? line=$1
  trap - ERR
  log "FAILED in step '$STEP' (line $line, exit $status)"
  if [[ -n "$COMPOSE_FILE" && -f "$COMPOSE_FILE" ]]; then
    docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" ps >&2 || true
    docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" logs --no-color --tail 15 >&2 || true
  fi
  exit "$status"
}
trap 'on_error $LINENO' ERR

cleanup() {
  local status=$?
  trap - EXIT INT TERM ERR
  set +e
  if [[ -n "$COMPOSE_FILE" && -f "$COMPOSE_FILE" ]]; then
    log "teardown: docker-compose down -v ($PROJECT)"
    docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" --profile monitoring down -v --remove-orphans >/dev/null 2>&1
  fi
  [[ -n "$PROM_PID" ]] && kill "$PROM_PID" 2>/dev/null && wait "$PROM_PID" 2>/dev/null
  [[ -n "$WORK" ]] && rm -rf "$WORK"
  if [[ "$STARTED_DAEMON" == 1 && -n "$DAEMON_PID" ]]; then
    log "teardown: stopping the dockerd this run started (pid $DAEMON_PID)"
    kill "$DAEMON_PID" 2>/dev/null
    for _ in $(seq 1 60); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.5; done
    # dockerd leaves its default network namespace mounted under the exec root: unmount it.
    mountpoint -q "$STATE/exec/netns/default" 2>/dev/null && umount "$STATE/exec/netns/default"
  fi
  if [[ $status == 0 ]]; then log "passed in $((SECONDS - T0)) s"; else log "exit $status"; fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. tools ---------------------------------------------------------------------------------------
step "tools"
[[ $(id -u) == 0 ]] || die "run as root: it starts dockerd and (for the base image) debootstrap"
command -v node >/dev/null || die "node is not installed"
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
if [[ -z "${MEDLEDGER_NODE_IMAGE:-}" ]] && ! command -v debootstrap >/dev/null; then missing+=(debootstrap); fi
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]} > 0)); then
  log "installing from Debian: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v docker >/dev/null || die "no docker client after installing docker.io"
done_step

# --- 2. the daemon ----------------------------------------------------------------------------------
step "docker daemon"
if [[ -n "${DOCKER_HOST:-}" ]]; then
  docker version >/dev/null 2>&1 || die "DOCKER_HOST=$DOCKER_HOST does not answer"
  log "using DOCKER_HOST=$DOCKER_HOST"
else
  export DOCKER_HOST="unix://$STATE/docker.sock"
  if docker version >/dev/null 2>&1; then
    log "using the daemon already running on $DOCKER_HOST"
  else
    mkdir -p "$STATE"
    rm -f "$STATE/docker.sock"
    log "starting dockerd --iptables=false --ip-forward=false (state in $STATE)"
    dockerd --iptables=false --ip-forward=false --ip-masq=false \
      --data-root "$STATE/root" --exec-root "$STATE/exec" --pidfile "$STATE/dockerd.pid" \
      --host "$DOCKER_HOST" >"$STATE/dockerd.log" 2>&1 &
    DAEMON_PID=$!
    [[ "${MEDLEDGER_SMOKE_KEEP_DAEMON:-0}" == 1 ]] || STARTED_DAEMON=1
    for _ in $(seq 1 60); do
      docker version >/dev/null 2>&1 && break
      kill -0 "$DAEMON_PID" 2>/dev/null || { tail -n 20 "$STATE/dockerd.log" >&2; die "dockerd exited"; }
      sleep 0.5
    done
    docker version >/dev/null 2>&1 || { tail -n 20 "$STATE/dockerd.log" >&2; die "dockerd did not answer in 30 s"; }
  fi
fi
# The classic builder: Debian's docker.io has no buildx, and the Dockerfile needs no BuildKit feature.
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
# Leftovers of smoke runs that were killed before their teardown (their PID is gone).
for project in $(docker ps -a --filter label=com.docker.compose.project --format '{{.Label "com.docker.compose.project"}}' |
  sort -u | grep -E '^medledger-smoke-[0-9]+$' || true); do
  pid="${project##*-}"
  kill -0 "$pid" 2>/dev/null && continue
  log "removing the leftovers of $project"
  docker ps -aq --filter "label=com.docker.compose.project=$project" | xargs -r docker rm -f >/dev/null
  docker volume ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker volume rm >/dev/null
  docker network ls -q --filter "label=com.docker.compose.project=$project" | xargs -r docker network rm >/dev/null
done
done_step

# --- 3. the base image ------------------------------------------------------------------------------
step "base image"
if [[ -n "${MEDLEDGER_NODE_IMAGE:-}" ]]; then
  log "NODE_IMAGE=$BASE_IMAGE (pulled by the build if missing)"
else
  "$ROOT/deploy/base-image.sh" "$BASE_IMAGE"
fi
done_step

# --- 4. the image -----------------------------------------------------------------------------------
step "docker build"
build=(docker build --network host --cpu-shares 512 --build-arg "NODE_IMAGE=$BASE_IMAGE"
  -f deploy/Dockerfile -t "$IMAGE")
WORK="$(mktemp -d "${TMPDIR:-/tmp}/medledger-smoke.XXXXXX")"
chmod 0755 "$WORK"
cd "$ROOT"
if [[ "$CONTEXT" == head ]]; then
  log "context: git archive HEAD ($(git rev-parse --short HEAD))"
  git archive --format=tar HEAD | "${build[@]}" - >"$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log" >&2
    die "docker build failed"
  }
else
  log "context: the work tree $ROOT"
  "${build[@]}" . >"$WORK/build.log" 2>&1 || {
    tail -n 40 "$WORK/build.log" >&2
    die "docker build failed"
  }
fi
IMAGE_SIZE="$(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
IMAGE_NODE="$(docker run --rm --network none --entrypoint node "$IMAGE" --version 2>/dev/null)"
log "$IMAGE: $IMAGE_SIZE, Node $IMAGE_NODE, runs as $(docker image inspect -f '{{.Config.User}}' "$IMAGE")"
done_step

# The CLI, from the image, as the image's user, on the host's network (so 127.0.0.1 is this host).
medledger() {
  docker run --rm --network host --user "$NODE_UID:$NODE_UID" -v "$WORK:$WORK" -w "$WORK" \
    "$IMAGE" "$@" 2>"$WORK/stderr" || {
    local status=$?
    grep -v 'IPv4 forwarding is disabled' "$WORK/stderr" >&2 || true
    return "$status"
  }
}
# Reads a field of a JSON file: json FILE EXPRESSION (over `j`), with the host's Node.
json() { node -e 'const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); const v = (0, eval)("(j) => " + process.argv[2])(j); process.stdout.write(typeof v === "string" ? v : JSON.stringify(v))' "$1" "$2"; }

# --- 5. the network files ---------------------------------------------------------------------------
step "network create"
# NODES free consecutive ports on 127.0.0.1 for the published APIs.
API_BASE="$(node -e '
const net = require("net");
const free = (port) => new Promise((ok) => { const s = net.createServer(); s.once("error", () => ok(false));
  s.listen(port, "127.0.0.1", () => s.close(() => ok(true))); });
(async () => { for (let i = 0; i < 200; i++) {
  const base = 20000 + Math.floor(Math.random() * 40000); let all = true;
  for (let p = base; p < base + Number(process.argv[1]); p++) if (!(await free(p))) { all = false; break; }
  if (all) { console.log(base); return; } } process.exit(1); })();' "$NODES")" || die "no free ports"
mkdir -p "$WORK/net" "$WORK/ids"
chown "$NODE_UID:$NODE_UID" "$WORK/net" "$WORK/ids"
medledger network create --nodes "$NODES" --out "$WORK/net" --docker --chain "medledger-smoke-$$" \
  --api-base-port "$API_BASE" --json >"$WORK/network.json"
COMPOSE_FILE="$WORK/net/docker-compose.yml"
[[ -f "$COMPOSE_FILE" ]] || die "network create wrote no docker-compose.yml"
declare -a API=()
for i in $(seq 0 $((NODES - 1))); do API+=("http://127.0.0.1:$((API_BASE + i))"); done
docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" config -q || die "docker-compose rejects the generated file"
log "chain medledger-smoke-$$, APIs ${API[0]} .. ${API[$((NODES - 1))]}"
done_step

# --- 6. up and ready --------------------------------------------------------------------------------
step "compose up"
docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" up -d --no-build >"$WORK/up.log" 2>&1 || {
  cat "$WORK/up.log" >&2
  die "docker-compose up failed"
}
done_step
step "ready"
deadline=$((SECONDS + READY_TIMEOUT_S))
for url in "${API[@]}"; do
  until [[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/ready")" == 200 ]]; do
    ((SECONDS < deadline)) || die "$url/ready did not answer 200 within ${READY_TIMEOUT_S} s"
    sleep 0.5
  done
done
READY_AFTER=$((SECONDS - STEP_T))
LEADER="$(curl -s --max-time 2 "${API[0]}/ready" | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0,"utf8")).leader)')"
unhealthy=""
for _ in $(seq 1 40); do
  unhealthy="$(docker ps --filter "label=com.docker.compose.project=$PROJECT" --format '{{.Names}} {{.Status}}' | grep -v '(healthy)' || true)"
  [[ -z "$unhealthy" ]] && break
  sleep 1
done
[[ -z "$unhealthy" ]] || die "containers not healthy (HEALTHCHECK): $unhealthy"
log "all $NODES nodes ready and healthy after ${READY_AFTER} s; leader $LEADER"
done_step

# --- 7. the scenario --------------------------------------------------------------------------------
step "scenario"
medledger keygen --out "$WORK/ids/patient.key" --json >"$WORK/patient.json"
medledger keygen --out "$WORK/ids/provider.key" --json >"$WORK/provider.json"
PATIENT="$(json "$WORK/patient.json" j.did)"
PROVIDER="$(json "$WORK/provider.json" j.did)"
LICENSE_HASH="$(printf 'smoke-test licence of a fictional clinician' | sha256sum | cut -d' ' -f1)"
MEMBER0_KEY="$WORK/net/$(json "$WORK/network.json" 'j.nodes[0].memberKey')"

medledger patient register --key "$WORK/ids/patient.key" --api "${API[1]}" --json >"$WORK/tx-patient.json"
medledger provider register --key "$MEMBER0_KEY" --provider "$PROVIDER" --license-hash "$LICENSE_HASH" \
  --api "${API[0]}" --json >"$WORK/tx-provider.json"
# The record is held by node-0's hospital (the provider's member): it is stored through node-0.
CONTENT='{"resourceType":"Observation","code":"smoke-test","value":"fictional"}'
medledger record put --key "$WORK/ids/provider.key" --record lab-smoke-1 --patient "$PATIENT" \
  --category labs --format Observation --content "$CONTENT" --api "${API[0]}" --json >"$WORK/record.json"
[[ "$(json "$WORK/record.json" j.status)" == committed ]] || die "the record's anchor did not commit"
medledger consent grant --key "$WORK/ids/patient.key" --grantee "$PROVIDER" --categories labs \
  --purposes TREAT --duration 1d --api "${API[2]}" --json >"$WORK/consent.json"
CONSENT="$(json "$WORK/consent.json" 'j.consent ?? j.id')"

# A permitted access: the access.log commits as permitted, then the vault discloses.
medledger record get --key "$WORK/ids/provider.key" --record lab-smoke-1 --patient "$PATIENT" \
  --category labs --purpose TREAT --api "${API[0]}" --json >"$WORK/read-1.json"
[[ "$(json "$WORK/read-1.json" j.decision)" == permitted ]] || die "the first read was not permitted"
[[ "$(json "$WORK/read-1.json" 'Buffer.from(j.content, "base64").toString()')" == "$CONTENT" ]] ||
  die "the disclosed content differs from what was stored"

medledger consent revoke --key "$WORK/ids/patient.key" --consent "$CONSENT" --api "${API[3]}" --json \
  >"$WORK/revoke.json"

# A denied access: exit 4 (refused), ACCESS_DENIED, and nothing disclosed.
denied_status=0
medledger record get --key "$WORK/ids/provider.key" --record lab-smoke-1 --patient "$PATIENT" \
  --category labs --purpose TREAT --api "${API[0]}" --json >"$WORK/read-2.json" 2>"$WORK/read-2.err" ||
  denied_status=$?
cat "$WORK/read-2.err" >&2
[[ $denied_status == 4 ]] || die "the read after the revoke exited $denied_status, not 4 (denied)"
grep -q ACCESS_DENIED "$WORK/read-2.err" || die "the read after the revoke did not answer ACCESS_DENIED"
[[ ! -s "$WORK/read-2.json" ]] || die "the denied read printed something on stdout"

check_status=0
medledger access check --provider "$PROVIDER" --patient "$PATIENT" --category labs --purpose TREAT \
  --api "${API[1]}" --json >"$WORK/check.json" || check_status=$?
[[ $check_status == 4 && "$(json "$WORK/check.json" j.decision)" == denied ]] ||
  die "access check after the revoke: exit $check_status, $(cat "$WORK/check.json")"

# The patient's audit trail (a signed request, read from another node): both attempts, the denied one flagged.
medledger audit --key "$WORK/ids/patient.key" --api "${API[2]}" --json >"$WORK/audit.json"
AUDIT="$(json "$WORK/audit.json" 'j.items.map((i) => i.decision + (i.flagged ? "(flagged)" : "") + ":" + i.code).join(", ")')"
[[ "$(json "$WORK/audit.json" 'j.items.filter((i) => i.decision === "permitted").length')" -ge 1 ]] ||
  die "the audit trail has no permitted access: $AUDIT"
[[ "$(json "$WORK/audit.json" 'j.items.filter((i) => i.decision === "denied" && i.flagged).length')" -ge 1 ]] ||
  die "the audit trail has no flagged denied access: $AUDIT"
log "audit trail: $AUDIT"
done_step

# --- 8. agreement -----------------------------------------------------------------------------------
step "agreement"
agreed=0
for _ in $(seq 1 60); do
  heights=()
  hashes=()
  for i in "${!API[@]}"; do
    medledger status --api "${API[$i]}" --json >"$WORK/status-$i.json"
    heights+=("$(json "$WORK/status-$i.json" j.height)")
    hashes+=("$(json "$WORK/status-$i.json" j.blockHash)")
  done
  if [[ "$(printf '%s\n' "${heights[@]}" | sort -u | wc -l)" == 1 &&
    "$(printf '%s\n' "${hashes[@]}" | sort -u | wc -l)" == 1 && "${heights[0]}" -gt 0 ]]; then
    agreed=1
    break
  fi
  sleep 0.5
done
for i in "${!API[@]}"; do
  log "node-$i: height ${heights[$i]}, block ${hashes[$i]}, $(json "$WORK/status-$i.json" j.role), $(json "$WORK/status-$i.json" j.peers.connected) peers"
done
[[ $agreed == 1 ]] || die "the nodes do not agree on height and block hash"
done_step

# --- backup, restore, verify ------------------------------------------------------------------------
# As docs/deploy.md says: `medledger backup` inside the running container (SQLite online backup), the
# archive copied out, restored into a new directory and the whole chain re-verified from the genesis.
step "backup and verify"
cid="$(docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" ps -q node-1)"
docker exec "$cid" medledger backup --data-dir /data --out /tmp/node-1.backup --json >"$WORK/backup.json"
docker cp "$cid:/tmp/node-1.backup" "$WORK/node-1.backup"
docker exec "$cid" rm -f /tmp/node-1.backup
mkdir -p "$WORK/restore"
chown "$NODE_UID:$NODE_UID" "$WORK/restore" "$WORK/node-1.backup"
medledger restore --from "$WORK/node-1.backup" --data-dir "$WORK/restore/data" --json >"$WORK/restore.json"
medledger verify --data-dir "$WORK/restore/data" >"$WORK/verify.txt"
BACKUP="node-1 at height $(json "$WORK/backup.json" j.tip.height): restored and verified ($(head -n1 "$WORK/verify.txt"))"
log "$BACKUP"
done_step

# --- 9. monitoring files ----------------------------------------------------------------------------
step "monitoring config"
# The monitoring profile exactly as `network create --docker` (the image's CLI) wrote it: its
# Prometheus and Grafana images are not pulled here, so the files are checked, not run.
NET="$WORK/net"
docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" --profile monitoring config --services >"$WORK/services.txt" ||
  die "docker-compose rejects the monitoring profile"
for service in prometheus grafana; do
  grep -qx "$service" "$WORK/services.txt" || die "the monitoring profile has no $service service"
done
[[ "$(docker-compose -p "$PROJECT" -f "$COMPOSE_FILE" config --profiles)" == monitoring ]] ||
  die "the generated file's only profile is not \"monitoring\""
grep -qx 'rule_files:' "$NET/prometheus/prometheus.yml" || die "the generated prometheus.yml loads no rules"
[[ -s "$NET/grafana/admin.password" ]] || die "network create wrote no Grafana admin password"
[[ "$(stat -c %a "$NET/grafana")" == 700 && "$(stat -c %a "$NET/grafana/admin.password")" == 644 ]] ||
  die "grafana/ or its admin.password has the wrong mode: $(stat -c '%n %a' "$NET/grafana" "$NET/grafana/admin.password")"
PROM_CHECK="promtool not installed: skipped"
if command -v promtool >/dev/null; then
  promtool check config "$NET/prometheus/prometheus.yml" >"$WORK/promtool.log" 2>&1 || {
    cat "$WORK/promtool.log" >&2
    die "promtool rejects the generated prometheus.yml"
  }
  PROM_CHECK="promtool check config (generated): ok, $(grep -o 'SUCCESS: [0-9]* rules found' "$WORK/promtool.log" | head -n1 | awk '{print $2}') alert rules"
fi
dashboards=0
for dashboard in "$NET"/grafana/dashboards/*.json; do
  [[ -f "$dashboard" ]] || continue
  json "$dashboard" 'j.panels.length' >/dev/null || die "$dashboard does not parse"
  dashboards=$((dashboards + 1))
done
((dashboards > 0)) || die "network create wrote no Grafana dashboard"
log "$PROM_CHECK; services $(tr '\n' ' ' <"$WORK/services.txt"); $dashboards Grafana dashboard(s) parse"
done_step

# Prometheus and Grafana images cannot be pulled here, but Debian's Prometheus (apt-get install
# prometheus) can scrape the nodes' published APIs from this host: every node must be up, the alert
# rules must load and be healthy, and every query of the Grafana dashboard must run and return data.
PROM_LIVE="Debian's prometheus not installed: live scrape skipped"
if command -v prometheus >/dev/null; then
  step "prometheus scrape"
  PROM_PORT="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
  mkdir -p "$WORK/prom"
  cp "$NET/prometheus/alerts.yml" "$WORK/prom/alerts.yml"
  {
    printf 'global:\n  scrape_interval: 2s\n  evaluation_interval: 2s\nrule_files:\n  - alerts.yml\n'
    printf 'scrape_configs:\n  - job_name: medledger\n    static_configs:\n      - labels: {chain: "medledger-smoke-%s"}\n        targets:\n' "$$"
    for i in "${!API[@]}"; do printf '          - 127.0.0.1:%s\n' "$((API_BASE + i))"; done
  } >"$WORK/prom/prometheus.yml"
  prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
    --web.listen-address="127.0.0.1:$PROM_PORT" >"$WORK/prom/log" 2>&1 &
  PROM_PID=$!
  PROM="http://127.0.0.1:$PROM_PORT"
  query() { curl -s --max-time 5 --get --data-urlencode "query=$1" "$PROM/api/v1/query" || true; }
  up=""
  for _ in $(seq 1 40); do
    up="$(query 'count(up{job="medledger"} == 1)' |
      node -e 'try { const r = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(r.data.result[0]?.value[1] ?? "0") } catch { process.stdout.write("0") }')"
    [[ "$up" == "$NODES" ]] && break
    sleep 0.5
  done
  [[ "$up" == "$NODES" ]] || { tail -n 20 "$WORK/prom/log" >&2; die "Prometheus scrapes $up of $NODES nodes"; }
  sleep 3 # two more scrapes, so that rate() has two points
  # Every dashboard query, with its variables set to "all": it must run, and return at least one series.
  node -e '
    const d = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const p of d.panels) for (const t of p.targets) console.log(p.title + "\t" + t.expr.replaceAll("$chain", ".*").replaceAll("$instance", ".*"));
  ' "$NET/grafana/dashboards/medledger.json" >"$WORK/prom/queries.tsv"
  empty=()
  while IFS=$'\t' read -r title expr; do
    answer="$(query "$expr")"
    [[ "$(printf '%s' "$answer" | node -e 'process.stdout.write(JSON.parse(require("fs").readFileSync(0, "utf8")).status)')" == success ]] ||
      die "the dashboard query of '$title' fails: $answer"
    [[ "$(printf '%s' "$answer" | node -e 'process.stdout.write(String(JSON.parse(require("fs").readFileSync(0, "utf8")).data.result.length))')" -gt 0 ]] ||
      empty+=("$title")
  done <"$WORK/prom/queries.tsv"
  rules="$(curl -s --max-time 5 "$PROM/api/v1/rules" | node -e '
    const r = JSON.parse(require("fs").readFileSync(0, "utf8")).data.groups.flatMap((g) => g.rules);
    const bad = r.filter((x) => x.health !== "ok" || x.state === "firing").map((x) => x.name + ":" + x.health + "/" + x.state);
    process.stdout.write(r.length + " rules" + (bad.length ? ", NOT OK: " + bad.join(" ") : ", all healthy, none firing"));')"
  [[ "$rules" != *"NOT OK"* ]] || die "alert rules: $rules"
  queries="$(wc -l <"$WORK/prom/queries.tsv")"
  PROM_LIVE="Prometheus $(prometheus --version 2>&1 | head -n1 | awk '{print $3}') scraped $NODES/$NODES nodes; $queries dashboard queries ran ($((queries - ${#empty[@]})) with data${empty[*]:+; empty: ${empty[*]}}); $rules"
  log "$PROM_LIVE"
  kill "$PROM_PID" 2>/dev/null || true
  wait "$PROM_PID" 2>/dev/null || true
  PROM_PID=""
  done_step
fi

# --- 10. summary ------------------------------------------------------------------------------------
STEP="summary"
{
  echo "medledger docker smoke test: PASSED in $((SECONDS - T0)) s"
  echo "  image        $IMAGE ($IMAGE_SIZE, Node $IMAGE_NODE), base $BASE_IMAGE, context $CONTEXT"
  echo "  network      $NODES nodes (docker-compose project $PROJECT), leader $LEADER"
  echo "  scenario     patient + provider registered, record anchored, consent granted,"
  echo "               read permitted, consent revoked, read denied (ACCESS_DENIED, exit 4)"
  echo "  audit        $AUDIT"
  echo "  backup       $BACKUP"
  for i in "${!API[@]}"; do
    echo "  node-$i       height ${heights[$i]}  block ${hashes[$i]}"
  done
  echo "  monitoring   $PROM_CHECK"
  echo "               $PROM_LIVE"
  echo "  durations"
  for t in "${TIMINGS[@]}"; do echo "    $t"; done
} | tee "${MEDLEDGER_SMOKE_SUMMARY:-/dev/null}"
