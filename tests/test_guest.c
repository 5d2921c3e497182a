// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the guest layer: creation with per-kind quotas, the
 * stage 2 built with the guest, the guest-scoped calls, the DYING state,
 * the phased teardown (order, usage zero, no translation left, scrubbed
 * pages), isolation between guests over every owner-scoped call, and
 * teardown work that depends only on what the dying guest holds.
 *
 * The fixture is a whole system on the host port: a page allocator over a
 * simulated arena, the kernel's EL2 stage-1 VMSA space with dynamic
 * regions, an SMMU, and VMSA stage 2s (own root, VMID = guest id, shared
 * with the SMMU) built by the stage-2 constructor below.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/guest.h"
#include "kmm/pmsa.h"
#include "kmm/region.h"
#include "kmm/smmu.h"
#include "kmm/vmsa.h"

#define PG 4096ull
#define ARENA_BASE 0x40000000ull
#define ARENA_SIZE (32ull << 20)
#define KVA_BASE 0x4000000000ull
#define KVA_SIZE (1ull << 32)
#define NSIDS 64
#define VS_NODES 16384
#define RG_NODES 8192
#define GA 1
#define GB 2

struct s2ctx {
	struct kmm_pages *pages;
	const struct kmm_port *port;
	struct kmm_vmsa v[KMM_CONFIG_MAX_OWNERS];
	int fail_create; /* returned by create when non-zero */
};

static struct kmm_host host;
static void *(*host_pa_to_ptr)(void *cookie, kmm_paddr_t pa);
static uint64_t pa_to_ptr_calls;
static struct kmm_pages pages;
static void *pmeta;
static size_t pmeta_size;
static struct kmm_vmsa kas;
static struct kmm_slab vs_slab, rg_slab;
static void *vs_mem, *rg_mem;
static struct kmm_vaspace vs;
static struct kmm_regions regions;
static struct kmm_smmu smmu;
static uint64_t *strtab;
static void *smmu_meta;
static size_t smmu_meta_size;
static struct kmm_smmu_tlb_port tlbp;
static struct s2ctx s2c;
static struct kmm k;

static const struct kmm_guest_quota big_quota = {
	.pages = 6000,
	.table_pages = 64,
	.va_bytes = 1ull << 30,
	.regions = 4096,
	.mpu_slots = 0,
};

static struct kmm_vmsa *vmsa_of(const struct kmm_as *as)
{
	return kmm_container_of(as, struct kmm_vmsa, as);
}

static int s2_create(void *ctx, kmm_owner_t id, const struct kmm_guest_quota *q,
		     struct kmm_as **out)
{
	struct s2ctx *c = ctx;
	struct kmm_vmsa_config cfg;
	int ret;

	if (c->fail_create)
		return c->fail_create;
	/* max_table_pages 0 would mean "no limit": no tables, no stage 2. */
	if (q->table_pages == 0)
		return KMM_EQUOTA;
	kmm_vmsa_config_init(&cfg, KMM_REGIME_STAGE2);
	cfg.va_bits = 40;
	cfg.oa_bits = 40;
	cfg.id = id;
	cfg.flags |= KMM_VMSA_SHARED_SMMU;
	cfg.max_table_pages = q->table_pages;
	ret = kmm_vmsa_init(&c->v[id], &cfg, c->port, c->pages, id, 0);
	if (ret == KMM_OK)
		*out = &c->v[id].as;
	return ret;
}

static void s2_usage(void *ctx, const struct kmm_as *s2, uint64_t *tables,
		     uint32_t *slots)
{
	(void)ctx;
	*tables = kmm_vmsa_table_pages(vmsa_of(s2));
	*slots = 0;
}

static const struct kmm_guest_s2_ops s2_ops = {
	.create = s2_create,
	.usage = s2_usage,
};

static void *counting_pa_to_ptr(void *cookie, kmm_paddr_t pa)
{
	pa_to_ptr_calls++;
	return host_pa_to_ptr(cookie, pa);
}

static void *xmalloc_aligned(size_t align, size_t size)
{
	void *p = aligned_alloc(align, (size + align - 1) / align * align);

	cr_assert_not_null(p);
	memset(p, 0, size);
	return p;
}

static struct kmm_config make_config(void)
{
	struct kmm_config cfg;

	/* Zeroed padding too: the state digest hashes every byte kmm keeps. */
	memset(&cfg, 0, sizeof(cfg));
	cfg.port = &host.port;
	cfg.pages = &pages;
	cfg.vs = &vs;
	cfg.spaces[0] = &kas.as;
	cfg.nspaces = 1;
	cfg.smmu = &smmu;
	cfg.smmu_release_all = kmm_smmu_release_all;
	cfg.s2_ops = &s2_ops;
	cfg.s2_ctx = &s2c;
	return cfg;
}

