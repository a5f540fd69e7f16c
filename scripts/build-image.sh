#!/usr/bin/env bash
# Builds the audex image with podman on a machine with no Docker and no registry:
#
#   scripts/build-image.sh [TAG]          (default localhost/audex:dev)
#
# - podman settings: $CONTAINERS_CONF when set, else deploy/podman/containers.conf
#   (runc, cgroupfs, file events, ulimits root may set: see that file);
# - the base: debian:bookworm-slim when podman has it, else a bookworm minbase made
#   by mmdebstrap from $DEBIAN_MIRROR (default http://deb.debian.org/debian) and
#   imported under that name;
# - the binary: $AUDEX_BINARY when set, else scripts/build-pgo.sh on this host
#   (the release build with profile-guided optimization, as the Dockerfile's
#   build stage makes it; a Debian bookworm host, so the image's glibc
#   matches); it stands in for deploy/Dockerfile's `build` stage
#   (`--build-context build=DIR`), whose runtime stage is built as it is
#   (setcap, user 65532); debug sections are stripped, as that stage does.
# Needs root, podman, runc, catatonit and, without a base image, mmdebstrap
# (Debian: apt-get install podman runc catatonit mmdebstrap).
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/audex:dev}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/deploy/podman/containers.conf}

for tool in podman runc; do
    command -v "$tool" >/dev/null || { echo "build-image: $tool not found (apt-get install podman runc catatonit mmdebstrap)" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

base=docker.io/library/debian:bookworm-slim
if ! podman image exists "$base"; then
    command -v mmdebstrap >/dev/null || { echo "build-image: no $base in podman and no mmdebstrap to make one" >&2; exit 2; }
    mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
    echo "build-image: making $base with mmdebstrap from $mirror"
    # minbase without documentation, man pages and locales, as the slim image is.
    mmdebstrap --variant=minbase --quiet \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        bookworm "$work/base.tar" "$mirror"
    podman import --quiet "$work/base.tar" "$base" >/dev/null
    rm -f "$work/base.tar"
fi

binary=${AUDEX_BINARY:-}
if [ -z "$binary" ]; then
    scripts/build-pgo.sh target/pgo/audex
    binary=target/pgo/audex
fi
[ -x "$binary" ] || { echo "build-image: no executable audex at $binary" >&2; exit 2; }
install -D -m 0755 "$binary" "$work/build/out/audex"
# As the Dockerfile's build stage does: no debug sections in the image.
strip --strip-debug "$work/build/out/audex"

# --no-cache: buildah's layer cache does not look into a RUN's bind mount, so a
# cached layer would keep an older binary (seen with podman 4.3).
podman build --pull=never --network=host --quiet --no-cache \
    --build-context build="$work/build" \
    -f deploy/Dockerfile -t "$tag" . >/dev/null
echo "build-image: built $tag ($(podman image inspect --format '{{.Size}}' "$tag") bytes)"
