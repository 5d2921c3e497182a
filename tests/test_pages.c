// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the physical page allocator: a named case for every
 * rule of include/kmm/pages.h, a 64 GiB bank, and a randomized test that
 * checks every invariant after every operation against a reference model
 * (the owner of every frame).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/pages.h"

#define PG ((uint64_t)KMM_PAGE_SIZE)
#define MIB (1024ull * 1024)
#define GIB (1024ull * MIB)

/* A host port with an arena over the whole span, and an allocator. */
struct env {
	struct kmm_host host;
	struct kmm_pages p;
	uint64_t *meta;
	size_t meta_size;
	kmm_paddr_t base;
	uint64_t size;
};

static struct env E;

static void env_setup(struct env *e, kmm_paddr_t base, uint64_t size,
		      size_t events)
{
	memset(e, 0, sizeof(*e));
	e->base = base;
	e->size = size;
	cr_assert_eq(kmm_host_init(&e->host, base, size, events), 0);
	e->host.log_enabled = false;
	e->meta_size = kmm_pages_meta_size(base, size);
	cr_assert_eq(e->meta_size, size / PG * 8);
	e->meta = malloc(e->meta_size);
	cr_assert_not_null(e->meta);
	cr_assert_eq(kmm_pages_init(&e->p, &e->host.port, base, size, e->meta,
				    e->meta_size),
		     0);
}

static void env_teardown(struct env *e)
{
	free(e->meta);
	kmm_host_fini(&e->host);
}

/* 16 MiB span at 1 GiB, one bank over all of it. */
static void setup_16m(void)
{
	env_setup(&E, 1 * GIB, 16 * MIB, 4096);
	cr_assert_eq(kmm_pages_add(&E.p, E.base, E.size), 0);
}

static void teardown(void)
{
	env_teardown(&E);
}

/* A copy of the whole allocator state, to prove a failed call changed
 * nothing. */
struct snap {
	struct kmm_pages p;
	uint64_t *meta;
	size_t size;
};

static void snap_take(struct snap *s, const struct env *e)
{
	s->p = e->p;
	s->size = e->meta_size;
	s->meta = malloc(s->size);
	cr_assert_not_null(s->meta);
	memcpy(s->meta, e->meta, s->size);
}

static void snap_same(struct snap *s, const struct env *e)
{
	cr_assert(memcmp(&s->p, &e->p, sizeof(s->p)) == 0, "allocator context "
							   "changed by a "
							   "failed call");
	cr_assert(memcmp(s->meta, e->meta, s->size) == 0, "metadata changed by "
							  "a failed call");
	free(s->meta);
}

/* Runs @call, expects @err and no change at all. */
#define EXPECT_FAIL_UNCHANGED(err, call)     \
	do {                                 \
		struct snap s_;              \
		snap_take(&s_, &E);          \
		cr_assert_eq((call), (err)); \
		snap_same(&s_, &E);          \
	} while (0)

static uint64_t usage(kmm_owner_t o)
{
	uint64_t n = 0;

	cr_assert_eq(kmm_pages_usage(&E.p, o, &n), 0);
	return n;
}

static struct kmm_pages_stats stats(void)
{
	struct kmm_pages_stats st;

	cr_assert_eq(kmm_pages_stats(&E.p, &st), 0);
	return st;
}

static kmm_owner_t owner_of(kmm_paddr_t pa)
{
	kmm_owner_t o = KMM_OWNER_NONE;

	cr_assert_eq(kmm_pages_owner(&E.p, pa, &o), 0);
	return o;
}

/* ------------------------------------------------------------------ */

Test(pages, meta_size_is_eight_bytes_per_frame_and_zero_for_bad_spans)
{
	uint64_t max = KMM_PAGES_MAX_SPAN_PAGES;

	cr_assert_eq(kmm_pages_meta_size(0, 1 * GIB), 1 * GIB / PG * 8);
	cr_assert_eq(kmm_pages_meta_size(0x80003000, 5 * PG), 40);
	cr_assert_eq(kmm_pages_meta_size(0, 0), 0);
	cr_assert_eq(kmm_pages_meta_size(0x1001, PG), 0);
	cr_assert_eq(kmm_pages_meta_size(0x1000, PG + 1), 0);
	cr_assert_eq(kmm_pages_meta_size(UINT64_MAX - PG + 1, 2 * PG), 0);
	/* PAs up to 52 bits: the span may end exactly at 2^52. */
	cr_assert_eq(kmm_pages_meta_size((1ull << 52) - PG, PG), 8);
	cr_assert_eq(kmm_pages_meta_size(1ull << 52, PG), 0);
	cr_assert_eq(kmm_pages_meta_size(0, max * PG), max * 8);
	cr_assert_eq(kmm_pages_meta_size(0, (max + 1) * PG), 0);
}

Test(pages, span_limit_follows_owner_bits)
{
	cr_assert_eq(KMM_PAGES_LINK_BITS,
		     (62 - KMM_PAGES_OWNER_BITS) / 2 < 30 ?
			     (62 - KMM_PAGES_OWNER_BITS) / 2 :
			     30);
	cr_assert((1u << KMM_PAGES_OWNER_BITS) >= KMM_CONFIG_MAX_OWNERS);
	if (KMM_CONFIG_MAX_OWNERS == 64)
		cr_assert_eq(KMM_PAGES_MAX_SPAN_PAGES, 1ull << 28);
	cr_assert(KMM_PAGES_MAX_SPAN_PAGES * PG >= 64 * GIB ||
		  KMM_CONFIG_MAX_OWNERS > 16384);
}

Test(pages, init_rejects_bad_arguments_and_leaves_the_context_untouched)
{
	struct kmm_pages p, before;
	struct kmm_port port = { 0 };
	uint64_t meta[16];
	uint64_t big = (KMM_PAGES_MAX_SPAN_PAGES + 1) * PG;

	memset(&p, 0xa5, sizeof(p));
	before = p;
	cr_assert_eq(kmm_pages_init(NULL, &port, 0, 16 * PG, meta, 128),
		     KMM_EINVAL);
	cr_assert_eq(kmm_pages_init(&p, NULL, 0, 16 * PG, meta, 128),
		     KMM_EINVAL);
	cr_assert_eq(kmm_pages_init(&p, &port, 0, 16 * PG, NULL, 128),
		     KMM_EINVAL);
	cr_assert_eq(kmm_pages_init(&p, &port, 0, 0, meta, 128), KMM_EINVAL);
	cr_assert_eq(kmm_pages_init(&p, &port, 0x800, 16 * PG, meta, 128),
		     KMM_EALIGN);
	cr_assert_eq(kmm_pages_init(&p, &port, 0, 16 * PG - 1, meta, 128),
		     KMM_EALIGN);
	cr_assert_eq(kmm_pages_init(&p, &port, 0, 16 * PG, (char *)meta + 4,
				    120),
		     KMM_EALIGN);
	cr_assert_eq(kmm_pages_init(&p, &port, 0, 16 * PG, meta, 127),
		     KMM_ENOMEM);
	cr_assert_eq(kmm_pages_init(&p, &port, (1ull << 52) - 8 * PG, 16 * PG,
				    meta, 128),
		     KMM_ERANGE);
	cr_assert_eq(kmm_pages_init(&p, &port, 0, big, meta, SIZE_MAX),
		     KMM_ERANGE);
	cr_assert_eq(memcmp(&p, &before, sizeof(p)), 0);
	cr_assert_eq(kmm_pages_init(&p, &port, 0, 16 * PG, meta, 128), 0);
	cr_assert_eq(kmm_pages_check(&p), 0);
}

