// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the VMSAv8-64 backend: golden descriptors and register
 * values checked field by field against the Arm ARM, the software walker's
 * decoding of every descriptor type, block use, split and fold, stage 2
 * with concatenated roots, 16 KiB and 64 KiB granules, ENOMEM at every
 * table allocation, and a randomized test against a per-page reference map
 * that checks break-before-make through the host port's event recorder.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/pages.h"
#include "kmm/vmsa.h"

#define ARENA_BASE 0x40000000ull
#define ARENA_SIZE (16ull << 20)

#define KiB(x) ((uint64_t)(x) << 10)
#define MiB(x) ((uint64_t)(x) << 20)
#define GiB(x) ((uint64_t)(x) << 30)

/* ---- environment ---------------------------------------------------------- */

struct env {
	struct kmm_host h;
	/* The allocator's view of the port: VMSA calls it under the port
	 * lock already, and table zeroing need not be recorded. */
	struct kmm_port pages_port;
	struct kmm_pages pages;
	void *meta;
	kmm_paddr_t *hoard; /* frames taken to make allocations fail */
	size_t nhoard;
	struct kmm_vmsa v;
};

#define HOARD_OWNER 2

static void env_pages_init(struct env *e)
{
	size_t meta = kmm_pages_meta_size(ARENA_BASE, ARENA_SIZE);

	e->pages_port = e->h.port;
	e->pages_port.lock = NULL;
	e->pages_port.unlock = NULL;
	e->pages_port.scrub = NULL;
	e->meta = malloc(meta);
	cr_assert_not_null(e->meta);
	cr_assert_eq(kmm_pages_init(&e->pages, &e->pages_port, ARENA_BASE,
				    ARENA_SIZE, e->meta, meta),
		     KMM_OK);
	cr_assert_eq(kmm_pages_add(&e->pages, ARENA_BASE, ARENA_SIZE), KMM_OK);
}

static void env_pages_fini(struct env *e)
{
	free(e->hoard);
	free(e->meta);
}

/* Frames the backend (owner 1) holds in the page allocator. */
static uint64_t pages_held(const struct env *e)
{
	uint64_t n = 0;

	cr_assert_eq(kmm_pages_usage(&e->pages, 1, &n), KMM_OK);
	return n;
}

/* Lets exactly @k more single-frame allocations succeed (all memory else
 * is held by another owner); -1: gives everything back. */
static void pages_fail_after(struct env *e, long k)
{
	kmm_paddr_t pa;

	while (e->nhoard)
		cr_assert_eq(kmm_pages_free(&e->pages, e->hoard[--e->nhoard], 0,
					    HOARD_OWNER),
			     KMM_OK);
	if (k < 0)
		return;
	if (e->hoard == NULL)
		e->hoard =
			malloc(ARENA_SIZE / KMM_PAGE_SIZE * sizeof(*e->hoard));
	cr_assert_not_null(e->hoard);
	while (kmm_pages_alloc(&e->pages, 0, HOARD_OWNER, 0, &pa) == KMM_OK)
		e->hoard[e->nhoard++] = pa;
	for (long i = 0; i < k && e->nhoard; i++)
		cr_assert_eq(kmm_pages_free(&e->pages, e->hoard[--e->nhoard], 0,
					    HOARD_OWNER),
			     KMM_OK);
}

static void env_setup(struct env *e, const struct kmm_vmsa_config *cfg,
		      uint32_t as_flags)
{
	memset(e, 0, sizeof(*e));
	cr_assert_eq(kmm_host_init(&e->h, ARENA_BASE, ARENA_SIZE, 1 << 20), 0);
	e->h.log_enabled = false;
	env_pages_init(e);
	cr_assert_eq(kmm_vmsa_init(&e->v, cfg, &e->h.port, &e->pages, 1,
				   as_flags),
		     KMM_OK);
}

static void env_teardown(struct env *e)
{
	if (e->v.as.ops)
		cr_assert_eq(kmm_as_destroy(&e->v.as), KMM_OK);
	cr_assert_eq(pages_held(e), 0, "table pages leaked");
	env_pages_fini(e);
	kmm_host_fini(&e->h);
}

static struct kmm_vmsa_config cfg_of(unsigned int regime, unsigned int g,
				     unsigned int va_bits, uint32_t flags)
{
	struct kmm_vmsa_config c;

	cr_assert_eq(kmm_vmsa_config_init(&c, regime), KMM_OK);
	c.granule_shift = (uint8_t)g;
	c.va_bits = (uint8_t)va_bits;
	c.flags = flags;
	if (regime == KMM_REGIME_STAGE2 && c.oa_bits < va_bits)
		c.oa_bits = 48;
	return c;
}

static uint64_t desc_at(struct env *e, kmm_vaddr_t va)
{
	struct kmm_vmsa_walk w;

	cr_assert_eq(kmm_vmsa_walk(&e->v, va, &w), KMM_OK, "va %lx",
		     (unsigned long)va);
	return w.desc;
}

static size_t count_events(struct env *e, enum kmm_host_event_kind k)
{
	return kmm_host_count(&e->h, k);
}

static size_t tlbi_events(struct env *e)
{
	return count_events(e, KMM_HOST_EV_TLB_ADD_PAGE) +
	       count_events(e, KMM_HOST_EV_TLB_FLUSH_ALL) +
	       count_events(e, KMM_HOST_EV_TLB_FLUSH_RANGE);
}

/* Counts the tables reachable from the root (root included) and checks
 * that none below the root is empty. */
static uint64_t count_tables(struct env *e, kmm_paddr_t pa, unsigned int level,
			     size_t n)
{
	const uint64_t *t = kmm_host_ptr(&e->h, pa);
	unsigned int g = e->v.cfg.granule_shift;
	uint64_t count = 1;
	size_t valid = 0;

	for (size_t i = 0; i < n; i++) {
		if (!(t[i] & 1)) {
			cr_assert_eq(t[i], 0, "stale invalid descriptor");
			continue;
		}
		valid++;
		if (level < 3 && (t[i] & 3) == 3)
			count += count_tables(e,
					      t[i] & 0xfffffffff000ull &
						      ~((1ull << g) - 1),
					      level + 1, (size_t)1 << (g - 3));
	}
	if (pa != e->v.root_pa)
		cr_assert_gt(valid, 0, "empty table left linked");
	return count;
}

static void check_tables(struct env *e)
{
	uint64_t n = count_tables(e, e->v.root_pa, e->v.start_level,
				  e->v.root_entries);

	cr_assert_eq(n, e->v.tables, "tables %lu reachable %lu",
		     (unsigned long)e->v.tables, (unsigned long)n);
	cr_assert_eq(pages_held(e), (e->v.tables - 1 + e->v.root_tables) *
					    ((1ull << e->v.cfg.granule_shift) /
					     KMM_PAGE_SIZE));
}

#define RW KMM_ATTR_RW_DATA
#define RX KMM_ATTR_RX_CODE
#define RO (KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB))

/* ---- golden descriptors --------------------------------------------------- */

/* Stage 1 EL1&0, 4 KiB, default MAIR indexes (WB 0, NC 1, nGnRnE 2,
 * nGnRE 3). Fields: [1:0] type, AttrIndx [4:2], NS 5, AP[2:1] [7:6],
 * SH [9:8], AF 10, nG 11, OA [47:12], PXN 53, UXN 54. */
Test(vmsa_golden, stage1_el1_pages_encode_every_attribute_field)
{
	static const struct {
		kmm_attr_t attr;
		uint64_t desc;
	} cases[] = {
		/* page 0b11 | AttrIndx 0 | AP 0b00 (EL1 RW) | SH 0b11 | AF |
		 * PXN | UXN */
		{ RW, 0x0060000080000703ull },
		/* AP[2] 1 (read-only), UXN only: EL1 executable */
		{ RX, 0x0040000080000783ull },
		/* AP 0b10 read-only, PXN | UXN */
		{ RO, 0x0060000080000783ull },
		/* AP[1] 1: EL0 RW; PXN | UXN */
		{ RW | KMM_ATTR_USER, 0x0060000080000743ull },
		/* AP 0b11: EL0 RO; PXN only: EL0 executable, never EL1 */
		{ RX | KMM_ATTR_USER, 0x00200000800007c3ull },
		/* nG 11 and NS 5 */
		{ RW | KMM_ATTR_NG | KMM_ATTR_NS, 0x0060000080000f23ull },
		/* AttrIndx 1 (Normal NC), AP 0b10 */
		{ KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
		  0x0060000080000787ull },
		/* AttrIndx 2 (Device-nGnRnE), SH 0b10 outer */
		{ KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_DEVICE_NGNRNE),
		  0x006000008000060bull },
		/* AttrIndx 3 (Device-nGnRE), SH 0b10 */
		{ KMM_ATTR_RW_DEVICE, 0x006000008000060full },
	};
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;

	env_setup(&e, &c, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kmm_vaddr_t va = MiB(2) * (i + 1);
		kmm_attr_t back;
		uint64_t bits;

		cr_assert_eq(kmm_map(&e.v.as, va, 0x80000000ull, KiB(4),
				     cases[i].attr),
			     KMM_OK);
		cr_assert_eq(desc_at(&e, va), cases[i].desc, "case %zu: %016lx",
			     i, (unsigned long)desc_at(&e, va));
		cr_assert_eq(kmm_vmsa_attr_encode(&e.v, cases[i].attr, &bits),
			     KMM_OK);
		cr_assert_eq(bits | 0x80000003ull, cases[i].desc);
		cr_assert_eq(kmm_vmsa_attr_decode(&e.v, cases[i].desc, &back),
			     KMM_OK);
		cr_assert_eq(back, cases[i].attr);
	}
	env_teardown(&e);
}

