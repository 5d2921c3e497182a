#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# The one-command benchmark report: builds kmm-bench (release build),
# runs it in full mode, writes every figure to bench/results.json, renders
# the plots bench/p2v.png, bench/vaspace.png and bench/pages.png with
# gnuplot, and prints the footprint figures. Takes a few minutes.
#
# usage: bench/report.sh [BUILDDIR]     (default: build-bench)
set -eu
cd "$(dirname "$0")/.."
builddir="${1:-build-bench}"

tools/install-deps.sh
[ -d "$builddir/meson-private" ] ||
	meson setup "$builddir" -Dbuildtype=release -Dtests=disabled
ninja -C "$builddir" bench/kmm-bench

"$builddir/bench/kmm-bench" --json bench/results.json | tee "$builddir/bench.txt"
bench/footprint.sh "$builddir/footprint" | tee -a "$builddir/bench.txt"
python3 bench/plot.py bench/results.json bench "$(date -u +%Y-%m-%d)" \
	"$(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
