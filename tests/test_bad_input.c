// SPDX-License-Identifier: BSD-2-Clause
/*
 * The bad-input matrix: one named case per way each public function must
 * refuse its input, each with the exact KMM_E* code it must return and a
 * check that the refused call left every byte of kmm state as it was (all
 * context structs, the page metadata, every slab's memory, the simulated
 * physical memory that holds the translation tables and the stream table).
 * Every case runs on a fresh fixture that holds something of everything.
 *
 * The suite "regressions" pins the bugs the systems kmm learns from had
 * (and one the fuzzer found in kmm itself), where the module's own tests
 * do not already pin them.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/guest.h"
#include "kmm/pages.h"
#include "kmm/pmsa.h"
#include "kmm/region.h"
#include "kmm/slab.h"
#include "kmm/smmu.h"
#include "kmm/vaspace.h"
#include "kmm/vmsa.h"
#if KMM_CONFIG_FDT
#include "kmm/fdt.h"
#endif

#define PG 4096ull
#define ARENA 0x80000000ull
#define ARENA_SIZE (4ull << 20)
#define BANK_SIZE (512ull << 10)
#define TBL_OWNER 5
#define VS_BASE 0x100000000ull
#define VA_MAP 0x40000000ull
#define VA_REGIONS 0x40400000ull
#define NSIDS 8u

struct fx {
	struct kmm_host host;
	struct kmm_pages pages;
	uint64_t *meta;
	size_t meta_size;
	kmm_paddr_t blk_a, blk_b; /* order 2 of owner 1, order 0 of owner 2 */

	struct kmm_slab vs_slab, tiny_slab, slab;
	void *vs_mem, *tiny_mem, *slab_mem;
	struct kmm_vaspace vs, tiny_vs;

	struct kmm_vmsa vmsa;
	struct kmm_vaspace rvs;
	struct kmm_slab rvs_slab, robj;
	void *rvs_mem, *robj_mem;
	struct kmm_regions regions;
	kmm_vaddr_t region_va;

	/* A VMSA space whose allocator has one free frame left. */
	struct kmm_pages small;
	uint64_t small_meta[4];
	struct kmm_vmsa starved;

	struct kmm_pmsa *pmsa, *guest;
	struct kmm_vaspace pvs;
	struct kmm_slab pvs_slab, pobj;
	void *pvs_mem, *pobj_mem;
	struct kmm_regions pregions;

	struct kmm_smmu smmu;
	void *strtab, *smmu_meta;
	size_t smmu_meta_size;

	/* Owners: guest 1 active over an allocator of its own. */
	struct kmm_pages gpages;
	uint64_t gmeta[16];
	struct kmm k;
};

static struct fx *f;

static const struct kmm_smmu_caps caps = {
	.oas_bits = 48,
	.vmid_bits = 16,
	.granules = (1u << 12) | (1u << 14) | (1u << 16),
};

static void *zalloc(size_t align, size_t size)
{
	void *p;

	/* C11: the size of aligned_alloc() is a multiple of the alignment. */
	size = (size + align - 1) / align * align;
	p = aligned_alloc(align, size);

	cr_assert_not_null(p);
	memset(p, 0, size);
	return p;
}

static void slab_setup(struct kmm_slab *s, void **mem, size_t size,
		       size_t align, size_t n)
{
	cr_assert_eq(kmm_slab_init(s, size, align), 0);
	*mem = zalloc(align < 8 ? 8 : align, size * n);
	cr_assert_eq(kmm_slab_add_memory(s, *mem, size * n), 0);
}

static void vs_setup(struct kmm_vaspace *vs, struct kmm_slab *s, bool identity,
		     const struct kmm_port *port)
{
	struct kmm_vaspace_config c = {
		.granule = PG, .identity = identity, .nodes = s, .port = port
	};

	cr_assert_eq(kmm_vaspace_init(vs, &c), 0);
}