static void setup(void)
{
	struct kmm_vaspace_config vcfg;
	struct kmm_vmsa_config kcfg;
	struct kmm_smmu_config scfg;
	struct kmm_config cfg;

	/* Zeroed padding too: the state digest hashes every byte kmm keeps. */
	memset(&vcfg, 0, sizeof(vcfg));
	memset(&kcfg, 0, sizeof(kcfg));
	memset(&scfg, 0, sizeof(scfg));
	vcfg.granule = PG;

	cr_assert_eq(kmm_host_init(&host, ARENA_BASE, ARENA_SIZE, 1 << 20), 0);
	host.log_enabled = false;
	host_pa_to_ptr = host.port.pa_to_ptr;
	host.port.pa_to_ptr = counting_pa_to_ptr;
	pa_to_ptr_calls = 0;

	pmeta_size = kmm_pages_meta_size(ARENA_BASE, ARENA_SIZE);
	pmeta = xmalloc_aligned(8, pmeta_size);
	cr_assert_eq(kmm_pages_init(&pages, &host.port, ARENA_BASE, ARENA_SIZE,
				    pmeta, pmeta_size),
		     0);
	cr_assert_eq(kmm_pages_add(&pages, ARENA_BASE, ARENA_SIZE), 0);

	kmm_vmsa_config_init(&kcfg, KMM_REGIME_EL2);
	cr_assert_eq(kmm_vmsa_init(&kas, &kcfg, &host.port, &pages,
				   KMM_OWNER_KERNEL, 0),
		     0);
	kmm_slab_init(&vs_slab, sizeof(struct kmm_vaspace_node),
		      _Alignof(struct kmm_vaspace_node));
	vs_mem = xmalloc_aligned(64, VS_NODES * 128);
	kmm_slab_add_memory(&vs_slab, vs_mem, VS_NODES * 128);
	vcfg.nodes = &vs_slab;
	cr_assert_eq(kmm_vaspace_init(&vs, &vcfg), 0);
	cr_assert_eq(kmm_vaspace_add_window(&vs, KVA_BASE, KVA_SIZE), 0);
	kmm_slab_init(&rg_slab, KMM_REGION_NODE_SIZE, KMM_REGION_NODE_ALIGN);
	rg_mem = xmalloc_aligned(64, RG_NODES * KMM_REGION_NODE_SIZE);
	kmm_slab_add_memory(&rg_slab, rg_mem, RG_NODES * KMM_REGION_NODE_SIZE);
	cr_assert_eq(kmm_regions_init(&regions, &kas.as, &vs, &rg_slab), 0);

	strtab = xmalloc_aligned(64, NSIDS * KMM_SMMU_STE_SIZE);
	smmu_meta_size = kmm_smmu_meta_size(NSIDS);
	smmu_meta = xmalloc_aligned(8, smmu_meta_size);
	scfg.port = &host.port;
	scfg.strtab = strtab;
	scfg.num_sids = NSIDS;
	scfg.meta = smmu_meta;
	scfg.meta_size = smmu_meta_size;
	scfg.caps.oas_bits = 48;
	scfg.caps.vmid_bits = 16;
	scfg.caps.granules = 1u << 12;
	cr_assert_eq(kmm_smmu_init(&smmu, &scfg), 0);
	cr_assert_eq(kmm_smmu_tlb_port_init(&tlbp, &host.port), 0);

	memset(&s2c, 0, sizeof(s2c));
	s2c.pages = &pages;
	s2c.port = &tlbp.port;
	cfg = make_config();
	cr_assert_eq(kmm_init(&k, &cfg), 0);
	kmm_host_clear_events(&host);
}

static void teardown(void)
{
	free(pmeta);
	free(vs_mem);
	free(rg_mem);
	free(strtab);
	free(smmu_meta);
	kmm_host_fini(&host);
}

TestSuite(guest, .init = setup, .fini = teardown);

/* ---------------------------------------------------------------------
 * Helpers.
 */

struct holdings {
	size_t npages;
	kmm_paddr_t pa[6000];
	size_t nregions;
	kmm_vaddr_t va[1024];
	size_t nstreams;
	uint32_t sid[8];
	kmm_vaddr_t ipa_base;
};

static bool under_valgrind(void)
{
	return getenv("KMM_TEST_UNDER_VALGRIND") != NULL;
}

/*
 * Gives guest @id @npages pages (filled with @fill), maps each in its
 * stage 2 from @h->ipa_base on, registers @nregions SHM buffers of four
 * scattered pages each and gives it @nstreams translating stream IDs
 * starting at @first_sid.
 */
static void populate(kmm_owner_t id, struct holdings *h, size_t npages,
		     size_t nregions, size_t nstreams, uint32_t first_sid,
		     uint8_t fill)
{
	h->npages = npages;
	h->ipa_base = 0x80000000ull;
	for (size_t i = 0; i < npages; i++) {
		cr_assert_eq(kmm_guest_alloc_pages(&k, id, 0, 0, &h->pa[i]), 0);
		memset(kmm_host_ptr(&host, h->pa[i]), fill, PG);
		cr_assert_eq(kmm_guest_map(&k, id, h->ipa_base + i * PG,
					   h->pa[i], PG, KMM_ATTR_RW_DATA),
			     0);
	}
	h->nregions = nregions;
	for (size_t r = 0; r < nregions; r++) {
		kmm_paddr_t buf[4];

		for (size_t j = 0; j < 4; j++)
			buf[j] = h->pa[(r * 7 + j * (npages / 4)) % npages];
		cr_assert_eq(kmm_guest_shm_register(&k, id, 0, buf, 4,
						    &h->va[r]),
			     0);
	}
	h->nstreams = nstreams;
	for (size_t s = 0; s < nstreams; s++) {
		h->sid[s] = first_sid + (uint32_t)s;
		cr_assert_eq(kmm_smmu_assign(&smmu, h->sid[s], id), 0);
		cr_assert_eq(kmm_smmu_attach_vmsa(&smmu, h->sid[s], id,
						  &s2c.v[id]),
			     0);
	}
}

static bool usage_is_zero(const struct kmm_guest_usage *u)
{
	return u->pages == 0 && u->table_pages == 0 && u->va_bytes == 0 &&
	       u->regions == 0 && u->mpu_slots == 0 && u->streams == 0;
}

/* ---------------------------------------------------------------------
 * init and create.
 */

Test(guest, init_zeroes_every_guest_quota_so_a_free_id_can_hold_nothing)
{
	kmm_paddr_t pa;
	kmm_vaddr_t va;

	cr_assert_eq(kmm_pages_alloc(&pages, 0, 5, 0, &pa), KMM_EQUOTA);
	cr_assert_eq(kmm_vaspace_alloc(&vs, PG, PG, 5, &va), KMM_EQUOTA);
	cr_assert_eq(kmm_guest_state(&k, 5), KMM_GUEST_FREE);
	cr_assert_eq(kmm_guest_state(&k, KMM_OWNER_KERNEL), KMM_GUEST_ACTIVE);
	cr_assert_eq(kmm_guest_check(&k, KMM_OWNER_KERNEL), 0);
	cr_assert_eq(kmm_guest_check(&k, 5), KMM_ENOENT);
	/* The kernel keeps its limits. */
	cr_assert_eq(kmm_pages_alloc(&pages, 0, KMM_OWNER_KERNEL, 0, &pa), 0);
}

