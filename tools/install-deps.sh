#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Installs, with apt-get, every Debian 12 package that building, testing,
# documenting and benchmarking kmm uses and that is not installed yet.
# Needs root (or sudo) only when something is missing.
set -eu

PACKAGES="meson ninja-build pkg-config gcc libc6-dev libcriterion-dev
libfdt-dev device-tree-compiler libbsd-dev valgrind gcovr doxygen clang
clang-format gcc-aarch64-linux-gnu binutils-aarch64-linux-gnu
gcc-arm-none-eabi binutils-arm-none-eabi qemu-system-arm gnuplot-nox"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