Test(pages, new_allocator_has_nothing_free_until_a_bank_is_added)
{
	kmm_paddr_t pa;
	struct kmm_pages_stats st;

	env_setup(&E, 1 * GIB, 4 * MIB, 0);
	st = stats();
	cr_assert_eq(st.span_pages, 1024);
	cr_assert_eq(st.managed_pages, 0);
	cr_assert_eq(st.free_pages, 0);
	cr_assert_eq(st.largest_free_order, -1);
	cr_assert_eq(st.largest_free_bytes, 0);
	EXPECT_FAIL_UNCHANGED(KMM_ENOMEM, kmm_pages_alloc(&E.p, 0, 0, 0, &pa));
	teardown();
}

Test(pages, add_makes_a_bank_free_in_the_largest_aligned_blocks,
     .init = setup_16m, .fini = teardown)
{
	struct kmm_pages_stats st = stats();

	/* 16 MiB at 1 GiB: 4096 frames, aligned to 2^12 frames. */
	cr_assert_eq(st.managed_pages, 4096);
	cr_assert_eq(st.free_pages, 4096);
	for (int k = 0; k < KMM_PAGES_ORDERS; k++)
		cr_assert_eq(st.free_blocks[k], k == 12 ? 1 : 0, "order %d", k);
	cr_assert_eq(st.largest_free_order, 12);
	cr_assert_eq(st.largest_free_bytes, 16 * MIB);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
}

Test(pages, add_of_an_unaligned_bank_gives_naturally_aligned_blocks)
{
	struct kmm_pages_stats st;

	/* Frames 3..12 of a span at 0x80000000: blocks 3, 4-7, 8-11, 12. */
	env_setup(&E, 0x80000000, 16 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base + 3 * PG, 10 * PG), 0);
	st = stats();
	cr_assert_eq(st.free_blocks[0], 2);
	cr_assert_eq(st.free_blocks[1], 0);
	cr_assert_eq(st.free_blocks[2], 2);
	cr_assert_eq(st.free_pages, 10);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	teardown();
}

Test(pages, add_merges_adjacent_banks_into_one_block)
{
	struct kmm_pages_stats st;

	env_setup(&E, 0, 64 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, 0, 20 * PG), 0);
	cr_assert_eq(kmm_pages_add(&E.p, 20 * PG, 44 * PG), 0);
	st = stats();
	cr_assert_eq(st.free_blocks[6], 1);
	cr_assert_eq(st.free_pages, 64);
	for (int k = 0; k < 6; k++)
		cr_assert_eq(st.free_blocks[k], 0);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	teardown();
}

Test(pages, add_rejects_bad_ranges_and_overlap_without_change,
     .init = setup_16m, .fini = teardown)
{
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_add(NULL, E.base, PG));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_add(&E.p, E.base, 0));
	EXPECT_FAIL_UNCHANGED(KMM_EALIGN, kmm_pages_add(&E.p, E.base + 1, PG));
	EXPECT_FAIL_UNCHANGED(KMM_EALIGN, kmm_pages_add(&E.p, E.base, 7));
	EXPECT_FAIL_UNCHANGED(KMM_ERANGE,
			      kmm_pages_add(&E.p, E.base - PG, 2 * PG));
	EXPECT_FAIL_UNCHANGED(
		KMM_ERANGE, kmm_pages_add(&E.p, E.base + E.size - PG, 2 * PG));
	EXPECT_FAIL_UNCHANGED(KMM_ERANGE,
			      kmm_pages_add(&E.p, UINT64_MAX - PG + 1, 2 * PG));
	EXPECT_FAIL_UNCHANGED(KMM_EEXIST,
			      kmm_pages_add(&E.p, E.base + 5 * PG, PG));
}

Test(pages, add_rejects_a_bank_that_overlaps_the_middle_of_a_free_block)
{
	env_setup(&E, 0, 64 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, 32 * PG, 32 * PG), 0);
	/* Frames 20..39: the head of the block at 32 lies inside. */
	EXPECT_FAIL_UNCHANGED(KMM_EEXIST,
			      kmm_pages_add(&E.p, 20 * PG, 20 * PG));
	/* Frames 40..41: inside the block at 32, no head in the range. */
	EXPECT_FAIL_UNCHANGED(KMM_EEXIST, kmm_pages_add(&E.p, 40 * PG, 2 * PG));
	cr_assert_eq(kmm_pages_add(&E.p, 0, 32 * PG), 0);
	cr_assert_eq(stats().free_blocks[6], 1);
	teardown();
}

Test(pages, alloc_returns_naturally_aligned_blocks_of_every_order,
     .init = setup_16m, .fini = teardown)
{
	for (unsigned int k = 0; k <= 10; k++) {
		kmm_paddr_t pa = 0;

		cr_assert_eq(kmm_pages_alloc(&E.p, k, 1, 0, &pa), 0);
		cr_assert_eq(pa % (PG << k), 0, "order %u at %#lx", k,
			     (unsigned long)pa);
		cr_assert(pa >= E.base && pa + (PG << k) <= E.base + E.size);
		cr_assert_eq(owner_of(pa), 1);
		cr_assert_eq(owner_of(pa + (PG << k) - 1), 1);
	}
	cr_assert_eq(usage(1), (1u << 11) - 1);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
}

Test(pages, alloc_then_free_restores_the_single_largest_block,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t a, b, c;
	struct kmm_pages_stats st;

	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 1, 0, &a), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 3, 2, 0, &b), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 1, 0, &c), 0);
	st = stats();
	cr_assert_eq(st.free_pages, 4096 - 10);
	cr_assert_eq(st.allocated_pages, 10);
	cr_assert_eq(st.largest_free_order, 11);
	cr_assert_eq(kmm_pages_free(&E.p, b, 3, 2), 0);
	cr_assert_eq(kmm_pages_free(&E.p, a, 0, 1), 0);
	cr_assert_eq(kmm_pages_free(&E.p, c, 0, 1), 0);
	st = stats();
	cr_assert_eq(st.free_pages, 4096);
	cr_assert_eq(st.free_blocks[12], 1);
	cr_assert_eq(st.largest_free_order, 12);
	cr_assert_eq(usage(1), 0);
	cr_assert_eq(usage(2), 0);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
}

Test(pages, alloc_rejects_bad_arguments_without_change, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t pa;

	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_alloc(NULL, 0, 0, 0, &pa));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_alloc(&E.p, 0, 0, 0, NULL));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_alloc(&E.p,
					      KMM_CONFIG_PAGES_MAX_ORDER + 1, 0,
					      0, &pa));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_alloc(&E.p, 0, KMM_CONFIG_MAX_OWNERS, 0,
					      &pa));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_alloc(&E.p, 0, KMM_OWNER_NONE, 0, &pa));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_alloc(&E.p, 0, 0, 1u << 7, &pa));
}

Test(pages, alloc_fails_with_enomem_when_no_block_is_large_enough,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t pa;

	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 0, 0, &pa), 0);
	/* The 4096-frame bank is now at most 2048 contiguous free frames. */
	EXPECT_FAIL_UNCHANGED(KMM_ENOMEM, kmm_pages_alloc(&E.p, 12, 0, 0, &pa));
	cr_assert_eq(kmm_pages_alloc(&E.p, 11, 0, 0, &pa), 0);
}

Test(pages, free_refuses_another_owner_with_eperm, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t pa;

	cr_assert_eq(kmm_pages_alloc(&E.p, 2, 3, 0, &pa), 0);
	EXPECT_FAIL_UNCHANGED(KMM_EPERM, kmm_pages_free(&E.p, pa, 2, 4));
	EXPECT_FAIL_UNCHANGED(KMM_EPERM, kmm_pages_free(&E.p, pa, 2, 0));
	/* Inside another owner's block, whatever the order asked. */
	EXPECT_FAIL_UNCHANGED(KMM_EPERM, kmm_pages_free(&E.p, pa + PG, 0, 4));
	cr_assert_eq(owner_of(pa), 3);
	cr_assert_eq(kmm_pages_free(&E.p, pa, 2, 3), 0);
}

