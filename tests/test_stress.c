// SPDX-License-Identifier: BSD-2-Clause
/*
 * SMP stress: several threads, each a guest, share one VMSA address space
 * with regions through the host port's (recursive) lock and run vmap,
 * vunmap, phys_to_virt and virt_to_phys, and guest destroy (followed by a
 * new guest with the same id) at the same time. Built under
 * ThreadSanitizer by tools/sanitize.sh.
 *
 * Readers: region lookups take no lock (region.h, "Concurrency"), and a
 * lookup racing with a vunmap could follow a node the vunmap gives back to
 * the slab. So the readers here take the port lock around every lookup, as
 * region.h asks of a caller whose lookups can race with mutations; without
 * it (KMM_STRESS_UNLOCKED_READERS=1) ThreadSanitizer reports data races
 * between the lock-free lookup (pa_find() under kmm_phys_to_virt()) and
 * the B+tree writes of a concurrent vmap (pa_insert() in region_commit()): that is region.h's documented
 * contract, not a bug, and the run here does not silence it.
 *
 * Each thread is its own owner and maps only its own physical pages, so
 * every answer it gets about them is exact: phys_to_virt of one of its
 * pages must give a VA of one of its live regions mapping that page, and
 * virt_to_phys must give the page back. At the end the regions, the
 * vaspace usage, the slab and the tables must add up, and tearing every
 * owner down must give everything back.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef KMM_STRESS_MAIN
/*
 * Criterion cannot start under ThreadSanitizer (its inheritable arena
 * cannot be mapped), so tools/sanitize.sh builds this file as a plain
 * program with these stand-ins for the few criterion macros it uses.
 */
static int failures;

#define report(cond)                                                       \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, \
				#cond);                                    \
			failures++;                                        \
		}                                                          \
	} while (0)
#define first(a, ...) (a)
#define equal(a, b, ...) ((a) == (b))
#define cr_expect(...) report(first(__VA_ARGS__, 0))
#define cr_expect_eq(...) report(equal(__VA_ARGS__, 0))
#define cr_assert_eq(...)                      \
	do {                                   \
		report(equal(__VA_ARGS__, 0)); \
		if (failures)                  \
			exit(1);               \
	} while (0)
#define cr_log_info(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr))
#define Test(suite, name, ...) static void name(void)
#else
#include <criterion/criterion.h>
#endif

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/guest.h"
#include "kmm/pages.h"
#include "kmm/region.h"
#include "kmm/vmsa.h"

#define PG 4096ull
#define ARENA 0x80000000ull
#define ARENA_PAGES 1024u
#define VA_WIN 0x40000000ull
#define VA_PAGES 16384u
#define THREADS 4u
#define PAGES_PER_THREAD 64u
#define LIVE_MAX 16u
#define OBJS 1024u
#define DATA_PA 0x100000000ull /* the pages threads map: not in the arena */

struct live {
	kmm_vaddr_t va;
	unsigned int n;
	kmm_paddr_t pages[8];
};

struct shared {
	struct kmm_host host;
	struct kmm_pages pages;
	uint64_t *meta;
	struct kmm_vmsa vmsa;
	struct kmm_vaspace vs;
	struct kmm_slab vs_slab, objs;
	void *vs_mem, *obj_mem;
	struct kmm_regions regions;
	struct kmm k; /* owners: each thread is a guest */
};

struct worker {
	struct shared *s;
	unsigned int id;
	kmm_owner_t owner;
	uint64_t ops, seed;
	bool unlocked; /* KMM_STRESS_UNLOCKED_READERS: show the race */
	uint64_t vmaps, vunmaps, lookups, teardowns;
	struct live live[LIVE_MAX];
	unsigned int nlive;
	char error[160];
};

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void lock(struct shared *s)
{
	s->host.port.lock(s->host.port.cookie);
}

static void unlock(struct shared *s)
{
	s->host.port.unlock(s->host.port.cookie);
}

static kmm_paddr_t page_of(const struct worker *w, unsigned int i)
{
	return DATA_PA + ((uint64_t)w->id * PAGES_PER_THREAD + i) * PG;
}

