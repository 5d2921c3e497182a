#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
#
# What kmm costs a trusted computing base: cross-builds libkmm for AArch64
# with -Os (freestanding, no PIC, general registers only) in three
# configurations and prints the bytes of code and of writable data:
#
#   footprint.text.core_vmsa: N     core + VMSA backend
#   footprint.text.core_pmsa: N     core + PMSA backend
#   footprint.text.all: N           everything (both backends, SMMUv3, fdt)
#   footprint.data_bss.all: N       .data + .bss of everything (goal 0)
#   footprint.text.core_vmsa_lean: N  core + VMSA with the options that
#                                   leave features out: 4 KiB granule only,
#                                   stage 1 only, no diagnostics
#   footprint.text.core_pmsa_lean: N  core + PMSA without diagnostics
#   footprint.text.min_vmsa: N      smallest sensible VMSA build: the map
#                                   API, the page allocator and VMSA stage-1
#                                   tables with the 4 KiB granule only; no
#                                   stage 2, SMMUv3, fdt, diagnostics,
#                                   rbtree, slab, vaspace, regions, guests
#   footprint.text.min_pmsa: N      smallest sensible PMSA build: the map
#                                   API and the PMSA region sets; no page
#                                   allocator, fdt, diagnostics, rbtree,
#                                   slab, vaspace, regions, guests
#
# The first three configurations build every module and feature; only the
# backends, SMMUv3 and fdt differ.
#
# usage: bench/footprint.sh [WORKDIR]     (default: build-footprint)
set -eu
cd "$(dirname "$0")/.."
work="${1:-build-footprint}"
mkdir -p "$work"
work=$(cd "$work" && pwd)

# libfdt's headers for the "all" configuration: a kernel brings libfdt, so
# only the declarations are needed.
fdtinc="$work/fdt-include"
mkdir -p "$fdtinc"
for h in libfdt.h fdt.h; do
	[ -f "/usr/include/$h" ] && cp "/usr/include/$h" "$fdtinc/"
done
# The host's libfdt_env.h needs a C library; use the freestanding one the
# freestanding check uses, as a kernel supplies its own.
cp tests/fixtures/freestanding/libfdt_env.h "$fdtinc/"

sum_sections() { # archive, awk regex of section names
	aarch64-linux-gnu-size -A "$1" |
		awk -v re="$2" '$1 ~ re { n += $2 } END { print n + 0 }'
}

build() { # name, meson options...
	name="$1"
	shift
	dir="$work/$name"
	rm -rf "$dir"
	meson setup "$dir" --cross-file tools/cross/aarch64.txt \
		-Dbuildtype=minsize -Db_ndebug=true \
		-Dc_args="['-ffreestanding','-mgeneral-regs-only','-fno-pic','-I$fdtinc']" \
		"$@" >"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
	ninja -C "$dir" >>"$dir.log" 2>&1 || { cat "$dir.log"; exit 1; }
}

build core_vmsa -Dbackends=vmsa -Dsmmuv3=false -Dfdt=disabled
build core_pmsa -Dbackends=pmsa -Dfdt=disabled
build all -Dbackends=vmsa,pmsa -Dfdt=auto
build core_vmsa_lean -Dbackends=vmsa -Dsmmuv3=false -Dfdt=disabled \
	-Dvmsa_granules=4k -Dvmsa_stage2=false -Ddiagnostics=false
build core_pmsa_lean -Dbackends=pmsa -Dfdt=disabled -Ddiagnostics=false
build min_vmsa -Dbackends=vmsa -Dmodules=pages -Dvmsa_granules=4k \
	-Dvmsa_stage2=false -Dsmmuv3=false -Ddiagnostics=false -Dfdt=disabled
build min_pmsa -Dbackends=pmsa -Dmodules= -Ddiagnostics=false \
	-Dfdt=disabled

echo "footprint.text.core_vmsa: $(sum_sections "$work/core_vmsa/libkmm.a" '^\.text')"
echo "footprint.text.core_pmsa: $(sum_sections "$work/core_pmsa/libkmm.a" '^\.text')"
echo "footprint.text.all: $(sum_sections "$work/all/libkmm.a" '^\.text')"
echo "footprint.data_bss.all: $(sum_sections "$work/all/libkmm.a" '^\.(data|bss|sdata|sbss)')"
echo "footprint.text.core_vmsa_lean: $(sum_sections "$work/core_vmsa_lean/libkmm.a" '^\.text')"
echo "footprint.text.core_pmsa_lean: $(sum_sections "$work/core_pmsa_lean/libkmm.a" '^\.text')"
echo "footprint.text.min_vmsa: $(sum_sections "$work/min_vmsa/libkmm.a" '^\.text')"
echo "footprint.text.min_pmsa: $(sum_sections "$work/min_pmsa/libkmm.a" '^\.text')"
