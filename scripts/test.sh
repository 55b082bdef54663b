#!/bin/bash
# Set up and run the whole test suite: the Release build in build/ and the
# sanitizer build (address, undefined) in build-asan/. Exits non-zero on any
# failure. Extra arguments go to both ctest runs (e.g. -R test_cfg).
set -e
. "$(dirname "$0")/setup.sh"
setup_packages "${CONAL_PACKAGES[@]}" xvfb xauth xdotool x11-apps python3-numpy
werror=()
[ -n "$CI" ] && werror=(-DCONAL_WERROR=ON)

jobs="$(nproc 2>/dev/null || echo 2)"
status=0

echo "== Release build (build/)"
setup_build build Release "${werror[@]}"
(cd "$CONAL_ROOT/build" && ctest --output-on-failure -j "$jobs" "$@") || status=1

echo "== Sanitizer build (build-asan/: address, undefined)"
setup_build build-asan Debug "${werror[@]}"
# leak checking stays on; MuJoCo and OpenBLAS are not instrumented
(cd "$CONAL_ROOT/build-asan" && \
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --output-on-failure -j "$jobs" -LE slow "$@") || status=1

if [ $status -ne 0 ]; then
    echo "conal: tests failed" >&2
fi
exit $status