#define FAIL(w, ...)                                                   \
	do {                                                           \
		snprintf((w)->error, sizeof((w)->error), __VA_ARGS__); \
		return;                                                \
	} while (0)

static void do_vmap(struct worker *w)
{
	struct live *l = &w->live[w->nlive];
	unsigned int first = (unsigned int)(rnd(&w->seed) % PAGES_PER_THREAD);
	int ret;

	l->n = (unsigned int)(rnd(&w->seed) % 8) + 1;
	for (unsigned int i = 0; i < l->n; i++) {
		/* Runs of consecutive pages with a jump now and then. */
		if (i && rnd(&w->seed) % 4)
			l->pages[i] = l->pages[i - 1] + PG;
		else
			l->pages[i] =
				page_of(w, (first + i * 7) % PAGES_PER_THREAD);
		if (l->pages[i] >= page_of(w, PAGES_PER_THREAD))
			l->pages[i] = page_of(w, 0);
	}
	ret = kmm_vmap(&w->s->vmsa.as, l->pages, l->n, KMM_ATTR_RW_DATA,
		       w->owner, &l->va);
	if (ret)
		FAIL(w, "vmap: %s", kmm_errname(ret));
	w->nlive++;
	w->vmaps++;
}

static void do_vunmap(struct worker *w)
{
	unsigned int k = (unsigned int)(rnd(&w->seed) % w->nlive);
	int ret = kmm_vunmap(&w->s->vmsa.as, w->live[k].va, w->owner);

	if (ret)
		FAIL(w, "vunmap %#llx: %s", (unsigned long long)w->live[k].va,
		     kmm_errname(ret));
	w->live[k] = w->live[--w->nlive];
	w->vunmaps++;
}

/* Does one of my live regions map @pa at @va? */
static bool mine(const struct worker *w, kmm_paddr_t pa, kmm_vaddr_t va)
{
	for (unsigned int k = 0; k < w->nlive; k++)
		for (unsigned int i = 0; i < w->live[k].n; i++)
			if (w->live[k].pages[i] == (pa & ~(PG - 1)) &&
			    w->live[k].va + i * PG + pa % PG == va)
				return true;
	return false;
}

static bool mapped(const struct worker *w, kmm_paddr_t pa)
{
	for (unsigned int k = 0; k < w->nlive; k++)
		for (unsigned int i = 0; i < w->live[k].n; i++)
			if (w->live[k].pages[i] == (pa & ~(PG - 1)))
				return true;
	return false;
}

static void do_lookup(struct worker *w)
{
	kmm_paddr_t pa =
		page_of(w, (unsigned int)(rnd(&w->seed) % PAGES_PER_THREAD)) +
		rnd(&w->seed) % PG;
	kmm_vaddr_t va = 0;
	kmm_paddr_t back = 0;
	int ret, ret2 = 0;

	if (!w->unlocked)
		lock(w->s);
	ret = kmm_phys_to_virt(&w->s->vmsa.as, pa, &va);
	if (ret == 0)
		ret2 = kmm_virt_to_phys(&w->s->vmsa.as, va, &back);
	if (!w->unlocked)
		unlock(w->s);
	w->lookups++;
	if (ret == KMM_ENOENT && !mapped(w, pa))
		return;
	if (ret)
		FAIL(w, "phys_to_virt %#llx: %s", (unsigned long long)pa,
		     kmm_errname(ret));
	if (!mine(w, pa, va) || ret2 || back != pa)
		FAIL(w, "phys_to_virt %#llx = %#llx, back %#llx",
		     (unsigned long long)pa, (unsigned long long)va,
		     (unsigned long long)back);
}

static const struct kmm_guest_quota quota = {
	.pages = 0,
	.va_bytes = (uint64_t)LIVE_MAX * 8 * PG,
	.regions = LIVE_MAX,
};

/* The guest dies (kmm_guest_destroy: everything it holds goes at once)
 * and a new guest is created with the same id. */