Test(guest, init_rejects_bad_configs_and_guest_ids_that_hold_something)
{
	struct kmm k2;
	struct kmm_config cfg = make_config();
	struct kmm_guest_s2_ops half = { .create = s2_create };
	kmm_paddr_t pa;

	cr_assert_eq(kmm_init(NULL, &cfg), KMM_EINVAL);
	cr_assert_eq(kmm_init(&k2, NULL), KMM_EINVAL);
	cfg.pages = NULL;
	cr_assert_eq(kmm_init(&k2, &cfg), KMM_EINVAL);
	cfg = make_config();
	cfg.nspaces = KMM_MAX_SPACES + 1;
	cr_assert_eq(kmm_init(&k2, &cfg), KMM_EINVAL);
	cfg = make_config();
	cfg.spaces[0] = &s2c.v[0].as; /* no regions */
	cr_assert_eq(kmm_init(&k2, &cfg), KMM_EINVAL);
	cfg = make_config();
	cfg.s2_ops = &half;
	cr_assert_eq(kmm_init(&k2, &cfg), KMM_EINVAL);
	cfg = make_config();
	cfg.smmu_release_all = NULL;
	cr_assert_eq(kmm_init(&k2, &cfg), KMM_EINVAL);

	/* A guest id holding pages: refused, quotas untouched. */
	cfg = make_config();
	cr_assert_eq(kmm_pages_set_quota(&pages, 9, KMM_PAGES_NO_QUOTA), 0);
	cr_assert_eq(kmm_pages_alloc(&pages, 0, 9, 0, &pa), 0);
	cr_assert_eq(kmm_init(&k2, &cfg), KMM_EBUSY);
	cr_assert_eq(pages.owners[9].quota, KMM_PAGES_NO_QUOTA);
}

Test(guest, create_rejects_the_kernel_out_of_range_ids_and_active_ids)
{
	struct kmm_as *s2 = NULL;

	cr_assert_eq(kmm_guest_create(&k, KMM_OWNER_KERNEL, &big_quota, &s2),
		     KMM_EINVAL);
	cr_assert_eq(kmm_guest_create(&k, KMM_CONFIG_MAX_OWNERS, &big_quota,
				      &s2),
		     KMM_EINVAL);
	cr_assert_eq(kmm_guest_create(&k, KMM_OWNER_NONE, &big_quota, &s2),
		     KMM_EINVAL);
	cr_assert_eq(kmm_guest_create(&k, GA, NULL, &s2), KMM_EINVAL);
	cr_assert_eq(kmm_guest_create(NULL, GA, &big_quota, &s2), KMM_EINVAL);
	cr_assert_null(s2);
	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, &s2), 0);
	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), KMM_EEXIST);
	cr_assert_eq(kmm_guest_s2(&k, GA), s2);
	cr_assert_eq(kmm_guest_state(&k, GA), KMM_GUEST_ACTIVE);
}

Test(guest, create_builds_a_stage2_with_its_own_root_and_vmid_charged_to_it)
{
	struct kmm_as *a, *b;
	struct kmm_guest_usage u;
	kmm_owner_t o;

	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, &a), 0);
	cr_assert_eq(kmm_guest_create(&k, GB, &big_quota, &b), 0);
	cr_assert_neq(vmsa_of(a)->root_pa, vmsa_of(b)->root_pa);
	cr_assert_eq(vmsa_of(a)->cfg.id, GA);
	cr_assert_eq(vmsa_of(b)->cfg.id, GB);
	cr_assert_eq(kmm_vmsa_ttbr(vmsa_of(a)) >> 48, GA);
	cr_assert_eq(kmm_pages_owner(&pages, vmsa_of(a)->root_pa, &o), 0);
	cr_assert_eq(o, GA);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	/* 40-bit IPA, 4 KiB: level 1 start, two concatenated root tables. */
	cr_assert_eq(u.table_pages, 2);
	cr_assert_eq(u.pages, 0);
	cr_assert_eq(u.regions, 0);
}

Test(guest, create_failing_in_the_stage2_constructor_leaves_the_id_free)
{
	struct kmm_guest_quota q = big_quota;
	struct kmm_guest_usage u;
	kmm_paddr_t pa;

	s2c.fail_create = KMM_ENOMEM;
	cr_assert_eq(kmm_guest_create(&k, GA, &q, NULL), KMM_ENOMEM);
	s2c.fail_create = 0;
	cr_assert_eq(kmm_guest_state(&k, GA), KMM_GUEST_FREE);
	cr_assert_eq(kmm_pages_alloc(&pages, 0, GA, 0, &pa), KMM_EQUOTA);
	/* A root larger than the table quota: the VMSA limit refuses it. */
	q.table_pages = 1;
	cr_assert_eq(kmm_guest_create(&k, GA, &q, NULL), KMM_EQUOTA);
	cr_assert_eq(kmm_guest_state(&k, GA), KMM_GUEST_FREE);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert(usage_is_zero(&u));
	cr_assert_eq(pages.owners[GA].quota, 0);
}

/* ---------------------------------------------------------------------
 * Quotas.
 */

