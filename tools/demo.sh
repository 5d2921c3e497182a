#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Builds kmm (installing what is missing) and runs the examples: the demo
# of the configuration and the tree, then the OP-TEE shared-memory and the
# Xen-on-Armv8-R MPU walkthroughs when they are built.
#
# usage: tools/demo.sh [BUILDDIR]
set -eu
cd "$(dirname "$0")/.."
builddir="${1:-build}"

tools/install-deps.sh
[ -d "$builddir/meson-private" ] || meson setup "$builddir"
ninja -C "$builddir"
for e in demo optee_shm xen_mpu; do
	if [ -x "$builddir/examples/$e" ]; then
		echo "==== examples/$e ===="
		"$builddir/examples/$e"
	fi
done