Test(vmsa_golden, blocks_are_type_01_at_levels_1_and_2_and_tables_type_11)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct kmm_vmsa_walk w;
	struct env e;

	env_setup(&e, &c, 0);
	/* 1 GiB block at level 1 and 2 MiB block at level 2: type 0b01,
	 * OA [47:30] and [47:21]. */
	cr_assert_eq(kmm_map(&e.v.as, GiB(1), GiB(4), GiB(1), RW), KMM_OK);
	cr_assert_eq(kmm_map(&e.v.as, GiB(2), GiB(8) + MiB(2), MiB(2), RW),
		     KMM_OK);
	cr_assert_eq(kmm_vmsa_walk(&e.v, GiB(1) + 5, &w), KMM_OK);
	cr_assert_eq(w.level, 1);
	cr_assert_eq(w.desc, 0x0060000100000701ull);
	cr_assert_eq(w.pa, GiB(4) + 5);
	cr_assert_eq(w.size, GiB(1));
	cr_assert_eq(kmm_vmsa_walk(&e.v, GiB(2), &w), KMM_OK);
	cr_assert_eq(w.level, 2);
	cr_assert_eq(w.desc, 0x0060000200200701ull);
	/* The root entry is a table descriptor: address | 0b11, nothing else
	 * (NSTable, APTable, UXNTable, PXNTable all 0). */
	{
		const uint64_t *root = kmm_host_ptr(&e.h, e.v.root_pa);

		cr_assert_eq(root[0] & 3, 3);
		cr_assert_eq(root[0] & ~0x0000fffffffff000ull, 3);
	}
	env_teardown(&e);
}

/* EL2 (E2H 0): AP[1] is RES1, PXN is RES0, bit 54 is XN. */
Test(vmsa_golden, stage1_el2_sets_ap1_res1_and_uses_xn_only)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL2, 12, 48, 0);
	struct env e;
	uint64_t bits;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0x80000000ull, KiB(4), RW), KMM_OK);
	cr_assert_eq(desc_at(&e, 0), 0x0040000080000743ull);
	cr_assert_eq(kmm_map(&e.v.as, KiB(4), 0x80001000ull, KiB(4), RX),
		     KMM_OK);
	cr_assert_eq(desc_at(&e, KiB(4)), 0x00000000800017c3ull);
	cr_assert_eq(kmm_vmsa_attr_encode(&e.v, RW | KMM_ATTR_USER, &bits),
		     KMM_ENOTSUP);
	cr_assert_eq(kmm_map(&e.v.as, KiB(8), 0, KiB(4), RW | KMM_ATTR_NG),
		     KMM_ENOTSUP);
	env_teardown(&e);
}

/* Stage 2: MemAttr[3:0] [5:2], S2AP [7:6] (bit 6 read, bit 7 write),
 * SH [9:8], AF 10, XN[1:0] [54:53] with 0b10 = not executable. */
Test(vmsa_golden, stage2_encodes_memattr_s2ap_and_xn)
{
	static const struct {
		kmm_attr_t attr;
		uint64_t desc;
	} cases[] = {
		/* MemAttr 0b1111 WB, S2AP 0b11, SH 0b11, XN 0b10 */
		{ RW, 0x00400000800007ffull },
		/* S2AP 0b01 read-only, executable */
		{ RX, 0x000000008000077full },
		/* MemAttr 0b0101 Normal NC, S2AP 0b01 */
		{ KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
		  0x0040000080000757ull },
		/* MemAttr 0b0001 Device-nGnRE, SH 0b10 */
		{ KMM_ATTR_RW_DEVICE, 0x00400000800006c7ull },
		/* MemAttr 0b0000 Device-nGnRnE */
		{ KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_DEVICE_NGNRNE),
		  0x00400000800006c3ull },
	};
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_STAGE2, 12, 40, 0);
	struct env e;

	env_setup(&e, &c, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		kmm_vaddr_t ipa = MiB(2) * (i + 1);

		cr_assert_eq(kmm_map(&e.v.as, ipa, 0x80000000ull, KiB(4),
				     cases[i].attr),
			     KMM_OK);
		cr_assert_eq(desc_at(&e, ipa), cases[i].desc, "case %zu", i);
	}
	cr_assert_eq(kmm_map(&e.v.as, 0, 0, KiB(4), RW | KMM_ATTR_NS),
		     KMM_ENOTSUP);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0, KiB(4), RW | KMM_ATTR_USER),
		     KMM_ENOTSUP);
	env_teardown(&e);
}

Test(vmsa_golden, device_memory_is_never_executable)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0, KiB(4),
			     KMM_ATTR_R | KMM_ATTR_X |
				     KMM_ATTR_MT(KMM_MT_DEVICE_NGNRE)),
		     KMM_ENOTSUP);
	cr_assert_eq(e.v.tables, 1);
	env_teardown(&e);
}

/* ---- registers ------------------------------------------------------------ */

Test(vmsa_regs, tcr_el1_matches_known_good_value_for_t0sz_25)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 39, 0);
	struct env e;

	c.oa_bits = 40;
	c.id = 5;
	env_setup(&e, &c, 0);
	/* T0SZ 25 | IRGN0 01 | ORGN0 01 | SH0 11 | TG0 4K | EPD1 | IPS 40 */
	cr_assert_eq(kmm_vmsa_tcr(&e.v), 0x200803519ull);
	cr_assert_eq(kmm_vmsa_ttbr(&e.v), e.v.root_pa | (5ull << 48));
	/* AttrIndx0 0xff, 1 0x44, 2 0x00, 3 0x04 */
	cr_assert_eq(kmm_vmsa_mair(&e.v), 0x040044ffull);
	env_teardown(&e);
}

Test(vmsa_regs, vtcr_matches_known_good_value_for_t0sz_25_sl0_1)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_STAGE2, 12, 39, 0);
	struct env e;

	c.oa_bits = 40;
	c.id = 7;
	env_setup(&e, &c, 0);
	cr_assert_eq(e.v.start_level, 1);
	cr_assert_eq(e.v.root_tables, 1);
	/* T0SZ 25 | SL0 01 | IRGN0 01 | ORGN0 01 | SH0 11 | PS 40 | RES1 31 */
	cr_assert_eq(kmm_vmsa_tcr(&e.v), 0x80023559ull);
	cr_assert_eq(kmm_vmsa_ttbr(&e.v), e.v.root_pa | (7ull << 48));
	cr_assert_eq(kmm_vmsa_mair(&e.v), 0);
	env_teardown(&e);
}

Test(vmsa_regs, tcr_el2_granules_vmid16_and_noncoherent_walks)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL2, 12, 48, 0);
	struct env e;

	env_setup(&e, &c, 0);
	/* T0SZ 16 | walk WBWA ISH | PS 48 | RES1 31 and 23 */
	cr_assert_eq(kmm_vmsa_tcr(&e.v), 0x80853510ull);
	cr_assert_eq(kmm_vmsa_ttbr(&e.v), e.v.root_pa);
	env_teardown(&e);

	c = cfg_of(KMM_REGIME_EL2, 16, 42, KMM_VMSA_NONCOHERENT_WALK);
	env_setup(&e, &c, 0);
	/* T0SZ 22 | TG0 01 (64K) | PS 48 | RES1; walks NC, non-shareable */
	cr_assert_eq(kmm_vmsa_tcr(&e.v), 0x80854016ull);
	env_teardown(&e);

	c = cfg_of(KMM_REGIME_STAGE2, 14, 40, KMM_VMSA_ID16);
	c.id = 0x1234;
	env_setup(&e, &c, 0);
	/* T0SZ 24 | SL0 01 (level 2, 16K) | TG0 10 | PS 48 | VS | RES1 */
	cr_assert_eq(e.v.start_level, 2);
	cr_assert_eq(e.v.root_tables, 16);
	cr_assert_eq(kmm_vmsa_tcr(&e.v), 0x800db558ull);
	cr_assert_eq(kmm_vmsa_ttbr(&e.v), e.v.root_pa | (0x1234ull << 48));
	cr_assert_eq(e.v.root_pa % (16 * KiB(16)), 0);
	env_teardown(&e);
}

