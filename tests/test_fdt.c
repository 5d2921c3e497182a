// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of device-tree memory discovery: the fixtures in
 * tests/fixtures/ (.dts files) are compiled with dtc at build time; each rule of
 * include/kmm/fdt.h has a named case, malformed blobs included.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/fdt.h"

#define PG ((uint64_t)KMM_PAGE_SIZE)
#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

struct blob {
	uint8_t *data;
	size_t size;
};

static struct blob load(const char *name)
{
	char path[512];
	struct blob b = { 0 };
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s.dtb", KMM_TEST_FIXTURES, name);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "missing fixture %s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	cr_assert(n > 0);
	rewind(f);
	b.size = (size_t)n;
	b.data = malloc(b.size);
	cr_assert_not_null(b.data);
	cr_assert_eq(fread(b.data, 1, b.size, f), b.size);
	fclose(f);
	return b;
}

static struct kmm_fdt_memory mem;

/* Scans fixture @name and expects @err; on error the result is empty. */
static void scan_expect(const char *name, int err)
{
	struct blob b = load(name);

	memset(&mem, 0xa5, sizeof(mem));
	cr_assert_eq(kmm_fdt_memory_scan(b.data, b.size, &mem), err, "%s",
		     name);
	if (err) {
		static const struct kmm_fdt_memory zero;

		cr_assert_eq(memcmp(&mem, &zero, sizeof(mem)), 0,
			     "%s: result half filled", name);
	}
	free(b.data);
}

Test(fdt, qemu_virt_board_has_one_bank_and_nothing_reserved)
{
	scan_expect("qemu_virt", 0);
	cr_assert_eq(mem.nbanks, 1);
	cr_assert_eq(mem.banks[0].base, 0x40000000);
	cr_assert_eq(mem.banks[0].size, 2 * GIB);
	cr_assert_eq(mem.nreserved, 0);
	cr_assert_eq(mem.nstatic_heap, 0);
}

Test(fdt, several_memory_nodes_and_reg_entries_give_sorted_banks)
{
	scan_expect("multibank", 0);
	cr_assert_eq(mem.nbanks, 3);
	cr_assert_eq(mem.banks[0].base, 0x80000000);
	cr_assert_eq(mem.banks[0].size, 1 * GIB);
	cr_assert_eq(mem.banks[1].base, 0xc0000000);
	cr_assert_eq(mem.banks[1].size, 512 * MIB);
	cr_assert_eq(mem.banks[2].base, 0x880000000);
	cr_assert_eq(mem.banks[2].size, 1 * GIB);
}

Test(fdt, reserved_memory_children_use_their_parent_cells_and_no_map)
{
	scan_expect("multibank", 0);
	/* memreserve block first, then /reserved-memory children with reg;
	 * the size-only CMA node is not a fixed reservation. */
	cr_assert_eq(mem.nreserved, 3);
	cr_assert_eq(mem.reserved[0].base, 0x80000000);
	cr_assert_eq(mem.reserved[0].size, 0x10000);
	cr_assert_eq(mem.reserved[0].flags, KMM_FDT_RESV_HEADER);
	cr_assert_eq(mem.reserved[1].base, 0x80000000);
	cr_assert_eq(mem.reserved[1].size, 0x200000);
	cr_assert_eq(mem.reserved[1].flags, KMM_FDT_RESV_NO_MAP);
	cr_assert_eq(mem.reserved[2].base, 0x880001800);
	cr_assert_eq(mem.reserved[2].size, 0x1000);
	cr_assert_eq(mem.reserved[2].flags, 0);
}

Test(fdt, armv8r_board_with_memory_at_zero_reads_the_static_heap)
{
	scan_expect("armv8r_static_heap", 0);
	/* 32-bit root cells; the disabled node is not memory. */
	cr_assert_eq(mem.nbanks, 1);
	cr_assert_eq(mem.banks[0].base, 0);
	cr_assert_eq(mem.banks[0].size, 2 * GIB);
	/* Root cells, not /chosen's own; sorted by base. */
	cr_assert_eq(mem.nstatic_heap, 2);
	cr_assert_eq(mem.static_heap[0].base, 0x10000000);
	cr_assert_eq(mem.static_heap[0].size, 128 * MIB);
	cr_assert_eq(mem.static_heap[1].base, 0x30000000);
	cr_assert_eq(mem.static_heap[1].size, 256 * MIB);
	cr_assert_eq(mem.nreserved, 1);
	cr_assert_eq(mem.reserved[0].base, 0);
	cr_assert_eq(mem.reserved[0].size, PG);
}

Test(fdt, malformed_reg_is_refused)
{
	scan_expect("bad_reg_length", KMM_EBADDATA);
}