Test(guest, quotas_are_enforced_per_kind_of_resource)
{
	struct kmm_guest_quota q = {
		.pages = 4,
		.table_pages = 4,
		.va_bytes = 3 * PG,
		.regions = 2,
	};
	struct kmm_guest_usage u;
	kmm_paddr_t pa[5];
	kmm_vaddr_t va[3];

	cr_assert_eq(kmm_guest_create(&k, GA, &q, NULL), 0);
	/* Pages: four data frames, then EQUOTA although the page allocator
	 * would still take two more (the unused table quota). */
	for (int i = 0; i < 4; i++)
		cr_assert_eq(kmm_guest_alloc_pages(&k, GA, 0, 0, &pa[i]), 0);
	cr_assert_eq(kmm_guest_alloc_pages(&k, GA, 0, 0, &pa[4]), KMM_EQUOTA);
	cr_assert_eq(kmm_guest_alloc_pages(&k, GA, 3, 0, &pa[4]), KMM_EQUOTA);

	/* Table pages: root (2) + one level-2 and one level-3 table fit;
	 * a far IPA needs two more and is refused, nothing changed. */
	cr_assert_eq(kmm_guest_map(&k, GA, 0, pa[0], PG, KMM_ATTR_RW_DATA), 0);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert_eq(u.table_pages, 4);
	cr_assert_eq(kmm_guest_map(&k, GA, 1ull << 32, pa[1], PG,
				   KMM_ATTR_RW_DATA),
		     KMM_EQUOTA);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert_eq(u.table_pages, 4);
	cr_assert_eq(u.pages, 4);
	cr_assert_eq(kmm_query(kmm_guest_s2(&k, GA), 1ull << 32, NULL, NULL,
			       NULL),
		     KMM_ENOENT);

	/* Regions: two, then EQUOTA. VA bytes: 3 pages. */
	cr_assert_eq(kmm_guest_shm_register(&k, GA, 0, &pa[0], 1, &va[0]), 0);
	cr_assert_eq(kmm_guest_shm_register(&k, GA, 0, &pa[1], 2, &va[1]), 0);
	cr_assert_eq(kmm_guest_shm_register(&k, GA, 0, &pa[3], 1, &va[2]),
		     KMM_EQUOTA);
	cr_assert_eq(kmm_guest_vunmap(&k, GA, 0, va[0]), 0);
	cr_assert_eq(kmm_guest_shm_register(&k, GA, 0, &pa[2], 2, &va[2]),
		     KMM_EQUOTA); /* 4 pages of VA > 3 */
	cr_assert_eq(kmm_guest_shm_register(&k, GA, 0, &pa[2], 1, &va[2]), 0);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert_eq(u.regions, 2);
	cr_assert_eq(u.va_bytes, 3 * PG);
}

Test(guest, mpu_slots_bound_a_pmsa_guest_region_set)
{
	/* A PMSA system: the constructor builds a guest region set with
	 * the slot quota; a guest mapping more disjoint ranges than it has
	 * slots gets KMM_ENOSPC from its set. Shown in xen_mpu too. */
	static struct kmm_pmsa hyp, gset;
	struct kmm_pmsa_config pc = { .hyp_slots = 16,
				      .guest_first = 0,
				      .guest_slots = 8 };

	cr_assert_eq(kmm_pmsa_init(&hyp, &host.port, &pc), 0);
	cr_assert_eq(kmm_pmsa_guest_init(&gset, &hyp, GA, 2), 0);
	cr_assert_eq(kmm_map(&gset.as, 0x10000000, 0x10000000, PG,
			     KMM_ATTR_RW_DATA),
		     0);
	cr_assert_eq(kmm_map(&gset.as, 0x20000000, 0x20000000, PG,
			     KMM_ATTR_RW_DATA),
		     0);
	cr_assert_eq(kmm_map(&gset.as, 0x30000000, 0x30000000, PG,
			     KMM_ATTR_RW_DATA),
		     KMM_ENOSPC);
	cr_assert_eq(kmm_pmsa_free_slots(&gset), 0);
}

/* ---------------------------------------------------------------------
 * Guest-scoped calls.
 */

Test(guest, guest_calls_refuse_frames_the_guest_does_not_hold)
{
	kmm_paddr_t pa_a, pa_b, pa_k;
	kmm_vaddr_t va;

	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	cr_assert_eq(kmm_guest_create(&k, GB, &big_quota, NULL), 0);
	cr_assert_eq(kmm_guest_alloc_pages(&k, GA, 0, 0, &pa_a), 0);
	cr_assert_eq(kmm_guest_alloc_pages(&k, GB, 0, 0, &pa_b), 0);
	cr_assert_eq(kmm_pages_alloc(&pages, 0, KMM_OWNER_KERNEL, 0, &pa_k), 0);
	cr_assert_eq(kmm_guest_map(&k, GA, 0, pa_b, PG, KMM_ATTR_RW_DATA),
		     KMM_EPERM);
	cr_assert_eq(kmm_guest_map(&k, GA, 0, pa_k, PG, KMM_ATTR_RW_DATA),
		     KMM_EPERM);
	/* A free frame is nobody's: refused too. */
	cr_assert_eq(kmm_guest_map(&k, GA, 0, ARENA_BASE + ARENA_SIZE - PG, PG,
				   KMM_ATTR_RW_DATA),
		     KMM_EPERM);
	/* Outside the allocator's span (normal-world memory): allowed. */
	cr_assert_eq(kmm_guest_map(&k, GA, 0, 0x90000000, PG, KMM_ATTR_RW_DATA),
		     0);
	cr_assert_eq(kmm_guest_vmap(&k, GA, 0, &pa_b, 1, KMM_ATTR_RW_DATA, &va),
		     KMM_EPERM);
	cr_assert_eq(kmm_guest_ioremap(&k, GA, 0, pa_b, PG, KMM_ATTR_RW_DEVICE,
				       &va),
		     KMM_EPERM);
	cr_assert_eq(kmm_guest_vmap(&k, GA, 1, &pa_a, 1, KMM_ATTR_RW_DATA, &va),
		     KMM_EINVAL);
	cr_assert_eq(kmm_guest_vmap(&k, GA, 0, &pa_a, 1, KMM_ATTR_RW_DATA, &va),
		     0);
	cr_assert_eq(kmm_guest_alloc_pages(&k, 7, 0, 0, &pa_a), KMM_ENOENT);
	cr_assert_eq(kmm_guest_alloc_pages(&k, 0, 0, 0, &pa_a), KMM_EINVAL);
	cr_assert_eq(kmm_guest_unmap(&k, 7, 0, PG), KMM_ENOENT);
	cr_assert_eq(kmm_guest_unmap(&k, GA, 0, PG), 0);
}