Test(vmsa_regs, mair_follows_custom_indexes)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;

	c.mair_index[KMM_MT_DEVICE_NGNRNE] = 0;
	c.mair_index[KMM_MT_NORMAL_WB] = 1;
	c.mair_index[KMM_MT_NORMAL_NC] = 2;
	c.mair_index[KMM_MT_DEVICE_NGNRE] = 3;
	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_vmsa_mair(&e.v), 0x0444ff00ull);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0x80000000ull, KiB(4), RW), KMM_OK);
	cr_assert_eq(desc_at(&e, 0), 0x0060000080000707ull); /* AttrIndx 1 */
	env_teardown(&e);
}

/* ---- configuration -------------------------------------------------------- */

Test(vmsa_config, init_rejects_what_the_architecture_does_not_allow)
{
	struct env e;
	struct kmm_vmsa v;
	struct kmm_vmsa_config c;
	struct kmm_port noptr;

	memset(&e, 0, sizeof(e));
	cr_assert_eq(kmm_host_init(&e.h, ARENA_BASE, ARENA_SIZE, 16), 0);
	env_pages_init(&e);
#define TRY(expect)                                                            \
	cr_assert_eq(kmm_vmsa_init(&v, &c, &e.h.port, &e.pages, 1, 0), expect, \
		     "line %d", __LINE__)
	c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	cr_assert_eq(kmm_vmsa_init(NULL, &c, &e.h.port, &e.pages, 1, 0),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vmsa_init(&v, NULL, &e.h.port, &e.pages, 1, 0),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vmsa_init(&v, &c, &e.h.port, NULL, 1, 0), KMM_EINVAL);
	cr_assert_eq(kmm_vmsa_init(&v, &c, &e.h.port, &e.pages, 1, 0x80),
		     KMM_EINVAL);
	noptr = e.h.port;
	noptr.pa_to_ptr = NULL;
	cr_assert_eq(kmm_vmsa_init(&v, &c, &noptr, &e.pages, 1, 0), KMM_EINVAL);
	c.granule_shift = 13;
	TRY(KMM_ENOTSUP);
	c = cfg_of(KMM_REGIME_EL1, 12, 31, 0);
	TRY(KMM_ENOTSUP);
	c = cfg_of(KMM_REGIME_EL1, 12, 49, 0);
	TRY(KMM_ENOTSUP);
	c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	c.oa_bits = 39;
	TRY(KMM_ENOTSUP);
	c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	c.mair_index[1] = 0;
	TRY(KMM_EINVAL);
	c.mair_index[1] = 8;
	TRY(KMM_EINVAL);
	c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	c.id = 256;
	TRY(KMM_EINVAL);
	c = cfg_of(KMM_REGIME_EL2, 12, 48, 0);
	c.id = 1;
	TRY(KMM_EINVAL);
	c = cfg_of(KMM_REGIME_EL1, 12, 48,
		   KMM_VMSA_AUTO_FOLD | KMM_VMSA_NO_BLOCKS);
	TRY(KMM_EINVAL);
	c = cfg_of(KMM_REGIME_EL1, 12, 48, 1u << 20);
	TRY(KMM_EINVAL);
	c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	c.regime = KMM_REGIME_EL3;
	TRY(KMM_EINVAL);
	/* Stage 2: IPA wider than the output, start levels out of range. */
	c = cfg_of(KMM_REGIME_STAGE2, 12, 44, 0);
	c.oa_bits = 40;
	TRY(KMM_ENOTSUP);
	c = cfg_of(KMM_REGIME_STAGE2, 12, 44, 0);
	c.start_level = 1; /* 44 bits at level 1 = 32 tables */
	TRY(KMM_ENOTSUP);
	c = cfg_of(KMM_REGIME_STAGE2, 12, 40, 0);
	c.oa_bits = 40;
	c.start_level = 0; /* level 0 needs PS > 42 bits */
	TRY(KMM_ENOTSUP);
	c = cfg_of(KMM_REGIME_STAGE2, 16, 40, 0);
	c.start_level = 3; /* 24 bits at level 3 */
	TRY(KMM_ENOTSUP);
	cr_assert_eq(pages_held(&e), 0);
	/* ENOMEM for the root: nothing held afterwards. */
	c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	pages_fail_after(&e, 0);
	TRY(KMM_ENOMEM);
	cr_assert_eq(pages_held(&e), 0);
	cr_assert_eq(kmm_vmsa_config_init(NULL, KMM_REGIME_EL1), KMM_EINVAL);
	cr_assert_eq(kmm_vmsa_config_init(&c, 7), KMM_EINVAL);
#undef TRY
	pages_fail_after(&e, -1);
	env_pages_fini(&e);
	kmm_host_fini(&e.h);
}

Test(vmsa_config, stage1_start_level_follows_va_bits_and_granule)
{
	static const struct {
		unsigned int g, va, level, entries;
	} cases[] = {
		{ 12, 48, 0, 512 },  { 12, 40, 0, 2 },	{ 12, 39, 1, 512 },
		{ 12, 32, 1, 4 },    { 14, 48, 0, 2 },	{ 14, 47, 1, 2048 },
		{ 14, 36, 2, 2048 }, { 16, 48, 1, 64 }, { 16, 42, 2, 8192 },
		{ 16, 32, 2, 8 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kmm_vmsa_config c =
			cfg_of(KMM_REGIME_EL1, cases[i].g, cases[i].va, 0);
		struct env e;

		env_setup(&e, &c, 0);
		cr_assert_eq(e.v.start_level, cases[i].level, "case %zu", i);
		cr_assert_eq(e.v.root_entries, cases[i].entries, "case %zu", i);
		env_teardown(&e);
	}
}

/* ---- walker --------------------------------------------------------------- */

Test(vmsa_walk, decodes_faults_exactly_as_the_hardware)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct kmm_vmsa_walk w;
	struct env e;
	uint64_t *p;

	c.oa_bits = 40;
	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_vmsa_walk(&e.v, 1ull << 48, &w), KMM_ERANGE);
	cr_assert_eq(kmm_vmsa_walk(&e.v, 0, &w), KMM_ENOENT);
	cr_assert_eq(w.fault, KMM_VMSA_FAULT_TRANSLATION);
	cr_assert_eq(w.level, 0);
	cr_assert_eq(kmm_vmsa_walk(NULL, 0, &w), KMM_EINVAL);
	cr_assert_eq(kmm_vmsa_walk(&e.v, 0, NULL), KMM_EINVAL);

	cr_assert_eq(kmm_map(&e.v.as, 0, 0x80000000ull, KiB(4), RW), KMM_OK);
	cr_assert_eq(kmm_vmsa_walk(&e.v, 0x123, &w), KMM_OK);
	cr_assert_eq(w.level, 3);
	cr_assert_eq(w.pa, 0x80000123ull);
	cr_assert_eq(w.size, KiB(4));
	cr_assert_eq(w.attr, RW);
	p = kmm_host_ptr(&e.h, w.desc_pa);
	cr_assert_not_null(p);
	cr_assert_eq(*p, w.desc);

	/* Level-3 0b01 is reserved: a translation fault, not a block. */
	*p = (*p & ~3ull) | 1;
	cr_assert_eq(kmm_vmsa_walk(&e.v, 0, &w), KMM_ENOENT);
	cr_assert_eq(w.fault, KMM_VMSA_FAULT_TRANSLATION);
	cr_assert_eq(w.level, 3);
	/* AF clear: access flag fault. */
	*p = (w.desc | 3) & ~(1ull << 10);
	cr_assert_eq(kmm_vmsa_walk(&e.v, 0, &w), KMM_ENOENT);
	cr_assert_eq(w.fault, KMM_VMSA_FAULT_ACCESS_FLAG);
	/* OA above the 40-bit output size: address size fault. */
	*p = (w.desc | (1ull << 10)) | (1ull << 44);
	cr_assert_eq(kmm_vmsa_walk(&e.v, 0, &w), KMM_ENOENT);
	cr_assert_eq(w.fault, KMM_VMSA_FAULT_ADDRESS_SIZE);
	/* An AttrIndx no memory type uses: translates, but not kmm's. */
	*p = (w.desc & ~(1ull << 44)) | (7ull << 2);
	cr_assert_eq(kmm_vmsa_walk(&e.v, 0, &w), KMM_EBADDATA);
	cr_assert_eq(w.pa, 0x80000000ull);
	*p = w.desc & ~(7ull << 2);

	/* A block at level 0 does not exist with 4 KiB granules. */
	{
		uint64_t *root = kmm_host_ptr(&e.h, e.v.root_pa);
		uint64_t keep = root[1];

		root[1] = 0x0060000000000701ull;
		cr_assert_eq(kmm_vmsa_walk(&e.v, 1ull << 39, &w), KMM_ENOENT);
		cr_assert_eq(w.fault, KMM_VMSA_FAULT_TRANSLATION);
		cr_assert_eq(w.level, 0);
		root[1] = keep;
	}
	env_teardown(&e);
}

