#!/usr/bin/env bash
# Makes a local stand-in for the official `node:<major>-bookworm-slim` image, for machines that can
# run a Docker engine but cannot pull images (such as this project's development machines and CI).
#
#   deploy/base-image.sh [IMAGE]        (default IMAGE: medledger-node-base:local)
#
# How: `debootstrap --variant=minbase bookworm` (Debian packages only, from the host's own Debian
# mirror) gives the same userland as the official slim image; the host's Node.js (the `nodejs`
# package's files: node, npm, corepack and the headers that node-gyp builds better-sqlite3 against)
# is copied in, and the tree is turned into an image with `docker import`. Nothing but Debian
# packages is downloaded. Needs root (debootstrap), Node >= 20.19 on the host and a Docker daemon.
#
# Idempotent: does nothing when IMAGE already exists (MEDLEDGER_BASE_REBUILD=1 makes it anew).
# Real deployments do not need this: they build with the default NODE_IMAGE (node:22-bookworm-slim).
set -euo pipefail

IMAGE="${1:-medledger-node-base:local}"
SUITE="${MEDLEDGER_BASE_SUITE:-bookworm}"

log() { printf 'base-image: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

command -v docker >/dev/null || die "docker (the client) is not installed"
docker version >/dev/null 2>&1 || die "no Docker daemon answers (DOCKER_HOST=${DOCKER_HOST:-unset})"
if [[ "${MEDLEDGER_BASE_REBUILD:-0}" != 1 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists (MEDLEDGER_BASE_REBUILD=1 makes it anew)"
  exit 0
fi
[[ $(id -u) == 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
NODE_BIN="$(readlink -f "$(command -v node)")" || die "no node on the host"
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' ||
  die "the host's Node is $(node --version); medledger needs >= 20.19"

# The host's Debian mirror (the one apt uses here), else the public one.
MIRROR="${MEDLEDGER_DEBIAN_MIRROR:-}"
if [[ -z "$MIRROR" ]]; then
  MIRROR="$(grep -hoE '^URIs:[[:space:]]*[^[:space:]]+' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v security | head -n1 | awk '{print $2}')" || true
fi
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

work="$(mktemp -d "${TMPDIR:-/tmp}/medledger-rootfs.XXXXXX")"
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
rootfs="$work/rootfs"

started=$SECONDS
log "debootstrap --variant=minbase $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  die "debootstrap failed"
}

# Node: the nodejs package's files when Node came from a .deb, else the usual tarball layout.
log "copying the host's Node $(node --version) ($NODE_BIN) into the root file system"
if dpkg -S "$NODE_BIN" >/dev/null 2>&1; then
  pkg="$(dpkg -S "$NODE_BIN" | head -n1 | cut -d: -f1)"
  # Regular files and symlinks only (directories come along as their parents).
  dpkg -L "$pkg" | while read -r f; do [[ -f "$f" || -L "$f" ]] && printf '%s\n' "${f#/}"; done >"$work/files"
  tar -C / --no-recursion -cf - -T "$work/files" | tar -C "$rootfs" -xf -
else
  prefix="$(dirname "$(dirname "$NODE_BIN")")"
  mkdir -p "$rootfs/usr/local"
  tar -C "$prefix" -cf - bin/node lib/node_modules/npm lib/node_modules/corepack include/node |
    tar -C "$rootfs/usr/local" -xf -
  for tool in npm npx corepack; do
    src="$(find "$rootfs/usr/local/lib/node_modules" -path "*/bin/$tool-cli.js" -o -path "*/dist/$tool.js" | head -n1)"
    [[ -n "$src" ]] && ln -sf "/${src#"$rootfs"/}" "$rootfs/usr/local/bin/$tool"
  done
fi
chroot "$rootfs" node --version >/dev/null || die "node does not run inside the new root file system"

# Where the host reaches the npm registry through a TLS proxy with its own CA (NODE_EXTRA_CA_CERTS,
# as on this project's machines), the image trusts the same bundle, or corepack and pnpm cannot
# download inside `docker build`. Real deployments' base images need nothing of the kind.
extra_ca=()
if [[ -n "${NODE_EXTRA_CA_CERTS:-}" && -r "$NODE_EXTRA_CA_CERTS" ]]; then
  log "trusting the host's extra CA bundle ($NODE_EXTRA_CA_CERTS) in the image"
  mkdir -p "$rootfs/usr/local/share/medledger"
  cp "$NODE_EXTRA_CA_CERTS" "$rootfs/usr/local/share/medledger/host-ca-bundle.pem"
  extra_ca=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/medledger/host-ca-bundle.pem')
fi

# Like the official slim images: no apt lists or caches, no docs.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/tmp/*
log "docker import -> $IMAGE"
tar -C "$rootfs" --numeric-owner -cf - . |
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "${extra_ca[@]}" \
    --change 'CMD ["node"]' \
    --message "medledger local base: debootstrap $SUITE minbase + the host's Node $(node --version)" \
    - "$IMAGE" >/dev/null
log "$IMAGE ready: Node $(node --version), $(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1/1e6}'), $((SECONDS - started)) s"
