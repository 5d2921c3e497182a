// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the dynamic regions: vmap/ioremap/shm/vunmap, the VA
 * and PA lookups, the alias rule, owners, quotas, the cursor, and that a
 * failed call leaves nothing behind. Every shared case (SHARED_TEST) runs
 * twice: on a fake backend that keeps a per-page map of a VA window, and
 * on the real VMSA backend (stage 1, 4 KiB granule) with table pages from
 * the real page allocator, where translations are read back with
 * kmm_query() and kmm_vmsa_walk() and a failure compares the tables byte
 * for byte. The identity rules run on a fake identity backend and on the
 * real PMSA backend. A randomized test compares every lookup and every
 * translation with a reference list of regions after every operation.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/pages.h"
#include "kmm/region.h"
#if KMM_CONFIG_BACKEND_VMSA
#include "kmm/vmsa.h"
#endif

#define PG 4096ull
#define VA_BASE 0x100000000ull
#define VA_PAGES 65536ull /* 256 MiB window */
#define NR_OBJS 4096

struct fake {
	struct kmm_as as;
	bool identity;
	kmm_paddr_t pte[VA_PAGES]; /* pa + 1 of each mapped page, 0 if none */
	int fail_after; /* map calls left before one fails; < 0: never */
	int map_calls;
	size_t mapped; /* pages mapped */
	size_t lock_violations; /* map/unmap called without the lock */
};

static struct kmm_host host;
static struct fake *fk;
static struct kmm_slab vs_slab, slab;
static struct kmm_vaspace vs;
static struct kmm_regions regions;
static void *vs_mem, *obj_mem;

static struct fake *fake_of(const struct kmm_as *as)
{
	return kmm_container_of(as, struct fake, as);
}

static bool fake_page(const struct fake *f, kmm_vaddr_t va, size_t *i)
{
	kmm_vaddr_t base = f->identity ? 0 : VA_BASE;

	if (va < base || (va - base) / PG >= VA_PAGES)
		return false;
	*i = (va - base) / PG;
	return true;
}

static int fake_map(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		    size_t size, kmm_attr_t attr)
{
	struct fake *f = fake_of(as);
	size_t i;

	(void)attr;
	if (host.lock_depth == 0)
		f->lock_violations++;
	f->map_calls++;
	if (f->fail_after >= 0 && f->fail_after-- == 0)
		return KMM_ENOMEM;
	if (f->identity && va != pa)
		return KMM_ENOTSUP;
	for (size_t o = 0; o < size; o += PG) {
		if (!fake_page(f, va + o, &i))
			return KMM_ERANGE;
		if (f->pte[i])
			return KMM_EEXIST;
	}
	for (size_t o = 0; o < size; o += PG) {
		fake_page(f, va + o, &i);
		f->pte[i] = pa + o + 1;
		f->mapped++;
	}
	return KMM_OK;
}

static int fake_unmap(struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	struct fake *f = fake_of(as);
	size_t i;

	if (host.lock_depth == 0)
		f->lock_violations++;
	for (size_t o = 0; o < size; o += PG) {
		if (fake_page(f, va + o, &i) && f->pte[i]) {
			f->pte[i] = 0;
			f->mapped--;
		}
	}
	return KMM_OK;
}

static int fake_query(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa,
		      kmm_attr_t *attr, size_t *size)
{
	const struct fake *f = fake_of(as);
	size_t i;

	if (!fake_page(f, va, &i) || f->pte[i] == 0)
		return KMM_ENOENT;
	if (pa)
		*pa = f->pte[i] - 1 + va % PG;
	if (attr)
		*attr = KMM_ATTR_RW_DATA;
	if (size)
		*size = PG;
	return KMM_OK;
}

static void fake_caps(const struct kmm_as *as, struct kmm_as_caps *caps)
{
	memset(caps, 0, sizeof(*caps));
	caps->flags = fake_of(as)->identity ?
			      KMM_CAP_IDENTITY_ONLY :
			      KMM_CAP_TRANSLATES | KMM_CAP_NONCONTIG;
	caps->block_sizes = PG;
	caps->granule = PG;
	caps->va_end = 1ull << 48;
}

static const struct kmm_backend_ops fake_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
	.query = fake_query,
	.caps = fake_caps,
};

/* The address space under test: the fake's, or the VMSA backend's. */
static struct kmm_as *space;

/* The VMSA backend and the page allocator its tables come from. */
#define ARENA_BASE 0x800000000ull /* table pages: 8 MiB at 32 GiB */
#define ARENA_SIZE (8ull << 20)
#define TABLE_OWNER 60
#define HOARD_OWNER 61

static struct kmm_pages pages_alloc;
static void *pages_meta;
static kmm_paddr_t *hoard; /* frames taken to make table allocations fail */
static size_t nr_hoard;
#if KMM_CONFIG_BACKEND_VMSA
static struct kmm_vmsa *vm;
#endif

static void setup_regions(bool identity, kmm_vaddr_t base, uint64_t size,
			  size_t nr_objs)
{
	struct kmm_vaspace_config vcfg = { .granule = PG,
					   .identity = identity };
	size_t vs_bytes = 4096 * sizeof(struct kmm_vaspace_node);
	int ret;

	vs_mem = malloc(vs_bytes);
	obj_mem = aligned_alloc(KMM_REGION_NODE_ALIGN,
				nr_objs * KMM_REGION_NODE_SIZE);
	cr_assert_eq(kmm_slab_init(&vs_slab, sizeof(struct kmm_vaspace_node),
				   _Alignof(struct kmm_vaspace_node)),
		     0);
	cr_assert_eq(kmm_slab_add_memory(&vs_slab, vs_mem, vs_bytes), 0);
	vcfg.nodes = &vs_slab;
	cr_assert_eq(kmm_vaspace_init(&vs, &vcfg), 0);
	cr_assert_eq(kmm_vaspace_add_window(&vs, base, size), 0);
	cr_assert_eq(kmm_slab_init(&slab, KMM_REGION_NODE_SIZE,
				   KMM_REGION_NODE_ALIGN),
		     0);
	cr_assert_eq(kmm_slab_add_memory(&slab, obj_mem,
					 nr_objs * KMM_REGION_NODE_SIZE),
		     0);
	ret = kmm_regions_init(&regions, space, &vs, &slab);
	cr_assert_eq(ret, 0, "regions init: %d", ret);
}

static void setup_mode(bool identity)
{
	cr_assert_eq(kmm_host_init(&host, 0, 1 << 20, 0), 0);
	host.log_enabled = false;
	fk = calloc(1, sizeof(*fk));
	fk->as.ops = &fake_ops;
	fk->as.port = &host.port;
	fk->identity = identity;
	fk->fail_after = -1;
	space = &fk->as;
	setup_regions(identity, identity ? 0 : VA_BASE, VA_PAGES * PG, NR_OBJS);
}

static void setup(void)
{
	setup_mode(false);
}

static void setup_identity(void)
{
	setup_mode(true);
}

static void teardown(void)
{
	cr_expect_eq(fk->lock_violations, 0);
	free(fk);
	fk = NULL;
	free(vs_mem);
	free(obj_mem);
	kmm_host_fini(&host);
}

TestSuite(region, .init = setup, .fini = teardown);
TestSuite(region_identity, .init = setup_identity, .fini = teardown);

#if KMM_CONFIG_BACKEND_VMSA
/*
 * Stage 1 of EL1&0 with a 48-bit VA and the 4 KiB granule; the port lock
 * is recursive, so the regions, the VMSA backend and the page allocator
 * share it: vmap takes it, the backend takes it again, and so does the
 * allocator it takes table pages from.
 */