/* ---- map, blocks, split, fold --------------------------------------------- */

Test(vmsa_map, uses_the_largest_block_alignment_allows)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;
	kmm_paddr_t pa;
	size_t sz;

	env_setup(&e, &c, 0);
	/* [1G - 2M, 2G + 2M + 4K): 2 MiB, 1 GiB, 2 MiB blocks, one page. */
	cr_assert_eq(kmm_map(&e.v.as, GiB(1) - MiB(2), GiB(3) - MiB(2),
			     GiB(1) + MiB(4) + KiB(4), RW),
		     KMM_OK);
	cr_assert_eq(kmm_query(&e.v.as, GiB(1) - MiB(2), &pa, NULL, &sz),
		     KMM_OK);
	cr_assert_eq(sz, MiB(2));
	cr_assert_eq(kmm_query(&e.v.as, GiB(1) + 77, &pa, NULL, &sz), KMM_OK);
	cr_assert_eq(sz, GiB(1));
	cr_assert_eq(pa, GiB(3) + 77);
	cr_assert_eq(kmm_query(&e.v.as, GiB(2) + MiB(1), &pa, NULL, &sz),
		     KMM_OK);
	cr_assert_eq(sz, MiB(2));
	cr_assert_eq(kmm_query(&e.v.as, GiB(2) + MiB(2), &pa, NULL, &sz),
		     KMM_OK);
	cr_assert_eq(sz, KiB(4));
	cr_assert_eq(pa, GiB(4) + MiB(2));
	/* 1 + 1 + 1 + 1 leaves. */
	cr_assert_eq(e.v.leaf_writes, 4);
	check_tables(&e);

	/* A PA 4 KiB off block alignment maps with pages only. */
	e.v.leaf_writes = 0;
	cr_assert_eq(kmm_map(&e.v.as, GiB(8), GiB(9) + KiB(4), MiB(4), RW),
		     KMM_OK);
	cr_assert_eq(e.v.leaf_writes, 1024);
	cr_assert_eq(kmm_query(&e.v.as, GiB(8), NULL, NULL, &sz), KMM_OK);
	cr_assert_eq(sz, KiB(4));
	check_tables(&e);
	env_teardown(&e);
}

Test(vmsa_map, fills_invalid_entries_without_tlb_invalidation)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;

	env_setup(&e, &c, 0);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_map(&e.v.as, MiB(2), GiB(2), MiB(6) + KiB(8), RW),
		     KMM_OK);
	cr_assert_eq(kmm_map(&e.v.as, MiB(64), GiB(2), KiB(4), RW), KMM_OK);
	cr_assert_eq(tlbi_events(&e), 0);
	/* One barrier per map so the caller sees its mapping at once. */
	cr_assert_eq(count_events(&e, KMM_HOST_EV_TLB_SYNC), 2);
	env_teardown(&e);
}

Test(vmsa_map, refuses_overlap_bad_pa_and_wx_and_changes_nothing)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;
	uint8_t *before = malloc(ARENA_SIZE);

	c.oa_bits = 40;
	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, MiB(2), GiB(2), MiB(2), RW), KMM_OK);
	memcpy(before, e.h.arena, ARENA_SIZE);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_map(&e.v.as, MiB(4) - KiB(4), GiB(3), KiB(8), RW),
		     KMM_EEXIST);
	cr_assert_eq(kmm_map(&e.v.as, 0, GiB(3), GiB(1), RW), KMM_EEXIST);
	cr_assert_eq(kmm_map(&e.v.as, 0, GiB(3) + 1, KiB(4), RW), KMM_EALIGN);
	cr_assert_eq(kmm_map(&e.v.as, 0, 1ull << 40, KiB(4), RW), KMM_ERANGE);
	cr_assert_eq(kmm_map(&e.v.as, 0, (1ull << 40) - KiB(4), KiB(8), RW),
		     KMM_ERANGE);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0, KiB(4), RW | KMM_ATTR_X),
		     KMM_EPERM);
	cr_assert_eq(kmm_map(&e.v.as, 1ull << 48, 0, KiB(4), RW), KMM_ERANGE);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0, KiB(2), RW), KMM_EALIGN);
	cr_assert_eq(memcmp(before, e.h.arena, ARENA_SIZE), 0);
	cr_assert_eq(e.h.events_len, 0);
	cr_assert_eq(e.v.tables, 3);
	free(before);
	env_teardown(&e);
}

Test(vmsa_map, allows_wx_only_when_the_space_is_configured_for_it)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;

	env_setup(&e, &c, KMM_AS_ALLOW_WX);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0x80000000ull, KiB(4),
			     RW | KMM_ATTR_X),
		     KMM_OK);
	/* AP 0b00 RW, UXN only */
	cr_assert_eq(desc_at(&e, 0), 0x0040000080000703ull);
	env_teardown(&e);
}

/* The regression OP-TEE had: a split block's level-3 entries must be pages
 * (0b11), never 0b01, which the walker treats as reserved. */
Test(vmsa_split, unmap_inside_a_block_writes_level3_pages_type_11)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	const struct kmm_host_event *ev;
	struct kmm_vmsa_walk w;
	struct env e;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, MiB(2), GiB(2), MiB(2), RW), KMM_OK);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_unmap(&e.v.as, MiB(3), KiB(4)), KMM_OK);
	for (uint64_t i = 0; i < 512; i++) {
		kmm_vaddr_t va = MiB(2) + i * KiB(4);
		int ret = kmm_vmsa_walk(&e.v, va, &w);

		if (va == MiB(3)) {
			cr_assert_eq(ret, KMM_ENOENT);
			cr_assert_eq(w.level, 3);
			cr_assert_eq(w.desc, 0);
			continue;
		}
		cr_assert_eq(ret, KMM_OK);
		cr_assert_eq(w.level, 3);
		cr_assert_eq(w.desc & 3, 3);
		cr_assert_eq(w.desc,
			     0x0060000000000703ull | (GiB(2) + i * KiB(4)));
	}
	/* Break the block, invalidate it once, sync, link the table, sync. */
	cr_assert_eq(e.h.events_len, 3);
	ev = &e.h.events[0];
	cr_assert_eq(ev->kind, KMM_HOST_EV_TLB_ADD_PAGE);
	cr_assert_eq(ev->addr, MiB(2));
	cr_assert_eq(ev->granule, MiB(2));
	cr_assert_eq(ev->arg0, 1);
	cr_assert_eq(ev->ctx.regime, KMM_REGIME_EL1);
	cr_assert_eq(e.h.events[1].kind, KMM_HOST_EV_TLB_SYNC);
	cr_assert_eq(e.h.events[2].kind, KMM_HOST_EV_TLB_SYNC);
	check_tables(&e);
	env_teardown(&e);
}

Test(vmsa_split, unmap_inside_a_1g_block_splits_down_to_pages)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;
	size_t sz;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, GiB(1), GiB(1), GiB(1), RW), KMM_OK);
	cr_assert_eq(e.v.tables, 2);
	cr_assert_eq(kmm_unmap(&e.v.as, GiB(1) + MiB(3), KiB(8)), KMM_OK);
	cr_assert_eq(e.v.tables, 4);
	cr_assert_eq(kmm_query(&e.v.as, GiB(1), NULL, NULL, &sz), KMM_OK);
	cr_assert_eq(sz, MiB(2));
	cr_assert_eq(kmm_query(&e.v.as, GiB(1) + MiB(3) - KiB(4), NULL, NULL,
			       &sz),
		     KMM_OK);
	cr_assert_eq(sz, KiB(4));
	cr_assert_eq(kmm_query(&e.v.as, GiB(1) + MiB(3) + KiB(4), NULL, NULL,
			       NULL),
		     KMM_ENOENT);
	cr_assert_eq(kmm_query(&e.v.as, GiB(1) + MiB(3) + KiB(8), NULL, NULL,
			       &sz),
		     KMM_OK);
	check_tables(&e);
	env_teardown(&e);
}