static void setup(void)
{
	const size_t nsz = sizeof(struct kmm_vaspace_node);
	const size_t nal = _Alignof(struct kmm_vaspace_node);
	struct kmm_vmsa_config vc;
	struct kmm_pmsa_config pc = { .hyp_slots = 2,
				      .guest_first = 2,
				      .guest_slots = 2,
				      .shared_mpu = true };
	struct kmm_smmu_config sc;
	kmm_paddr_t pages[2] = { ARENA + 0x40000, ARENA + 0x41000 };
	kmm_vaddr_t va;

	f = zalloc(64, sizeof(*f));
	cr_assert_eq(kmm_host_init(&f->host, ARENA, ARENA_SIZE, 0), 0);
	f->host.log_enabled = false;

	/* Pages: a 4 MiB span of which the first 2 MiB are RAM. */
	f->meta_size = kmm_pages_meta_size(ARENA, ARENA_SIZE);
	f->meta = zalloc(8, f->meta_size);
	cr_assert_eq(kmm_pages_init(&f->pages, &f->host.port, ARENA, ARENA_SIZE,
				    f->meta, f->meta_size),
		     0);
	cr_assert_eq(kmm_pages_add(&f->pages, ARENA, BANK_SIZE), 0);
	cr_assert_eq(kmm_pages_alloc(&f->pages, 2, 1, 0, &f->blk_a), 0);
	cr_assert_eq(kmm_pages_alloc(&f->pages, 0, 2, 0, &f->blk_b), 0);
	cr_assert_eq(kmm_pages_set_quota(&f->pages, 3, 0), 0);

	/* A vaspace with one claimed range, and one without spare nodes. */
	slab_setup(&f->vs_slab, &f->vs_mem, nsz, nal, 64);
	vs_setup(&f->vs, &f->vs_slab, false, &f->host.port);
	cr_assert_eq(kmm_vaspace_add_window(&f->vs, VS_BASE, 1 << 20), 0);
	cr_assert_eq(kmm_vaspace_claim(&f->vs, VS_BASE + 0x10000, 0x4000, 1),
		     0);
	cr_assert_eq(kmm_vaspace_set_quota(&f->vs, 3, 0), 0);
	slab_setup(&f->tiny_slab, &f->tiny_mem, nsz, nal, 1);
	vs_setup(&f->tiny_vs, &f->tiny_slab, false, NULL);
	cr_assert_eq(kmm_vaspace_add_window(&f->tiny_vs, VS_BASE, 1 << 20), 0);
	slab_setup(&f->slab, &f->slab_mem, 64, 64, 4);

	/* VMSA stage 1 with one mapping and one region. */
	cr_assert_eq(kmm_vmsa_config_init(&vc, KMM_REGIME_EL1), 0);
	vc.va_bits = 39;
	cr_assert_eq(kmm_vmsa_init(&f->vmsa, &vc, &f->host.port, &f->pages,
				   TBL_OWNER, 0),
		     0);
	cr_assert_eq(kmm_map(&f->vmsa.as, VA_MAP, ARENA + 0x100000, 0x4000,
			     KMM_ATTR_RW_DATA),
		     0);
	slab_setup(&f->rvs_slab, &f->rvs_mem, nsz, nal, 64);
	vs_setup(&f->rvs, &f->rvs_slab, false, NULL);
	cr_assert_eq(kmm_vaspace_add_window(&f->rvs, VA_REGIONS, 1 << 20), 0);
	slab_setup(&f->robj, &f->robj_mem, KMM_REGION_NODE_SIZE,
		   KMM_REGION_NODE_ALIGN, 32);
	cr_assert_eq(kmm_regions_init(&f->regions, &f->vmsa.as, &f->rvs,
				      &f->robj),
		     0);
	cr_assert_eq(kmm_vmap(&f->vmsa.as, pages, 2, KMM_ATTR_RW_DATA, 1,
			      &f->region_va),
		     0);
	cr_assert_eq(kmm_regions_set_quota(&f->vmsa.as, 3, 0), 0);

	/* A VMSA space that can get one more table page, never two. */
	cr_assert_eq(kmm_pages_init(&f->small, &f->host.port, ARENA + BANK_SIZE,
				    2 * PG, f->small_meta,
				    sizeof(f->small_meta)),
		     0);
	cr_assert_eq(kmm_pages_add(&f->small, ARENA + BANK_SIZE, 2 * PG), 0);
	cr_assert_eq(kmm_vmsa_init(&f->starved, &vc, &f->host.port, &f->small,
				   TBL_OWNER, 0),
		     0);

	/* PMSA: two hypervisor slots, both used; identity regions. */
	f->pmsa = zalloc(64, sizeof(*f->pmsa));
	f->guest = zalloc(64, sizeof(*f->guest));
	cr_assert_eq(kmm_pmsa_init(f->pmsa, &f->host.port, &pc), 0);
	cr_assert_eq(kmm_pmsa_guest_init(f->guest, f->pmsa, 7, 2), 0);
	cr_assert_eq(kmm_pmsa_add(f->pmsa, 0x40000000, 0x2000, KMM_ATTR_RW_DATA,
				  1, 0),
		     0);
	slab_setup(&f->pvs_slab, &f->pvs_mem, nsz, nal, 64);
	vs_setup(&f->pvs, &f->pvs_slab, true, NULL);
	cr_assert_eq(kmm_vaspace_add_window(&f->pvs, 0x40000000, 1 << 20), 0);
	slab_setup(&f->pobj, &f->pobj_mem, KMM_REGION_NODE_SIZE,
		   KMM_REGION_NODE_ALIGN, 16);
	cr_assert_eq(kmm_regions_init(&f->pregions, &f->pmsa->as, &f->pvs,
				      &f->pobj),
		     0);
	cr_assert_eq(kmm_ioremap(&f->pmsa->as, 0x40080000, 0x1000,
				 KMM_ATTR_RW_DATA, 0, &va),
		     0);

	/* SMMU: stream 1 held by owner 1. */
	f->strtab = zalloc(64, NSIDS * 64);
	f->smmu_meta_size = kmm_smmu_meta_size(NSIDS);
	f->smmu_meta = zalloc(8, f->smmu_meta_size);
	sc = (struct kmm_smmu_config){ .port = &f->host.port,
				       .strtab = f->strtab,
				       .num_sids = NSIDS,
				       .meta = f->smmu_meta,
				       .meta_size = f->smmu_meta_size,
				       .caps = caps };
	cr_assert_eq(kmm_smmu_init(&f->smmu, &sc), 0);
	cr_assert_eq(kmm_smmu_assign(&f->smmu, 1, 1), 0);

	/* Guests: id 1 active with a quota of 4 frames. */
	{
		struct kmm_config kc = { .port = &f->host.port,
					 .pages = &f->gpages };
		struct kmm_guest_quota q = { .pages = 4 };

		cr_assert_eq(kmm_pages_init(&f->gpages, &f->host.port,
					    ARENA + BANK_SIZE + 2 * PG, 16 * PG,
					    f->gmeta, sizeof(f->gmeta)),
			     0);
		cr_assert_eq(kmm_pages_add(&f->gpages,
					   ARENA + BANK_SIZE + 2 * PG, 16 * PG),
			     0);
		cr_assert_eq(kmm_init(&f->k, &kc), 0);
		cr_assert_eq(kmm_guest_create(&f->k, 1, &q, NULL), 0);
	}
}

static void teardown(void)
{
	free(f->meta);
	free(f->vs_mem);
	free(f->tiny_mem);
	free(f->slab_mem);
	free(f->rvs_mem);
	free(f->robj_mem);
	free(f->pvs_mem);
	free(f->pobj_mem);
	free(f->pmsa);
	free(f->guest);
	free(f->strtab);
	free(f->smmu_meta);
	kmm_host_fini(&f->host);
	free(f);
}

/* ---- The digest of every byte of kmm state ------------------------------ */

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t v;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&v, b + i, 8);
		h = (h ^ v) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/*
 * A slab: its free list in order and every object in use. The bytes of a
 * free object other than its link mean nothing (slab.h), and a call that
 * takes an object and gives it back may have written them.
 */
static uint64_t mix_slab(uint64_t h, const struct kmm_slab *s, const void *mem,
			 size_t nobj)
{
	const char *base = mem;
	uint8_t is_free[64] = { 0 };

	for (const struct kmm_slab_free *o = s->free_list; o; o = o->next) {
		size_t i = (size_t)((const char *)o - base) / s->obj_size;

		h = mix(h, &i, sizeof(i));
		if (i < nobj)
			is_free[i] = 1;
	}
	for (size_t i = 0; i < nobj; i++)
		if (!is_free[i])
			h = mix(h, base + i * s->obj_size, s->obj_size);
	return h;
}