/* ---------------------------------------------------------------------
 * Teardown.
 */

Test(guest, destroy_is_preemptible_and_a_dying_guest_gets_ebusy)
{
	static struct holdings h;
	kmm_paddr_t pa;
	kmm_vaddr_t va;
	struct kmm_guest_usage u;
	int steps = 0, ret;

	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	populate(GA, &h, 64, 8, 2, 0, 0x5a);
	pa = h.pa[0];
	cr_assert_eq(kmm_guest_destroy_step(&k, GA), KMM_EBUSY);
	steps++;
	cr_assert_eq(kmm_guest_state(&k, GA), KMM_GUEST_DYING);
	cr_assert_eq(kmm_guest_check(&k, GA), KMM_EBUSY);
	cr_assert_eq(kmm_guest_alloc_pages(&k, GA, 0, 0, &pa), KMM_EBUSY);
	cr_assert_eq(kmm_guest_shm_register(&k, GA, 0, h.pa, 1, &va),
		     KMM_EBUSY);
	cr_assert_eq(kmm_guest_map(&k, GA, 0, h.pa[0], PG, KMM_ATTR_RW_DATA),
		     KMM_EBUSY);
	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), KMM_EBUSY);
	/* Direct module calls for the dying id: its quotas are zero. */
	cr_assert_eq(kmm_pages_alloc(&pages, 0, GA, 0, &pa), KMM_EQUOTA);
	cr_assert_eq(kmm_vaspace_alloc(&vs, PG, PG, GA, &va), KMM_EQUOTA);
	/* Streams went first: no device reaches the guest any more. */
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert_eq(u.streams, 0);
	cr_assert_eq(u.regions, 8);
	while ((ret = kmm_guest_destroy_step(&k, GA)) == KMM_EBUSY)
		steps++;
	cr_assert_eq(ret, 0);
	steps++;
	/* streams, regions (one space), stage 2, VA, pages */
	cr_assert_eq(steps, 5);
	cr_assert_eq(kmm_guest_state(&k, GA), KMM_GUEST_FREE);
	cr_assert_eq(kmm_guest_destroy_step(&k, GA), KMM_ENOENT);
	cr_assert_eq(kmm_guest_destroy(&k, GA), KMM_ENOENT);
	cr_assert_eq(kmm_guest_destroy(&k, 0), KMM_EINVAL);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert(usage_is_zero(&u));
}

static size_t first_event(enum kmm_host_event_kind kind, size_t from)
{
	for (size_t i = from; i < host.events_len && i < host.events_cap; i++)
		if (host.events[i].kind == kind)
			return i;
	return SIZE_MAX;
}

Test(guest, destroy_aborts_dma_first_and_flushes_the_vmid_once)
{
	static struct holdings h;
	size_t first_tlb, vmid_all = 0, vmid_pages = 0;

	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	populate(GA, &h, 256, 16, 3, 4, 0x11);
	kmm_host_clear_events(&host);
	cr_assert_eq(kmm_guest_destroy(&k, GA), 0);
	cr_assert_lt(host.events_len, host.events_cap);
	/* The first thing the teardown does is abort A's streams: the STE
	 * is cleaned for the SMMU, then CMD_CFGI_STE. */
	cr_assert_eq(host.events[0].kind, KMM_HOST_EV_CLEAN);
	cr_assert_eq(host.events[1].kind, KMM_HOST_EV_SMMU_CMD);
	cr_assert_eq(host.events[1].arg0 & 0xff, KMM_SMMU_OP_CFGI_STE);
	first_tlb = first_event(KMM_HOST_EV_TLB_ADD_PAGE, 0);
	if (first_event(KMM_HOST_EV_TLB_FLUSH_ALL, 0) < first_tlb)
		first_tlb = first_event(KMM_HOST_EV_TLB_FLUSH_ALL, 0);
	cr_assert_neq(first_tlb, SIZE_MAX);
	for (size_t i = 0; i < first_tlb; i++)
		cr_assert(host.events[i].kind == KMM_HOST_EV_SMMU_CMD ||
			  host.events[i].kind == KMM_HOST_EV_CLEAN);
	for (size_t i = 0; i < host.events_len; i++) {
		const struct kmm_host_event *e = &host.events[i];

		if (e->ctx.regime != KMM_REGIME_STAGE2 || e->ctx.id != GA)
			continue;
		vmid_all += e->kind == KMM_HOST_EV_TLB_FLUSH_ALL;
		vmid_pages += e->kind == KMM_HOST_EV_TLB_ADD_PAGE ||
			      e->kind == KMM_HOST_EV_TLB_FLUSH_RANGE;
	}
	cr_assert_eq(vmid_all, 1);
	cr_assert_eq(vmid_pages, 0);
	for (size_t s = 0; s < h.nstreams; s++) {
		kmm_owner_t o;
		bool tr;

		cr_assert_eq(kmm_smmu_query(&smmu, h.sid[s], &o, &tr), 0);
		cr_assert_eq(o, KMM_OWNER_NONE);
		cr_assert(!tr);
		/* V = 1, Config = 0b000: abort. */
		cr_assert_eq(strtab[h.sid[s] * 8] & 0xf, 1);
	}
	/* Nothing was scrubbed during the teardown: scrubbing waits until
	 * a page is handed out again. */
	cr_assert_eq(kmm_host_count(&host, KMM_HOST_EV_SCRUB), 0);
}