Test(vmsa_split, protect_part_of_a_block_then_back_folds_with_auto_fold)
{
	struct kmm_vmsa_config c =
		cfg_of(KMM_REGIME_EL1, 12, 48, KMM_VMSA_AUTO_FOLD);
	struct env e;
	kmm_attr_t attr;
	size_t sz;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, GiB(1), GiB(1), GiB(1), RW), KMM_OK);
	cr_assert_eq(kmm_protect(&e.v.as, GiB(1) + KiB(4), KiB(4), RO), KMM_OK);
	cr_assert_eq(e.v.tables, 4);
	cr_assert_eq(kmm_query(&e.v.as, GiB(1) + KiB(4), NULL, &attr, &sz),
		     KMM_OK);
	cr_assert_eq(attr, RO);
	cr_assert_eq(sz, KiB(4));
	cr_assert_eq(kmm_query(&e.v.as, GiB(1), NULL, &attr, &sz), KMM_OK);
	cr_assert_eq(attr, RW);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_protect(&e.v.as, GiB(1) + KiB(4), KiB(4), RW), KMM_OK);
	cr_assert_eq(e.v.tables, 2);
	cr_assert_eq(kmm_query(&e.v.as, GiB(1) + KiB(4), NULL, &attr, &sz),
		     KMM_OK);
	cr_assert_eq(sz, GiB(1));
	cr_assert_eq(desc_at(&e, GiB(1)), 0x0060000040000701ull);
	check_tables(&e);
	env_teardown(&e);
}

Test(vmsa_fold, explicit_fold_turns_full_tables_into_blocks)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;
	size_t sz;

	env_setup(&e, &c, 0);
	for (uint64_t i = 0; i < 512; i++)
		cr_assert_eq(kmm_map(&e.v.as, MiB(2) + i * KiB(4),
				     MiB(4) + i * KiB(4), KiB(4), RW),
			     KMM_OK);
	/* Not aligned for a block: stays as it is. */
	for (uint64_t i = 0; i < 512; i++)
		cr_assert_eq(kmm_map(&e.v.as, MiB(8) + i * KiB(4),
				     MiB(5) + i * KiB(4), KiB(4), RW),
			     KMM_OK);
	cr_assert_eq(e.v.tables, 5);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_vmsa_fold(&e.v, 0, GiB(1)), 1);
	cr_assert_eq(e.v.tables, 4);
	cr_assert_eq(kmm_query(&e.v.as, MiB(3), NULL, NULL, &sz), KMM_OK);
	cr_assert_eq(sz, MiB(2));
	cr_assert_eq(desc_at(&e, MiB(2)), 0x0060000000400701ull);
	/* 512 leaf invalidations reach the threshold: one flush instead. */
	cr_assert_eq(count_events(&e, KMM_HOST_EV_TLB_FLUSH_ALL),
		     512 + 1 > KMM_CONFIG_TLBI_THRESHOLD ? 1 : 0);
	cr_assert_eq(count_events(&e, KMM_HOST_EV_TLB_SYNC), 1);
	cr_assert_eq(kmm_vmsa_fold(&e.v, 0, 0), KMM_EINVAL);
	cr_assert_eq(kmm_vmsa_fold(&e.v, 1, KiB(4)), KMM_EALIGN);
	cr_assert_eq(kmm_vmsa_fold(&e.v, 1ull << 48, KiB(4)), KMM_ERANGE);
	cr_assert_eq(kmm_vmsa_fold(NULL, 0, KiB(4)), KMM_EINVAL);
	check_tables(&e);
	env_teardown(&e);
}

/* ---- unmap, protect ------------------------------------------------------- */

Test(vmsa_unmap, invalidates_page_by_page_then_flushes_beyond_threshold)
{
	struct kmm_vmsa_config c =
		cfg_of(KMM_REGIME_EL1, 12, 48, KMM_VMSA_NO_BLOCKS);
	struct env e;

	c.id = 9;
	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, MiB(2), GiB(1), MiB(4), RW), KMM_OK);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_unmap(&e.v.as, MiB(2) + KiB(4), KiB(12)), KMM_OK);
	cr_assert_eq(e.h.events_len, 4);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(e.h.events[i].kind, KMM_HOST_EV_TLB_ADD_PAGE);
		cr_assert_eq(e.h.events[i].addr, MiB(2) + KiB(4) * (i + 1));
		cr_assert_eq(e.h.events[i].granule, KiB(4));
		cr_assert_eq(e.h.events[i].ctx.id, 9);
	}
	cr_assert_eq(e.h.events[3].kind, KMM_HOST_EV_TLB_SYNC);

	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_unmap(&e.v.as, 0, GiB(1)), KMM_OK);
	cr_assert_eq(count_events(&e, KMM_HOST_EV_TLB_ADD_PAGE),
		     KMM_CONFIG_TLBI_THRESHOLD);
	cr_assert_eq(count_events(&e, KMM_HOST_EV_TLB_FLUSH_ALL), 1);
	cr_assert_eq(count_events(&e, KMM_HOST_EV_TLB_SYNC), 1);
	cr_assert_eq(e.h.events[e.h.events_len - 1].kind, KMM_HOST_EV_TLB_SYNC);
	/* Every table went back, the root stays. */
	cr_assert_eq(e.v.tables, 1);
	check_tables(&e);
	env_teardown(&e);
}

Test(vmsa_unmap, reports_enoent_only_when_nothing_was_mapped)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_unmap(&e.v.as, 0, MiB(2)), KMM_ENOENT);
	cr_assert_eq(kmm_map(&e.v.as, KiB(4), 0, KiB(4), RW), KMM_OK);
	cr_assert_eq(kmm_unmap(&e.v.as, KiB(8), MiB(2)), KMM_ENOENT);
	cr_assert_eq(kmm_unmap(&e.v.as, 0, MiB(2)), KMM_OK);
	cr_assert_eq(e.v.tables, 1);
	cr_assert_eq(kmm_unmap(&e.v.as, 0, 0), KMM_EINVAL);
	cr_assert_eq(kmm_unmap(&e.v.as, 1, KiB(4)), KMM_EALIGN);
	env_teardown(&e);
}

Test(vmsa_protect, refuses_holes_and_changes_nothing)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;
	uint8_t *before = malloc(ARENA_SIZE);

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, MiB(2), 0, MiB(2), RW), KMM_OK);
	cr_assert_eq(kmm_map(&e.v.as, MiB(4) + KiB(4), 0, KiB(4), RW), KMM_OK);
	memcpy(before, e.h.arena, ARENA_SIZE);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_protect(&e.v.as, MiB(2), MiB(2) + KiB(8), RO),
		     KMM_ENOENT);
	cr_assert_eq(kmm_protect(&e.v.as, MiB(2), KiB(4), RW | KMM_ATTR_X),
		     KMM_EPERM);
	cr_assert_eq(kmm_protect(&e.v.as, MiB(2), KiB(4),
				 KMM_ATTR_R | KMM_ATTR_X |
					 KMM_ATTR_MT(KMM_MT_DEVICE_NGNRE)),
		     KMM_ENOTSUP);
	cr_assert_eq(memcmp(before, e.h.arena, ARENA_SIZE), 0);
	cr_assert_eq(e.h.events_len, 0);
	/* Same attributes: nothing to do, no maintenance. */
	cr_assert_eq(kmm_protect(&e.v.as, MiB(2), MiB(2), RW), KMM_OK);
	cr_assert_eq(e.h.events_len, 0);
	free(before);
	env_teardown(&e);
}

/* ---- ENOMEM --------------------------------------------------------------- */

/* Fails the k-th table allocation of @fn for every k and checks that the
 * tables, the allocator and the recorded maintenance are untouched. */
struct snap {
	uint8_t *buf;
	size_t len, cap;
};