Test(fdt, overlapping_banks_are_refused)
{
	scan_expect("overlapping_banks", KMM_EBADDATA);
}

Test(fdt, a_bank_that_wraps_the_address_space_is_refused)
{
	scan_expect("size_overflow", KMM_EBADDATA);
}

Test(fdt, more_than_two_address_cells_are_refused)
{
	scan_expect("bad_cells", KMM_EBADDATA);
}

Test(fdt, a_tree_without_memory_is_refused)
{
	scan_expect("no_memory", KMM_EBADDATA);
}

Test(fdt, more_banks_than_the_table_holds_give_enospc)
{
	scan_expect("too_many_banks", KMM_ENOSPC);
}

Test(fdt, bad_magic_is_refused)
{
	struct blob b = load("qemu_virt");

	b.data[0] ^= 0xff;
	memset(&mem, 0xa5, sizeof(mem));
	cr_assert_eq(kmm_fdt_memory_scan(b.data, b.size, &mem), KMM_EBADDATA);
	cr_assert_eq(mem.nbanks, 0);
	free(b.data);
}

Test(fdt, truncated_blobs_are_refused_at_every_length)
{
	struct blob b = load("multibank");

	for (size_t n = 0; n < b.size; n += n < 64 ? 1 : 37) {
		uint8_t *copy = malloc(n ? n : 1);

		memcpy(copy, b.data, n);
		cr_assert_eq(kmm_fdt_memory_scan(copy, n, &mem), KMM_EBADDATA,
			     "length %zu", n);
		cr_assert_eq(mem.nbanks, 0);
		free(copy);
	}
	free(b.data);
}

Test(fdt, corrupted_structure_is_refused_or_read_consistently)
{
	struct blob b = load("multibank");
	uint32_t off = 0;

	/* Flip every byte of the structure block in turn: whatever the
	 * scan returns, it never reads past the blob (valgrind) and on
	 * error leaves an empty result. */
	memcpy(&off, b.data + 8, 4);
	off = __builtin_bswap32(off);
	for (size_t i = off; i < b.size; i += 3) {
		int ret;

		b.data[i] ^= 0x5a;
		ret = kmm_fdt_memory_scan(b.data, b.size, &mem);
		cr_assert(ret == 0 || ret == KMM_EBADDATA || ret == KMM_ENOSPC);
		if (ret)
			cr_assert_eq(mem.nbanks + mem.nreserved, 0);
		b.data[i] ^= 0x5a;
	}
	free(b.data);
}

Test(fdt, scan_rejects_null_arguments)
{
	struct blob b = load("qemu_virt");

	cr_assert_eq(kmm_fdt_memory_scan(NULL, b.size, &mem), KMM_EINVAL);
	cr_assert_eq(kmm_fdt_memory_scan(b.data, b.size, NULL), KMM_EINVAL);
	free(b.data);
}

/* ------------------------------------------------------------------ */

struct built {
	struct kmm_host host;
	struct kmm_pages p;
	uint64_t *meta;
	kmm_paddr_t base;
	uint64_t size;
};

static void build(struct built *b, const char *name)
{
	size_t meta_size;

	scan_expect(name, 0);
	cr_assert_eq(kmm_fdt_pages_span(&mem, &b->base, &b->size), 0);
	meta_size = kmm_pages_meta_size(b->base, b->size);
	cr_assert(meta_size > 0);
	b->meta = malloc(meta_size);
	cr_assert_eq(kmm_host_init(&b->host, 0, 0, 0), 0);
	cr_assert_eq(kmm_fdt_pages_init(&b->p, &b->host.port, &mem, b->meta,
					meta_size),
		     0);
	cr_assert_eq(kmm_pages_check(&b->p), 0);
}

static void unbuild(struct built *b)
{
	free(b->meta);
	kmm_host_fini(&b->host);
}

Test(fdt, page_allocator_from_qemu_virt_manages_the_whole_bank)
{
	struct built b;
	struct kmm_pages_stats st;
	kmm_paddr_t pa;

	build(&b, "qemu_virt");
	cr_assert_eq(b.base, 0x40000000);
	cr_assert_eq(b.size, 2 * GIB);
	cr_assert_eq(kmm_pages_stats(&b.p, &st), 0);
	cr_assert_eq(st.managed_pages, 2 * GIB / PG);
	cr_assert_eq(st.free_pages, 2 * GIB / PG);
	cr_assert_eq(kmm_pages_alloc(&b.p, 9, 1, 0, &pa), 0);
	cr_assert(pa >= 0x40000000 && pa < 0xc0000000);
	unbuild(&b);
}

