#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Sanitizer runs, each in its own build directory:
#   asan  the unit suite and 200 000 fuzzer operations (plus the corpus)
#         under AddressSanitizer + UndefinedBehaviorSanitizer; UBSan aborts
#         on the first error (-fno-sanitize-recover=all), leaks fail.
#   tsan  the SMP stress test (4 threads, 1 000 000 operations) under
#         ThreadSanitizer; any report fails.
#   fuzz  the libFuzzer target for FUZZ_SECONDS (default 60) from the
#         corpus, when clang can link -fsanitize=fuzzer.
# The compiler is clang when present (SANITIZE_CC overrides), else gcc.
#
# usage: tools/sanitize.sh [asan] [tsan] [fuzz]     (default: all three)
set -eu
cd "$(dirname "$0")/.."
steps="${*:-asan tsan fuzz}"
cc="${SANITIZE_CC:-$(command -v clang >/dev/null 2>&1 && echo clang || echo gcc)}"
common="-Dbench=disabled -Ddocs=disabled -Dqemu_tests=disabled \
	-Dwerror_checks=false -Dbuildtype=debugoptimized"

setup() { # builddir, extra options...
	dir=$1
	shift
	if [ -d "$dir/meson-private" ]; then
		CC=$cc meson setup --reconfigure "$dir" $common "$@" >/dev/null
	else
		CC=$cc meson setup "$dir" $common "$@" >/dev/null
	fi
}

for step in $steps; do
	case $step in
	asan)
		echo "== unit suite under ASan+UBSan ($cc)"
		setup build-asan -Db_sanitize=address,undefined \
			-Db_lundef=false \
			-Dc_args=-fno-sanitize-recover=all \
			-Dc_link_args=-fno-sanitize-recover=all
		ninja -C build-asan
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			meson test -C build-asan --suite unit --print-errorlogs \
			--num-processes 2 --timeout-multiplier 4
		echo "== fuzzer under ASan+UBSan"
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
			build-asan/tests/fuzz/kmm-fuzz --ops 200000 \
			--first-seed 7000 tests/fuzz/corpus 2>/dev/null
		;;
	tsan)
		echo "== SMP stress under ThreadSanitizer ($cc)"
		setup build-tsan -Db_sanitize=thread -Db_lundef=false
		ninja -C build-tsan tests/fuzz/kmm-stress
		TSAN_OPTIONS=halt_on_error=1:exitcode=66 \
			build-tsan/tests/fuzz/kmm-stress
		;;
	fuzz)
		if [ "$cc" != clang ]; then
			echo "== libFuzzer: skipped (needs clang)"
			continue
		fi
		echo "== libFuzzer for ${FUZZ_SECONDS:-60} s"
		setup build-fuzz
		if ! ninja -C build-fuzz tests/fuzz/kmm-libfuzzer; then
			echo "libFuzzer target not available"
			exit 1
		fi
		mkdir -p build-fuzz/corpus
		ASAN_OPTIONS=detect_leaks=1 \
			build-fuzz/tests/fuzz/kmm-libfuzzer \
			-max_total_time="${FUZZ_SECONDS:-60}" -max_len=2048 \
			-print_final_stats=1 \
			build-fuzz/corpus tests/fuzz/corpus 2>&1 | tail -15
		;;
	*)
		echo "unknown step $step" >&2
		exit 2
		;;
	esac
done