static void do_teardown(struct worker *w)
{
	struct kmm_guest_usage u;
	int ret = kmm_guest_destroy(&w->s->k, w->owner);

	if (ret)
		FAIL(w, "guest destroy: %s", kmm_errname(ret));
	ret = kmm_guest_usage(&w->s->k, w->owner, &u);
	if (ret || u.regions || u.va_bytes || u.pages)
		FAIL(w, "guest %u still holds %u regions", w->owner, u.regions);
	ret = kmm_guest_create(&w->s->k, w->owner, &quota, NULL);
	if (ret)
		FAIL(w, "guest create: %s", kmm_errname(ret));
	w->nlive = 0;
	w->teardowns++;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	for (uint64_t i = 0; i < w->ops && !w->error[0]; i++) {
		unsigned int r = (unsigned int)(rnd(&w->seed) % 100);

		if (r == 0)
			do_teardown(w);
		else if (r < 35 && w->nlive < LIVE_MAX)
			do_vmap(w);
		else if (r < 65 && w->nlive > 0)
			do_vunmap(w);
		else
			do_lookup(w);
	}
	return NULL;
}

static void setup(struct shared *s)
{
	struct kmm_vmsa_config vc;
	struct kmm_vaspace_config c = { .granule = PG };
	size_t nsz = sizeof(struct kmm_vaspace_node);
	size_t meta_size = kmm_pages_meta_size(ARENA, ARENA_PAGES * PG);

	cr_assert_eq(kmm_host_init(&s->host, ARENA, ARENA_PAGES * PG, 0), 0);
	s->host.log_enabled = false;
	s->meta = calloc(1, meta_size);
	cr_assert_eq(kmm_pages_init(&s->pages, &s->host.port, ARENA,
				    ARENA_PAGES * PG, s->meta, meta_size),
		     0);
	cr_assert_eq(kmm_pages_add(&s->pages, ARENA, ARENA_PAGES * PG), 0);
	cr_assert_eq(kmm_vmsa_config_init(&vc, KMM_REGIME_EL1), 0);
	vc.va_bits = 39;
	cr_assert_eq(kmm_vmsa_init(&s->vmsa, &vc, &s->host.port, &s->pages,
				   KMM_OWNER_KERNEL, 0),
		     0);
	s->vs_mem =
		aligned_alloc(_Alignof(struct kmm_vaspace_node), OBJS * nsz);
	s->obj_mem = aligned_alloc(KMM_REGION_NODE_ALIGN,
				   OBJS * KMM_REGION_NODE_SIZE);
	cr_assert_eq(kmm_slab_init(&s->vs_slab, nsz,
				   _Alignof(struct kmm_vaspace_node)),
		     0);
	cr_assert_eq(kmm_slab_add_memory(&s->vs_slab, s->vs_mem, OBJS * nsz),
		     0);
	c.nodes = &s->vs_slab;
	cr_assert_eq(kmm_vaspace_init(&s->vs, &c), 0);
	cr_assert_eq(kmm_vaspace_add_window(&s->vs, VA_WIN, VA_PAGES * PG), 0);
	cr_assert_eq(kmm_slab_init(&s->objs, KMM_REGION_NODE_SIZE,
				   KMM_REGION_NODE_ALIGN),
		     0);
	cr_assert_eq(kmm_slab_add_memory(&s->objs, s->obj_mem,
					 OBJS * KMM_REGION_NODE_SIZE),
		     0);
	cr_assert_eq(kmm_regions_init(&s->regions, &s->vmsa.as, &s->vs,
				      &s->objs),
		     0);
	{
		struct kmm_config kc = { .port = &s->host.port,
					 .pages = &s->pages,
					 .vs = &s->vs,
					 .spaces = { &s->vmsa.as },
					 .nspaces = 1 };

		cr_assert_eq(kmm_init(&s->k, &kc), 0);
		for (unsigned int t = 0; t < THREADS; t++)
			cr_assert_eq(kmm_guest_create(&s->k,
						      (kmm_owner_t)(t + 1),
						      &quota, NULL),
				     0);
	}
}

/* Everything adds up: each live region answers exactly, usage and counts
 * agree, and tearing every owner down gives every object and table back. */