static void setup_vmsa(void)
{
	struct kmm_vmsa_config cfg;
	size_t meta = kmm_pages_meta_size(ARENA_BASE, ARENA_SIZE);

	cr_assert_eq(kmm_host_init(&host, ARENA_BASE, ARENA_SIZE, 0), 0);
	host.log_enabled = false;
	pages_meta = malloc(meta);
	cr_assert_eq(kmm_pages_init(&pages_alloc, &host.port, ARENA_BASE,
				    ARENA_SIZE, pages_meta, meta),
		     0);
	cr_assert_eq(kmm_pages_add(&pages_alloc, ARENA_BASE, ARENA_SIZE), 0);
	hoard = malloc(ARENA_SIZE / PG * sizeof(*hoard));
	nr_hoard = 0;
	vm = calloc(1, sizeof(*vm));
	cr_assert_eq(kmm_vmsa_config_init(&cfg, KMM_REGIME_EL1), 0);
	cr_assert_eq(kmm_vmsa_init(vm, &cfg, &host.port, &pages_alloc,
				   TABLE_OWNER, 0),
		     0);
	space = &vm->as;
	setup_regions(false, VA_BASE, VA_PAGES * PG, NR_OBJS);
}

static void teardown_vmsa(void)
{
	uint64_t held = 1;

	cr_expect_eq(host.lock_depth, 0);
	cr_assert_eq(kmm_as_destroy(&vm->as), 0);
	cr_expect_eq(kmm_pages_usage(&pages_alloc, TABLE_OWNER, &held), 0);
	cr_expect_eq(held, 0, "table pages leaked");
	free(vm);
	vm = NULL;
	free(hoard);
	free(pages_meta);
	free(vs_mem);
	free(obj_mem);
	kmm_host_fini(&host);
}

TestSuite(region_vmsa, .init = setup_vmsa, .fini = teardown_vmsa);
#endif

static bool on_vmsa(void)
{
#if KMM_CONFIG_BACKEND_VMSA
	return vm != NULL;
#else
	return false;
#endif
}

/*
 * A case that runs on the fake backend (suite region) and on the VMSA
 * backend (suite region_vmsa), with @c space pointing at either.
 */
#if KMM_CONFIG_BACKEND_VMSA
#define SHARED_TEST(name)              \
	static void case_##name(void); \
	Test(region, name)             \
	{                              \
		case_##name();         \
	}                              \
	Test(region_vmsa, name)        \
	{                              \
		case_##name();         \
	}                              \
	static void case_##name(void)
#else
#define SHARED_TEST(name)              \
	static void case_##name(void); \
	Test(region, name)             \
	{                              \
		case_##name();         \
	}                              \
	static void case_##name(void)
#endif

/*
 * Lets exactly @k more table pages be allocated (everything else is held
 * by another owner), so the VMSA backend fails the next one with ENOMEM;
 * on the fake backend, lets @k more map calls succeed. -1: no failure.
 */
static void fail_map_after(long k)
{
	kmm_paddr_t pa;

	if (!on_vmsa()) {
		fk->fail_after = (int)k;
		return;
	}
	while (nr_hoard)
		cr_assert_eq(kmm_pages_free(&pages_alloc, hoard[--nr_hoard], 0,
					    HOARD_OWNER),
			     0);
	if (k < 0)
		return;
	while (kmm_pages_alloc(&pages_alloc, 0, HOARD_OWNER, 0, &pa) == 0)
		hoard[nr_hoard++] = pa;
	for (long i = 0; i < k && nr_hoard; i++)
		cr_assert_eq(kmm_pages_free(&pages_alloc, hoard[--nr_hoard], 0,
					    HOARD_OWNER),
			     0);
}

/* The translation the backend holds for @va (kmm_query()). */
static int translation(kmm_vaddr_t va, kmm_paddr_t *pa)
{
	return kmm_query(space, va, pa, NULL, NULL);
}

#if KMM_CONFIG_BACKEND_VMSA
static const uint64_t *table_at(kmm_paddr_t pa)
{
	return kmm_host_ptr(&host, pa);
}

#define DESC_OA 0x0000fffffffff000ull

/* Pages mapped by the leaves under a table of @n entries at @level. */
static size_t leaf_pages(kmm_paddr_t pa, unsigned int level, size_t n)
{
	const uint64_t *t = table_at(pa);
	size_t pages = 0;

	for (size_t i = 0; i < n; i++) {
		if (!(t[i] & 1))
			continue;
		if (level == 3)
			pages++;
		else if (t[i] & 2)
			pages += leaf_pages(t[i] & DESC_OA, level + 1, 512);
		else
			pages += (size_t)1 << (9 * (3 - level));
	}
	return pages;
}

/* Appends every reachable table (PA, then contents) in walk order. */
static void tables_bytes(kmm_paddr_t pa, unsigned int level, size_t n,
			 uint8_t **buf, size_t *len)
{
	const uint64_t *t = table_at(pa);

	*buf = realloc(*buf, *len + sizeof(pa) + n * sizeof(*t));
	cr_assert_not_null(*buf);
	memcpy(*buf + *len, &pa, sizeof(pa));
	memcpy(*buf + *len + sizeof(pa), t, n * sizeof(*t));
	*len += sizeof(pa) + n * sizeof(*t);
	for (size_t i = 0; i < n; i++)
		if (level < 3 && (t[i] & 3) == 3)
			tables_bytes(t[i] & DESC_OA, level + 1, 512, buf, len);
}
#endif

/* Pages the backend maps now. */
static size_t mapped_pages(void)
{
#if KMM_CONFIG_BACKEND_VMSA
	if (on_vmsa())
		return leaf_pages(vm->root_pa, vm->start_level,
				  vm->root_entries);
#endif
	return fk->mapped;
}

/* Everything observable that a failed call must leave as it was. */
struct snapshot {
	size_t slab_free, vs_free, mapped, nr_regions, nr_runs;
	uint64_t usage, tables_held;
	uint8_t *tables; /* VMSA: every table, byte for byte */
	size_t tables_len;
};

static void snap(struct snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->slab_free = kmm_slab_available(&slab);
	s->vs_free = kmm_slab_available(&vs_slab);
	s->mapped = mapped_pages();
	s->nr_regions = regions.nr_regions;
	s->nr_runs = regions.nr_runs;
	for (kmm_owner_t o = 0; o < KMM_CONFIG_MAX_OWNERS; o++) {
		uint64_t u = 0;

		kmm_vaspace_usage(&vs, o, &u);
		s->usage += u;
	}
#if KMM_CONFIG_BACKEND_VMSA
	if (on_vmsa()) {
		kmm_pages_usage(&pages_alloc, TABLE_OWNER, &s->tables_held);
		tables_bytes(vm->root_pa, vm->start_level, vm->root_entries,
			     &s->tables, &s->tables_len);
	}
#endif
}

static void snap_release(struct snapshot *s)
{
	free(s->tables);
	s->tables = NULL;
}

/* Compares the state now with @a, then releases @a. */
static void expect_unchanged(struct snapshot *a)
{
	struct snapshot b;

	snap(&b);
	cr_expect_eq(a->slab_free, b.slab_free, "slab %zu -> %zu", a->slab_free,
		     b.slab_free);
	cr_expect_eq(a->vs_free, b.vs_free);
	cr_expect_eq(a->mapped, b.mapped);
	cr_expect_eq(a->nr_regions, b.nr_regions);
	cr_expect_eq(a->nr_runs, b.nr_runs);
	cr_expect_eq(a->usage, b.usage);
	cr_expect_eq(a->tables_held, b.tables_held);
	cr_expect_eq(a->tables_len, b.tables_len);
	cr_expect(a->tables_len == b.tables_len &&
			  (a->tables_len == 0 ||
			   memcmp(a->tables, b.tables, a->tables_len) == 0),
		  "translation tables are byte-identical");
	snap_release(a);
	snap_release(&b);
}

/* ---------------------------------------------------------------------- */