static uint64_t digest(void)
{
	uint64_t h = 0xcbf29ce484222325ull;

	/* Everything in the fixture but the host port (not kmm state). */
	h = mix(h, (const char *)f + sizeof(f->host),
		sizeof(*f) - sizeof(f->host));
	h = mix(h, f->meta, f->meta_size);
	h = mix_slab(h, &f->vs_slab, f->vs_mem, 64);
	h = mix_slab(h, &f->tiny_slab, f->tiny_mem, 1);
	h = mix_slab(h, &f->slab, f->slab_mem, 4);
	h = mix_slab(h, &f->rvs_slab, f->rvs_mem, 64);
	h = mix_slab(h, &f->robj, f->robj_mem, 32);
	h = mix_slab(h, &f->pvs_slab, f->pvs_mem, 64);
	h = mix_slab(h, &f->pobj, f->pobj_mem, 16);
	h = mix(h, f->pmsa, offsetof(struct kmm_pmsa, scratch));
	h = mix(h, f->guest, offsetof(struct kmm_pmsa, scratch));
	h = mix(h, f->strtab, NSIDS * 64);
	h = mix(h, f->smmu_meta, f->smmu_meta_size);
	/* Simulated physical memory: the RAM bank (table pages) and the small
	 * allocator; kmm writes nowhere else in the arena. */
	return mix(h, f->host.arena, BANK_SIZE + 18 * PG);
}

/* ---- The cases ------------------------------------------------------------ */

struct bad_case {
	const char *name;
	int (*call)(void);
	int want;
};

static kmm_paddr_t pa_out;
static kmm_vaddr_t va_out;

#define BAD(fn) static int fn(void)

/* Page allocator. */
BAD(pages_init_null)
{
	return kmm_pages_init(NULL, &f->host.port, ARENA, PG, f->meta, 8);
}
BAD(pages_init_misaligned_span)
{
	struct kmm_pages p;

	return kmm_pages_init(&p, &f->host.port, ARENA + 1, PG, f->meta, 8);
}
BAD(pages_init_wrapping_span)
{
	struct kmm_pages p;

	return kmm_pages_init(&p, &f->host.port, 0 - PG, 2 * PG, f->meta, 16);
}
BAD(pages_init_small_meta)
{
	struct kmm_pages p;

	return kmm_pages_init(&p, &f->host.port, ARENA, 2 * PG, f->meta, 8);
}
BAD(pages_add_zero)
{
	return kmm_pages_add(&f->pages, ARENA + BANK_SIZE, 0);
}
BAD(pages_add_misaligned)
{
	return kmm_pages_add(&f->pages, ARENA + BANK_SIZE + 8, PG);
}
BAD(pages_add_outside)
{
	return kmm_pages_add(&f->pages, ARENA + ARENA_SIZE, PG);
}
BAD(pages_add_twice)
{
	return kmm_pages_add(&f->pages, ARENA, PG);
}
BAD(pages_reserve_allocated)
{
	return kmm_pages_reserve(&f->pages, f->blk_a, PG);
}
BAD(pages_alloc_order)
{
	return kmm_pages_alloc(&f->pages, KMM_CONFIG_PAGES_MAX_ORDER + 1, 1, 0,
			       &pa_out);
}
BAD(pages_alloc_owner)
{
	return kmm_pages_alloc(&f->pages, 0, KMM_CONFIG_MAX_OWNERS, 0, &pa_out);
}
BAD(pages_alloc_flags)
{
	return kmm_pages_alloc(&f->pages, 0, 1, 0x80, &pa_out);
}
BAD(pages_alloc_null_out)
{
	return kmm_pages_alloc(&f->pages, 0, 1, 0, NULL);
}
BAD(pages_alloc_quota)
{
	return kmm_pages_alloc(&f->pages, 0, 3, 0, &pa_out);
}
BAD(pages_alloc_exhausted)
{
	return kmm_pages_alloc(&f->pages, 9, 1, 0, &pa_out);
}
BAD(pages_alloc_below_too_low)
{
	return kmm_pages_alloc_below(&f->pages, 0, 1, 0, ARENA, &pa_out);
}
BAD(pages_alloc_range_taken)
{
	return kmm_pages_alloc_range(&f->pages, f->blk_a, PG, 4);
}
BAD(pages_alloc_range_hole)
{
	return kmm_pages_alloc_range(&f->pages, ARENA + BANK_SIZE, PG, 4);
}
BAD(pages_free_unallocated)
{
	return kmm_pages_free(&f->pages, ARENA + 0x1f0000, 0, 1);
}
BAD(pages_free_other_owner)
{
	return kmm_pages_free(&f->pages, f->blk_a, 2, 2);
}
BAD(pages_free_wrong_order)
{
	return kmm_pages_free(&f->pages, f->blk_a, 1, 1);
}
BAD(pages_free_inside_block)
{
	return kmm_pages_free(&f->pages, f->blk_a + PG, 0, 1);
}
BAD(pages_free_misaligned)
{
	return kmm_pages_free(&f->pages, f->blk_a + 8, 2, 1);
}
BAD(pages_free_outside)
{
	return kmm_pages_free(&f->pages, ARENA - PG, 0, 1);
}
BAD(pages_free_range_partial)
{
	return kmm_pages_free_range(&f->pages, f->blk_a, PG, 1);
}
BAD(pages_owner_free_frame)
{
	kmm_owner_t o;
	return kmm_pages_owner(&f->pages, ARENA + 0x1f0000, &o);
}
BAD(pages_free_all_owner)
{
	return kmm_pages_free_all(&f->pages, KMM_OWNER_NONE);
}
BAD(pages_quota_owner)
{
	return kmm_pages_set_quota(&f->pages, KMM_CONFIG_MAX_OWNERS, 1);
}
BAD(pages_usage_null)
{
	return kmm_pages_usage(&f->pages, 1, NULL);
}
BAD(pages_stats_null)
{
	return kmm_pages_stats(&f->pages, NULL);
}

/* Slab. */
BAD(slab_init_zero_size)
{
	struct kmm_slab s;
	return kmm_slab_init(&s, 0, 8);
}
BAD(slab_init_align)
{
	struct kmm_slab s;
	return kmm_slab_init(&s, 16, 24);
}
BAD(slab_add_null)
{
	return kmm_slab_add_memory(&f->slab, NULL, 4096);
}
BAD(slab_add_wrapping)
{
	return kmm_slab_add_memory(&f->slab,
				   (void *)(uintptr_t)(UINTPTR_MAX - 63), 128);
}
BAD(slab_alloc_n_too_many)
{
	void *objs[8];

	return kmm_slab_alloc_n(&f->slab, objs, 5);
}