Test(fdt, page_allocator_from_multibank_withdraws_every_reservation)
{
	struct built b;
	struct kmm_pages_stats st;
	kmm_owner_t o;

	build(&b, "multibank");
	cr_assert_eq(b.base, 0x80000000);
	cr_assert_eq(b.size, 0x880000000 + 1 * GIB - 0x80000000);
	cr_assert_eq(kmm_pages_stats(&b.p, &st), 0);
	/* 2.5 GiB of banks; the two reservations at 0x80000000 overlap
	 * (2 MiB), the unaligned one at 0x880001800 covers 2 pages. */
	cr_assert_eq(st.managed_pages, (2 * GIB + 512 * MIB) / PG - 512 - 2);
	cr_assert_eq(kmm_pages_alloc_range(&b.p, 0x80000000, PG, 1),
		     KMM_ENOENT);
	cr_assert_eq(kmm_pages_alloc_range(&b.p, 0x880002000, PG, 1),
		     KMM_ENOENT);
	cr_assert_eq(kmm_pages_alloc_range(&b.p, 0x880003000, PG, 1), 0);
	cr_assert_eq(kmm_pages_alloc_range(&b.p, 0x80200000, PG, 1), 0);
	/* The hole between the banks is not memory. */
	cr_assert_eq(kmm_pages_owner(&b.p, 0x100000000, &o), KMM_ENOENT);
	cr_assert_eq(kmm_pages_alloc_range(&b.p, 0x100000000, PG, 1),
		     KMM_ENOENT);
	unbuild(&b);
}

Test(fdt, page_allocator_from_a_static_heap_manages_only_the_heap)
{
	struct built b;
	struct kmm_pages_stats st;

	build(&b, "armv8r_static_heap");
	cr_assert_eq(b.base, 0x10000000);
	cr_assert_eq(b.size, 0x30000000);
	cr_assert_eq(kmm_pages_stats(&b.p, &st), 0);
	cr_assert_eq(st.managed_pages, (128 + 256) * MIB / PG);
	cr_assert_eq(kmm_pages_alloc_range(&b.p, 0x20000000, PG, 1),
		     KMM_ENOENT);
	cr_assert_eq(kmm_pages_alloc_range(&b.p, 0x30000000, PG, 1), 0);
	unbuild(&b);
}

Test(fdt, pages_init_failure_leaves_the_allocator_untouched)
{
	struct kmm_host h;
	struct kmm_pages p, before;
	kmm_paddr_t base;
	uint64_t size, meta[4];

	scan_expect("qemu_virt", 0);
	cr_assert_eq(kmm_host_init(&h, 0, 0, 0), 0);
	memset(&p, 0x3c, sizeof(p));
	before = p;
	cr_assert_eq(kmm_fdt_pages_init(&p, &h.port, &mem, meta, sizeof(meta)),
		     KMM_ENOMEM);
	cr_assert_eq(kmm_fdt_pages_init(&p, NULL, &mem, meta, sizeof(meta)),
		     KMM_EINVAL);
	cr_assert_eq(kmm_fdt_pages_init(NULL, &h.port, &mem, meta, 32),
		     KMM_EINVAL);
	cr_assert_eq(kmm_fdt_pages_init(&p, &h.port, NULL, meta, 32),
		     KMM_EINVAL);
	cr_assert_eq(memcmp(&p, &before, sizeof(p)), 0);
	cr_assert_eq(kmm_fdt_pages_span(NULL, &base, &size), KMM_EINVAL);
	kmm_host_fini(&h);
}

Test(fdt, span_refuses_memory_above_52_bits_and_empty_layouts)
{
	struct kmm_fdt_memory m = { 0 };
	kmm_paddr_t base = 7;
	uint64_t size = 7;

	cr_assert_eq(kmm_fdt_pages_span(&m, &base, &size), KMM_ENOENT);
	m.nbanks = 1;
	m.banks[0].base = 0x1800;
	m.banks[0].size = 0x1000; /* no whole page */
	cr_assert_eq(kmm_fdt_pages_span(&m, &base, &size), KMM_ENOENT);
	m.banks[0].base = 1ull << 52;
	m.banks[0].size = PG;
	cr_assert_eq(kmm_fdt_pages_span(&m, &base, &size), KMM_ERANGE);
	cr_assert_eq(base, 7);
	cr_assert_eq(size, 7);
	/* Partial pages at both ends are left out. */
	m.banks[0].base = 0x1800;
	m.banks[0].size = 0x3000;
	cr_assert_eq(kmm_fdt_pages_span(&m, &base, &size), 0);
	cr_assert_eq(base, 0x2000);
	cr_assert_eq(size, 0x2000);
}