SHARED_TEST(vmap_joins_consecutive_pages_into_runs)
{
	kmm_paddr_t pages[] = { 0x40000000, 0x40001000, 0x40002000,
				0x90000000, 0x90001000, 0x7000 };
	struct kmm_region_info info;
	kmm_vaddr_t va, v;
	kmm_paddr_t pa;

	cr_assert_eq(kmm_vmap(space, pages, 6, KMM_ATTR_RW_DATA, 0, &va), 0);
	cr_assert_eq(kmm_region_find(space, va + 5 * PG + 7, &info), 0);
	cr_expect_eq(info.va, va);
	cr_expect_eq(info.size, 6 * PG);
	cr_expect_eq(info.nr_runs, 3);
	cr_expect_eq(info.kind, KMM_REGION_VMAP);
	cr_expect_eq(info.owner, 0);
	cr_expect_eq(info.attr, KMM_ATTR_RW_DATA);
	if (!on_vmsa())
		cr_expect_eq(fk->map_calls, 3, "one backend call per run");
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(kmm_virt_to_phys(space, va + i * PG + 0x10, &pa),
			     0);
		cr_expect_eq(pa, pages[i] + 0x10);
		cr_assert_eq(kmm_phys_to_virt(space, pages[i] + 0xff, &v), 0);
		cr_expect_eq(v, va + i * PG + 0xff);
		cr_assert_eq(translation(va + i * PG + 0x24, &pa), 0);
		cr_expect_eq(pa, pages[i] + 0x24);
	}
	cr_expect_eq(kmm_phys_to_virt(space, 0x40003000, &v), KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt(space, 0x6fff, &v), KMM_ENOENT);
	cr_expect_eq(kmm_virt_to_phys(space, va + 6 * PG, &pa), KMM_ENOENT);
	cr_expect_eq(kmm_virt_to_phys(space, va - 1, &pa), KMM_ENOENT);
}

SHARED_TEST(vmap_of_1000_scattered_pages_resolves_every_page_both_ways)
{
	static kmm_paddr_t pages[1000];
	uint64_t seed = 1;
	kmm_vaddr_t va, v;
	kmm_paddr_t pa;
	struct kmm_region_info info;
	struct snapshot before;
	struct kmm_p2v_cursor cur;

	/* Every other frame, shuffled: no two pages join. */
	for (int i = 0; i < 1000; i++)
		pages[i] = 0x80000000ull + 2 * PG * i;
	for (int i = 999; i > 0; i--) {
		int j;
		kmm_paddr_t t;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		j = (int)((seed >> 33) % (uint64_t)(i + 1));
		t = pages[i];
		pages[i] = pages[j];
		pages[j] = t;
	}
	snap(&before);
	cr_assert_eq(kmm_vmap(space, pages, 1000, KMM_ATTR_RW_DATA, 3, &va), 0);
	cr_assert_eq(kmm_region_find(space, va, &info), 0);
	cr_expect_eq(info.nr_runs, 1000);
	cr_expect_eq(regions.nr_runs, 1000);
	for (int i = 0; i < 1000; i++) {
		cr_assert_eq(kmm_virt_to_phys(space, va + i * PG + 1, &pa), 0);
		cr_assert_eq(pa, pages[i] + 1);
		cr_assert_eq(kmm_phys_to_virt(space, pages[i] + 2, &v), 0);
		cr_assert_eq(v, va + i * PG + 2);
		cr_assert_eq(kmm_phys_to_virt(space, pages[i] + PG, &v),
			     KMM_ENOENT);
	}
	/* The cursor walks the 1000 runs (36 run chunks) in order. */
	kmm_p2v_cursor_init(&cur);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 1000; i++) {
			cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur,
							     pages[i] + 3, &v),
				     0);
			cr_assert_eq(v, va + i * PG + 3, "page %d", i);
			cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur,
							     pages[i] + PG - 1,
							     &v),
				     0);
			cr_assert_eq(v, va + i * PG + PG - 1);
		}
	cr_expect_eq(cur.run, 999);
	cr_assert_eq(kmm_vunmap(space, va, 3), 0);
	expect_unchanged(&before);
	cr_expect_eq(regions.nr_pa_nodes, 0);
	cr_expect_eq(kmm_phys_to_virt(space, pages[0], &v), KMM_ENOENT);
}

SHARED_TEST(phys_to_virt_of_an_alias_returns_the_youngest_highest_run)
{
	kmm_paddr_t a[] = { 0x50000000, 0x50001000, 0x50002000 };
	kmm_paddr_t b[] = { 0x50001000 }; /* inside a's run, later start */
	kmm_paddr_t c[] = { 0x50000000, 0x50001000, 0x50002000 }; /* same */
	kmm_vaddr_t va, vb, vc, v;

	cr_assert_eq(kmm_vmap(space, a, 3, KMM_ATTR_RW_DATA, 1, &va), 0);
	cr_assert_eq(kmm_vmap(space, b, 1, KMM_ATTR_RW_DATA, 2, &vb), 0);
	cr_assert_eq(kmm_phys_to_virt(space, 0x50001004, &v), 0);
	cr_expect_eq(v, vb + 4, "the run with the higher first PA wins");
	cr_assert_eq(kmm_phys_to_virt(space, 0x50000004, &v), 0);
	cr_expect_eq(v, va + 4);
	cr_assert_eq(kmm_phys_to_virt(space, 0x50002004, &v), 0);
	cr_expect_eq(v, va + 2 * PG + 4, "b does not cover it");

	cr_assert_eq(kmm_vmap(space, c, 3, KMM_ATTR_RW_DATA, 3, &vc), 0);
	cr_assert_eq(kmm_phys_to_virt(space, 0x50000004, &v), 0);
	cr_expect_eq(v, vc + 4, "equal first PA: the youngest wins");
	cr_assert_eq(kmm_phys_to_virt(space, 0x50001004, &v), 0);
	cr_expect_eq(v, vb + 4);

	cr_assert_eq(kmm_phys_to_virt_owner(space, 0x50001004, 1, &v), 0);
	cr_expect_eq(v, va + PG + 4);
	cr_assert_eq(kmm_phys_to_virt_owner(space, 0x50001004, 3, &v), 0);
	cr_expect_eq(v, vc + PG + 4);
	cr_expect_eq(kmm_phys_to_virt_owner(space, 0x50001004, 4, &v),
		     KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt_owner(space, 0x50002004, 2, &v),
		     KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt_owner(space, 0, KMM_CONFIG_MAX_OWNERS,
					    &v),
		     KMM_EINVAL);

	cr_assert_eq(kmm_vunmap(space, vb, 2), 0);
	cr_assert_eq(kmm_vunmap(space, vc, 3), 0);
	cr_assert_eq(kmm_phys_to_virt(space, 0x50001004, &v), 0);
	cr_expect_eq(v, va + PG + 4);
}