Test(pages, free_refuses_a_double_free_with_enoent, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t pa;

	cr_assert_eq(kmm_pages_alloc(&E.p, 1, 1, 0, &pa), 0);
	cr_assert_eq(kmm_pages_free(&E.p, pa, 1, 1), 0);
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT, kmm_pages_free(&E.p, pa, 1, 1));
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT, kmm_pages_free(&E.p, pa, 0, 1));
}

Test(pages, free_refuses_partial_and_misaligned_blocks, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t pa;

	cr_assert_eq(kmm_pages_alloc(&E.p, 3, 1, 0, &pa), 0);
	/* Wrong order at the right head: partial or larger than the block. */
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_free(&E.p, pa, 2, 1));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_free(&E.p, pa, 4, 1));
	/* A frame inside the block, aligned for the order asked. */
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_free(&E.p, pa + 4 * PG, 2, 1));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_free(&E.p, pa + PG, 0, 1));
	/* Not aligned to the order, or not to a page. */
	EXPECT_FAIL_UNCHANGED(KMM_EALIGN, kmm_pages_free(&E.p, pa + PG, 3, 1));
	EXPECT_FAIL_UNCHANGED(KMM_EALIGN, kmm_pages_free(&E.p, pa + 8, 0, 1));
	EXPECT_FAIL_UNCHANGED(
		KMM_EINVAL,
		kmm_pages_free(&E.p, pa, KMM_CONFIG_PAGES_MAX_ORDER + 1, 1));
	EXPECT_FAIL_UNCHANGED(
		KMM_EINVAL, kmm_pages_free(&E.p, pa, 3, KMM_CONFIG_MAX_OWNERS));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_free(NULL, pa, 3, 1));
	cr_assert_eq(kmm_pages_free(&E.p, pa, 3, 1), 0);
}

Test(pages, free_refuses_addresses_outside_the_span_and_holes)
{
	env_setup(&E, 1 * GIB, 64 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base, 32 * PG), 0);
	EXPECT_FAIL_UNCHANGED(KMM_ERANGE,
			      kmm_pages_free(&E.p, E.base - PG, 0, 0));
	EXPECT_FAIL_UNCHANGED(KMM_ERANGE,
			      kmm_pages_free(&E.p, E.base + 64 * PG, 0, 0));
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_free(&E.p, E.base + 40 * PG, 0, 0));
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_free(&E.p, E.base + 4 * PG, 0, 0));
	teardown();
}

Test(pages, owner_reports_the_holder_of_any_frame_of_a_block)
{
	kmm_paddr_t pa;
	kmm_owner_t o = 7;

	env_setup(&E, 1 * GIB, 64 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base, 32 * PG), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 4, 5, 0, &pa), 0);
	for (uint64_t off = 0; off < 16 * PG; off += PG / 2)
		cr_assert_eq(owner_of(pa + off), 5);
	/* Free frame, hole, outside the span, bad arguments. */
	cr_assert_eq(kmm_pages_owner(&E.p, pa ^ (16 * PG), &o), KMM_ENOENT);
	cr_assert_eq(kmm_pages_owner(&E.p, E.base + 40 * PG, &o), KMM_ENOENT);
	cr_assert_eq(kmm_pages_owner(&E.p, E.base + 64 * PG, &o), KMM_ERANGE);
	cr_assert_eq(kmm_pages_owner(&E.p, E.base - 1, &o), KMM_ERANGE);
	cr_assert_eq(kmm_pages_owner(NULL, pa, &o), KMM_EINVAL);
	cr_assert_eq(kmm_pages_owner(&E.p, pa, NULL), KMM_EINVAL);
	cr_assert_eq(o, 7);
	teardown();
}

Test(pages, free_all_returns_every_block_of_one_owner_and_no_other,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t mine[20], theirs[5];
	struct kmm_pages_stats st;

	for (int i = 0; i < 20; i++)
		cr_assert_eq(kmm_pages_alloc(&E.p, (unsigned)i % 4, 9, 0,
					     &mine[i]),
			     0);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(kmm_pages_alloc(&E.p, 1, 10, 0, &theirs[i]), 0);
	cr_assert_eq(kmm_pages_alloc_range(&E.p, E.base + 4000 * PG, 7 * PG, 9),
		     0);
	cr_assert_eq(usage(9), 5 * (1 + 2 + 4 + 8) + 7);
	cr_assert_eq(kmm_pages_free_all(&E.p, 9), 0);
	cr_assert_eq(usage(9), 0);
	cr_assert_eq(usage(10), 10);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(owner_of(theirs[i]), 10);
	for (int i = 0; i < 20; i++) {
		kmm_owner_t o;

		cr_assert_eq(kmm_pages_owner(&E.p, mine[i], &o), KMM_ENOENT);
	}
	st = stats();
	cr_assert_eq(st.free_pages, 4096 - 10);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	/* Nothing left: a second call is a no-op. */
	cr_assert_eq(kmm_pages_free_all(&E.p, 9), 0);
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_free_all(&E.p, KMM_CONFIG_MAX_OWNERS));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_free_all(NULL, 0));
}

Test(pages, quota_limits_the_pages_an_owner_holds, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t a, b;

	cr_assert_eq(kmm_pages_set_quota(&E.p, 4, 10), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 3, 4, 0, &a), 0);
	EXPECT_FAIL_UNCHANGED(KMM_EQUOTA, kmm_pages_alloc(&E.p, 2, 4, 0, &b));
	EXPECT_FAIL_UNCHANGED(KMM_EQUOTA,
			      kmm_pages_alloc_range(&E.p, E.base + 100 * PG,
						    3 * PG, 4));
	cr_assert_eq(kmm_pages_alloc(&E.p, 1, 4, 0, &b), 0);
	cr_assert_eq(usage(4), 10);
	/* Other owners are not affected. */
	cr_assert_eq(kmm_pages_alloc(&E.p, 5, 5, 0, &b), 0);
	/* A quota below the usage blocks allocation until enough is freed. */
	cr_assert_eq(kmm_pages_set_quota(&E.p, 4, 4), 0);
	EXPECT_FAIL_UNCHANGED(KMM_EQUOTA, kmm_pages_alloc(&E.p, 0, 4, 0, &b));
	cr_assert_eq(kmm_pages_free(&E.p, a, 3, 4), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 4, 0, &b), 0);
	cr_assert_eq(kmm_pages_set_quota(&E.p, 4, KMM_PAGES_NO_QUOTA), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 8, 4, 0, &b), 0);
	cr_assert_eq(usage(4), 2 + 1 + 256);
	cr_assert_eq(kmm_pages_set_quota(&E.p, KMM_CONFIG_MAX_OWNERS, 1),
		     KMM_EINVAL);
	cr_assert_eq(kmm_pages_set_quota(NULL, 1, 1), KMM_EINVAL);
}