static void snap_put(struct snap *s, const void *p, size_t n)
{
	if (s->len + n > s->cap) {
		s->cap = (s->len + n) * 2;
		s->buf = realloc(s->buf, s->cap);
		cr_assert_not_null(s->buf);
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
}

/* Serialises every reachable table (PA, then contents) in walk order. */
static void snap_tables(struct env *e, struct snap *s, kmm_paddr_t pa,
			unsigned int level, size_t n)
{
	const uint64_t *t = kmm_host_ptr(&e->h, pa);
	unsigned int g = e->v.cfg.granule_shift;

	snap_put(s, &pa, sizeof(pa));
	snap_put(s, t, n * sizeof(*t));
	for (size_t i = 0; i < n; i++)
		if (level < 3 && (t[i] & 3) == 3)
			snap_tables(e, s,
				    t[i] & 0xfffffffff000ull &
					    ~((1ull << g) - 1),
				    level + 1, (size_t)1 << (g - 3));
}

static void snap_take(struct env *e, struct snap *s)
{
	s->len = 0;
	snap_tables(e, s, e->v.root_pa, e->v.start_level, e->v.root_entries);
}

static bool snap_same(struct env *e, const struct snap *a)
{
	struct snap b = { 0 };
	bool same;

	snap_take(e, &b);
	same = a->len == b.len && memcmp(a->buf, b.buf, a->len) == 0;
	free(b.buf);
	return same;
}

static void enomem_everywhere(struct env *e, int (*fn)(struct env *),
			      long *needed)
{
	struct snap before = { 0 };
	uint64_t tables = e->v.tables, held = pages_held(e);
	long k;

	snap_take(e, &before);
	for (k = 0;; k++) {
		int ret;

		kmm_host_clear_events(&e->h);
		pages_fail_after(e, k);
		ret = fn(e);
		if (ret == KMM_OK)
			break;
		cr_assert_eq(ret, KMM_ENOMEM, "k %ld", k);
		cr_assert(snap_same(e, &before), "tables changed at k %ld", k);
		cr_assert_eq(e->v.tables, tables);
		cr_assert_eq(pages_held(e), held);
		cr_assert_eq(e->h.events_len, 0);
	}
	pages_fail_after(e, -1);
	*needed = k;
	free(before.buf);
}

static int big_map(struct env *e)
{
	return kmm_map(&e->v.as, GiB(1) - MiB(1), GiB(3) + KiB(4), MiB(5), RW);
}

static int split_unmap(struct env *e)
{
	return kmm_unmap(&e->v.as, GiB(4) + MiB(5), KiB(4));
}

static int split_protect(struct env *e)
{
	return kmm_protect(&e->v.as, GiB(4) + MiB(7), KiB(8), RO);
}

Test(vmsa_enomem, every_failed_table_allocation_leaves_tables_identical)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;
	long needed;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, GiB(1) - MiB(4), 0, MiB(2), RW), KMM_OK);
	cr_assert_eq(kmm_map(&e.v.as, GiB(4), GiB(4), GiB(1), RW), KMM_OK);
	/* 5 MiB at a PA 4 KiB off: pages only, across a 1 GiB boundary:
	 * one level-3 table below the existing level-2 table, then a level-2
	 * table and two level-3 tables above 1 GiB. */
	enomem_everywhere(&e, big_map, &needed);
	cr_assert_eq(needed, 4);
	check_tables(&e);
	/* Splitting the 1 GiB block needs a level-2 and a level-3 table. */
	enomem_everywhere(&e, split_unmap, &needed);
	cr_assert_eq(needed, 2);
	check_tables(&e);
	enomem_everywhere(&e, split_protect, &needed);
	cr_assert_eq(needed, 1);
	check_tables(&e);
	env_teardown(&e);
}

/* One call of the exact-count test below. */
struct counted_call {
	int kind; /* 0 map, 1 unmap, 2 protect */
	uint64_t va, pa, size;
	kmm_attr_t attr;
	long tables; /* tables it links */
};

static int counted_run(struct env *e, const struct counted_call *c)
{
	if (c->kind == 0)
		return kmm_map(&e->v.as, c->va, c->pa, c->size, c->attr);
	if (c->kind == 1)
		return kmm_unmap(&e->v.as, c->va, c->size);
	return kmm_protect(&e->v.as, c->va, c->size, c->attr);
}

Test(vmsa_enomem, prepare_counts_exactly_the_tables_each_call_links)
{
	static const struct counted_call calls[] = {
		/* 2 MiB blocks below 1 GiB: a level-1 and a level-2 table. */
		{ 0, GiB(1) - MiB(4), 0, MiB(4), RW, 2 },
		/* A 1 GiB block in the level-1 table: nothing. */
		{ 0, GiB(4), GiB(4), GiB(1), RW, 0 },
		/* 5 MiB of pages 4 KiB off: a level-2 and 3 level-3 tables. */
		{ 0, GiB(8) + KiB(4), GiB(8), MiB(5), RW, 4 },
		/* A page out of the 1 GiB block: a level-2 and a level-3. */
		{ 1, GiB(4) + MiB(5), 0, KiB(4), 0, 2 },
		/* Both ends inside 2 MiB blocks, one already split: one. */
		{ 1, GiB(4) + MiB(2) + KiB(4), 0, MiB(4) - KiB(8), 0, 1 },
		/* Inside one 2 MiB block: one; across two: two. */
		{ 2, GiB(4) + MiB(100) + KiB(8), 0, KiB(8), RO, 1 },
		{ 2, GiB(4) + MiB(200) - KiB(4), 0, KiB(8), RO, 2 },
		/* Attributes that do not change split nothing. */
		{ 2, GiB(4) + MiB(300) + KiB(4), 0, KiB(4), RW, 0 },
		/* Whole blocks and pages: nothing to split. */
		{ 2, GiB(4) + MiB(400), 0, MiB(4), RO, 0 },
		{ 1, GiB(8) + MiB(1), 0, MiB(1), 0, 0 },
	};
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct env e;

	env_setup(&e, &c, 0);
	for (size_t n = 0; n < sizeof(calls) / sizeof(calls[0]); n++) {
		uint64_t tables = e.v.tables;
		long k;
		int ret;

		for (k = 0;; k++) {
			pages_fail_after(&e, k);
			ret = counted_run(&e, &calls[n]);
			if (ret != KMM_ENOMEM)
				break;
			cr_assert_eq(e.v.tables, tables, "call %zu", n);
		}
		pages_fail_after(&e, -1);
		cr_assert_eq(ret, KMM_OK, "call %zu", n);
		/* Every table taken was linked: none left over. */
		cr_assert_eq(k, calls[n].tables, "call %zu: %ld", n, k);
		cr_assert_eq(e.v.tables - tables, (uint64_t)k, "call %zu", n);
		check_tables(&e);
	}
	env_teardown(&e);
}

/* ---- destroy, dump, caps -------------------------------------------------- */

Test(vmsa_as, destroy_returns_every_table_and_flushes_once)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_STAGE2, 12, 40, 0);
	struct env e;

	c.id = 3;
	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_map(&e.v.as, 0, GiB(1), MiB(7) + KiB(4), RW), KMM_OK);
	cr_assert_eq(kmm_map(&e.v.as, GiB(600), GiB(2), GiB(1), RW), KMM_OK);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_as_destroy(&e.v.as), KMM_OK);
	cr_assert_eq(pages_held(&e), 0);
	cr_assert_eq(e.h.events_len, 2);
	cr_assert_eq(e.h.events[0].kind, KMM_HOST_EV_TLB_FLUSH_ALL);
	cr_assert_eq(e.h.events[0].ctx.regime, KMM_REGIME_STAGE2);
	cr_assert_eq(e.h.events[0].ctx.id, 3);
	cr_assert_eq(e.h.events[1].kind, KMM_HOST_EV_TLB_SYNC);
	cr_assert_eq(kmm_map(&e.v.as, 0, 0, KiB(4), RW), KMM_EINVAL);
	env_teardown(&e);
}

struct logbuf {
	char text[4096];
	size_t len;
};

static void capture_log(void *cookie, const char *line)
{
	struct logbuf *b = ((struct kmm_host *)cookie)->user;
	int n = snprintf(b->text + b->len, sizeof(b->text) - b->len, "%s\n",
			 line);

	if (n > 0)
		b->len += (size_t)n;
}