Test(region, failed_vmap_in_the_middle_of_mapping_leaves_nothing_behind)
{
	kmm_paddr_t pages[5] = { 0x10000, 0x30000, 0x50000, 0x70000, 0x90000 };
	struct snapshot before;
	kmm_vaddr_t va = 0xdead, v;

	snap(&before);
	fk->fail_after = 3; /* runs 0-2 map, run 3 fails */
	cr_expect_eq(kmm_vmap(space, pages, 5, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_ENOMEM);
	cr_expect_eq(va, 0xdead, "out value untouched on error");
	cr_expect_eq(fk->map_calls, 4);
	expect_unchanged(&before);
	for (int i = 0; i < 5; i++)
		cr_expect_eq(kmm_phys_to_virt(space, pages[i], &v), KMM_ENOENT);
	/* The same call succeeds once the backend does. */
	fk->fail_after = -1;
	cr_expect_eq(kmm_vmap(space, pages, 5, KMM_ATTR_RW_DATA, 0, &va), 0);
}

SHARED_TEST(vmap_rejects_bad_input_and_changes_nothing)
{
	kmm_paddr_t ok[2] = { 0x10000, 0x20000 }, bad[2] = { 0x10000, 0x20010 };
	kmm_paddr_t wrap[2] = { 0xfffffffffffff000ull, 0 };
	struct snapshot before;
	kmm_vaddr_t va;

	snap(&before);
	cr_expect_eq(kmm_vmap(space, ok, 0, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_EINVAL);
	cr_expect_eq(kmm_vmap(space, NULL, 2, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_EINVAL);
	cr_expect_eq(kmm_vmap(space, ok, 2, KMM_ATTR_RW_DATA, 0, NULL),
		     KMM_EINVAL);
	cr_expect_eq(kmm_vmap(NULL, ok, 2, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_EINVAL);
	cr_expect_eq(kmm_vmap(space, ok, 2, KMM_ATTR_RW_DATA,
			      KMM_CONFIG_MAX_OWNERS, &va),
		     KMM_EINVAL);
	cr_expect_eq(kmm_vmap(space, ok, 2, KMM_ATTR_W, 0, &va), KMM_EINVAL);
	cr_expect_eq(kmm_vmap(space, ok, 2, KMM_ATTR_RW_DATA | KMM_ATTR_X, 0,
			      &va),
		     KMM_EPERM);
	cr_expect_eq(kmm_vmap(space, bad, 2, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_EALIGN);
	if (on_vmsa()) {
		cr_expect_eq(kmm_vmap(space, wrap, 1, KMM_ATTR_RW_DATA, 0, &va),
			     KMM_ERANGE, "beyond the 48-bit output size");
	} else {
		cr_expect_eq(kmm_vmap(space, wrap, 1, KMM_ATTR_RW_DATA, 0, &va),
			     0,
			     "the last page of the PA space is a valid page");
		cr_expect_eq(kmm_vunmap(space, va, 0), 0);
	}
	cr_expect_eq(kmm_vmap(space, ok, SIZE_MAX, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_ERANGE);
	if (!on_vmsa())
		cr_expect_eq(fk->map_calls, 1);
	expect_unchanged(&before);
}

SHARED_TEST(ioremap_maps_one_device_range_and_checks_it)
{
	struct kmm_region_info info;
	struct snapshot before;
	kmm_vaddr_t va, v;
	kmm_paddr_t pa;

	snap(&before);
	cr_expect_eq(kmm_ioremap(space, 0x9000000, 0, KMM_ATTR_RW_DEVICE, 0,
				 &va),
		     KMM_EINVAL);
	cr_expect_eq(kmm_ioremap(space, 0x9000100, PG, KMM_ATTR_RW_DEVICE, 0,
				 &va),
		     KMM_EALIGN);
	cr_expect_eq(kmm_ioremap(space, 0x9000000, 100, KMM_ATTR_RW_DEVICE, 0,
				 &va),
		     KMM_EALIGN);
	cr_expect_eq(kmm_ioremap(space, 0xfffffffffffff000ull, 2 * PG,
				 KMM_ATTR_RW_DEVICE, 0, &va),
		     KMM_ERANGE);
	expect_unchanged(&before);
	cr_assert_eq(kmm_ioremap(space, 0x9000000, 4 * PG, KMM_ATTR_RW_DEVICE,
				 5, &va),
		     0);
	cr_assert_eq(kmm_region_find(space, va + 3 * PG, &info), 0);
	cr_expect_eq(info.kind, KMM_REGION_IOREMAP);
	cr_expect_eq(info.nr_runs, 1);
	cr_expect_eq(info.owner, 5);
	cr_expect_eq(info.attr, KMM_ATTR_RW_DEVICE);
	cr_assert_eq(kmm_phys_to_virt(space, 0x9003ffc, &v), 0);
	cr_expect_eq(v, va + 0x3ffc);
	cr_assert_eq(kmm_virt_to_phys(space, va + 0x2000, &pa), 0);
	cr_expect_eq(pa, 0x9002000);
}

SHARED_TEST(shm_register_maps_non_secure_read_write_memory)
{
	kmm_paddr_t pages[] = { 0x88000000, 0x88005000 };
	struct kmm_region_info info;
	kmm_vaddr_t va;

	cr_assert_eq(kmm_shm_register(space, pages, 2, 7, &va), 0);
	cr_assert_eq(kmm_region_find(space, va, &info), 0);
	cr_expect_eq(info.kind, KMM_REGION_SHM);
	cr_expect_eq(info.attr, KMM_ATTR_RW_DATA | KMM_ATTR_NS);
	cr_expect_eq(info.owner, 7);
	cr_expect_eq(kmm_shm_register(space, pages, 0, 7, &va), KMM_EINVAL);
}

SHARED_TEST(vunmap_checks_start_and_owner_and_never_allocates)
{
	kmm_paddr_t pages[] = { 0x10000, 0x20000, 0x30000 };
	struct snapshot before, mapped;
	kmm_vaddr_t va, v;
	kmm_paddr_t pa;
	size_t free_before;

	snap(&before);
	cr_assert_eq(kmm_vmap(space, pages, 3, KMM_ATTR_RW_DATA, 4, &va), 0);
	snap(&mapped);
	cr_expect_eq(kmm_vunmap(space, va + PG, 4), KMM_ENOENT);
	cr_expect_eq(kmm_vunmap(space, va + 64 * PG, 4), KMM_ENOENT);
	cr_expect_eq(kmm_vunmap(space, va, 5), KMM_EPERM);
	cr_expect_eq(kmm_vunmap(space, va, KMM_CONFIG_MAX_OWNERS), KMM_EINVAL);
	cr_expect_eq(kmm_vunmap(NULL, va, 4), KMM_EINVAL);
	expect_unchanged(&mapped);
	free_before = kmm_slab_available(&slab);
	slab.free_list = NULL; /* nothing to take: vunmap must not need it */
	slab.available = 0;
	fail_map_after(0); /* no table page either */
	cr_assert_eq(kmm_vunmap(space, va, 4), 0);
	fail_map_after(-1);
	cr_expect_eq(kmm_slab_available(&slab) + free_before, before.slab_free);
	cr_expect_eq(kmm_vunmap(space, va, 4), KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt(space, 0x20000, &v), KMM_ENOENT);
	cr_expect_eq(translation(va + PG, &pa), KMM_ENOENT);
	cr_expect_eq(mapped_pages(), 0);
	snap_release(&before);
}

SHARED_TEST(vmap_without_metadata_objects_fails_with_enomem_cleanly)
{
	kmm_paddr_t pages[] = { 0x10000, 0x20000 };
	struct snapshot before;
	kmm_vaddr_t va;
	size_t avail = slab.available;
	struct kmm_slab_free *list = slab.free_list;

	snap(&before);
	slab.free_list = NULL;
	slab.available = 0;
	cr_expect_eq(kmm_vmap(space, pages, 2, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_ENOMEM);
	slab.free_list = list;
	slab.available = avail;
	expect_unchanged(&before);
	if (!on_vmsa())
		cr_expect_eq(fk->map_calls, 0);
}

SHARED_TEST(region_quota_limits_the_count_per_owner)
{
	kmm_paddr_t p = 0x10000;
	kmm_vaddr_t va[3], v;

	cr_assert_eq(kmm_regions_set_quota(space, 6, 2), 0);
	cr_expect_eq(kmm_regions_set_quota(space, KMM_CONFIG_MAX_OWNERS, 2),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vmap(space, &p, 1, KMM_ATTR_RW_DATA, 6, &va[0]), 0);
	cr_assert_eq(kmm_vmap(space, &p, 1, KMM_ATTR_RW_DATA, 6, &va[1]), 0);
	cr_expect_eq(kmm_vmap(space, &p, 1, KMM_ATTR_RW_DATA, 6, &va[2]),
		     KMM_EQUOTA);
	cr_expect_eq(kmm_vmap(space, &p, 1, KMM_ATTR_RW_DATA, 8, &va[2]), 0,
		     "other owners are not limited");
	cr_assert_eq(kmm_vunmap(space, va[0], 6), 0);
	cr_expect_eq(kmm_vmap(space, &p, 1, KMM_ATTR_RW_DATA, 6, &v), 0);
}

SHARED_TEST(free_all_removes_exactly_the_owners_regions)
{
	kmm_paddr_t p[6] = { 0x10000, 0x20000, 0x30000,
			     0x40000, 0x50000, 0x60000 };
	kmm_vaddr_t va[6], v;
	kmm_paddr_t pa;

	for (int i = 0; i < 6; i++)
		cr_assert_eq(kmm_vmap(space, &p[i], 1, KMM_ATTR_RW_DATA,
				      (kmm_owner_t)(i % 2 + 1), &va[i]),
			     0);
	cr_expect_eq(kmm_region_free_all(space, 1), 3);
	cr_expect_eq(kmm_region_free_all(space, 1), 0);
	cr_expect_eq(kmm_region_free_all(space, KMM_CONFIG_MAX_OWNERS),
		     KMM_EINVAL);
	for (int i = 0; i < 6; i++) {
		int want = i % 2 ? 0 : KMM_ENOENT;

		cr_expect_eq(kmm_virt_to_phys(space, va[i], &pa), want);
		cr_expect_eq(kmm_phys_to_virt(space, p[i], &v), want);
	}
	cr_expect_eq(regions.owners[1].count, 0);
	cr_expect_eq(regions.owners[2].count, 3);
	cr_expect_eq(mapped_pages(), 3);
}

SHARED_TEST(cursor_follows_a_buffer_and_notices_a_vunmap)
{
	kmm_paddr_t pages[] = { 0xa000, 0xb000, 0x3000, 0x4000, 0x70000 };
	struct kmm_as other = { 0 };
	struct kmm_p2v_cursor cur;
	kmm_vaddr_t va, v;

	cr_assert_eq(kmm_vmap(space, pages, 5, KMM_ATTR_RW_DATA, 0, &va), 0);
	kmm_p2v_cursor_init(&cur);
	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 5; i++) {
			cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur,
							     pages[i] + 8, &v),
				     0);
			cr_expect_eq(v, va + i * PG + 8);
		}
	/* The cursor now holds the run of 0x70000: it answers only for the
	 * address space it was filled through. */
	cr_expect_eq(kmm_phys_to_virt_cursor(NULL, &cur, 0x70000, &v),
		     KMM_EINVAL);
	cr_expect_eq(kmm_phys_to_virt_cursor(&other, &cur, 0x70000, &v),
		     KMM_EINVAL, "a space without regions resolves nothing");
	cr_expect_eq(kmm_phys_to_virt_cursor(space, &cur, 0x5000, &v),
		     KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt_cursor(space, NULL, 0x3000, &v),
		     KMM_EINVAL);
	cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur, 0x3000, &v), 0);
	cr_assert_eq(kmm_vunmap(space, va, 0), 0);
	cr_expect_eq(kmm_phys_to_virt_cursor(space, &cur, 0x3000, &v),
		     KMM_ENOENT, "a stale cursor is never trusted");
}

SHARED_TEST(empty_cursor_matches_no_address_and_walks_runs_in_va_order)
{
	/* Runs of 2, 1 and 3 pages: the cursor must step run by run. */
	kmm_paddr_t pages[] = { 0x20000, 0x21000, 0x8000,
				0x40000, 0x41000, 0x42000 };
	struct kmm_p2v_cursor cur, zero;
	kmm_vaddr_t va, v = 1;

	memset(&cur, 0, sizeof(cur));
	memset(&zero, 0, sizeof(zero));
	kmm_p2v_cursor_step(NULL);
	kmm_p2v_cursor_step(&cur);
	cr_expect_eq(memcmp(&cur, &zero, sizeof(cur)), 0,
		     "stepping an empty cursor changes nothing");
	cr_expect_eq(kmm_phys_to_virt_cursor(space, &cur, 0, &v), KMM_ENOENT,
		     "a zeroed cursor holds no run, not [0, 1)");
	cr_expect_eq(v, 1, "a failed lookup writes nothing");
	cr_assert_eq(kmm_vmap(space, pages, 6, KMM_ATTR_RW_DATA, 0, &va), 0);
	kmm_p2v_cursor_init(&cur);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur, pages[i], &v),
			     0);
		cr_expect_eq(v, va + i * PG, "page %d", i);
		cr_expect_eq(cur.run, i < 2 ? 0 : i < 3 ? 1 : 2, "page %d", i);
		cr_expect_eq(cur.size, i < 2 ? 2 * PG : i < 3 ? PG : 3 * PG);
	}
	/* The last byte of the last run, then one past it. */
	cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur, 0x42fff, &v), 0);
	cr_expect_eq(v, va + 6 * PG - 1);
	cr_expect_eq(kmm_phys_to_virt_cursor(space, &cur, 0x43000, &v),
		     KMM_ENOENT);
	/* Backwards: the first run again through a full lookup. */
	cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur, 0x20010, &v), 0);
	cr_expect_eq(v, va + 0x10);
	cr_expect_eq(cur.run, 0);
}