Test(pages, usage_rejects_bad_arguments, .init = setup_16m, .fini = teardown)
{
	uint64_t n = 42;

	cr_assert_eq(kmm_pages_usage(NULL, 0, &n), KMM_EINVAL);
	cr_assert_eq(kmm_pages_usage(&E.p, 0, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_pages_usage(&E.p, KMM_CONFIG_MAX_OWNERS, &n),
		     KMM_EINVAL);
	cr_assert_eq(n, 42);
	cr_assert_eq(kmm_pages_stats(NULL, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_pages_stats(&E.p, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_pages_check(NULL), KMM_EINVAL);
}

Test(pages, alloc_below_keeps_the_whole_block_under_the_limit)
{
	kmm_paddr_t pa;

	/* Span 3.5 GiB .. 4.5 GiB; a 32-bit DMA limit leaves 512 MiB. */
	env_setup(&E, 3584 * MIB, 1 * GIB, 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base, E.size), 0);
	for (int i = 0; i < 64; i++) {
		cr_assert_eq(kmm_pages_alloc_below(&E.p, 9, 1, 0, 4 * GIB, &pa),
			     0);
		cr_assert(pa + 2 * MIB <= 4 * GIB, "block at %#lx",
			  (unsigned long)pa);
		cr_assert_eq(pa % (2 * MIB), 0);
	}
	/* A limit that cuts through the lowest free frames. */
	EXPECT_FAIL_UNCHANGED(KMM_ENOMEM, kmm_pages_alloc_below(&E.p, 0, 1, 0,
								E.base, &pa));
	EXPECT_FAIL_UNCHANGED(KMM_ENOMEM,
			      kmm_pages_alloc_below(&E.p, 1, 1, 0, E.base + PG,
						    &pa));
	cr_assert_eq(kmm_pages_free_all(&E.p, 1), 0);
	cr_assert_eq(kmm_pages_alloc_below(&E.p, 1, 1, 0, E.base + 2 * PG, &pa),
		     0);
	cr_assert_eq(pa, E.base);
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_alloc_below(&E.p, 0, 1, 2,
								4 * GIB, &pa));
	teardown();
}

Test(pages, alloc_below_fails_with_enomem_when_only_high_memory_is_free)
{
	kmm_paddr_t pa;

	env_setup(&E, 0, 64 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, 0, 64 * PG), 0);
	cr_assert_eq(kmm_pages_alloc_range(&E.p, 0, 32 * PG, 0), 0);
	EXPECT_FAIL_UNCHANGED(KMM_ENOMEM, kmm_pages_alloc_below(&E.p, 0, 1, 0,
								32 * PG, &pa));
	cr_assert_eq(kmm_pages_alloc_below(&E.p, 0, 1, 0, 33 * PG, &pa), 0);
	cr_assert_eq(pa, 32 * PG);
	teardown();
}

Test(pages, alloc_range_claims_an_exact_unaligned_range, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t lo = E.base + 3 * PG, hi = E.base + 61 * PG;
	kmm_owner_t o;
	struct kmm_pages_stats st;

	cr_assert_eq(kmm_pages_alloc_range(&E.p, lo, hi - lo, 6), 0);
	for (kmm_paddr_t pa = E.base; pa < E.base + 64 * PG; pa += PG) {
		if (pa >= lo && pa < hi)
			cr_assert_eq(owner_of(pa), 6);
		else
			cr_assert_eq(kmm_pages_owner(&E.p, pa, &o), KMM_ENOENT);
	}
	cr_assert_eq(usage(6), 58);
	st = stats();
	cr_assert_eq(st.free_pages, 4096 - 58);
	/* Frames 0-2 and 61-63 stay free as 1+2 and 1+2 blocks. */
	cr_assert_eq(st.free_blocks[0], 2);
	cr_assert_eq(st.free_blocks[1], 2);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	/* The range is tiled by naturally aligned blocks: 3, 4-7, 8-15, ... */
	cr_assert_eq(kmm_pages_free(&E.p, lo, 0, 6), 0);
	cr_assert_eq(kmm_pages_free(&E.p, E.base + 4 * PG, 2, 6), 0);
	cr_assert_eq(kmm_pages_free(&E.p, E.base + 32 * PG, 4, 6), 0);
	cr_assert_eq(usage(6), 58 - 1 - 4 - 16);
}

Test(pages, alloc_range_rejects_taken_missing_and_bad_ranges_without_change)
{
	kmm_paddr_t pa;

	env_setup(&E, 1 * GIB, 128 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base, 64 * PG), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 2, 0, &pa), 0);
	EXPECT_FAIL_UNCHANGED(KMM_EEXIST,
			      kmm_pages_alloc_range(&E.p, E.base, 8 * PG, 1));
	EXPECT_FAIL_UNCHANGED(KMM_EEXIST,
			      kmm_pages_alloc_range(&E.p, pa, PG, 2));
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_alloc_range(&E.p, E.base + 60 * PG,
						    8 * PG, 1));
	EXPECT_FAIL_UNCHANGED(KMM_ERANGE,
			      kmm_pages_alloc_range(&E.p, E.base + 120 * PG,
						    16 * PG, 1));
	EXPECT_FAIL_UNCHANGED(KMM_EALIGN,
			      kmm_pages_alloc_range(&E.p, E.base + 8 * PG + 1,
						    PG, 1));
	EXPECT_FAIL_UNCHANGED(
		KMM_EINVAL, kmm_pages_alloc_range(&E.p, E.base + 8 * PG, 0, 1));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_alloc_range(&E.p, E.base + 8 * PG, PG,
						    KMM_OWNER_NONE));
	teardown();
}

Test(pages, alloc_range_reports_the_first_broken_rule_in_address_order)
{
	kmm_paddr_t pa;

	/* Frames 0..63 managed, 64..127 a hole; owner 2 holds frame 0. */
	env_setup(&E, 1 * GIB, 128 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base, 64 * PG), 0);
	cr_assert_eq(kmm_pages_alloc_range(&E.p, E.base, PG, 2), 0);
	cr_assert_eq(kmm_pages_set_quota(&E.p, 1, 4), 0);
	/* Taken before the hole: EEXIST; the hole first: ENOENT. */
	EXPECT_FAIL_UNCHANGED(KMM_EEXIST,
			      kmm_pages_alloc_range(&E.p, E.base, 128 * PG, 1));
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_alloc_range(&E.p, E.base + 64 * PG, PG,
						    1));
	/* The quota is looked at only once every frame is free. */
	EXPECT_FAIL_UNCHANGED(KMM_EEXIST,
			      kmm_pages_alloc_range(&E.p, E.base, 8 * PG, 1));
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_alloc_range(&E.p, E.base + 60 * PG,
						    8 * PG, 1));
	EXPECT_FAIL_UNCHANGED(KMM_EQUOTA,
			      kmm_pages_alloc_range(&E.p, E.base + 8 * PG,
						    8 * PG, 1));
	cr_assert_eq(kmm_pages_alloc_range(&E.p, E.base + 8 * PG, 4 * PG, 1),
		     0);
	cr_assert_eq(usage(1), 4);
	cr_assert_eq(stats().free_pages, 64 - 1 - 4);
	cr_assert_eq(owner_of(E.base + 11 * PG), 1);
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 3, 0, &pa), 0);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	teardown();
}

Test(pages, reserve_skips_holes_but_refuses_an_allocated_frame_beyond_one)
{
	/* Frames 0..31 and 64..95 managed; owner 2 holds frame 80. */
	env_setup(&E, 1 * GIB, 128 * PG, 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base, 32 * PG), 0);
	cr_assert_eq(kmm_pages_add(&E.p, E.base + 64 * PG, 32 * PG), 0);
	cr_assert_eq(kmm_pages_alloc_range(&E.p, E.base + 80 * PG, PG, 2), 0);
	EXPECT_FAIL_UNCHANGED(KMM_EBUSY,
			      kmm_pages_reserve(&E.p, E.base, 128 * PG));
	EXPECT_FAIL_UNCHANGED(
		KMM_EBUSY, kmm_pages_reserve(&E.p, E.base + 40 * PG, 48 * PG));
	/* Only holes: nothing to withdraw, and no error. */
	cr_assert_eq(kmm_pages_reserve(&E.p, E.base + 32 * PG, 32 * PG), 0);
	cr_assert_eq(stats().managed_pages, 64);
	/* Across a hole: only the managed frames leave. */
	cr_assert_eq(kmm_pages_reserve(&E.p, E.base + 24 * PG, 48 * PG), 0);
	cr_assert_eq(stats().managed_pages, 64 - 8 - 8);
	cr_assert_eq(stats().free_pages, 64 - 8 - 8 - 1);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	teardown();
}

