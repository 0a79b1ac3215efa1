#!/usr/bin/env bash
# Builds the registry API and MLflow images with buildah: see --help.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: deploy/images/build.sh [--base IMAGE | --debian-base] [api] [mlflow]

Build the registry API image (localhost/hokusai-api:<hokusai version>) and the MLflow image
(localhost/hokusai-mlflow:<mlflow version>) with buildah, both unless one is named, and print
each built image's name on stdout.

  --base IMAGE    the base of both images (default python:3.11-slim-bookworm)
  --debian-base   build the base from Debian's packages with debootstrap, where no image
                  registry is reachable; it stays in buildah's storage as
                  localhost/hokusai-base:bookworm-<hash> and is reused while it is there
  -h, --help      show this help

The wheels are built on this machine, by the pip of $PYTHON (default python3) with its own
index and certificates, and installed offline in the build: that Python's version and
platform must be the base's (CPython 3.11 on Linux). buildah reads the rest from its
environment: BUILDAH_ISOLATION (chroot inside a container), CONTAINERS_STORAGE_CONF (e.g.
a storage.conf with driver = "vfs" where overlay is unavailable).
EOF
}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
python=${PYTHON:-python3}
base=python:3.11-slim-bookworm
debian_base=false
images=()
while (($#)); do
    case $1 in
        --base) base=${2:?--base needs an image name}; shift 2 ;;
        --debian-base) debian_base=true; shift ;;
        -h | --help) usage; exit 0 ;;
        api | mlflow) images+=("$1"); shift ;;
        *) echo "build.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
((${#images[@]})) || images=(api mlflow)

work=$(mktemp -d)
container=
cleanup() {
    [[ -z $container ]] || buildah rm "$container" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

build_debian_base() {
    local packages=python3,python3-venv,passwd,ca-certificates root
    base=localhost/hokusai-base:bookworm-$(sha256sum <<<"$packages" | cut -c1-12)
    if buildah inspect --type image "$base" >/dev/null 2>&1; then
        return
    fi
    echo "build.sh: building $base with debootstrap" >&2
    container=$(buildah from scratch)
    root=$(buildah mount "$container")
    if ! debootstrap --variant=minbase --include="$packages" bookworm "$root" \
        >"$work/debootstrap.log" 2>&1; then
        tail -n 20 "$work/debootstrap.log" >&2
        exit 1
    fi
    # The builder stages run apt-get update themselves; the lists and .debs are dead weight.
    rm -rf "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
        "$root"/var/lib/apt/lists/*
    buildah umount "$container" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --cmd python3 "$container"
    buildah commit --quiet --rm "$container" "$base" >/dev/null
    container=
}

# The version in the name of the one wheel of `project` in `wheels`.
wheel_version() {
    local wheels=("$1/$2"-*.whl)
    local name=${wheels[0]##*/}
    name=${name#"$2"-}
    echo "${name%%-*}"
}

# build NAME PROJECT PIP-WHEEL-ARGUMENTS...: the image from deploy/images/NAME, tagged with
# the version of PROJECT's wheel.
build() {
    local name=$1 project=$2 context=$work/$1 image
    shift 2
    mkdir -p "$context"
    cp "$here/$name"/* "$context/"
    "$python" -m pip wheel --quiet --wheel-dir "$context/wheels" "$@" >&2
    image=localhost/hokusai-$name:$(wheel_version "$context/wheels" "$project")
    echo "build.sh: building $image on $base" >&2
    # Docker's format: OCI's has no HEALTHCHECK.
    buildah build --quiet --format docker --build-arg "BASE=$base" --tag "$image" \
        --label "org.opencontainers.image.base.name=$base" \
        --file "$context/Containerfile" "$context" >/dev/null
    echo "$image"
}

"$debian_base" && build_debian_base
for name in "${images[@]}"; do
    case $name in
        api)
            # A clean copy of the source: setuptools' build/ would carry deleted modules along.
            mkdir "$work/source"
            tar -C "$repo" --exclude=__pycache__ --exclude='*.egg-info' -c \
                pyproject.toml README.md src | tar -C "$work/source" -x
            build api hokusai_platform "$work/source[speed]"
            ;;
        mlflow) build mlflow mlflow --requirement "$here/mlflow/requirements.txt" ;;
    esac
done