static void check_end(struct shared *s, struct worker *w)
{
	size_t regions = 0;
	uint64_t table_pages;

	for (unsigned int t = 0; t < THREADS; t++) {
		uint64_t bytes = 0, want = 0;

		for (unsigned int k = 0; k < w[t].nlive; k++) {
			const struct live *l = &w[t].live[k];

			want += l->n * PG;
			for (unsigned int i = 0; i < l->n; i++) {
				kmm_paddr_t pa;
				kmm_vaddr_t va;

				cr_assert_eq(kmm_virt_to_phys(&s->vmsa.as,
							      l->va + i * PG,
							      &pa),
					     0);
				cr_expect_eq(pa, l->pages[i]);
				cr_assert_eq(kmm_phys_to_virt(&s->vmsa.as,
							      l->pages[i], &va),
					     0);
				cr_expect(mine(&w[t], l->pages[i], va));
				cr_assert_eq(kmm_query(&s->vmsa.as,
						       l->va + i * PG, &pa,
						       NULL, NULL),
					     0);
				cr_expect_eq(pa, l->pages[i]);
			}
		}
		regions += w[t].nlive;
		cr_assert_eq(kmm_vaspace_usage(&s->vs, w[t].owner, &bytes), 0);
		cr_expect_eq(bytes, want, "owner %u", w[t].owner);
		cr_expect_eq(s->regions.owners[w[t].owner].count, w[t].nlive);
	}
	cr_expect_eq(s->regions.nr_regions, regions);
	cr_expect_eq(kmm_pages_check(&s->pages), 0);
	for (unsigned int t = 0; t < THREADS; t++)
		cr_expect_eq(kmm_guest_destroy(&s->k, w[t].owner), 0);
	cr_expect_eq(s->regions.nr_regions, 0);
	cr_expect_eq(s->regions.nr_runs, 0);
	cr_expect_eq(kmm_slab_available(&s->objs), OBJS,
		     "every metadata object came back");
	cr_expect_eq(s->vmsa.tables, 1, "only the root table is left");
	cr_assert_eq(kmm_pages_usage(&s->pages, KMM_OWNER_KERNEL, &table_pages),
		     0);
	cr_expect_eq(table_pages, 1);
}

Test(stress, threads_vmap_vunmap_lookup_and_tear_down_concurrently,
     .timeout = 600)
{
	struct shared *s = calloc(1, sizeof(*s));
	struct worker w[THREADS];
	pthread_t th[THREADS];
	uint64_t per = getenv("KMM_TEST_UNDER_VALGRIND") ? 5000 : 250000;
	uint64_t total = 0;

	if (getenv("KMM_STRESS_OPS"))
		per = strtoull(getenv("KMM_STRESS_OPS"), NULL, 0) / THREADS;
	setup(s);
	memset(w, 0, sizeof(w));
	for (unsigned int t = 0; t < THREADS; t++) {
		w[t].s = s;
		w[t].id = t;
		w[t].owner = (kmm_owner_t)(t + 1);
		w[t].ops = per;
		w[t].seed = 0x9e3779b97f4a7c15ull * (t + 1);
		w[t].unlocked = getenv("KMM_STRESS_UNLOCKED_READERS") != NULL;
		cr_assert_eq(pthread_create(&th[t], NULL, worker_main, &w[t]),
			     0);
	}
	for (unsigned int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		cr_expect_eq(w[t].error[0], 0, "thread %u: %s", t, w[t].error);
		total += w[t].vmaps + w[t].vunmaps + w[t].lookups +
			 w[t].teardowns;
	}
	cr_assert_eq(total, per * THREADS);
	cr_log_info("stress: %llu operations on %u threads",
		    (unsigned long long)total, THREADS);
	check_end(s, w);
	kmm_host_fini(&s->host);
	free(s->meta);
	free(s->vs_mem);
	free(s->obj_mem);
	free(s);
}

#ifdef KMM_STRESS_MAIN
int main(void)
{
	threads_vmap_vunmap_lookup_and_tear_down_concurrently();
	if (failures)
		fprintf(stderr, "stress: %d failures\n", failures);
	return failures ? 1 : 0;
}
#endif
