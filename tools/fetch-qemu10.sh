#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# Fetches QEMU 10 (qemu-system-arm from Debian's bookworm-backports suite,
# which has the Cortex-R52 and the mps3-an536 board) into a directory of the
# build tree, without touching the system's apt configuration: apt runs with
# a private sources list, private lists and a private cache, and the package
# is unpacked with dpkg-deb -x instead of being installed.
#
# The mirror is whatever the system already uses: its URI is read from
# /etc/apt/sources.list.d/debian.sources (deb822) or /etc/apt/sources.list.
#
# usage: fetch-qemu10.sh DESTDIR
# On success DESTDIR/usr/bin/qemu-system-arm is a QEMU >= 9 and the script
# exits 0. On failure it prints why, writes the reason to DESTDIR/FAILED and
# exits 1. Running it again when the binary is there does nothing.
set -u

dest="${1:?usage: fetch-qemu10.sh DESTDIR}"
suite=bookworm-backports
pkg=qemu-system-arm
bin="$dest/usr/bin/qemu-system-arm"

fail() {
	mkdir -p "$dest"
	echo "fetch-qemu10: $*" | tee "$dest/FAILED" >&2
	exit 1
}

version_ok() {
	major=$("$1" --version 2>/dev/null |
		sed -n 's/^QEMU emulator version \([0-9][0-9]*\)\..*/\1/p')
	[ -n "$major" ] && [ "$major" -ge 9 ]
}

if [ -x "$bin" ] && version_ok "$bin"; then
	exit 0
fi

command -v apt-get >/dev/null 2>&1 || fail "apt-get not found (not a Debian system)"
command -v dpkg-deb >/dev/null 2>&1 || fail "dpkg-deb not found"

# The first Debian archive URI of the system's own configuration (the one
# serving the bookworm suite, not the security archive).
mirror=""
if [ -r /etc/apt/sources.list.d/debian.sources ]; then
	mirror=$(awk '
		/^URIs:/ { uri = $2 }
		/^Suites:/ && / bookworm( |$)/ && uri != "" { print uri; exit }
		/^$/ { uri = "" }
	' /etc/apt/sources.list.d/debian.sources)
fi
if [ -z "$mirror" ] && [ -r /etc/apt/sources.list ]; then
	mirror=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' \
		/etc/apt/sources.list)
fi
[ -n "$mirror" ] || fail "no bookworm mirror found in the system's apt sources"

work="$dest.apt"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$dest" || \
	fail "cannot create $work"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" \
	>"$work/sources.list"

private_apt() {
	tool="$1"
	shift
	"$tool" -q \
		-o Dir::Etc::SourceList="$work/sources.list" \
		-o Dir::Etc::SourceParts=- \
		-o Dir::State::Lists="$work/lists" \
		-o Dir::Cache="$work/cache" \
		-o APT::Sandbox::User=root \
		-o Debug::NoLocking=1 \
		"$@"
}

private_apt apt-get update >"$work/update.log" 2>&1 ||
	fail "apt-get update of $suite failed (see $work/update.log)"
# pkg/suite picks the suite's version even where an older one is installed.
(cd "$work" && private_apt apt-get download "$pkg/$suite") >"$work/download.log" 2>&1 ||
	fail "download of $pkg from $suite failed (see $work/download.log)"
deb=$(ls "$work"/"$pkg"_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ] || fail "no .deb for $pkg after download"
dpkg-deb -x "$deb" "$dest" || fail "dpkg-deb -x $deb failed"
[ -x "$bin" ] || fail "$deb holds no usr/bin/qemu-system-arm"
version_ok "$bin" || fail "$bin does not run or is older than QEMU 9: $("$bin" --version 2>&1 | head -n 1)"
rm -f "$dest/FAILED"
rm -rf "$work"
echo "fetch-qemu10: $("$bin" --version | head -n 1) in $dest"