SHARED_TEST(lookups_reject_null_arguments)
{
	struct kmm_region_info info;
	kmm_vaddr_t v;
	kmm_paddr_t pa;
	struct kmm_as bare = { .ops = &fake_ops };

	cr_expect_eq(kmm_region_find(space, VA_BASE, NULL), KMM_EINVAL);
	cr_expect_eq(kmm_region_find(NULL, VA_BASE, &info), KMM_EINVAL);
	cr_expect_eq(kmm_virt_to_phys(space, VA_BASE, NULL), KMM_EINVAL);
	cr_expect_eq(kmm_phys_to_virt(space, 0, NULL), KMM_EINVAL);
	cr_expect_eq(kmm_phys_to_virt(&bare, 0, &v), KMM_EINVAL);
	cr_expect_eq(kmm_virt_to_phys(&bare, 0, &pa), KMM_EINVAL);
	cr_expect_eq(kmm_region_find(space, VA_BASE, &info), KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt(space, 0, &v), KMM_ENOENT);
}

SHARED_TEST(init_refuses_bad_configuration)
{
	struct kmm_regions other;
	struct kmm_slab small;
	struct kmm_vaspace_config vcfg = { .granule = PG,
					   .nodes = &vs_slab,
					   .port = &host.port };
	struct kmm_vaspace locked_vs;

	cr_expect_eq(kmm_regions_init(&other, space, &vs, &slab), KMM_EEXIST);
	space->regions = NULL;
	cr_expect_eq(kmm_regions_init(NULL, space, &vs, &slab), KMM_EINVAL);
	cr_expect_eq(kmm_regions_init(&other, space, NULL, &slab), KMM_EINVAL);
	kmm_slab_init(&small, 64, 64);
	cr_expect_eq(kmm_regions_init(&other, space, &vs, &small), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_init(&locked_vs, &vcfg), 0);
	cr_expect_eq(kmm_regions_init(&other, space, &locked_vs, &slab),
		     KMM_EINVAL, "the vaspace must not take the lock itself");
	space->regions = &regions;
}

/* ---------------------------------------------------------------------- */
/* Identity backend (PMSA semantics)                                      */
/* ---------------------------------------------------------------------- */