Test(pages, free_range_frees_what_alloc_range_claimed_and_merges_back,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t lo = E.base + 5 * PG;
	struct kmm_pages_stats st;

	cr_assert_eq(kmm_pages_alloc_range(&E.p, lo, 1001 * PG, 3), 0);
	cr_assert_eq(kmm_pages_free_range(&E.p, lo, 1001 * PG, 3), 0);
	st = stats();
	cr_assert_eq(st.free_blocks[12], 1);
	cr_assert_eq(st.free_pages, 4096);
	cr_assert_eq(usage(3), 0);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
}

Test(pages, free_range_rejects_partial_blocks_holes_and_other_owners,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t lo = E.base + 16 * PG;

	cr_assert_eq(kmm_pages_alloc_range(&E.p, lo, 16 * PG, 3), 0);
	cr_assert_eq(kmm_pages_alloc_range(&E.p, lo + 16 * PG, 2 * PG, 4), 0);
	/* Cuts the order-4 block in half. */
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_free_range(&E.p, lo, 8 * PG, 3));
	EXPECT_FAIL_UNCHANGED(
		KMM_EINVAL, kmm_pages_free_range(&E.p, lo + 8 * PG, 8 * PG, 3));
	/* Runs into owner 4's block, then into free memory. */
	EXPECT_FAIL_UNCHANGED(KMM_EPERM,
			      kmm_pages_free_range(&E.p, lo, 18 * PG, 3));
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_free_range(&E.p, lo + 16 * PG, 4 * PG,
						   4));
	EXPECT_FAIL_UNCHANGED(
		KMM_ERANGE, kmm_pages_free_range(&E.p, E.base + E.size, PG, 3));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL,
			      kmm_pages_free_range(&E.p, lo, 16 * PG,
						   KMM_CONFIG_MAX_OWNERS));
	cr_assert_eq(kmm_pages_free_range(&E.p, lo, 16 * PG, 3), 0);
	cr_assert_eq(kmm_pages_free_range(&E.p, lo + 16 * PG, 2 * PG, 4), 0);
	cr_assert_eq(stats().free_blocks[12], 1);
}

Test(pages, free_range_accepts_any_run_of_adjacent_blocks_of_the_owner,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t a, b;

	cr_assert_eq(kmm_pages_alloc(&E.p, 2, 1, 0, &a), 0);
	cr_assert_eq(kmm_pages_alloc(&E.p, 2, 1, 0, &b), 0);
	cr_assert_eq(b, a + 4 * PG);
	cr_assert_eq(kmm_pages_free_range(&E.p, a, 8 * PG, 1), 0);
	cr_assert_eq(usage(1), 0);
	cr_assert_eq(stats().free_blocks[12], 1);
}

Test(pages, reserve_withdraws_free_frames_and_tolerates_overlap,
     .init = setup_16m, .fini = teardown)
{
	kmm_owner_t o;
	kmm_paddr_t pa;
	struct kmm_pages_stats st;

	cr_assert_eq(kmm_pages_reserve(&E.p, E.base + 10 * PG, 20 * PG), 0);
	cr_assert_eq(kmm_pages_reserve(&E.p, E.base + 20 * PG, 20 * PG), 0);
	st = stats();
	cr_assert_eq(st.managed_pages, 4096 - 30);
	cr_assert_eq(st.free_pages, 4096 - 30);
	cr_assert_eq(kmm_pages_owner(&E.p, E.base + 15 * PG, &o), KMM_ENOENT);
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_alloc_range(&E.p, E.base + 39 * PG,
						    2 * PG, 1));
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	/* Reserved memory can be added back and merges again. */
	cr_assert_eq(kmm_pages_add(&E.p, E.base + 10 * PG, 30 * PG), 0);
	cr_assert_eq(stats().free_blocks[12], 1);
	/* An allocated frame in the range refuses the whole call. */
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 2, 0, &pa), 0);
	EXPECT_FAIL_UNCHANGED(KMM_EBUSY, kmm_pages_reserve(&E.p, pa, 8 * PG));
	EXPECT_FAIL_UNCHANGED(KMM_ERANGE,
			      kmm_pages_reserve(&E.p, E.base - PG, 8 * PG));
	EXPECT_FAIL_UNCHANGED(KMM_EALIGN,
			      kmm_pages_reserve(&E.p, E.base + 3, 8 * PG));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_reserve(&E.p, E.base, 0));
	EXPECT_FAIL_UNCHANGED(KMM_EINVAL, kmm_pages_reserve(NULL, E.base, PG));
}

Test(pages, freed_block_is_scrubbed_before_another_owner_gets_it,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t pa, pb;
	uint8_t *mem;

	cr_assert_eq(kmm_pages_alloc(&E.p, 1, 1, 0, &pa), 0);
	mem = kmm_host_ptr(&E.host, pa);
	memset(mem, 0x5a, 2 * PG);
	kmm_host_clear_events(&E.host);
	cr_assert_eq(kmm_pages_free(&E.p, pa, 1, 1), 0);
	/* Deferred: nothing is scrubbed at free time. */
	cr_assert_eq(kmm_host_count(&E.host, KMM_HOST_EV_SCRUB), 0);
	cr_assert_eq(mem[0], 0x5a);
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 2, 0, &pb), 0);
	cr_assert_eq(pb, pa, "LIFO reuse expected for this test");
	cr_assert_eq(kmm_host_count(&E.host, KMM_HOST_EV_SCRUB), 1);
	cr_assert_eq(E.host.events[0].addr, pb);
	cr_assert_eq(E.host.events[0].size, PG);
	for (size_t i = 0; i < PG; i++)
		cr_assert_eq(mem[i], 0);
	/* The buddy half went back to the free lists still dirty. */
	cr_assert_eq(mem[PG], 0x5a);
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 3, 0, &pb), 0);
	cr_assert_eq(pb, pa + PG);
	cr_assert_eq(mem[PG], 0);
	cr_assert_eq(mem[2 * PG - 1], 0);
}

Test(pages, dirty_mark_survives_merging_into_a_large_block, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t pa, big;
	uint8_t *mem;

	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 1, 0, &pa), 0);
	mem = kmm_host_ptr(&E.host, pa);
	mem[100] = 0x77;
	cr_assert_eq(kmm_pages_free(&E.p, pa, 0, 1), 0);
	cr_assert_eq(stats().free_blocks[12], 1);
	cr_assert_eq(kmm_pages_alloc(&E.p, 12, 2, 0, &big), 0);
	cr_assert_eq(big, E.base);
	cr_assert_eq(mem[100], 0);
}

Test(pages, clean_memory_is_handed_out_unscrubbed_unless_zero_is_asked,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t pa;

	kmm_host_clear_events(&E.host);
	cr_assert_eq(kmm_pages_alloc(&E.p, 2, 1, 0, &pa), 0);
	cr_assert_eq(kmm_host_count(&E.host, KMM_HOST_EV_SCRUB), 0);
	memset(kmm_host_ptr(&E.host, pa), 0x11, 4 * PG);
	cr_assert_eq(kmm_pages_alloc(&E.p, 2, 1, KMM_PAGES_ZERO, &pa), 0);
	cr_assert_eq(kmm_host_count(&E.host, KMM_HOST_EV_SCRUB), 1);
	cr_assert_eq(E.host.events[0].size, 4 * PG);
}

Test(pages, reserve_scrubs_freed_memory_it_withdraws, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t pa;
	uint8_t *mem;

	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 1, 0, &pa), 0);
	mem = kmm_host_ptr(&E.host, pa);
	mem[0] = 0x42;
	cr_assert_eq(kmm_pages_free(&E.p, pa, 0, 1), 0);
	cr_assert_eq(kmm_pages_reserve(&E.p, pa, PG), 0);
	cr_assert_eq(mem[0], 0);
}