/* Vaspace. */
BAD(vaspace_init_identity_guard)
{
	struct kmm_vaspace vs;
	struct kmm_vaspace_config c = { .granule = PG,
					.guard_granules = 1,
					.identity = true,
					.nodes = &f->vs_slab };

	return kmm_vaspace_init(&vs, &c);
}
BAD(vaspace_init_granule)
{
	struct kmm_vaspace vs;
	struct kmm_vaspace_config c = { .granule = 3000, .nodes = &f->vs_slab };

	return kmm_vaspace_init(&vs, &c);
}
BAD(vaspace_window_zero)
{
	return kmm_vaspace_add_window(&f->vs, 2 * VS_BASE, 0);
}
BAD(vaspace_window_misaligned)
{
	return kmm_vaspace_add_window(&f->vs, 2 * VS_BASE + 16, PG);
}
BAD(vaspace_window_overlap)
{
	return kmm_vaspace_add_window(&f->vs, VS_BASE + 0x80000, 1 << 20);
}
BAD(vaspace_window_wraps)
{
	return kmm_vaspace_add_window(&f->vs, 0 - PG, 2 * PG);
}
BAD(vaspace_alloc_zero)
{
	return kmm_vaspace_alloc(&f->vs, 0, PG, 1, &va_out);
}
BAD(vaspace_alloc_align_pow2)
{
	return kmm_vaspace_alloc(&f->vs, PG, 3 * PG, 1, &va_out);
}
BAD(vaspace_alloc_size_granule)
{
	return kmm_vaspace_alloc(&f->vs, PG + 1, PG, 1, &va_out);
}
BAD(vaspace_alloc_too_big)
{
	return kmm_vaspace_alloc(&f->vs, 2 << 20, PG, 1, &va_out);
}
BAD(vaspace_alloc_quota)
{
	return kmm_vaspace_alloc(&f->vs, PG, PG, 3, &va_out);
}
BAD(vaspace_alloc_owner)
{
	return kmm_vaspace_alloc(&f->vs, PG, PG, KMM_OWNER_NONE, &va_out);
}
BAD(vaspace_alloc_identity)
{
	return kmm_vaspace_alloc(&f->pvs, PG, PG, 1, &va_out);
}
BAD(vaspace_alloc_no_node)
{
	return kmm_vaspace_alloc(&f->tiny_vs, PG, PG, 1, &va_out);
}
BAD(vaspace_claim_overlap)
{
	return kmm_vaspace_claim(&f->vs, VS_BASE + 0x12000, 0x4000, 2);
}
BAD(vaspace_claim_outside)
{
	return kmm_vaspace_claim(&f->vs, VS_BASE + 0xff000, 0x2000, 2);
}
BAD(vaspace_claim_wraps)
{
	return kmm_vaspace_claim(&f->vs, 0 - PG, 2 * PG, 2);
}
BAD(vaspace_free_double)
{
	return kmm_vaspace_free(&f->vs, VS_BASE + 0x40000, PG, 1);
}
BAD(vaspace_free_other_owner)
{
	return kmm_vaspace_free(&f->vs, VS_BASE + 0x10000, 0x4000, 2);
}
BAD(vaspace_free_partial)
{
	return kmm_vaspace_free(&f->vs, VS_BASE + 0x10000, 0x2000, 1);
}
BAD(vaspace_find_nothing)
{
	return kmm_vaspace_find(&f->vs, VS_BASE + 0x20000, NULL, NULL, NULL);
}
BAD(vaspace_usage_owner)
{
	uint64_t b;
	return kmm_vaspace_usage(&f->vs, KMM_CONFIG_MAX_OWNERS, &b);
}

/* Map, unmap, protect, query on VMSA. */
BAD(map_null_space)
{
	return kmm_map(NULL, VA_MAP, ARENA, PG, KMM_ATTR_RW_DATA);
}
BAD(map_zero_size)
{
	return kmm_map(&f->vmsa.as, 0x40200000, ARENA, 0, KMM_ATTR_RW_DATA);
}
BAD(map_misaligned_va)
{
	return kmm_map(&f->vmsa.as, 0x40200800, ARENA, PG, KMM_ATTR_RW_DATA);
}
BAD(map_misaligned_pa)
{
	return kmm_map(&f->vmsa.as, 0x40200000, ARENA + 0x800, PG,
		       KMM_ATTR_RW_DATA);
}
BAD(map_wrapping)
{
	return kmm_map(&f->vmsa.as, 0 - PG, ARENA, 2 * PG, KMM_ATTR_RW_DATA);
}
BAD(map_outside_va)
{
	return kmm_map(&f->vmsa.as, 1ull << 39, ARENA, PG, KMM_ATTR_RW_DATA);
}
BAD(map_pa_beyond_oa)
{
	return kmm_map(&f->vmsa.as, 0x40200000, 1ull << 48, PG,
		       KMM_ATTR_RW_DATA);
}
BAD(map_overlap)
{
	return kmm_map(&f->vmsa.as, VA_MAP + PG, ARENA, 2 * PG,
		       KMM_ATTR_RW_DATA);
}
BAD(map_wx)
{
	return kmm_map(&f->vmsa.as, 0x40200000, ARENA, PG,
		       KMM_ATTR_RW_DATA | KMM_ATTR_X);
}
BAD(map_unknown_attr_bit)
{
	return kmm_map(&f->vmsa.as, 0x40200000, ARENA, PG,
		       KMM_ATTR_RW_DATA | (1u << 20));
}
BAD(map_not_readable)
{
	return kmm_map(&f->vmsa.as, 0x40200000, ARENA, PG, KMM_ATTR_W);
}
BAD(map_executable_device)
{
	return kmm_map(&f->vmsa.as, 0x40200000, ARENA, PG,
		       KMM_ATTR_R | KMM_ATTR_X |
			       KMM_ATTR_MT(KMM_MT_DEVICE_NGNRE));
}
BAD(map_no_table_page)
{
	return kmm_map(&f->starved.as, 0x40000000, ARENA, PG, KMM_ATTR_RW_DATA);
}
BAD(unmap_nothing)
{
	return kmm_unmap(&f->vmsa.as, 0x40200000, PG);
}
BAD(unmap_misaligned)
{
	return kmm_unmap(&f->vmsa.as, VA_MAP, 0x800);
}
BAD(protect_hole)
{
	return kmm_protect(&f->vmsa.as, VA_MAP, 0x8000, KMM_ATTR_R);
}
BAD(protect_wx)
{
	return kmm_protect(&f->vmsa.as, VA_MAP, PG,
			   KMM_ATTR_RW_DATA | KMM_ATTR_X);
}
BAD(query_unmapped)
{
	return kmm_query(&f->vmsa.as, 0x40200000, NULL, NULL, NULL);
}
BAD(vmsa_init_no_pa_to_ptr)
{
	struct kmm_port port = f->host.port;
	struct kmm_vmsa_config c;
	struct kmm_vmsa v;

	kmm_vmsa_config_init(&c, KMM_REGIME_EL1);
	port.pa_to_ptr = NULL;
	return kmm_vmsa_init(&v, &c, &port, &f->pages, 1, 0);
}
BAD(vmsa_init_bad_va_bits)
{
	struct kmm_vmsa_config c;
	struct kmm_vmsa v;

	kmm_vmsa_config_init(&c, KMM_REGIME_EL1);
	c.va_bits = 20;
	return kmm_vmsa_init(&v, &c, &f->host.port, &f->pages, 1, 0);
}
BAD(vmsa_walk_above_input)
{
	struct kmm_vmsa_walk w;

	return kmm_vmsa_walk(&f->vmsa, 1ull << 39, &w);
}
BAD(vmsa_fold_misaligned)
{
	return kmm_vmsa_fold(&f->vmsa, VA_MAP + 8, PG);
}