Test(region_identity, vmap_of_contiguous_pages_returns_va_equal_to_pa)
{
	kmm_paddr_t pages[] = { 0x200000, 0x201000, 0x202000 };
	kmm_vaddr_t va, v;
	kmm_paddr_t pa;

	cr_assert_eq(kmm_vmap(space, pages, 3, KMM_ATTR_RW_DATA, 0, &va), 0);
	cr_expect_eq(va, 0x200000);
	cr_assert_eq(kmm_phys_to_virt(space, 0x201234, &v), 0);
	cr_expect_eq(v, 0x201234);
	cr_assert_eq(kmm_virt_to_phys(space, 0x202fff, &pa), 0);
	cr_expect_eq(pa, 0x202fff);
	cr_expect_eq(kmm_vmap(space, pages, 1, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_EEXIST, "the PA range is claimed already");
}

Test(region_identity, regions_keep_no_pa_index_and_the_va_tree_answers)
{
	kmm_paddr_t pages[] = { 0x400000, 0x401000 };
	struct kmm_p2v_cursor cur;
	kmm_vaddr_t va, dev, v = 7;

	cr_assert_eq(kmm_vmap(space, pages, 2, KMM_ATTR_RW_DATA, 1, &va), 0);
	cr_assert_eq(kmm_ioremap(space, 0x9000000, 0x3000, KMM_ATTR_RW_DEVICE,
				 2, &dev),
		     0);
	cr_expect_eq(dev, 0x9000000);
	cr_expect_eq(regions.nr_regions, 2);
	cr_expect_eq(regions.nr_runs, 0, "no run goes into the PA index");
	cr_expect_eq(regions.nr_pa_nodes, 0);
	cr_expect_eq(regions.pa_root, NULL);
	cr_assert_eq(kmm_phys_to_virt(space, 0x401ff8, &v), 0);
	cr_expect_eq(v, 0x401ff8);
	cr_assert_eq(kmm_phys_to_virt_owner(space, 0x9002000, 2, &v), 0);
	cr_expect_eq(v, 0x9002000);
	v = 7;
	cr_expect_eq(kmm_phys_to_virt_owner(space, 0x9002000, 1, &v),
		     KMM_ENOENT, "owner 1 holds no region at that PA");
	cr_expect_eq(kmm_phys_to_virt(space, 0x402000, &v), KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt(space, 0x3fffff, &v), KMM_ENOENT);
	cr_expect_eq(v, 7, "a failed lookup writes nothing");
	/* The cursor holds the whole region as one run. */
	kmm_p2v_cursor_init(&cur);
	cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur, 0x400010, &v), 0);
	cr_expect_eq(v, 0x400010);
	cr_expect_eq(cur.first, 0x400000);
	cr_expect_eq(cur.size, 0x2000);
	cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur, 0x401000, &v), 0);
	cr_expect_eq(v, 0x401000);
	cr_assert_eq(kmm_vunmap(space, va, 1), 0);
	cr_expect_eq(kmm_phys_to_virt_cursor(space, &cur, 0x401000, &v),
		     KMM_ENOENT, "the cursor notices the vunmap");
	cr_expect_eq(regions.nr_regions, 1);
}

