#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Cross-compiles the given kmm sources as a kernel would (freestanding, no
# libc, no FP/SIMD registers), links them into one relocatable object and
# checks that the only undefined symbols are the ones an environment
# supplies. The list is documented in README.md ("Linking kmm into a
# kernel"): the four string functions a compiler may emit calls to, and
# libfdt when the fdt feature is built.
#
# usage: check_freestanding.sh CC "EXTRA FLAGS" SRCROOT BUILDROOT SOURCE...
set -eu
cc="$1"
flags="$2"
srcroot="$3"
buildroot="$4"
shift 4

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

objs=""
n=0
for f in "$@"; do
	case "$f" in
	/*) path="$f" ;;
	*) if [ -f "$buildroot/$f" ]; then path="$buildroot/$f"; else path="$srcroot/$f"; fi ;;
	esac
	n=$((n + 1))
	obj="$tmp/$n-$(basename "$path" .c).o"
	# shellcheck disable=SC2086
	"$cc" $flags -std=c11 -ffreestanding -nostdlib -Os -Wall -Wextra \
		-Werror -I"$srcroot/include" -I"$buildroot/include" \
		-I"$srcroot/src" -c "$path" -o "$obj"
	objs="$objs $obj"
done

# shellcheck disable=SC2086
"$cc" $flags -nostdlib -r -o "$tmp/kmm.o" $objs
undef=$(nm -u "$tmp/kmm.o" | awk '{print $NF}' | sort -u)
bad=""
for s in $undef; do
	case "$s" in
	memcpy | memset | memmove | memcmp) ;;
	fdt_*) ;;
	*) bad="$bad $s" ;;
	esac
done
if [ -n "$bad" ]; then
	echo "freestanding: undefined symbols not supplied by a port:$bad"
	exit 1
fi
echo "freestanding: $n sources, undefined: $(echo $undef | tr '\n' ' ')"
