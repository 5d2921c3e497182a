#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Checks every C source and header against .clang-format (Linux style).
#
# usage: check_format.sh CLANG_FORMAT SRCROOT
set -eu
cf="$1"
cd "$2"
files=$(find include src arch ports tests bench examples tools \
	-name '*.[ch]' 2>/dev/null | sort)
# shellcheck disable=SC2086
"$cf" --dry-run -Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