/* PMSA. */
BAD(pmsa_map_translating)
{
	return kmm_map(&f->pmsa->as, 0x50000000, 0x60000000, PG,
		       KMM_ATTR_RW_DATA);
}
BAD(pmsa_map_overlap_other_attr)
{
	return kmm_map(&f->pmsa->as, 0x40000000, 0x40000000, PG,
		       KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB));
}
BAD(pmsa_map_no_slot)
{
	return kmm_map(&f->pmsa->as, 0x50000000, 0x50000000, PG,
		       KMM_ATTR_RW_DATA);
}
BAD(pmsa_map_misaligned)
{
	return kmm_map(&f->pmsa->as, 0x50000020, 0x50000020, 64,
		       KMM_ATTR_RW_DATA);
}
BAD(pmsa_add_unknown_flag)
{
	return kmm_pmsa_add(f->pmsa, 0x50000000, PG, KMM_ATTR_RW_DATA, 1, 0x80);
}
BAD(pmsa_remove_other_owner)
{
	return kmm_pmsa_remove(f->pmsa, 0x40000000, PG, 2);
}
BAD(pmsa_remove_nothing)
{
	return kmm_pmsa_remove(f->pmsa, 0x50000000, PG, 1);
}
BAD(pmsa_guest_init_kernel)
{
	struct kmm_pmsa *g = f->guest;
	struct kmm_pmsa copy = *g;
	int ret = kmm_pmsa_guest_init(g, f->pmsa, KMM_OWNER_KERNEL, 1);

	if (ret != 0)
		return ret;
	*g = copy;
	return 0;
}
BAD(pmsa_guest_init_quota)
{
	struct kmm_pmsa *g = f->guest;
	struct kmm_pmsa copy = *g;
	int ret = kmm_pmsa_guest_init(g, f->pmsa, 8, 3);

	if (ret != 0)
		return ret;
	*g = copy;
	return 0;
}
BAD(pmsa_switch_to_hyp_set)
{
	return kmm_pmsa_switch(NULL, f->pmsa);
}
BAD(pmsa_load_guest_set)
{
	return kmm_pmsa_load(f->guest);
}
BAD(pmsa_encode_misaligned)
{
	uint64_t b, l;

	return kmm_pmsa_encode(KMM_PMSA_ARMV8R_AARCH64, 0x1010, 0x1fff,
			       KMM_ATTR_RW_DATA, &b, &l);
}

/* Regions. */
static const kmm_paddr_t two_pages[2] = { ARENA + 0x50000, ARENA + 0x60000 };
static const kmm_paddr_t odd_page[1] = { ARENA + 0x50010 };

BAD(vmap_null_pages)
{
	return kmm_vmap(&f->vmsa.as, NULL, 1, KMM_ATTR_RW_DATA, 1, &va_out);
}
BAD(vmap_zero_pages)
{
	return kmm_vmap(&f->vmsa.as, two_pages, 0, KMM_ATTR_RW_DATA, 1,
			&va_out);
}
BAD(vmap_null_out)
{
	return kmm_vmap(&f->vmsa.as, two_pages, 2, KMM_ATTR_RW_DATA, 1, NULL);
}
BAD(vmap_bad_owner)
{
	return kmm_vmap(&f->vmsa.as, two_pages, 2, KMM_ATTR_RW_DATA,
			KMM_OWNER_NONE, &va_out);
}
BAD(vmap_misaligned_page)
{
	return kmm_vmap(&f->vmsa.as, odd_page, 1, KMM_ATTR_RW_DATA, 1, &va_out);
}
BAD(vmap_wx)
{
	return kmm_vmap(&f->vmsa.as, two_pages, 2,
			KMM_ATTR_RW_DATA | KMM_ATTR_X, 1, &va_out);
}
BAD(vmap_invalid_attr)
{
	return kmm_vmap(&f->vmsa.as, two_pages, 2,
			KMM_ATTR_R | (6u << KMM_ATTR_MT_SHIFT), 1, &va_out);
}
BAD(vmap_region_quota)
{
	return kmm_vmap(&f->vmsa.as, two_pages, 2, KMM_ATTR_RW_DATA, 3,
			&va_out);
}
BAD(vmap_no_va_left)
{
	return kmm_ioremap(&f->vmsa.as, ARENA, 2 << 20, KMM_ATTR_RW_DATA, 1,
			   &va_out);
}
BAD(vmap_scattered_on_mpu)
{
	return kmm_vmap(&f->pmsa->as, two_pages, 2, KMM_ATTR_RW_DATA, 1,
			&va_out);
}
BAD(vmap_no_region_space)
{
	return kmm_vmap(&f->guest->as, two_pages, 2, KMM_ATTR_RW_DATA, 1,
			&va_out);
}
BAD(ioremap_zero)
{
	return kmm_ioremap(&f->vmsa.as, 0x9000000, 0, KMM_ATTR_RW_DEVICE, 1,
			   &va_out);
}
BAD(ioremap_misaligned)
{
	return kmm_ioremap(&f->vmsa.as, 0x9000010, PG, KMM_ATTR_RW_DEVICE, 1,
			   &va_out);
}
BAD(ioremap_wraps)
{
	return kmm_ioremap(&f->vmsa.as, 0 - PG, 2 * PG, KMM_ATTR_RW_DEVICE, 1,
			   &va_out);
}
BAD(ioremap_identity_taken)
{
	return kmm_ioremap(&f->pmsa->as, 0x40080000, PG, KMM_ATTR_RW_DATA, 1,
			   &va_out);
}
BAD(ioremap_identity_outside)
{
	return kmm_ioremap(&f->pmsa->as, 0x70000000, PG, KMM_ATTR_RW_DEVICE, 1,
			   &va_out);
}
BAD(shm_register_zero)
{
	return kmm_shm_register(&f->vmsa.as, two_pages, 0, 1, &va_out);
}
BAD(vunmap_unknown)
{
	return kmm_vunmap(&f->vmsa.as, VA_REGIONS + 0x80000, 1);
}
BAD(vunmap_not_start)
{
	return kmm_vunmap(&f->vmsa.as, f->region_va + PG, 1);
}
BAD(vunmap_other_owner)
{
	return kmm_vunmap(&f->vmsa.as, f->region_va, 2);
}
BAD(vunmap_bad_owner)
{
	return kmm_vunmap(&f->vmsa.as, f->region_va, KMM_CONFIG_MAX_OWNERS);
}
BAD(phys_to_virt_unmapped)
{
	return kmm_phys_to_virt(&f->vmsa.as, ARENA + 0x1f0000, &va_out);
}
BAD(phys_to_virt_owner_bad)
{
	return kmm_phys_to_virt_owner(&f->vmsa.as, ARENA + 0x40000,
				      KMM_OWNER_NONE, &va_out);
}
BAD(virt_to_phys_null)
{
	return kmm_virt_to_phys(&f->vmsa.as, f->region_va, NULL);
}
BAD(virt_to_phys_outside)
{
	return kmm_virt_to_phys(&f->vmsa.as, VA_MAP, &pa_out);
}
BAD(region_find_nothing)
{
	struct kmm_region_info info;

	return kmm_region_find(&f->vmsa.as, VA_REGIONS + 0x80000, &info);
}
BAD(regions_init_twice)
{
	struct kmm_regions r;

	return kmm_regions_init(&r, &f->vmsa.as, &f->rvs, &f->robj);
}
BAD(regions_init_vaspace_with_port)
{
	struct kmm_regions r;

	return kmm_regions_init(&r, &f->starved.as, &f->vs, &f->robj);
}
BAD(regions_quota_owner)
{
	return kmm_regions_set_quota(&f->vmsa.as, KMM_OWNER_NONE, 1);
}
BAD(region_free_all_owner)
{
	return kmm_region_free_all(&f->vmsa.as, KMM_OWNER_NONE);
}