Test(vmsa_as, dump_prints_merged_ranges_through_the_port_log)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);
	struct logbuf lb = { .len = 0 };
	struct env e;

	env_setup(&e, &c, 0);
	e.h.user = &lb;
	e.h.port.log = capture_log;
	cr_assert_eq(kmm_map(&e.v.as, MiB(2), GiB(1), MiB(4), RW), KMM_OK);
	cr_assert_eq(kmm_map(&e.v.as, MiB(6), GiB(1) + MiB(4), KiB(8),
			     RX | KMM_ATTR_USER | KMM_ATTR_NG),
		     KMM_OK);
	cr_assert_eq(kmm_as_dump(&e.v.as), KMM_OK);
	cr_assert_str_eq(lb.text, "vmsa: regime 0 granule 0x1000 va_bits 48 "
				  "start level 0, 4 tables\n"
				  "vmsa: 0x200000-0x600000 -> 0x40000000 "
				  "rw---- normal-wb 2 x 0x200000\n"
				  "vmsa: 0x600000-0x602000 -> 0x40400000 "
				  "r-xug- normal-wb 2 x 0x1000\n");
	env_teardown(&e);
}

Test(vmsa_as, caps_report_granule_blocks_and_input_range)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 39, 0);
	struct kmm_as_caps caps;
	struct env e;

	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_as_caps(&e.v.as, &caps), KMM_OK);
	cr_assert_eq(caps.flags, KMM_CAP_TRANSLATES | KMM_CAP_PARTIAL_UNMAP |
					 KMM_CAP_NONCONTIG);
	cr_assert_eq(caps.block_sizes, GiB(1) | MiB(2) | KiB(4));
	cr_assert_eq(caps.granule, KiB(4));
	cr_assert_eq(caps.va_end, 1ull << 39);
	env_teardown(&e);

	c = cfg_of(KMM_REGIME_EL1, 16, 48, KMM_VMSA_NO_BLOCKS);
	env_setup(&e, &c, 0);
	cr_assert_eq(kmm_as_caps(&e.v.as, &caps), KMM_OK);
	cr_assert_eq(caps.block_sizes, KiB(64));
	cr_assert_eq(caps.granule, KiB(64));
	env_teardown(&e);
}

/* ---- randomized against a per-page reference ------------------------------ */

/*
 * The reference is one (PA, attributes) pair per page of a window. Before
 * each unmap or protect, the pages whose valid translation will change are
 * marked pending; the host port's event hook then checks the
 * break-before-make order as it happens:
 *  - at tlb_add_page, the invalidated address no longer translates, and
 *    pending pages inside the invalidated range become "invalidated";
 *  - at tlb_flush_all, every pending page no longer translates;
 *  - at tlb_sync, every invalidated page still does not translate (the
 *    new entry was not written before the sync) and becomes "synced".
 * After the call every changed page must be synced; a map must not have
 * issued any invalidation. With non-coherent walks the walker's view is a
 * shadow of table memory updated only by clean_range events, and every
 * reachable table must equal its shadow after each call.
 */
enum { PG_IDLE, PG_PENDING, PG_INVALIDATED, PG_SYNCED };

struct model {
	struct env *e;
	kmm_vaddr_t base;
	size_t pages;
	uint64_t page;
	kmm_paddr_t *pa;
	kmm_attr_t *attr; /* 0: not mapped */
	uint8_t *state;
	size_t *set;
	size_t nset;
	bool map_op; /* no invalidation allowed */
	bool noncoherent;
	uint8_t *shadow; /* the walker's view of the arena */
	struct kmm_port shadow_port;
	struct kmm_vmsa view; /* walks through shadow_port */
};

static void *shadow_pa_to_ptr(void *cookie, kmm_paddr_t pa)
{
	struct model *m = cookie;

	if (pa < ARENA_BASE || pa - ARENA_BASE >= ARENA_SIZE)
		return NULL;
	return m->shadow + (pa - ARENA_BASE);
}

static bool translates(struct model *m, kmm_vaddr_t va)
{
	struct kmm_vmsa_walk w;
	const struct kmm_vmsa *v = m->noncoherent ? &m->view : &m->e->v;

	return kmm_vmsa_walk(v, va, &w) != KMM_ENOENT;
}

static void bbm_hook(struct kmm_host *h, const struct kmm_host_event *ev)
{
	struct model *m = h->user;
	kmm_vaddr_t wend = m->base + m->pages * m->page;

	switch (ev->kind) {
	case KMM_HOST_EV_TLB_ADD_PAGE: {
		kmm_vaddr_t lo = ev->addr > m->base ? ev->addr : m->base;
		kmm_vaddr_t hi = ev->addr + ev->granule < wend ?
					 ev->addr + ev->granule :
					 wend;

		cr_assert(!m->map_op, "invalidation during a map");
		cr_assert(!translates(m, ev->addr),
			  "TLBI of %lx before its entry was broken",
			  (unsigned long)ev->addr);
		for (kmm_vaddr_t va = lo; va < hi; va += m->page) {
			size_t i = (va - m->base) / m->page;

			if (m->state[i] != PG_PENDING)
				continue;
			cr_assert(!translates(m, va));
			m->state[i] = PG_INVALIDATED;
		}
		break;
	}
	case KMM_HOST_EV_TLB_FLUSH_ALL:
		cr_assert(!m->map_op, "flush during a map");
		for (size_t k = 0; k < m->nset; k++) {
			size_t i = m->set[k];

			if (m->state[i] != PG_PENDING)
				continue;
			cr_assert(!translates(m, m->base + i * m->page));
			m->state[i] = PG_INVALIDATED;
		}
		break;
	case KMM_HOST_EV_TLB_FLUSH_RANGE:
		cr_assert(false, "unexpected tlb_flush_range");
		break;
	case KMM_HOST_EV_TLB_SYNC:
		for (size_t k = 0; k < m->nset; k++) {
			size_t i = m->set[k];

			if (m->state[i] != PG_INVALIDATED)
				continue;
			cr_assert(!translates(m, m->base + i * m->page),
				  "entry remade before the sync");
			m->state[i] = PG_SYNCED;
		}
		break;
	case KMM_HOST_EV_CLEAN: {
		uint8_t *p = (uint8_t *)(uintptr_t)ev->addr;

		cr_assert(m->noncoherent, "clean with coherent walks");
		cr_assert(p >= h->arena &&
			  p + ev->size <= h->arena + ARENA_SIZE);
		memcpy(m->shadow + (p - h->arena), p, ev->size);
		break;
	}
	default:
		break;
	}
}

static void check_shadow(struct model *m, kmm_paddr_t pa, unsigned int level,
			 size_t n)
{
	struct env *e = m->e;
	const uint64_t *t = kmm_host_ptr(&e->h, pa);
	unsigned int g = e->v.cfg.granule_shift;

	cr_assert_eq(memcmp(t, m->shadow + (pa - ARENA_BASE), n * 8), 0,
		     "a written descriptor was not cleaned");
	for (size_t i = 0; i < n; i++)
		if (level < 3 && (t[i] & 3) == 3)
			check_shadow(m,
				     t[i] & 0xfffffffff000ull &
					     ~((1ull << g) - 1),
				     level + 1, (size_t)1 << (g - 3));
}

static void check_model(struct model *m)
{
	struct env *e = m->e;

	for (size_t i = 0; i < m->pages; i++) {
		kmm_vaddr_t va = m->base + i * m->page;
		kmm_paddr_t pa;
		kmm_attr_t attr;
		int ret = kmm_query(&e->v.as, va, &pa, &attr, NULL);

		if (m->attr[i] == 0) {
			cr_assert_eq(ret, KMM_ENOENT, "page %zu", i);
			continue;
		}
		cr_assert_eq(ret, KMM_OK, "page %zu", i);
		cr_assert_eq(pa, m->pa[i], "page %zu", i);
		cr_assert_eq(attr, m->attr[i], "page %zu", i);
	}
	for (size_t k = 0; k < m->nset; k++)
		cr_assert_eq(m->state[m->set[k]], PG_SYNCED,
			     "changed page %zu never invalidated", m->set[k]);
	for (size_t k = 0; k < m->nset; k++)
		m->state[m->set[k]] = PG_IDLE;
	m->nset = 0;
	if (m->noncoherent)
		check_shadow(m, e->v.root_pa, e->v.start_level,
			     e->v.root_entries);
	check_tables(e);
}

static void mark_pending(struct model *m, size_t i)
{
	m->state[i] = PG_PENDING;
	m->set[m->nset++] = i;
}

