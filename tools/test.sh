#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Runs every kmm test: installs what is missing, configures a build
# directory (default: build), builds with -Werror and runs the whole meson
# test suite: unit tests, checks (no globals, freestanding cross builds,
# format, doxygen), the quick benchmark, the fuzz replay and the QEMU
# images. Prints one closing line "kmm: N passed, N failed".
#
# usage: tools/test.sh [BUILDDIR] [extra meson setup options...]
set -eu
cd "$(dirname "$0")/.."
builddir="${1:-build}"
[ $# -gt 0 ] && shift

tools/install-deps.sh
if [ -d "$builddir/meson-private" ]; then
	meson setup --reconfigure "$builddir" -Dwerror=true "$@" >/dev/null
else
	meson setup "$builddir" -Dwerror=true "$@"
fi
ninja -C "$builddir"
status=0
meson test -C "$builddir" --print-errorlogs --num-processes 2 || status=$?
python3 - "$builddir/meson-logs/testlog.json" <<'PY'
import json, sys
ok = fail = skip = 0
for line in open(sys.argv[1]):
    r = json.loads(line)["result"]
    if r in ("OK", "EXPECTEDFAIL"):
        ok += 1
    elif r == "SKIP":
        skip += 1
    else:
        fail += 1
print(f"kmm: {ok} passed, {fail} failed" + (f", {skip} skipped" if skip else ""))
PY
exit "$status"