Test(region_identity, scattered_vmap_is_not_supported_and_changes_nothing)
{
	kmm_paddr_t pages[] = { 0x200000, 0x300000 };
	struct snapshot before;
	kmm_vaddr_t va;

	snap(&before);
	cr_expect_eq(kmm_vmap(space, pages, 2, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_ENOTSUP);
	expect_unchanged(&before);
}

Test(region_identity, ioremap_returns_the_physical_address)
{
	kmm_vaddr_t va;

	cr_assert_eq(kmm_ioremap(space, 0x9000000, 2 * PG, KMM_ATTR_RW_DEVICE,
				 0, &va),
		     0);
	cr_expect_eq(va, 0x9000000);
	cr_assert_eq(kmm_vunmap(space, va, 0), 0);
	cr_expect_eq(fk->mapped, 0);
}

/* ---------------------------------------------------------------------- */
/* The real VMSA backend: what only translation tables can show           */
/* ---------------------------------------------------------------------- */

#if KMM_CONFIG_BACKEND_VMSA
#define BIG_N 1100 /* single pages: crosses two level-3 tables */

Test(region_vmsa, failed_vmap_at_every_table_allocation_leaves_nothing_behind)
{
	static kmm_paddr_t pages[BIG_N];
	kmm_paddr_t first = 0x7000000, pa;
	kmm_vaddr_t va0, va = 0xdead, v;
	struct snapshot before, empty;
	struct kmm_vmsa_walk w;
	uint64_t writes;
	int ret, mid = 0;
	long k;

	/* A first region makes the level-1..3 tables of the window. */
	cr_assert_eq(kmm_vmap(space, &first, 1, KMM_ATTR_RW_DATA, 0, &va0), 0);
	cr_assert_eq(va0, VA_BASE);
	snap(&empty);
	for (int i = 0; i < BIG_N; i++)
		pages[i] = 0x80000000ull + 2 * PG * (kmm_paddr_t)i;
	for (k = 0;; k++) {
		snap(&before);
		writes = vm->leaf_writes;
		fail_map_after(k);
		ret = kmm_vmap(space, pages, BIG_N, KMM_ATTR_RW_DATA, 1, &va);
		fail_map_after(-1);
		if (ret == 0) {
			snap_release(&before);
			break;
		}
		cr_assert_eq(ret, KMM_ENOMEM, "k %ld", k);
		cr_assert_eq(va, 0xdead, "out value untouched on error");
		/* Runs were mapped before the failure, and undone. */
		mid += vm->leaf_writes > writes;
		expect_unchanged(&before);
		cr_assert_eq(kmm_vaspace_find(&vs, va0 + PG, NULL, NULL, NULL),
			     KMM_ENOENT, "no VA left behind");
		for (int i = 0; i < BIG_N; i += 97) {
			cr_assert_eq(
				translation(va0 + PG * (kmm_vaddr_t)(i + 1),
					    &pa),
				KMM_ENOENT);
			cr_assert_eq(kmm_phys_to_virt(space, pages[i], &v),
				     KMM_ENOENT);
		}
	}
	cr_expect_eq(k, 2, "one new level-3 table per 512 pages");
	cr_expect_eq(mid, 2, "both failures came in the middle of mapping");
	cr_assert_eq(va, va0 + PG);
	for (int i = 0; i < BIG_N; i++) {
		cr_assert_eq(
			kmm_vmsa_walk(vm, va + PG * (kmm_vaddr_t)i + 8, &w), 0);
		cr_assert_eq(w.fault, KMM_VMSA_FAULT_NONE);
		cr_assert_eq(w.level, 3);
		cr_assert_eq(w.pa, pages[i] + 8);
		cr_assert_eq(w.attr, KMM_ATTR_RW_DATA);
		cr_assert_eq(kmm_phys_to_virt(space, pages[i] + 8, &v), 0);
		cr_assert_eq(v, va + PG * (kmm_vaddr_t)i + 8);
	}
	cr_expect_eq(vm->tables, 6, "root, levels 1-2, three level-3 tables");
	/* Removing it gives the two new level-3 tables back. */
	cr_assert_eq(kmm_vunmap(space, va, 1), 0);
	expect_unchanged(&empty);
	cr_expect_eq(vm->tables, 4);
}

Test(region_vmsa, ioremap_and_shm_descriptors_carry_their_attributes)
{
	kmm_paddr_t shm[] = { 0x88000000, 0x88003000 };
	struct kmm_vmsa_walk w;
	kmm_vaddr_t dev, buf;

	cr_assert_eq(kmm_ioremap(space, 0x9000000, 2 * PG, KMM_ATTR_RW_DEVICE,
				 0, &dev),
		     0);
	cr_assert_eq(kmm_shm_register(space, shm, 2, 5, &buf), 0);
	cr_assert_eq(kmm_vmsa_walk(vm, dev + PG + 4, &w), 0);
	cr_expect_eq(w.pa, 0x9001004);
	cr_expect_eq(w.attr, KMM_ATTR_RW_DEVICE);
	cr_assert_eq(kmm_vmsa_walk(vm, buf + PG, &w), 0);
	cr_expect_eq(w.pa, 0x88003000);
	cr_expect_eq(w.attr, KMM_ATTR_RW_DATA | KMM_ATTR_NS);
	cr_expect_eq(kmm_region_free_all(space, 5), 1);
	cr_assert_eq(kmm_vmsa_walk(vm, buf, &w), KMM_ENOENT);
	cr_expect_eq(w.fault, KMM_VMSA_FAULT_TRANSLATION);
}
#endif

/* ---------------------------------------------------------------------- */
/* Randomized test against a reference list of regions                    */
/* ---------------------------------------------------------------------- */

#define POOL_FRAMES 2048 /* small PA pool: runs overlap often */
#define MAX_LIVE 160
#define MAX_PAGES 48

struct ref_region {
	kmm_vaddr_t va;
	kmm_owner_t owner;
	size_t n;
	kmm_paddr_t pages[MAX_PAGES];
	uint64_t seq; /* creation order */
};

struct ref {
	struct ref_region live[MAX_LIVE];
	size_t nr_live;
	kmm_vaddr_t freed[256]; /* VAs of removed regions */
	size_t nr_freed;
	uint64_t seq;
};

static uint64_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* The best run seen so far for one frame and one owner filter. */
struct ref_best {
	bool found;
	kmm_paddr_t first;
	uint64_t order;
	kmm_vaddr_t va_of_first;
};

#define FILTERS 4 /* any owner, owner 0, 1, 2 */
static struct ref_best best[FILTERS][POOL_FRAMES];

static void ref_offer(struct ref_best *b, kmm_paddr_t first, uint64_t order,
		      kmm_vaddr_t va_of_first)
{
	if (!b->found || first > b->first ||
	    (first == b->first && order > b->order)) {
		b->found = true;
		b->first = first;
		b->order = order;
		b->va_of_first = va_of_first;
	}
}

/*
 * The expected answers under the alias rule: for each frame, over all runs
 * that contain it, the highest first PA, then the youngest (later region,
 * or later run of the same region). Returns the number of runs.
 */
static size_t ref_expect(const struct ref *m)
{
	size_t runs = 0;

	memset(best, 0, sizeof(best));
	for (size_t r = 0; r < m->nr_live; r++) {
		const struct ref_region *rg = &m->live[r];
		size_t i = 0;

		while (i < rg->n) {
			size_t k = i + 1;
			kmm_paddr_t first = rg->pages[i];
			uint64_t order = rg->seq * 1000 + i;

			while (k < rg->n &&
			       rg->pages[k] == rg->pages[k - 1] + PG)
				k++;
			for (size_t j = i; j < k; j++) {
				size_t f = (rg->pages[j] - 0x1000000) / PG;

				ref_offer(&best[0][f], first, order,
					  rg->va + i * PG);
				ref_offer(&best[1 + rg->owner][f], first, order,
					  rg->va + i * PG);
			}
			runs++;
			i = k;
		}
	}
	return runs;
}

static size_t chunks_of(size_t runs)
{
	if (runs <= KMM_REGION_INLINE_RUNS)
		return 0;
	return (runs - KMM_REGION_INLINE_RUNS + KMM_REGION_CHUNK_RUNS - 1) /
	       KMM_REGION_CHUNK_RUNS;
}

static void ref_check(const struct ref *m)
{
	size_t runs = ref_expect(m), objs = 0, pages = 0;
	struct kmm_p2v_cursor cur;
	kmm_vaddr_t v;
	kmm_paddr_t pa;

	for (size_t f = 0; f < POOL_FRAMES + 2; f++) {
		kmm_paddr_t p = 0x1000000 + f * PG + (f * 8 % PG);

		for (int flt = 0; flt < FILTERS; flt++) {
			const struct ref_best *b =
				f < POOL_FRAMES ? &best[flt][f] : NULL;
			int ret = flt == 0 ?
					  kmm_phys_to_virt(space, p, &v) :
					  kmm_phys_to_virt_owner(
						  space, p,
						  (kmm_owner_t)(flt - 1), &v);

			cr_assert_eq(ret, b && b->found ? 0 : KMM_ENOENT,
				     "pa %#llx filter %d",
				     (unsigned long long)p, flt);
			if (b && b->found)
				cr_assert_eq(v, b->va_of_first + (p - b->first),
					     "pa %#llx filter %d",
					     (unsigned long long)p, flt);
		}
	}
	for (size_t r = 0; r < m->nr_live; r++) {
		const struct ref_region *rg = &m->live[r];
		size_t nr = 0;

		for (size_t i = 0; i < rg->n; i++) {
			cr_assert_eq(kmm_virt_to_phys(space,
						      rg->va + i * PG + 5, &pa),
				     0);
			cr_assert_eq(pa, rg->pages[i] + 5);
			cr_assert_eq(translation(rg->va + i * PG + 9, &pa), 0);
			cr_assert_eq(pa, rg->pages[i] + 9,
				     "backend translation");
			nr += i == 0 || rg->pages[i] != rg->pages[i - 1] + PG;
		}
		objs += 1 + chunks_of(nr);
		pages += rg->n;
		/* A cursor walk answers a VA that maps the page (aliases may
		 * keep it in another region). */
		kmm_p2v_cursor_init(&cur);
		for (size_t i = 0; i < rg->n; i++) {
			cr_assert_eq(kmm_phys_to_virt_cursor(space, &cur,
							     rg->pages[i] + 17,
							     &v),
				     0);
			cr_assert_eq(kmm_virt_to_phys(space, v, &pa), 0);
			cr_assert_eq(pa, rg->pages[i] + 17);
		}
	}
	for (size_t k = 0; k < m->nr_freed; k++) {
		bool live = false;

		for (size_t r = 0; r < m->nr_live; r++)
			live |= m->freed[k] - m->live[r].va < m->live[r].n * PG;
		if (live)
			continue;
		cr_assert_eq(kmm_virt_to_phys(space, m->freed[k], &pa),
			     KMM_ENOENT);
		cr_assert_eq(translation(m->freed[k], &pa), KMM_ENOENT);
	}
	cr_assert_eq(regions.nr_regions, m->nr_live);
	cr_assert_eq(regions.nr_runs, runs);
	cr_assert_eq(mapped_pages(), pages);
	cr_assert_eq(kmm_slab_available(&slab) + regions.nr_pa_nodes + objs,
		     NR_OBJS, "no object leaks");
}

static void ref_forget(struct ref *m, size_t r)
{
	m->freed[m->nr_freed++ % 256] = m->live[r].va;
	if (m->nr_freed > 256)
		m->nr_freed = 256;
	m->live[r] = m->live[--m->nr_live];
}

SHARED_TEST(random_operations_match_a_reference_list_of_regions)
{
	static struct ref m;
	uint64_t s = 20240611;
	int ops = getenv("KMM_TEST_UNDER_VALGRIND") ? 150 : 1500;
	unsigned int height = 0;
	struct snapshot before;
	int failed = 0, ret;
	bool inject;

	memset(&m, 0, sizeof(m));
	for (int op = 0; op < ops; op++) {
		uint64_t what = rnd(&s) % 100;

		if (m.nr_live < MAX_LIVE && (what < 60 || m.nr_live == 0)) {
			struct ref_region *rg = &m.live[m.nr_live];
			kmm_paddr_t next = 0;

			rg->n = 1 + rnd(&s) % MAX_PAGES;
			rg->owner = (kmm_owner_t)(rnd(&s) % 3);
			for (size_t i = 0; i < rg->n; i++) {
				/* Runs of 1-4 pages at random frames. */
				if (i == 0 || rnd(&s) % 4 == 0)
					next = 0x1000000 +
					       (rnd(&s) % POOL_FRAMES) * PG;
				rg->pages[i] = next;
				next += PG;
				if (next >= 0x1000000 + POOL_FRAMES * PG)
					next = 0x1000000;
			}
			inject = rnd(&s) % 10 == 0;
			if (inject) {
				snap(&before);
				fail_map_after((long)(rnd(&s) % 4));
			}
			ret = kmm_vmap(space, rg->pages, rg->n,
				       KMM_ATTR_RW_DATA, rg->owner, &rg->va);
			if (inject) {
				fail_map_after(-1);
				if (ret)
					expect_unchanged(&before);
				else
					snap_release(&before);
			}
			cr_assert(ret == 0 || (inject && ret == KMM_ENOMEM));
			if (ret == 0) {
				rg->seq = ++m.seq;
				m.nr_live++;
			}
			failed += ret != 0;
		} else if (what < 97 && m.nr_live > 0) {
			size_t r = rnd(&s) % m.nr_live;

			cr_assert_eq(kmm_vunmap(space, m.live[r].va,
						m.live[r].owner),
				     0);
			ref_forget(&m, r);
		} else {
			kmm_owner_t o = (kmm_owner_t)(rnd(&s) % 3);
			int n = 0;

			for (size_t r = 0; r < m.nr_live;)
				if (m.live[r].owner == o) {
					ref_forget(&m, r);
					n++;
				} else {
					r++;
				}
			cr_assert_eq(kmm_region_free_all(space, o), n);
		}
		ref_check(&m);
		if (regions.pa_height > height)
			height = regions.pa_height;
	}
	cr_expect_geq(height, ops > 150 ? 3u : 2u,
		      "the PA index grew several levels");
	cr_assert_eq(kmm_region_free_all(space, 0) +
			     kmm_region_free_all(space, 1) +
			     kmm_region_free_all(space, 2),
		     (int)m.nr_live);
	cr_expect_eq(regions.nr_pa_nodes, 0);
	cr_expect_eq(kmm_slab_available(&slab), NR_OBJS);
	cr_expect_eq(mapped_pages(), 0);
	if (ops > 150)
		cr_expect_gt(failed, 0,
			     "some vmaps failed and were rolled back");
#if KMM_CONFIG_BACKEND_VMSA
	if (on_vmsa())
		cr_expect_eq(vm->tables, 1, "every table but the root freed");
#endif
}

/* ---------------------------------------------------------------------- */
/* The real PMSA (MPU) backend: identity only                             */
/* ---------------------------------------------------------------------- */

#if KMM_CONFIG_BACKEND_PMSA
#include "kmm/pmsa.h"

static struct kmm_pmsa *mpu;

static void setup_pmsa(void)
{
	struct kmm_pmsa_config cfg = { .hyp_slots = 4,
				       .guest_first = 4,
				       .guest_slots = 4,
				       .shared_mpu = true };
	struct kmm_vaspace_config vcfg = { .granule = PG, .identity = true };
	size_t vs_bytes = 256 * sizeof(struct kmm_vaspace_node);

	cr_assert_eq(kmm_host_init(&host, 0, 0, 1 << 12), 0);
	host.log_enabled = false;
	mpu = calloc(1, sizeof(*mpu));
	cr_assert_eq(kmm_pmsa_init(mpu, &host.port, &cfg), 0);
	vs_mem = malloc(vs_bytes);
	obj_mem = aligned_alloc(KMM_REGION_NODE_ALIGN,
				(size_t)64 * KMM_REGION_NODE_SIZE);
	kmm_slab_init(&vs_slab, sizeof(struct kmm_vaspace_node),
		      _Alignof(struct kmm_vaspace_node));
	kmm_slab_add_memory(&vs_slab, vs_mem, vs_bytes);
	vcfg.nodes = &vs_slab;
	cr_assert_eq(kmm_vaspace_init(&vs, &vcfg), 0);
	cr_assert_eq(kmm_vaspace_add_window(&vs, 0, 1ull << 32), 0);
	kmm_slab_init(&slab, KMM_REGION_NODE_SIZE, KMM_REGION_NODE_ALIGN);
	kmm_slab_add_memory(&slab, obj_mem, (size_t)64 * KMM_REGION_NODE_SIZE);
	cr_assert_eq(kmm_regions_init(&regions, &mpu->as, &vs, &slab), 0);
}

static void teardown_pmsa(void)
{
	free(mpu);
	free(vs_mem);
	free(obj_mem);
	kmm_host_fini(&host);
}

TestSuite(region_pmsa, .init = setup_pmsa, .fini = teardown_pmsa);

Test(region_pmsa, vmap_maps_contiguous_pages_at_their_physical_address)
{
	kmm_paddr_t pages[] = { 0x40000000, 0x40001000, 0x40002000 };
	kmm_vaddr_t va, v;
	kmm_paddr_t pa;
	kmm_attr_t attr;

	cr_assert_eq(kmm_vmap(&mpu->as, pages, 3, KMM_ATTR_RW_DATA, 0, &va), 0);
	cr_expect_eq(va, 0x40000000);
	cr_assert_eq(kmm_query(&mpu->as, 0x40002ff0, &pa, &attr, NULL), 0);
	cr_expect_eq(pa, 0x40002ff0);
	cr_expect_eq(attr, KMM_ATTR_RW_DATA);
	cr_assert_eq(kmm_phys_to_virt(&mpu->as, 0x40001008, &v), 0);
	cr_expect_eq(v, 0x40001008);
	cr_assert_eq(kmm_vunmap(&mpu->as, va, 0), 0);
	cr_expect_eq(kmm_query(&mpu->as, 0x40000000, &pa, NULL, NULL),
		     KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt(&mpu->as, 0x40001008, &v), KMM_ENOENT);
}

Test(region_pmsa, scattered_vmap_is_enotsup_and_maps_nothing)
{
	kmm_paddr_t pages[] = { 0x40000000, 0x40002000 };
	size_t avail = kmm_slab_available(&slab);
	kmm_vaddr_t va;
	kmm_paddr_t pa;

	cr_expect_eq(kmm_vmap(&mpu->as, pages, 2, KMM_ATTR_RW_DATA, 0, &va),
		     KMM_ENOTSUP);
	cr_expect_eq(kmm_query(&mpu->as, 0x40000000, &pa, NULL, NULL),
		     KMM_ENOENT);
	cr_expect_eq(kmm_slab_available(&slab), avail);
	cr_expect_eq(kmm_vaspace_find(&vs, 0x40000000, NULL, NULL, NULL),
		     KMM_ENOENT);
}

Test(region_pmsa, ioremap_returns_the_physical_address_with_device_type)
{
	kmm_vaddr_t va;
	kmm_attr_t attr;

	cr_assert_eq(kmm_ioremap(&mpu->as, 0x9000000, 0x10000,
				 KMM_ATTR_RW_DEVICE, 0, &va),
		     0);
	cr_expect_eq(va, 0x9000000);
	cr_assert_eq(kmm_query(&mpu->as, 0x900fffc, NULL, &attr, NULL), 0);
	cr_expect_eq(attr, KMM_ATTR_RW_DEVICE);
	cr_expect_eq(kmm_ioremap(&mpu->as, 0x9008000, 0x1000,
				 KMM_ATTR_RW_DEVICE, 0, &va),
		     KMM_EEXIST, "the range is claimed by the first region");
}

Test(region_pmsa, running_out_of_mpu_slots_leaves_nothing_behind)
{
	kmm_vaddr_t va[5], v;
	kmm_paddr_t pa;
	size_t avail;
	int i, ret = 0;

	/* Ranges apart from each other: one slot each, 4 slots. */
	for (i = 0; i < 5; i++) {
		avail = kmm_slab_available(&slab);
		ret = kmm_ioremap(&mpu->as,
				  0x10000000ull * (kmm_paddr_t)(i + 1), PG,
				  KMM_ATTR_RW_DEVICE, 0, &va[i]);
		if (ret)
			break;
	}
	cr_assert_eq(i, 4, "four regions fit");
	cr_expect_eq(ret, KMM_ENOSPC);
	cr_expect_eq(kmm_slab_available(&slab), avail);
	cr_expect_eq(regions.nr_regions, 4);
	cr_expect_eq(kmm_vaspace_find(&vs, 0x50000000, NULL, NULL, NULL),
		     KMM_ENOENT, "the claim was given back");
	cr_expect_eq(kmm_query(&mpu->as, 0x50000000, &pa, NULL, NULL),
		     KMM_ENOENT);
	cr_expect_eq(kmm_phys_to_virt(&mpu->as, 0x50000000, &v), KMM_ENOENT);
	cr_expect_eq(kmm_region_free_all(&mpu->as, 0), 4);
	cr_expect_eq(kmm_ioremap(&mpu->as, 0x50000000, PG, KMM_ATTR_RW_DEVICE,
				 0, &va[4]),
		     0);
}
#endif /* KMM_CONFIG_BACKEND_PMSA */