static const kmm_attr_t s1_attrs[] = {
	RW,
	RO,
	RX,
	RW | KMM_ATTR_USER,
	RX | KMM_ATTR_USER | KMM_ATTR_NG,
	KMM_ATTR_RW_DEVICE,
	KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
};
static const kmm_attr_t plain_attrs[] = {
	RW,
	RO,
	RX,
	KMM_ATTR_RW_DEVICE,
	KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
};

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void random_ops(const struct kmm_vmsa_config *c, kmm_vaddr_t base,
		       size_t blocks, unsigned int ops, uint64_t seed)
{
	struct env *e = calloc(1, sizeof(*e));
	struct model m = { 0 };
	unsigned int g = c->granule_shift;
	uint64_t blk = 1ull << (g + (g - 3)); /* level-2 block */
	size_t bpages = (size_t)(blk >> g);
	const kmm_attr_t *attrs = c->regime == KMM_REGIME_EL1 ? s1_attrs :
								plain_attrs;
	size_t nattrs = c->regime == KMM_REGIME_EL1 ?
				sizeof(s1_attrs) / sizeof(s1_attrs[0]) :
				sizeof(plain_attrs) / sizeof(plain_attrs[0]);

	if (getenv("KMM_TEST_UNDER_VALGRIND"))
		ops = ops / 8 + 1;
	env_setup(e, c, 0);
	m.e = e;
	m.base = base;
	m.page = 1ull << g;
	m.pages = blocks * bpages;
	m.pa = calloc(m.pages, sizeof(*m.pa));
	m.attr = calloc(m.pages, sizeof(*m.attr));
	m.state = calloc(m.pages, 1);
	m.set = calloc(m.pages, sizeof(*m.set));
	m.noncoherent = c->flags & KMM_VMSA_NONCOHERENT_WALK;
	cr_assert(m.pa && m.attr && m.state && m.set);
	if (m.noncoherent) {
		m.shadow = malloc(ARENA_SIZE);
		cr_assert_not_null(m.shadow);
		memcpy(m.shadow, e->h.arena, ARENA_SIZE);
		m.shadow_port = e->h.port;
		m.shadow_port.cookie = &m;
		m.shadow_port.pa_to_ptr = shadow_pa_to_ptr;
		m.view = e->v;
		m.view.as.port = &m.shadow_port;
	}
	e->h.user = &m;
	e->h.on_event = bbm_hook;

	for (unsigned int n = 0; n < ops; n++) {
		size_t start = rnd(&seed) % m.pages, len;
		unsigned int kind = rnd(&seed) % 10;
		kmm_attr_t attr = attrs[rnd(&seed) % nattrs];
		kmm_vaddr_t va;
		bool any = false, all = true;
		int ret;

		switch (rnd(&seed) % 4) {
		case 0:
			len = 1 + rnd(&seed) % 8;
			break;
		case 1:
			len = 1 + rnd(&seed) % bpages;
			break;
		case 2:
			len = 1 + rnd(&seed) % m.pages;
			break;
		default:
			start -= start % bpages;
			len = bpages;
			break;
		}
		if (len > m.pages - start)
			len = m.pages - start;
		va = base + start * m.page;
		for (size_t i = start; i < start + len; i++) {
			any |= m.attr[i] != 0;
			all &= m.attr[i] != 0;
		}

		if (kind < 4) {
			/* PA in step with the VA (blocks possible) or one
			 * page off. */
			kmm_paddr_t pa = (1ull << (c->oa_bits - 1)) +
					 (va - base) +
					 ((rnd(&seed) & 1) ? 0 : m.page);

			m.map_op = !(c->flags & KMM_VMSA_AUTO_FOLD);
			ret = kmm_map(&e->v.as, va, pa, len * m.page, attr);
			m.map_op = false;
			cr_assert_eq(ret, any ? KMM_EEXIST : KMM_OK, "op %u",
				     n);
			if (!any) {
				for (size_t i = 0; i < len; i++) {
					m.pa[start + i] = pa + i * m.page;
					m.attr[start + i] = attr;
				}
			}
		} else if (kind < 7) {
			for (size_t i = start; i < start + len; i++)
				if (m.attr[i])
					mark_pending(&m, i);
			ret = kmm_unmap(&e->v.as, va, len * m.page);
			cr_assert_eq(ret, any ? KMM_OK : KMM_ENOENT, "op %u",
				     n);
			for (size_t i = start; i < start + len; i++)
				m.attr[i] = 0;
		} else {
			if (all)
				for (size_t i = start; i < start + len; i++)
					if (m.attr[i] != attr)
						mark_pending(&m, i);
			ret = kmm_protect(&e->v.as, va, len * m.page, attr);
			cr_assert_eq(ret, all ? KMM_OK : KMM_ENOENT, "op %u",
				     n);
			if (all)
				for (size_t i = start; i < start + len; i++)
					m.attr[i] = attr;
		}
		check_model(&m);
	}
	e->h.on_event = NULL;
	env_teardown(e);
	free(m.pa);
	free(m.attr);
	free(m.state);
	free(m.set);
	free(m.shadow);
	free(e);
}

Test(vmsa_random, stage1_4k_across_a_1g_boundary)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL1, 12, 48, 0);

	random_ops(&c, GiB(1) - MiB(4), 4, 600, 1);
}

Test(vmsa_random, stage1_4k_noncoherent_walks_clean_every_descriptor)
{
	struct kmm_vmsa_config c =
		cfg_of(KMM_REGIME_EL1, 12, 48, KMM_VMSA_NONCOHERENT_WALK);

	random_ops(&c, GiB(1) - MiB(4), 4, 400, 2);
}

Test(vmsa_random, stage1_4k_auto_fold)
{
	struct kmm_vmsa_config c =
		cfg_of(KMM_REGIME_EL1, 12, 39, KMM_VMSA_AUTO_FOLD);

	random_ops(&c, GiB(2) - MiB(4), 4, 600, 3);
}

Test(vmsa_random, stage1_4k_pages_only)
{
	struct kmm_vmsa_config c =
		cfg_of(KMM_REGIME_EL1, 12, 48, KMM_VMSA_NO_BLOCKS);

	random_ops(&c, MiB(6), 4, 400, 4);
}

/* IPA 40 bits: level-1 start with two concatenated root tables; the
 * window straddles the boundary between them. */
Test(vmsa_random, stage2_4k_two_concatenated_roots)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_STAGE2, 12, 40, 0);

	c.oa_bits = 40;
	c.id = 2;
	random_ops(&c, GiB(512) - MiB(4), 4, 600, 5);
}

/* 16 KiB granule, IPA 40 bits: level-2 start with 16 root tables of 64 GiB
 * each; the window straddles two of them. */
Test(vmsa_random, stage2_16k_sixteen_concatenated_roots)
{
	struct kmm_vmsa_config c =
		cfg_of(KMM_REGIME_STAGE2, 14, 40, KMM_VMSA_AUTO_FOLD);

	random_ops(&c, GiB(64) - MiB(64), 4, 300, 6);
}

Test(vmsa_random, stage1_el2_64k)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_EL2, 16, 48, 0);

	random_ops(&c, (1ull << 42) - GiB(1), 4, 200, 7);
}

Test(vmsa_random, stage1_16k_noncoherent)
{
	struct kmm_vmsa_config c =
		cfg_of(KMM_REGIME_EL1, 14, 48, KMM_VMSA_NONCOHERENT_WALK);

	random_ops(&c, (1ull << 47) - MiB(64), 4, 200, 8);
}

Test(vmsa_stage2, concatenated_roots_index_across_all_root_tables)
{
	struct kmm_vmsa_config c = cfg_of(KMM_REGIME_STAGE2, 12, 40, 0);
	struct kmm_vmsa_walk w;
	struct env e;

	c.oa_bits = 40;
	env_setup(&e, &c, 0);
	cr_assert_eq(e.v.start_level, 1);
	cr_assert_eq(e.v.root_tables, 2);
	cr_assert_eq(e.v.root_entries, 1024);
	cr_assert_eq(e.v.root_pa % KiB(8), 0);
	/* T0SZ 24 | SL0 01 | walk WBWA ISH | PS 40 | RES1 */
	cr_assert_eq(kmm_vmsa_tcr(&e.v), 0x80023558ull);
	cr_assert_eq(kmm_map(&e.v.as, GiB(513), GiB(2), GiB(1), RW), KMM_OK);
	cr_assert_eq(kmm_vmsa_walk(&e.v, GiB(513) + 12, &w), KMM_OK);
	/* Entry 513 of the 1024-entry root: in the second 4 KiB table. */
	cr_assert_eq(w.desc_pa, e.v.root_pa + 513 * 8);
	cr_assert_eq(w.level, 1);
	cr_assert_eq(w.pa, GiB(2) + 12);
	cr_assert_eq(kmm_map(&e.v.as, GiB(1023), 0, GiB(1), RW), KMM_OK);
	cr_assert_eq(kmm_map(&e.v.as, GiB(1024), 0, KiB(4), RW), KMM_ERANGE);
	env_teardown(&e);
}