static void assert_locked(struct kmm_host *h, const struct kmm_host_event *ev)
{
	if (ev->kind == KMM_HOST_EV_SCRUB)
		h->seq += h->lock_depth == 1 ? 1 : 1000;
}

Test(pages, scrub_runs_under_the_port_lock, .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t pa;

	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 1, 0, &pa), 0);
	cr_assert_eq(kmm_pages_free(&E.p, pa, 0, 1), 0);
	E.host.on_event = assert_locked;
	E.host.seq = 0;
	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 1, 0, &pa), 0);
	cr_assert_eq(E.host.seq, 1);
	cr_assert_eq(E.host.lock_depth, 0);
}

Test(pages, stats_report_free_blocks_per_order_and_the_largest,
     .init = setup_16m, .fini = teardown)
{
	kmm_paddr_t pa;
	struct kmm_pages_stats st;

	cr_assert_eq(kmm_pages_alloc(&E.p, 0, 1, 0, &pa), 0);
	st = stats();
	for (int k = 0; k < KMM_PAGES_ORDERS; k++)
		cr_assert_eq(st.free_blocks[k], k < 12 ? 1 : 0, "order %d", k);
	cr_assert_eq(st.largest_free_order, 11);
	cr_assert_eq(st.largest_free_bytes, 8 * MIB);
	cr_assert_eq(st.allocated_pages, 1);
}

Test(pages, check_detects_corrupted_metadata, .init = setup_16m,
     .fini = teardown)
{
	kmm_paddr_t pa;

	cr_assert_eq(kmm_pages_alloc(&E.p, 3, 1, 0, &pa), 0);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	E.meta[(pa - E.base) / PG + 3] = 1;
	cr_assert_eq(kmm_pages_check(&E.p), KMM_EBADDATA);
	E.meta[(pa - E.base) / PG + 3] = 0;
	E.p.free_pages++;
	cr_assert_eq(kmm_pages_check(&E.p), KMM_EBADDATA);
	E.p.free_pages--;
	E.p.owners[1].pages++;
	cr_assert_eq(kmm_pages_check(&E.p), KMM_EBADDATA);
	E.p.owners[1].pages--;
	cr_assert_eq(kmm_pages_check(&E.p), 0);
}

Test(pages, span_at_the_top_of_the_52_bit_address_space_works)
{
	struct kmm_pages p;
	struct kmm_port port = { 0 };
	static uint64_t meta[1024];
	kmm_paddr_t base = (1ull << 52) - 1024 * PG, pa;
	kmm_owner_t o;

	cr_assert_eq(kmm_pages_init(&p, &port, base, 1024 * PG, meta,
				    sizeof(meta)),
		     0);
	cr_assert_eq(kmm_pages_add(&p, base, 1024 * PG), 0);
	cr_assert_eq(kmm_pages_alloc(&p, 10, 1, 0, &pa), 0);
	cr_assert_eq(pa, base);
	cr_assert_eq(kmm_pages_owner(&p, (1ull << 52) - 1, &o), 0);
	cr_assert_eq(o, 1);
	cr_assert_eq(kmm_pages_free(&p, pa, 10, 1), 0);
	cr_assert_eq(kmm_pages_check(&p), 0);
}

Test(pages, largest_order_blocks_do_not_merge_further)
{
	struct kmm_pages p;
	struct kmm_port port = { 0 };
	uint64_t n = 4ull << KMM_CONFIG_PAGES_MAX_ORDER;
	uint64_t *meta = calloc(n, 8);
	struct kmm_pages_stats st;
	kmm_paddr_t pa;

	cr_assert_eq(kmm_pages_init(&p, &port, 0, n * PG, meta, n * 8), 0);
	cr_assert_eq(kmm_pages_add(&p, 0, n * PG), 0);
	cr_assert_eq(kmm_pages_stats(&p, &st), 0);
	cr_assert_eq(st.free_blocks[KMM_CONFIG_PAGES_MAX_ORDER], 4);
	cr_assert_eq(kmm_pages_alloc(&p, KMM_CONFIG_PAGES_MAX_ORDER, 0, 0, &pa),
		     0);
	cr_assert_eq(kmm_pages_free(&p, pa, KMM_CONFIG_PAGES_MAX_ORDER, 0), 0);
	cr_assert_eq(kmm_pages_stats(&p, &st), 0);
	cr_assert_eq(st.free_blocks[KMM_CONFIG_PAGES_MAX_ORDER], 4);
	cr_assert_eq(kmm_pages_check(&p), 0);
	free(meta);
}

static bool under_valgrind(void)
{
	return getenv("KMM_TEST_UNDER_VALGRIND") != NULL;
}

/*
 * A 64 GiB bank (8 GiB under valgrind): allocations, exact claims and
 * lookups far beyond the first 256 MiB (65536 frames), where a 16-bit
 * frame offset would wrap.
 */
Test(pages, bank_of_64_gib_serves_allocations_and_lookups_far_beyond_256_mib,
     .timeout = 120)
{
	uint64_t size = under_valgrind() ? 8 * GIB : 64 * GIB;
	kmm_paddr_t base = 0x800000000ull, pa, far;
	kmm_owner_t o;
	struct kmm_pages_stats st;
	uint8_t *mem;

	env_setup(&E, base, size, 0);
	cr_assert_eq(kmm_pages_add(&E.p, base, size), 0);
	st = stats();
	cr_assert_eq(st.free_pages, size / PG);
	cr_assert_eq(st.free_blocks[KMM_CONFIG_PAGES_MAX_ORDER],
		     size / (PG << KMM_CONFIG_PAGES_MAX_ORDER));
	/* Exact claim near the top: frame offset ~ 2^24 - 7. */
	far = base + size - 7 * PG;
	cr_assert_eq(kmm_pages_alloc_range(&E.p, far, 3 * PG, 5), 0);
	cr_assert_eq(owner_of(far + 2 * PG + 123), 5);
	cr_assert_eq(kmm_pages_owner(&E.p, far + 3 * PG, &o), KMM_ENOENT);
	cr_assert_eq(kmm_pages_owner(&E.p, far - PG, &o), KMM_ENOENT);
	/* Use up the first 256 MiB, then allocate beyond it. */
	cr_assert_eq(kmm_pages_alloc_range(&E.p, base, 256 * MIB, 0), 0);
	for (int i = 0; i < 100; i++) {
		cr_assert_eq(kmm_pages_alloc(&E.p, (unsigned)i % 10, 7, 0, &pa),
			     0);
		cr_assert(pa >= base + 256 * MIB);
		cr_assert_eq(owner_of(pa), 7);
	}
	/* A frame 60 GiB in (offset 0xf00000 frames), scrub checked. */
	far = base + size - size / 16;
	cr_assert_eq(kmm_pages_alloc_range(&E.p, far, 2 * MIB, 9), 0);
	mem = kmm_host_ptr(&E.host, far);
	mem[5] = 0xee;
	cr_assert_eq(kmm_pages_free_range(&E.p, far, 2 * MIB, 9), 0);
	cr_assert_eq(kmm_pages_alloc_range(&E.p, far + 1 * MIB, PG, 8), 0);
	cr_assert_eq(kmm_pages_alloc_range(&E.p, far, PG, 8), 0);
	cr_assert_eq(mem[5], 0);
	cr_assert_eq(owner_of(far), 8);
	cr_assert_eq(kmm_pages_free(&E.p, far, 0, 7), KMM_EPERM);
	cr_assert_eq(kmm_pages_check(&E.p), 0);
	cr_assert_eq(kmm_pages_free_all(&E.p, 7), 0);
	cr_assert_eq(kmm_pages_free_all(&E.p, 8), 0);
	cr_assert_eq(kmm_pages_free_all(&E.p, 5), 0);
	cr_assert_eq(kmm_pages_free_all(&E.p, 0), 0);
	st = stats();
	cr_assert_eq(st.free_pages, size / PG);
	cr_assert_eq(st.free_blocks[KMM_CONFIG_PAGES_MAX_ORDER],
		     size / (PG << KMM_CONFIG_PAGES_MAX_ORDER));
	teardown();
}

