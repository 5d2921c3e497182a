#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Runs a test program under valgrind memcheck, following the child
# processes criterion runs each test in, and fails when any process of the
# tree reported a memory error or a definite/indirect leak. (criterion
# ignores a child's exit status once the child has reported its result,
# so the logs are what counts.)
#
# usage: tools/valgrind-check.sh PROGRAM [ARGS...]   (as a meson --wrap)
set -u
logdir=$(mktemp -d)
valgrind --trace-children=yes --leak-check=full \
	--errors-for-leak-kinds=definite,indirect \
	--log-file="$logdir/vg.%p.log" "$@"
status=$?
bad=$(grep -l -E "ERROR SUMMARY: [1-9]" "$logdir"/vg.*.log 2>/dev/null)
if [ -n "$bad" ]; then
	for f in $bad; do
		cat "$f"
	done
	echo "valgrind: memory errors or leaks reported"
	status=1
fi
echo "valgrind: $(ls "$logdir" | wc -l) processes checked"
rm -rf "$logdir"
exit $status
