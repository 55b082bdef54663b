#!/bin/bash
# Shared set-up for scripts/conal and scripts/test.sh: install the missing
# Debian packages, then configure and build. Sourced, not run.
#
# setup_packages PKG...  installs what dpkg does not list as installed. As
#                        root it runs apt-get; otherwise it prints the exact
#                        command to run and exits 1.
# setup_build DIR TYPE   configures (once) and builds every target in DIR.

CONAL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONAL_PACKAGES=(libmujoco-dev libglfw3-dev libopenblas-dev libcjson-dev cmake gcc
                pkg-config libpng-dev libjpeg-dev zlib1g-dev dataset-fashion-mnist)

setup_packages() {
    local missing=()
    local pkg
    for pkg in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed'; then
            missing+=("$pkg")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    local cmd="apt-get install -y ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        echo "conal: installing ${missing[*]}" >&2
        export DEBIAN_FRONTEND=noninteractive
        # refresh the package lists once if they are missing or a day old
        if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mtime -1 2>/dev/null)" ]; then
            apt-get update -qq >&2 || { echo "conal: apt-get update failed" >&2; exit 1; }
        fi
        apt-get install -y -qq "${missing[@]}" >&2 || {
            echo "conal: '$cmd' failed" >&2
            exit 1
        }
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        echo "conal: installing ${missing[*]} with sudo" >&2
        sudo -n apt-get update -qq >&2 && sudo -n env DEBIAN_FRONTEND=noninteractive \
            apt-get install -y -qq "${missing[@]}" >&2 || exit 1
    else
        echo "conal: missing Debian packages: ${missing[*]}" >&2
        echo "conal: install them as root with:" >&2
        echo "    apt-get update && $cmd" >&2
        exit 1
    fi
}

setup_build() {
    local dir="$1" type="$2"
    shift 2
    local jobs
    jobs="$(nproc 2>/dev/null || echo 2)"
    if [ ! -f "$CONAL_ROOT/$dir/CMakeCache.txt" ]; then
        cmake -S "$CONAL_ROOT" -B "$CONAL_ROOT/$dir" -DCMAKE_BUILD_TYPE="$type" "$@" \
            > "$CONAL_ROOT/$dir.configure.log" 2>&1 || {
            cat "$CONAL_ROOT/$dir.configure.log" >&2
            echo "conal: cmake configure of $dir failed" >&2
            exit 1
        }
    fi
    cmake --build "$CONAL_ROOT/$dir" -j "$jobs" > "$CONAL_ROOT/$dir.build.log" 2>&1 || {
        grep -E 'error|Error' -A3 "$CONAL_ROOT/$dir.build.log" | head -60 >&2
        echo "conal: build of $dir failed; full log in $dir.build.log" >&2
        exit 1
    }
}