/* ------------------------------------------------------------------
 * Randomized test against a reference model.
 */

#define M_HOLE (-2)
#define M_FREE (-1)
#define M_FRAMES 2053u /* odd, with an unaligned base: edges everywhere */
#define M_OWNERS 4u

struct model {
	int state[M_FRAMES]; /* M_HOLE, M_FREE or the owner */
	uint32_t head[M_FRAMES]; /* allocated frames: head of their block */
	unsigned int order[M_FRAMES]; /* at block heads */
	uint64_t quota[M_OWNERS];
	uint64_t used[M_OWNERS];
	uint64_t base_pfn;
	uint64_t seed;
};

static struct model M;

static uint64_t rnd(void)
{
	uint64_t z = (M.seed += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static kmm_paddr_t m_pa(uint64_t i)
{
	return (M.base_pfn + i) * PG;
}

/* True when [i, i + n) lies in the span and every frame of it is free. */
static bool m_all_free(uint64_t i, uint64_t n)
{
	if (i + n > M_FRAMES)
		return false;
	for (uint64_t j = i; j < i + n; j++)
		if (M.state[j] != M_FREE)
			return false;
	return true;
}

/* Whether a free aligned run of 2^k frames ends at or below @limit_pfn. */
static bool m_fits(unsigned int k, uint64_t limit_pfn)
{
	uint64_t n = 1ull << k;
	uint64_t pfn = (M.base_pfn + n - 1) & ~(n - 1);

	for (; pfn + n <= M.base_pfn + M_FRAMES && pfn + n <= limit_pfn;
	     pfn += n)
		if (m_all_free(pfn - M.base_pfn, n))
			return true;
	return false;
}

static void m_mark(uint64_t i, unsigned int k, int owner)
{
	for (uint64_t j = i; j < i + (1ull << k); j++) {
		M.state[j] = owner;
		M.head[j] = (uint32_t)i;
	}
	M.order[i] = k;
	M.used[owner] += 1ull << k;
}

/* Every frame handed to an owner must read as zero; then it is marked. */
static void m_fill(uint64_t i, uint64_t n, int owner)
{
	for (uint64_t j = i; j < i + n; j++) {
		uint64_t *w = kmm_host_ptr(&E.host, m_pa(j));

		cr_assert_eq(w[0], 0, "frame %lu handed out unscrubbed",
			     (unsigned long)j);
		cr_assert_eq(w[PG / 8 - 1], 0);
		w[0] = (uint64_t)owner + 1;
		w[PG / 8 - 1] = (uint64_t)owner + 1;
	}
}

/* The free set decomposed into maximal aligned blocks, as the allocator
 * must keep it. */
static void m_free_blocks(uint64_t out[KMM_PAGES_ORDERS])
{
	memset(out, 0, sizeof(uint64_t) * KMM_PAGES_ORDERS);
	for (uint64_t i = 0; i < M_FRAMES;) {
		unsigned int k;

		if (M.state[i] != M_FREE) {
			i++;
			continue;
		}
		for (k = KMM_CONFIG_PAGES_MAX_ORDER; k > 0; k--) {
			uint64_t n = 1ull << k;

			if ((M.base_pfn + i) % n == 0 && m_all_free(i, n))
				break;
		}
		out[k]++;
		i += 1ull << k;
	}
}

static void m_verify(void)
{
	uint64_t blocks[KMM_PAGES_ORDERS], nfree = 0, nmanaged = 0;
	struct kmm_pages_stats st = stats();

	cr_assert_eq(kmm_pages_check(&E.p), 0);
	for (uint64_t i = 0; i < M_FRAMES; i++) {
		kmm_owner_t o = KMM_OWNER_NONE;
		int ret = kmm_pages_owner(&E.p, m_pa(i) + (i % 7) * 8, &o);

		if (M.state[i] >= 0) {
			cr_assert_eq(ret, 0, "frame %lu", (unsigned long)i);
			cr_assert_eq(o, M.state[i], "frame %lu",
				     (unsigned long)i);
		} else {
			cr_assert_eq(ret, KMM_ENOENT, "frame %lu",
				     (unsigned long)i);
		}
		nfree += M.state[i] == M_FREE;
		nmanaged += M.state[i] != M_HOLE;
	}
	for (unsigned int o = 0; o < M_OWNERS; o++)
		cr_assert_eq(usage((kmm_owner_t)o), M.used[o]);
	m_free_blocks(blocks);
	for (int k = 0; k < KMM_PAGES_ORDERS; k++)
		cr_assert_eq(st.free_blocks[k], blocks[k], "order %d", k);
	cr_assert_eq(st.free_pages, nfree);
	cr_assert_eq(st.managed_pages, nmanaged);
}

/* Picks a random allocated frame's block head, or returns false. */
static bool m_pick_block(uint64_t *head)
{
	uint64_t start = rnd() % M_FRAMES;

	for (uint64_t n = 0; n < M_FRAMES; n++) {
		uint64_t i = (start + n) % M_FRAMES;

		if (M.state[i] >= 0) {
			*head = M.head[i];
			return true;
		}
	}
	return false;
}

static void m_op_alloc(void)
{
	unsigned int k = (unsigned int)(rnd() % 6);
	kmm_owner_t o = (kmm_owner_t)(rnd() % M_OWNERS);
	bool below = rnd() % 4 == 0;
	uint64_t limit_pfn = below ? M.base_pfn + rnd() % (M_FRAMES + 64) :
				     UINT64_MAX;
	unsigned int flags = rnd() % 2 ? KMM_PAGES_ZERO : 0;
	int expect = 0, ret;
	kmm_paddr_t pa = 0;
	struct snap s;

	if (M.used[o] + (1ull << k) > M.quota[o])
		expect = KMM_EQUOTA;
	else if (!m_fits(k, limit_pfn))
		expect = KMM_ENOMEM;
	snap_take(&s, &E);
	ret = below ? kmm_pages_alloc_below(&E.p, k, o, flags, limit_pfn * PG,
					    &pa) :
		      kmm_pages_alloc(&E.p, k, o, flags, &pa);
	cr_assert_eq(ret, expect, "alloc order %u owner %u", k, o);
	if (ret) {
		snap_same(&s, &E);
		return;
	}
	free(s.meta);
	cr_assert_eq(pa % (PG << k), 0);
	cr_assert(m_all_free(pa / PG - M.base_pfn, 1ull << k));
	cr_assert(pa / PG + (1ull << k) <= limit_pfn);
	m_fill(pa / PG - M.base_pfn, 1ull << k, o);
	m_mark(pa / PG - M.base_pfn, k, o);
}

/* Expected result of free_range(lo, hi, owner) under the model. */
static int m_expect_free_range(uint64_t lo, uint64_t hi, int owner)
{
	for (uint64_t i = lo; i < hi;) {
		uint64_t h;

		if (M.state[i] < 0)
			return KMM_ENOENT;
		h = M.head[i];
		if (M.state[i] != owner)
			return KMM_EPERM;
		if (h != i || h + (1ull << M.order[h]) > hi)
			return KMM_EINVAL;
		i = h + (1ull << M.order[h]);
	}
	return 0;
}

static void m_release(uint64_t lo, uint64_t hi)
{
	for (uint64_t i = lo; i < hi; i++) {
		M.used[M.state[i]]--;
		M.state[i] = M_FREE;
	}
}

static void m_op_free(void)
{
	uint64_t h;
	unsigned int k;
	int o, expect, ret;
	kmm_owner_t who;
	struct snap s;

	if (!m_pick_block(&h))
		return;
	k = M.order[h];
	o = M.state[h];
	who = (kmm_owner_t)o;
	expect = 0;
	switch (rnd() % 8) {
	case 0: /* wrong owner */
		who = (kmm_owner_t)((o + 1) % (int)M_OWNERS);
		expect = KMM_EPERM;
		break;
	case 1: /* wrong order */
		if (k < 5 && (h + M.base_pfn) % (2ull << k) == 0) {
			k++;
			expect = KMM_EINVAL;
		} else if (k > 0) {
			k--;
			expect = KMM_EINVAL;
		}
		break;
	default:
		break;
	}
	snap_take(&s, &E);
	ret = kmm_pages_free(&E.p, m_pa(h), k, who);
	cr_assert_eq(ret, expect, "free frame %lu order %u owner %u",
		     (unsigned long)h, k, who);
	if (ret) {
		snap_same(&s, &E);
		return;
	}
	free(s.meta);
	m_release(h, h + (1ull << k));
	/* The same call again is a double free. */
	EXPECT_FAIL_UNCHANGED(KMM_ENOENT,
			      kmm_pages_free(&E.p, m_pa(h), k, who));
}

static void m_op_alloc_range(void)
{
	uint64_t lo = rnd() % M_FRAMES;
	uint64_t n = 1 + rnd() % 40;
	kmm_owner_t o = (kmm_owner_t)(rnd() % M_OWNERS);
	int expect = 0, ret;
	struct snap s;

	if (lo + n > M_FRAMES)
		expect = KMM_ERANGE;
	for (uint64_t i = lo; !expect && i < lo + n; i++) {
		if (M.state[i] == M_HOLE)
			expect = KMM_ENOENT;
		else if (M.state[i] >= 0)
			expect = KMM_EEXIST;
	}
	if (!expect && M.used[o] + n > M.quota[o])
		expect = KMM_EQUOTA;
	/* Hole and taken frames in one range: either code is right. */
	snap_take(&s, &E);
	ret = kmm_pages_alloc_range(&E.p, m_pa(lo), n * PG, o);
	if (expect == KMM_ENOENT || expect == KMM_EEXIST)
		cr_assert(ret == KMM_ENOENT || ret == KMM_EEXIST);
	else
		cr_assert_eq(ret, expect, "alloc_range %lu+%lu",
			     (unsigned long)lo, (unsigned long)n);
	if (ret) {
		snap_same(&s, &E);
		return;
	}
	free(s.meta);
	m_fill(lo, n, o);
	/* The claim is tiled by maximal naturally aligned blocks. */
	for (uint64_t i = lo; i < lo + n;) {
		unsigned int k = KMM_CONFIG_PAGES_MAX_ORDER;

		while ((M.base_pfn + i) % (1ull << k) ||
		       i + (1ull << k) > lo + n)
			k--;
		m_mark(i, k, o);
		i += 1ull << k;
	}
}

static void m_op_free_range(void)
{
	uint64_t h, lo, hi;
	int o, ret, expect;
	struct snap s;

	if (!m_pick_block(&h))
		return;
	o = M.state[h];
	/* Extend over following blocks of the same owner, sometimes past. */
	lo = h;
	hi = h + (1ull << M.order[h]);
	while (rnd() % 3 && hi < M_FRAMES && M.state[hi] >= 0 &&
	       M.state[hi] == o)
		hi = M.head[hi] + (1ull << M.order[M.head[hi]]);
	if (rnd() % 5 == 0 && hi < M_FRAMES)
		hi++;
	if (rnd() % 7 == 0 && lo + 1 < hi)
		lo++;
	expect = m_expect_free_range(lo, hi, o);
	snap_take(&s, &E);
	ret = kmm_pages_free_range(&E.p, m_pa(lo), (hi - lo) * PG,
				   (kmm_owner_t)o);
	cr_assert_eq(ret, expect, "free_range %lu..%lu", (unsigned long)lo,
		     (unsigned long)hi);
	if (ret) {
		snap_same(&s, &E);
		return;
	}
	free(s.meta);
	m_release(lo, hi);
}

static void m_op_reserve_or_add(void)
{
	uint64_t lo = rnd() % M_FRAMES;
	uint64_t n = 1 + rnd() % 24;
	int expect = 0, ret;
	bool add = rnd() % 2;
	struct snap s;

	if (lo + n > M_FRAMES)
		n = M_FRAMES - lo;
	for (uint64_t i = lo; i < lo + n; i++) {
		if (add && M.state[i] != M_HOLE)
			expect = KMM_EEXIST;
		if (!add && M.state[i] >= 0)
			expect = KMM_EBUSY;
	}
	snap_take(&s, &E);
	ret = add ? kmm_pages_add(&E.p, m_pa(lo), n * PG) :
		    kmm_pages_reserve(&E.p, m_pa(lo), n * PG);
	cr_assert_eq(ret, expect, "%s %lu+%lu", add ? "add" : "reserve",
		     (unsigned long)lo, (unsigned long)n);
	if (ret) {
		snap_same(&s, &E);
		return;
	}
	free(s.meta);
	for (uint64_t i = lo; i < lo + n; i++) {
		if (!add && M.state[i] == M_FREE) {
			/* Withdrawn memory leaves scrubbed. */
			uint64_t *w = kmm_host_ptr(&E.host, m_pa(i));

			cr_assert_eq(w[0], 0);
		}
		M.state[i] = add ? M_FREE : M_HOLE;
	}
}

static void m_op_free_all_or_quota(void)
{
	kmm_owner_t o = (kmm_owner_t)(rnd() % M_OWNERS);

	if (rnd() % 2) {
		cr_assert_eq(kmm_pages_free_all(&E.p, o), 0);
		for (uint64_t i = 0; i < M_FRAMES; i++)
			if (M.state[i] == o)
				M.state[i] = M_FREE;
		M.used[o] = 0;
	} else {
		uint64_t q = rnd() % 3 ? rnd() % 600 : KMM_PAGES_NO_QUOTA;

		cr_assert_eq(kmm_pages_set_quota(&E.p, o, q), 0);
		M.quota[o] = q;
	}
}

static void run_model(uint64_t seed, unsigned int ops)
{
	memset(&M, 0, sizeof(M));
	M.seed = seed;
	/* Span base 3 frames past 1 GiB: nothing is aligned to it. */
	M.base_pfn = 1 * GIB / PG + 3;
	env_setup(&E, m_pa(0), M_FRAMES * PG, 0);
	for (unsigned int i = 0; i < M_FRAMES; i++)
		M.state[i] = M_HOLE;
	for (unsigned int o = 0; o < M_OWNERS; o++)
		M.quota[o] = KMM_PAGES_NO_QUOTA;
	/* Two banks with a hole between them. */
	cr_assert_eq(kmm_pages_add(&E.p, m_pa(0), 900 * PG), 0);
	cr_assert_eq(kmm_pages_add(&E.p, m_pa(1000), (M_FRAMES - 1000) * PG),
		     0);
	for (unsigned int i = 0; i < M_FRAMES; i++)
		if (i < 900 || i >= 1000)
			M.state[i] = M_FREE;
	m_verify();
	for (unsigned int n = 0; n < ops; n++) {
		unsigned int r = (unsigned int)(rnd() % 100);

		if (r < 40)
			m_op_alloc();
		else if (r < 70)
			m_op_free();
		else if (r < 80)
			m_op_alloc_range();
		else if (r < 88)
			m_op_free_range();
		else if (r < 95)
			m_op_reserve_or_add();
		else
			m_op_free_all_or_quota();
		m_verify();
	}
	teardown();
}

Test(pages, randomized_operations_match_the_reference_model, .timeout = 240)
{
	static const uint64_t seeds[] = { 1, 0xdecafbad, 424242, 7 };
	unsigned int ops = under_valgrind() ? 150 : 1500;

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		run_model(seeds[i], ops);
}