/* SMMU. */
BAD(smmu_init_no_cmd_hook)
{
	struct kmm_port port = f->host.port;
	struct kmm_smmu_config c = { .port = &port,
				     .strtab = f->strtab,
				     .num_sids = NSIDS,
				     .meta = f->smmu_meta,
				     .meta_size = f->smmu_meta_size,
				     .caps = caps };
	struct kmm_smmu s;

	port.smmu_cmd = NULL;
	return kmm_smmu_init(&s, &c);
}
BAD(smmu_assign_outside)
{
	return kmm_smmu_assign(&f->smmu, NSIDS, 1);
}
BAD(smmu_assign_taken)
{
	return kmm_smmu_assign(&f->smmu, 1, 2);
}
BAD(smmu_assign_bad_owner)
{
	return kmm_smmu_assign(&f->smmu, 2, KMM_OWNER_NONE);
}
BAD(smmu_release_unheld)
{
	return kmm_smmu_release(&f->smmu, 2, 1);
}
BAD(smmu_release_other_owner)
{
	return kmm_smmu_release(&f->smmu, 1, 2);
}
BAD(smmu_attach_unshared_space)
{
	return kmm_smmu_attach_vmsa(&f->smmu, 1, 1, &f->vmsa);
}

/* Guests. */
static const struct kmm_guest_quota small_quota = { .pages = 1 };

BAD(guest_create_kernel)
{
	return kmm_guest_create(&f->k, 0, &small_quota, NULL);
}
BAD(guest_create_out_of_range)
{
	return kmm_guest_create(&f->k, KMM_CONFIG_MAX_OWNERS, &small_quota,
				NULL);
}
BAD(guest_create_null_quota)
{
	return kmm_guest_create(&f->k, 2, NULL, NULL);
}
BAD(guest_create_active)
{
	return kmm_guest_create(&f->k, 1, &small_quota, NULL);
}
BAD(guest_destroy_free_id)
{
	return kmm_guest_destroy(&f->k, 2);
}
BAD(guest_destroy_kernel)
{
	return kmm_guest_destroy(&f->k, 0);
}
BAD(guest_destroy_by_other_guest)
{
	return kmm_guest_destroy_by(&f->k, 3, 1);
}
BAD(guest_usage_null)
{
	return kmm_guest_usage(&f->k, 1, NULL);
}
BAD(guest_check_free_id)
{
	return kmm_guest_check(&f->k, 2);
}
BAD(guest_pages_beyond_quota)
{
	return kmm_guest_alloc_pages(&f->k, 1, 3, 0, &pa_out);
}

#if KMM_CONFIG_FDT
BAD(fdt_scan_garbage)
{
	static const uint8_t junk[64] = { 0xde, 0xad, 0xbe, 0xef };
	struct kmm_fdt_memory *m = malloc(sizeof(*m));
	int ret = kmm_fdt_memory_scan(junk, sizeof(junk), m);

	free(m);
	return ret;
}
BAD(fdt_scan_null)
{
	return kmm_fdt_memory_scan(NULL, 0, NULL);
}
#endif

#define C(fn, code)           \
	{                     \
#fn, fn, code \
	}