Test(guest, teardown_of_thousands_of_objects_leaves_nothing_behind)
{
	static struct holdings a, b;
	size_t na = under_valgrind() ? 600 : 3000;
	size_t nr = under_valgrind() ? 100 : 700;
	struct kmm_guest_usage u;
	kmm_paddr_t old_root;
	size_t reused = 0;

	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	cr_assert_eq(kmm_guest_create(&k, GB, &big_quota, NULL), 0);
	populate(GA, &a, na, nr, 4, 0, 0xa5);
	populate(GB, &b, 300, 50, 2, 10, 0xb6);
	old_root = s2c.v[GA].root_pa;
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert_eq(u.pages, na);
	cr_assert_eq(u.regions, nr);
	cr_assert_eq(u.va_bytes, nr * 4 * PG);
	cr_assert_eq(u.streams, 4);

	cr_assert_eq(kmm_guest_destroy(&k, GA), 0);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert(usage_is_zero(&u));
	cr_assert_eq(kmm_pages_usage(&pages, GA, &u.pages), 0);
	cr_assert_eq(u.pages, 0);
	cr_assert_eq(kmm_pages_check(&pages), 0);
	cr_assert_eq(k.stats.regions, nr);
	cr_assert_eq(k.stats.blocks, na);
	cr_assert_eq(k.stats.streams, 4);

	/* No translation to any page A held: not in the kernel's map, not
	 * in B's stage 2, not by phys_to_virt; the frames are free. */
	for (size_t i = 0; i < a.npages; i++) {
		kmm_vaddr_t va;
		kmm_owner_t o;

		cr_assert_eq(kmm_phys_to_virt(&kas.as, a.pa[i], &va),
			     KMM_ENOENT);
		cr_assert_eq(kmm_pages_owner(&pages, a.pa[i], &o), KMM_ENOENT);
	}
	for (size_t r = 0; r < a.nregions; r++) {
		struct kmm_vmsa_walk w;

		cr_assert_eq(kmm_vmsa_walk(&kas, a.va[r], &w), KMM_ENOENT);
	}
	for (size_t i = 0; i < b.npages; i++) {
		struct kmm_vmsa_walk w;

		cr_assert_eq(kmm_vmsa_walk(&s2c.v[GB], b.ipa_base + i * PG, &w),
			     0);
		cr_assert_eq(w.pa, b.pa[i]);
	}
	/* B keeps working: its buffers resolve, it can allocate. */
	for (size_t r = 0; r < b.nregions; r++) {
		kmm_paddr_t pa;

		cr_assert_eq(kmm_virt_to_phys(&kas.as, b.va[r], &pa), 0);
		cr_assert_eq(*(uint8_t *)kmm_host_ptr(&host, pa), 0xb6);
	}

	/* A's frames handed to B read as zeros; A's old root too. */
	for (size_t i = 0; i < 2000; i++) {
		kmm_paddr_t pa;
		const uint8_t *p;

		if (kmm_guest_alloc_pages(&k, GB, 0, 0, &pa) != 0)
			break;
		p = kmm_host_ptr(&host, pa);
		for (size_t j = 0; j < a.npages; j++) {
			if (a.pa[j] != pa && pa != old_root)
				continue;
			for (size_t off = 0; off < PG; off++)
				cr_assert_eq(p[off], 0);
			reused++;
			break;
		}
	}
	cr_assert_gt(reused, 100);
}

Test(guest, a_destroyed_id_can_be_created_again_with_fresh_state)
{
	static struct holdings h;
	struct kmm_guest_usage u;

	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	populate(GA, &h, 32, 4, 1, 0, 1);
	cr_assert_eq(kmm_guest_destroy(&k, GA), 0);
	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	cr_assert_eq(kmm_guest_usage(&k, GA, &u), 0);
	cr_assert_eq(u.table_pages, 2);
	cr_assert_eq(u.pages + u.regions + u.va_bytes + u.streams, 0);
	populate(GA, &h, 32, 4, 1, 0, 1);
	cr_assert_eq(kmm_guest_destroy_by(&k, GA, GA), 0);
	cr_assert_eq(kmm_guest_state(&k, GA), KMM_GUEST_FREE);
}

/* ---------------------------------------------------------------------
 * Teardown cost: proportional to what the dying guest holds.
 */

struct cost {
	uint64_t steps, regions, blocks, streams, va_ranges;
	uint64_t events; /* TLB, SMMU and scrub calls through the port */
	uint64_t table_visits; /* pa_to_ptr calls: table pages touched */
};

static struct cost measure_teardown(size_t na, size_t others)
{
	static struct holdings a, b;
	struct kmm_guest_stats before;
	uint64_t ev, visits;
	struct cost c;

	setup();
	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	cr_assert_eq(kmm_guest_create(&k, GB, &big_quota, NULL), 0);
	populate(GA, &a, na, na / 4, 2, 0, 1);
	if (others)
		populate(GB, &b, others, others / 4, 4, 8, 2);
	before = k.stats;
	kmm_host_clear_events(&host);
	visits = pa_to_ptr_calls;
	cr_assert_eq(kmm_guest_destroy(&k, GA), 0);
	ev = host.events_len;
	c.steps = k.stats.steps - before.steps;
	c.regions = k.stats.regions - before.regions;
	c.blocks = k.stats.blocks - before.blocks;
	c.streams = k.stats.streams - before.streams;
	c.va_ranges = k.stats.va_ranges - before.va_ranges;
	c.events = ev;
	c.table_visits = pa_to_ptr_calls - visits;
	teardown();
	return c;
}

