#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# kmm keeps no mutable global or static state: every bit of state lives in
# a context struct the caller owns. This fails on any data object in a
# writable section of the built library (.data, .bss, .sdata, .sbss,
# common, thread-local). const tables are fine, including const tables of
# pointers, which a PIC build places in .data.rel.ro (read-only after
# relocation). Counters that coverage or sanitizer instrumentation adds
# (__gcov*, __asan*, __ubsan*, __sancov*) are not kmm's and are skipped.
#
# usage: check_no_globals.sh LIBKMM.A [OBJDUMP]
set -eu
lib="$1"
objdump="${2:-objdump}"
bad=$("$objdump" -t "$lib" | awk '
	/^[0-9a-f]+ .* O / {
		sec = ""
		for (i = 2; i <= NF; i++)
			if ($i ~ /^[.*]/) { sec = $i; break }
		if (sec == "") next
		if ($NF ~ /^(__gcov|__asan|__ubsan|__sancov|\.L)/) next
		if (sec ~ /^\.data\.rel\.ro/) next
		if (sec ~ /^(\.data|\.bss|\.sdata|\.sbss|\.tdata|\.tbss|\*COM\*)/)
			print
	}')
if [ -n "$bad" ]; then
	echo "no-globals: writable data in $lib:"
	echo "$bad"
	exit 1
fi
echo "no-globals: $("$objdump" -t "$lib" | grep -c ' O ') data objects, none writable"