static const struct bad_case cases[] = {
	C(pages_init_null, KMM_EINVAL),
	C(pages_init_misaligned_span, KMM_EALIGN),
	C(pages_init_wrapping_span, KMM_ERANGE),
	C(pages_init_small_meta, KMM_ENOMEM),
	C(pages_add_zero, KMM_EINVAL),
	C(pages_add_misaligned, KMM_EALIGN),
	C(pages_add_outside, KMM_ERANGE),
	C(pages_add_twice, KMM_EEXIST),
	C(pages_reserve_allocated, KMM_EBUSY),
	C(pages_alloc_order, KMM_EINVAL),
	C(pages_alloc_owner, KMM_EINVAL),
	C(pages_alloc_flags, KMM_EINVAL),
	C(pages_alloc_null_out, KMM_EINVAL),
	C(pages_alloc_quota, KMM_EQUOTA),
	C(pages_alloc_exhausted, KMM_ENOMEM),
	C(pages_alloc_below_too_low, KMM_ENOMEM),
	C(pages_alloc_range_taken, KMM_EEXIST),
	C(pages_alloc_range_hole, KMM_ENOENT),
	C(pages_free_unallocated, KMM_ENOENT),
	C(pages_free_other_owner, KMM_EPERM),
	C(pages_free_wrong_order, KMM_EINVAL),
	C(pages_free_inside_block, KMM_EINVAL),
	C(pages_free_misaligned, KMM_EALIGN),
	C(pages_free_outside, KMM_ERANGE),
	C(pages_free_range_partial, KMM_EINVAL),
	C(pages_owner_free_frame, KMM_ENOENT),
	C(pages_free_all_owner, KMM_EINVAL),
	C(pages_quota_owner, KMM_EINVAL),
	C(pages_usage_null, KMM_EINVAL),
	C(pages_stats_null, KMM_EINVAL),
	C(slab_init_zero_size, KMM_EINVAL),
	C(slab_init_align, KMM_EINVAL),
	C(slab_add_null, KMM_EINVAL),
	C(slab_add_wrapping, KMM_ERANGE),
	C(slab_alloc_n_too_many, KMM_ENOMEM),
	C(vaspace_init_identity_guard, KMM_EINVAL),
	C(vaspace_init_granule, KMM_EINVAL),
	C(vaspace_window_zero, KMM_EINVAL),
	C(vaspace_window_misaligned, KMM_EALIGN),
	C(vaspace_window_overlap, KMM_EEXIST),
	C(vaspace_window_wraps, KMM_ERANGE),
	C(vaspace_alloc_zero, KMM_EINVAL),
	C(vaspace_alloc_align_pow2, KMM_EINVAL),
	C(vaspace_alloc_size_granule, KMM_EALIGN),
	C(vaspace_alloc_too_big, KMM_ENOSPC),
	C(vaspace_alloc_quota, KMM_EQUOTA),
	C(vaspace_alloc_owner, KMM_EINVAL),
	C(vaspace_alloc_identity, KMM_ENOTSUP),
	C(vaspace_alloc_no_node, KMM_ENOMEM),
	C(vaspace_claim_overlap, KMM_EEXIST),
	C(vaspace_claim_outside, KMM_ERANGE),
	C(vaspace_claim_wraps, KMM_ERANGE),
	C(vaspace_free_double, KMM_ENOENT),
	C(vaspace_free_other_owner, KMM_EPERM),
	C(vaspace_free_partial, KMM_EINVAL),
	C(vaspace_find_nothing, KMM_ENOENT),
	C(vaspace_usage_owner, KMM_EINVAL),
	C(map_null_space, KMM_EINVAL),
	C(map_zero_size, KMM_EINVAL),
	C(map_misaligned_va, KMM_EALIGN),
	C(map_misaligned_pa, KMM_EALIGN),
	C(map_wrapping, KMM_ERANGE),
	C(map_outside_va, KMM_ERANGE),
	C(map_pa_beyond_oa, KMM_ERANGE),
	C(map_overlap, KMM_EEXIST),
	C(map_wx, KMM_EPERM),
	C(map_unknown_attr_bit, KMM_EINVAL),
	C(map_not_readable, KMM_EINVAL),
	C(map_executable_device, KMM_ENOTSUP),
	C(map_no_table_page, KMM_ENOMEM),
	C(unmap_nothing, KMM_ENOENT),
	C(unmap_misaligned, KMM_EALIGN),
	C(protect_hole, KMM_ENOENT),
	C(protect_wx, KMM_EPERM),
	C(query_unmapped, KMM_ENOENT),
	C(vmsa_init_no_pa_to_ptr, KMM_EINVAL),
	C(vmsa_init_bad_va_bits, KMM_ENOTSUP),
	C(vmsa_walk_above_input, KMM_ERANGE),
	C(vmsa_fold_misaligned, KMM_EALIGN),
	C(pmsa_map_translating, KMM_ENOTSUP),
	C(pmsa_map_overlap_other_attr, KMM_EEXIST),
	C(pmsa_map_no_slot, KMM_ENOSPC),
	C(pmsa_map_misaligned, KMM_EALIGN),
	C(pmsa_add_unknown_flag, KMM_EINVAL),
	C(pmsa_remove_other_owner, KMM_EPERM),
	C(pmsa_remove_nothing, KMM_ENOENT),
	C(pmsa_guest_init_kernel, KMM_EINVAL),
	C(pmsa_guest_init_quota, KMM_EQUOTA),
	C(pmsa_switch_to_hyp_set, KMM_EINVAL),
	C(pmsa_load_guest_set, KMM_EBUSY),
	C(pmsa_encode_misaligned, KMM_EALIGN),
	C(vmap_null_pages, KMM_EINVAL),
	C(vmap_zero_pages, KMM_EINVAL),
	C(vmap_null_out, KMM_EINVAL),
	C(vmap_bad_owner, KMM_EINVAL),
	C(vmap_misaligned_page, KMM_EALIGN),
	C(vmap_wx, KMM_EPERM),
	C(vmap_invalid_attr, KMM_EINVAL),
	C(vmap_region_quota, KMM_EQUOTA),
	C(vmap_no_va_left, KMM_ENOSPC),
	C(vmap_scattered_on_mpu, KMM_ENOTSUP),
	C(vmap_no_region_space, KMM_EINVAL),
	C(ioremap_zero, KMM_EINVAL),
	C(ioremap_misaligned, KMM_EALIGN),
	C(ioremap_wraps, KMM_ERANGE),
	C(ioremap_identity_taken, KMM_EEXIST),
	C(ioremap_identity_outside, KMM_ERANGE),
	C(shm_register_zero, KMM_EINVAL),
	C(vunmap_unknown, KMM_ENOENT),
	C(vunmap_not_start, KMM_ENOENT),
	C(vunmap_other_owner, KMM_EPERM),
	C(vunmap_bad_owner, KMM_EINVAL),
	C(phys_to_virt_unmapped, KMM_ENOENT),
	C(phys_to_virt_owner_bad, KMM_EINVAL),
	C(virt_to_phys_null, KMM_EINVAL),
	C(virt_to_phys_outside, KMM_ENOENT),
	C(region_find_nothing, KMM_ENOENT),
	C(regions_init_twice, KMM_EEXIST),
	C(regions_init_vaspace_with_port, KMM_EINVAL),
	C(regions_quota_owner, KMM_EINVAL),
	C(region_free_all_owner, KMM_EINVAL),
	C(smmu_init_no_cmd_hook, KMM_EINVAL),
	C(smmu_assign_outside, KMM_ERANGE),
	C(smmu_assign_taken, KMM_EBUSY),
	C(smmu_assign_bad_owner, KMM_EINVAL),
	C(smmu_release_unheld, KMM_ENOENT),
	C(smmu_release_other_owner, KMM_EPERM),
	C(smmu_attach_unshared_space, KMM_EINVAL),
	C(guest_create_kernel, KMM_EINVAL),
	C(guest_create_out_of_range, KMM_EINVAL),
	C(guest_create_null_quota, KMM_EINVAL),
	C(guest_create_active, KMM_EEXIST),
	C(guest_destroy_free_id, KMM_ENOENT),
	C(guest_destroy_kernel, KMM_EINVAL),
	C(guest_destroy_by_other_guest, KMM_EPERM),
	C(guest_usage_null, KMM_EINVAL),
	C(guest_check_free_id, KMM_ENOENT),
	C(guest_pages_beyond_quota, KMM_EQUOTA),
#if KMM_CONFIG_FDT
	C(fdt_scan_garbage, KMM_EBADDATA),
	C(fdt_scan_null, KMM_EINVAL),
#endif
};