Test(guest, teardown_work_grows_with_what_the_guest_holds_not_with_others)
{
	size_t n = under_valgrind() ? 200 : 800;
	struct cost alone, crowd, twice;

	/* The suite's fixture is replaced by fresh ones per measurement. */
	teardown();
	alone = measure_teardown(n, 0);
	crowd = measure_teardown(n, 5 * n);
	twice = measure_teardown(2 * n, 0);
	setup();

	cr_assert_eq(alone.steps, crowd.steps);
	cr_assert_eq(alone.regions, crowd.regions);
	cr_assert_eq(alone.blocks, crowd.blocks);
	cr_assert_eq(alone.streams, crowd.streams);
	cr_assert_eq(alone.va_ranges, crowd.va_ranges);
	/* Port calls and table pages touched: never more with others
	 * around. (A little less: a kernel table page shared with B's
	 * regions stays, so it is neither freed nor invalidated.) */
	cr_assert_leq(crowd.events, alone.events);
	cr_assert_leq(crowd.table_visits, alone.table_visits);
	cr_assert_geq(crowd.events, alone.events * 95 / 100);
	cr_assert_eq(alone.regions, n / 4);
	cr_assert_eq(alone.blocks, n);
	cr_assert_eq(twice.regions, 2 * (n / 4));
	cr_assert_eq(twice.blocks, 2 * n);
	cr_assert_gt(twice.events, alone.events * 18 / 10);
	cr_assert_gt(twice.table_visits, alone.table_visits);
}

/* ---------------------------------------------------------------------
 * Isolation: guest A on guest B's objects, over every owner-scoped call.
 */

static struct {
	kmm_paddr_t pa_b, pa_a, range_b;
	kmm_vaddr_t va_b;
	uint32_t sid_b, sid_a;
	struct kmm_pmsa hyp, gb;
} iso;

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, b + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

/* Every byte of every context struct and caller-supplied buffer. */
static uint64_t digest(void)
{
	uint64_t h = 0xcbf29ce484222325ull;

	h = mix(h, &k, sizeof(k));
	h = mix(h, &pages, sizeof(pages));
	h = mix(h, pmeta, pmeta_size);
	h = mix(h, &kas, sizeof(kas));
	h = mix(h, &vs, sizeof(vs));
	h = mix(h, &vs_slab, sizeof(vs_slab));
	h = mix(h, vs_mem, VS_NODES * 128);
	h = mix(h, &regions, sizeof(regions));
	h = mix(h, &rg_slab, sizeof(rg_slab));
	h = mix(h, rg_mem, RG_NODES * KMM_REGION_NODE_SIZE);
	h = mix(h, &smmu, sizeof(smmu));
	h = mix(h, strtab, NSIDS * KMM_SMMU_STE_SIZE);
	h = mix(h, smmu_meta, smmu_meta_size);
	h = mix(h, &tlbp, sizeof(tlbp));
	h = mix(h, &s2c, sizeof(s2c));
	h = mix(h, &iso.hyp, sizeof(iso.hyp) - sizeof(iso.hyp.scratch));
	h = mix(h, &iso.gb, sizeof(iso.gb) - sizeof(iso.gb.scratch));
	h = mix(h, kmm_host_ptr(&host, ARENA_BASE), ARENA_SIZE);
	h = mix(h, &host.events_len, sizeof(host.events_len));
	return h;
}

static int iso_pages_free(void)
{
	return kmm_pages_free(&pages, iso.pa_b, 0, GA);
}
static int iso_pages_free_range(void)
{
	return kmm_pages_free_range(&pages, iso.pa_b, PG, GA);
}
static int iso_pages_alloc_range(void)
{
	return kmm_pages_alloc_range(&pages, iso.pa_b, PG, GA);
}
static int iso_vaspace_free(void)
{
	return kmm_vaspace_free(&vs, iso.va_b, 4 * PG, GA);
}
static int iso_vaspace_claim(void)
{
	return kmm_vaspace_claim(&vs, iso.va_b, PG, GA);
}
static int iso_vunmap(void)
{
	return kmm_vunmap(&kas.as, iso.va_b, GA);
}
static int iso_p2v_owner(void)
{
	kmm_vaddr_t va;

	return kmm_phys_to_virt_owner(&kas.as, iso.pa_b, GA, &va);
}
static int iso_smmu_assign(void)
{
	return kmm_smmu_assign(&smmu, iso.sid_b, GA);
}
static int iso_smmu_release(void)
{
	return kmm_smmu_release(&smmu, iso.sid_b, GA);
}
static int iso_smmu_attach_their_stream(void)
{
	return kmm_smmu_attach_vmsa(&smmu, iso.sid_b, GA, &s2c.v[GA]);
}
static int iso_smmu_attach_their_s2(void)
{
	return kmm_smmu_attach_vmsa(&smmu, iso.sid_a, GA, &s2c.v[GB]);
}
static int iso_pmsa_remove_guest_set(void)
{
	return kmm_pmsa_remove(&iso.gb, 0x90000000, PG, GA);
}
static int iso_pmsa_remove_hyp_set(void)
{
	return kmm_pmsa_remove(&iso.hyp, 0x80000000, PG, GA);
}
static int iso_guest_destroy_by(void)
{
	return kmm_guest_destroy_by(&k, GA, GB);
}
static int iso_guest_free_pages(void)
{
	return kmm_guest_free_pages(&k, GA, iso.pa_b, 0);
}
static int iso_guest_vunmap(void)
{
	return kmm_guest_vunmap(&k, GA, 0, iso.va_b);
}
static int iso_guest_map(void)
{
	return kmm_guest_map(&k, GA, 0x1000000, iso.pa_b, PG, KMM_ATTR_RW_DATA);
}
static int iso_guest_vmap(void)
{
	kmm_vaddr_t va;

	return kmm_guest_vmap(&k, GA, 0, &iso.pa_b, 1, KMM_ATTR_RW_DATA, &va);
}
static int iso_guest_shm_register(void)
{
	kmm_vaddr_t va;

	return kmm_guest_shm_register(&k, GA, 0, &iso.pa_b, 1, &va);
}
static int iso_guest_ioremap(void)
{
	kmm_vaddr_t va;

	return kmm_guest_ioremap(&k, GA, 0, iso.pa_b, PG, KMM_ATTR_RW_DEVICE,
				 &va);
}
static int iso_guest_map_range(void)
{
	/* A's own frame followed by B's: the whole call is refused. */
	return kmm_guest_map(&k, GA, 0x2000000, iso.range_b - PG, 2 * PG,
			     KMM_ATTR_RW_DATA);
}

