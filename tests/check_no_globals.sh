#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# kmm keeps no mutable global or static state: every bit of state lives in
# a context struct the caller owns. This fails on any writable data symbol
# that nm reports in the built library (types B b D d C, and the small-data
# G g S s). const tables are fine (R r): kmm is built position-dependent,
# as kernels link it, so const tables of pointers stay read-only.
#
# usage: check_no_globals.sh LIBKMM.A
#        check_no_globals.sh --compile CC SOURCE.c   (checks one fixture)
set -eu
if [ "$1" = "--compile" ]; then
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT INT TERM
	"$2" -c "$3" -o "$tmp/fixture.o"
	lib="$tmp/fixture.o"
else
	lib="$1"
fi
bad=$(nm -A "$lib" | awk 'NF >= 2 && $(NF-1) ~ /^[BbDdCGgSs]$/ { print }')
if [ -n "$bad" ]; then
	echo "no-globals: writable data symbols in $lib:"
	echo "$bad"
	exit 1
fi
echo "no-globals: $(nm "$lib" | grep -c ' [Rr] ') read-only data symbols, none writable"