Test(bad_input, every_case_returns_its_code_and_changes_nothing, .timeout = 120)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);

	cr_assert_geq(n, 60);
	for (size_t i = 0; i < n; i++) {
		uint64_t before;
		int got;

		setup();
		before = digest();
		got = cases[i].call();
		cr_expect_eq(got, cases[i].want, "%s: returned %s, want %s",
			     cases[i].name, kmm_errname(got),
			     kmm_errname(cases[i].want));
		cr_expect_eq(digest(), before, "%s: changed kmm state",
			     cases[i].name);
		teardown();
	}
}

/* ---- Regressions ---------------------------------------------------------
 *
 * Covered elsewhere, not repeated here:
 * - page allocator offsets beyond 2^16 granules (a 16-bit offset):
 *   test_pages.c, bank_of_64_gib_serves_allocations_and_lookups_far_beyond_
 *   256_mib, and the 2^28-frame span limit in span_limit_follows_owner_bits;
 * - a block split writing level-3 entries of type 0b01 (reserved):
 *   test_vmsa.c, unmap_inside_a_block_writes_level3_pages_type_11 and
 *   unmap_inside_a_1g_block_splits_down_to_pages; the fuzzer also checks
 *   the type of every leaf it walks;
 * - a valid entry replaced without break-before-make: test_vmsa.c, the
 *   vmsa_random tests check every descriptor write with bbm_hook;
 * - ENOMEM half way through taking table pages: bad_input case
 *   map_no_table_page above (the allocator must stay byte for byte).
 */

TestSuite(regressions, .init = setup, .fini = teardown);

/* Found by the fuzzer: a region whose pages were all unmapped through
 * kmm_unmap() could never be removed (vunmap and free_all said ENOENT), so
 * its owner could never be torn down. */
Test(regressions, vunmap_removes_a_region_whose_pages_were_unmapped_directly)
{
	kmm_paddr_t pa;
	kmm_vaddr_t va;

	cr_assert_eq(kmm_unmap(&f->vmsa.as, f->region_va, 2 * PG), 0);
	cr_expect_eq(kmm_vunmap(&f->vmsa.as, f->region_va, 1), 0);
	cr_expect_eq(kmm_virt_to_phys(&f->vmsa.as, f->region_va, &pa),
		     KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt(&f->vmsa.as, ARENA + 0x40000, &va),
		     KMM_ENOENT);
	cr_expect_eq(kmm_vaspace_find(&f->rvs, f->region_va, NULL, NULL, NULL),
		     KMM_ENOENT, "its VA went back to the vaspace");
	cr_expect_eq(f->regions.owners[1].count, 0);
}

Test(regressions, free_all_removes_regions_whose_pages_were_unmapped_directly)
{
	kmm_paddr_t pages[1] = { ARENA + 0x70000 };
	kmm_vaddr_t va;

	cr_assert_eq(kmm_vmap(&f->vmsa.as, pages, 1, KMM_ATTR_RW_DATA, 1, &va),
		     0);
	cr_assert_eq(kmm_unmap(&f->vmsa.as, va, PG), 0);
	cr_expect_eq(kmm_region_free_all(&f->vmsa.as, 1), 2);
	cr_expect_eq(f->regions.nr_regions, 0);
}

static void stage2(struct kmm_vmsa *v, kmm_owner_t owner, uint16_t vmid)
{
	struct kmm_vmsa_config c;
	int ret;

	cr_assert_eq(kmm_vmsa_config_init(&c, KMM_REGIME_STAGE2), 0);
	c.va_bits = 40;
	c.oa_bits = 40;
	c.id = vmid;
	c.flags |= KMM_VMSA_SHARED_SMMU;
	ret = kmm_vmsa_init(v, &c, &f->host.port, &f->pages, owner, 0);
	cr_assert_eq(ret, 0, "stage-2 init: %s", kmm_errname(ret));
}

/* Jailhouse gave a new cell's streams the tables of another cell. Here a
 * guest's streams must translate through its own stage-2 root, also when
 * the new guest's tables reuse the frames of a guest that just died. */
Test(regressions, each_guest_stream_translates_through_its_own_stage2_root)
{
	struct kmm_vmsa g1, g2, g3;
	uint64_t want[KMM_SMMU_STE_WORDS];
	const uint64_t *ste = f->strtab;
	kmm_paddr_t old_root;

	stage2(&g1, 1, 11);
	stage2(&g2, 2, 12);
	cr_assert_neq(g1.root_pa, g2.root_pa);
	cr_assert_eq(kmm_smmu_assign(&f->smmu, 4, 2), 0);
	cr_assert_eq(kmm_smmu_attach_vmsa(&f->smmu, 1, 1, &g1), 0);
	cr_assert_eq(kmm_smmu_attach_vmsa(&f->smmu, 4, 2, &g2), 0);
	cr_assert_eq(kmm_smmu_ste_encode(&g1, want), 0);
	cr_expect_arr_eq(&ste[1 * 8], want, sizeof(want));
	cr_assert_eq(kmm_smmu_ste_encode(&g2, want), 0);
	cr_expect_arr_eq(&ste[4 * 8], want, sizeof(want));
	cr_expect_eq(kmm_smmu_attach_vmsa(&f->smmu, 4, 2, &g1), KMM_EPERM,
		     "guest 2 cannot attach its stream to guest 1's tables");

	/* Guest 1 dies; guest 3 is built on the frames it gave back. */
	old_root = g1.root_pa;
	cr_assert_eq(kmm_smmu_release_all(&f->smmu, 1), 1);
	cr_assert_eq(kmm_as_destroy(&g1.as), 0);
	stage2(&g3, 4, 11);
	cr_expect_eq(g3.root_pa, old_root, "the root frame was reused");
	cr_assert_eq(kmm_smmu_assign(&f->smmu, 1, 4), 0);
	cr_assert_eq(kmm_smmu_attach_vmsa(&f->smmu, 1, 4, &g3), 0);
	cr_assert_eq(kmm_smmu_ste_encode(&g3, want), 0);
	cr_expect_arr_eq(&ste[1 * 8], want, sizeof(want));
	cr_assert_eq(kmm_smmu_ste_encode(&g2, want), 0);
	cr_expect_arr_eq(&ste[4 * 8], want, sizeof(want),
			 "guest 2's stream still points at guest 2");
	cr_expect_neq(ste[4 * 8 + 3], ste[1 * 8 + 3]);
}