struct iso_case {
	const char *call;
	int (*fn)(void);
	int expect;
};

static const struct iso_case iso_cases[] = {
	{ "kmm_pages_free", iso_pages_free, KMM_EPERM },
	{ "kmm_pages_free_range", iso_pages_free_range, KMM_EPERM },
	{ "kmm_pages_alloc_range", iso_pages_alloc_range, KMM_EEXIST },
	{ "kmm_vaspace_free", iso_vaspace_free, KMM_EPERM },
	{ "kmm_vaspace_claim", iso_vaspace_claim, KMM_EEXIST },
	{ "kmm_vunmap", iso_vunmap, KMM_EPERM },
	{ "kmm_phys_to_virt_owner", iso_p2v_owner, KMM_ENOENT },
	{ "kmm_smmu_assign", iso_smmu_assign, KMM_EBUSY },
	{ "kmm_smmu_release", iso_smmu_release, KMM_EPERM },
	{ "kmm_smmu_attach_vmsa (their stream)", iso_smmu_attach_their_stream,
	  KMM_EPERM },
	{ "kmm_smmu_attach_vmsa (their stage 2)", iso_smmu_attach_their_s2,
	  KMM_EPERM },
	{ "kmm_pmsa_remove (guest set)", iso_pmsa_remove_guest_set, KMM_EPERM },
	{ "kmm_pmsa_remove (hypervisor set)", iso_pmsa_remove_hyp_set,
	  KMM_EPERM },
	{ "kmm_guest_destroy_by", iso_guest_destroy_by, KMM_EPERM },
	{ "kmm_guest_free_pages", iso_guest_free_pages, KMM_EPERM },
	{ "kmm_guest_vunmap", iso_guest_vunmap, KMM_EPERM },
	{ "kmm_guest_map", iso_guest_map, KMM_EPERM },
	{ "kmm_guest_map (range)", iso_guest_map_range, KMM_EPERM },
	{ "kmm_guest_vmap", iso_guest_vmap, KMM_EPERM },
	{ "kmm_guest_shm_register", iso_guest_shm_register, KMM_EPERM },
	{ "kmm_guest_ioremap", iso_guest_ioremap, KMM_EPERM },
};

Test(guest, every_owner_scoped_call_of_a_on_b_is_refused_and_changes_nothing)
{
	static struct holdings a, b;
	struct kmm_pmsa_config pc = { .hyp_slots = 16,
				      .guest_first = 0,
				      .guest_slots = 8 };
	kmm_paddr_t two[2];

	cr_assert_eq(kmm_guest_create(&k, GA, &big_quota, NULL), 0);
	cr_assert_eq(kmm_guest_create(&k, GB, &big_quota, NULL), 0);
	populate(GA, &a, 16, 2, 1, 0, 0xaa);
	populate(GB, &b, 16, 2, 1, 8, 0xbb);
	/* A frame of A directly followed by one of B. */
	cr_assert_eq(kmm_guest_alloc_pages(&k, GA, 0, 0, &two[0]), 0);
	cr_assert_eq(kmm_guest_alloc_pages(&k, GB, 0, 0, &two[1]), 0);
	cr_assert_eq(two[1], two[0] + PG);
	iso.range_b = two[1];
	iso.pa_a = a.pa[0];
	iso.pa_b = b.pa[0];
	iso.va_b = b.va[0];
	iso.sid_b = b.sid[0];
	cr_assert_eq(kmm_smmu_assign(&smmu, 30, GA), 0);
	iso.sid_a = 30;
	cr_assert_eq(kmm_pmsa_init(&iso.hyp, &host.port, &pc), 0);
	cr_assert_eq(kmm_pmsa_add(&iso.hyp, 0x80000000, PG, KMM_ATTR_RW_DATA,
				  GB, 0),
		     0);
	cr_assert_eq(kmm_pmsa_guest_init(&iso.gb, &iso.hyp, GB, 4), 0);
	cr_assert_eq(kmm_map(&iso.gb.as, 0x90000000, 0x90000000, PG,
			     KMM_ATTR_RW_DATA),
		     0);

	for (size_t i = 0; i < sizeof(iso_cases) / sizeof(iso_cases[0]); i++) {
		const struct iso_case *c = &iso_cases[i];
		uint64_t before = digest();
		int ret = c->fn();

		cr_assert_eq(ret, c->expect, "%s: got %s, want %s", c->call,
			     kmm_errname(ret), kmm_errname(c->expect));
		cr_assert_eq(digest(), before, "%s changed state", c->call);
	}
	/* B's objects are all still there and still B's. */
	{
		kmm_owner_t o;
		kmm_vaddr_t va;

		cr_assert_eq(kmm_pages_owner(&pages, iso.pa_b, &o), 0);
		cr_assert_eq(o, GB);
		cr_assert_eq(kmm_phys_to_virt_owner(&kas.as, iso.pa_b, GB, &va),
			     0);
		cr_assert_eq(kmm_smmu_query(&smmu, iso.sid_b, &o, NULL), 0);
		cr_assert_eq(o, GB);
		cr_assert_eq(kmm_guest_state(&k, GB), KMM_GUEST_ACTIVE);
	}
}
