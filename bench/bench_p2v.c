// SPDX-License-Identifier: BSD-2-Clause
/*
 * p2v figures (issue: dynamic regions). N regions (1k, 64k, 1m) of 1-16
 * physical runs of 1-16 pages each, scattered over a 48-bit PA space, are
 * mapped with kmm_vmap() on a backend that records nothing; the same runs
 * are loaded into three baselines (BSD sys/tree.h red-black tree, sorted
 * array with branch-free binary search, linear scan of the region list).
 * Every structure resolves the same uniformly random PAs inside runs, and
 * the sums of the VAs they return must agree.
 *
 *   p2v.random.<N>.ns.<kmm|bsdtree|bsearch|linear>
 *   p2v.random.<N>.ratio_vs_bsdtree, .ratio_vs_bsearch (kmm / baseline)
 *   p2v.random.64k.speedup_vs_linear (linear / kmm)
 *   p2v.locality.ns, .ns_with_first, .first_ns, .warm_ns: the pages of
 *   buffers in order, with a cursor (see locality()).
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "baselines.h"
#include "kmm/region.h"

#define PAGE 4096ull

/* A backend that accepts every mapping and keeps nothing. */
static int nop_map(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		   size_t size, kmm_attr_t attr)
{
	(void)as, (void)va, (void)pa, (void)size, (void)attr;
	return 0;
}

static int nop_unmap(struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	(void)as, (void)va, (void)size;
	return 0;
}

static void nop_caps(const struct kmm_as *as, struct kmm_as_caps *caps)
{
	(void)as;
	memset(caps, 0, sizeof(*caps));
	caps->flags = KMM_CAP_TRANSLATES | KMM_CAP_NONCONTIG;
	caps->block_sizes = PAGE;
	caps->granule = PAGE;
	caps->va_end = 1ull << 48;
}

static const struct kmm_backend_ops nop_ops = {
	.map = nop_map,
	.unmap = nop_unmap,
	.caps = nop_caps,
};

/* Distinct 32-bit values for distinct inputs (each step is invertible). */
static uint32_t mix32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x85ebca6bu;
	x ^= x >> 13;
	x *= 0xc2b2ae35u;
	x ^= x >> 16;
	return x;
}

struct p2v_set {
	struct kmm_as as;
	struct kmm_slab vs_slab, slab;
	struct kmm_vaspace vs;
	struct kmm_regions regions;
	void *vs_mem, *mem;
	struct p2v_run *runs; /* grouped by region, in VA order */
	size_t *region_first; /* nr_regions + 1 entries */
	size_t nr_regions, nr_runs;
};

static void set_free(struct p2v_set *s)
{
	free(s->vs_mem);
	free(s->mem);
	free(s->runs);
	free(s->region_first);
}

static int set_build(struct p2v_set *s, size_t nr_regions, uint64_t *seed)
{
	struct kmm_vaspace_config vcfg = { .granule = PAGE };
	size_t cap_runs = nr_regions * 16, objs, slot = 0;
	kmm_paddr_t pages[256];
	size_t vs_bytes =
		(nr_regions + 64) * 2 * sizeof(struct kmm_vaspace_node);

	memset(s, 0, sizeof(*s));
	s->as.ops = &nop_ops;
	s->runs = malloc(cap_runs * sizeof(*s->runs));
	s->region_first = malloc((nr_regions + 1) * sizeof(size_t));
	s->vs_mem = malloc(vs_bytes);
	/* One object per region, the index (~1 node per 10 runs), slack. */
	objs = nr_regions + cap_runs / 6 + 1024;
	s->mem = aligned_alloc(KMM_REGION_NODE_ALIGN,
			       objs * KMM_REGION_NODE_SIZE);
	if (!s->runs || !s->region_first || !s->vs_mem || !s->mem)
		return -1;
	kmm_slab_init(&s->vs_slab, sizeof(struct kmm_vaspace_node),
		      _Alignof(struct kmm_vaspace_node));
	kmm_slab_add_memory(&s->vs_slab, s->vs_mem, vs_bytes);
	vcfg.nodes = &s->vs_slab;
	if (kmm_vaspace_init(&s->vs, &vcfg) ||
	    kmm_vaspace_add_window(&s->vs, 1ull << 40,
				   (1ull << 47) - (1ull << 40)))
		return -1;
	kmm_slab_init(&s->slab, KMM_REGION_NODE_SIZE, KMM_REGION_NODE_ALIGN);
	kmm_slab_add_memory(&s->slab, s->mem, objs * KMM_REGION_NODE_SIZE);
	if (kmm_regions_init(&s->regions, &s->as, &s->vs, &s->slab))
		return -1;
	for (size_t r = 0; r < nr_regions; r++) {
		size_t nr = 1 + bench_rand(seed) % 16, np = 0,
		       first = s->nr_runs;
		kmm_vaddr_t va;

		for (size_t k = 0; k < nr; k++) {
			/* Each run in its own 64 KiB slot: runs never overlap. */
			uint64_t pa = (uint64_t)mix32((uint32_t)slot++) << 16;
			size_t len = 1 + bench_rand(seed) % 16;

			s->runs[s->nr_runs].first = pa;
			s->runs[s->nr_runs++].size = len * PAGE;
			for (size_t p = 0; p < len; p++)
				pages[np++] = pa + p * PAGE;
		}
		if (kmm_vmap(&s->as, pages, np, KMM_ATTR_RW_DATA, 0, &va))
			return -1;
		s->region_first[r] = first;
		for (size_t k = first; k < s->nr_runs; k++) {
			s->runs[k].va = va;
			va += s->runs[k].size;
		}
	}
	s->region_first[nr_regions] = s->nr_runs;
	s->nr_regions = nr_regions;
	return 0;
}

/* Uniformly random PAs inside runs: a region, one of its runs, an offset. */
static uint64_t *make_queries(const struct p2v_set *s, size_t q, uint64_t *seed)
{
	uint64_t *pas = malloc(q * sizeof(*pas));

	for (size_t i = 0; pas && i < q; i++) {
		size_t r = bench_rand(seed) % s->nr_regions;
		size_t nr = s->region_first[r + 1] - s->region_first[r];
		const struct p2v_run *run =
			&s->runs[s->region_first[r] + bench_rand(seed) % nr];

		pas[i] = run->first + bench_rand(seed) % run->size;
	}
	return pas;
}

static uint64_t kmm_lookups(const struct kmm_as *as, const uint64_t *pas,
			    size_t q)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < q; i++) {
		kmm_vaddr_t va;

		if (kmm_phys_to_virt(as, pas[i], &va) == 0)
			sum += va;
	}
	return sum;
}

static double dmin(double a, double b)
{
	return a < b ? a : b;
}

static double per_lookup(uint64_t t0, uint64_t t1, size_t q)
{
	return (double)(t1 - t0) / (double)q;
}

static void metric(struct bench_ctx *ctx, const char *label, const char *what,
		   double v)
{
	char name[96];

	snprintf(name, sizeof(name), "p2v.random.%s.%s", label, what);
	bench_metric(ctx, name, v);
}

/*
 * Resolves @pas[0..n) in order through @cur; returns the sum of the VAs.
 * A function of its own, like the baselines' lookup loops, so that the
 * sum stays in a register rather than in memory across the calls.
 */
static __attribute__((noinline)) uint64_t
cursor_walk(const struct kmm_as *as, struct kmm_p2v_cursor *cur,
	    const uint64_t *pas, size_t n)
{
	uint64_t sum = 0;
	kmm_vaddr_t va;

	for (size_t i = 0; i < n; i++)
		if (kmm_phys_to_virt_cursor(as, cur, pas[i], &va) == 0)
			sum += va;
	return sum;
}

/*
 * Successive pages of one buffer (a buffer is one region): random buffers
 * of the 64k set, each resolved page by page in VA order through one
 * cursor, everything cold (the walk streams over ~1M pages of ~14k
 * buffers). The first page of a buffer is a full lookup through the index
 * (it is what p2v.random measures); the pages after it are what the cursor
 * is for. So, per round, two timed passes over the same buffers:
 *   T_walk:  every page of every buffer through one cursor;
 *   T_first: only the first page of every buffer through one cursor (the
 *            same full lookups and cursor fills as in T_walk).
 * Each pass runs LOCALITY_ROUNDS times and T_walk, T_first are the
 * fastest of each (a difference of two minima, not the minimum of the
 * differences, which would pick the round where noise slowed T_first).
 * Figures:
 * - p2v.locality.ns: (T_walk - T_first) / pages after the first: the cost
 *   of a successive page (the headline; goal <= 5);
 * - p2v.locality.ns_with_first: T_walk / all pages, the first lookup
 *   amortised over the buffer;
 * - p2v.locality.first_ns: T_first / buffers;
 * - p2v.locality.warm_ns: the walk over a few buffers again and again,
 *   everything in cache: what the cursor itself costs per page.
 */
#define LOCALITY_ROUNDS 15

static void locality(struct bench_ctx *ctx, const struct p2v_set *s,
		     uint64_t *seed)
{
	size_t cap = 1u << 20, q = 0, nb = 0;
	uint64_t *pas = malloc(cap * sizeof(*pas)), sum = 0, t0, t1;
	size_t *start = malloc((cap / 2 + 1) * sizeof(*start));
	double tw = 1e30, tf = 1e30, warm = 1e30;
	struct kmm_p2v_cursor cur;
	kmm_vaddr_t va;

	while (pas && start && q + 256 < cap) {
		size_t r = bench_rand(seed) % s->nr_regions;

		start[nb++] = q;
		for (size_t k = s->region_first[r]; k < s->region_first[r + 1];
		     k++)
			for (uint64_t off = 0; off < s->runs[k].size;
			     off += PAGE)
				pas[q++] = s->runs[k].first + off;
	}
	if (!pas || !start)
		abort();
	start[nb] = q;
	for (int round = 0; round < LOCALITY_ROUNDS; round++) {
		kmm_p2v_cursor_init(&cur);
		t0 = bench_now_ns();
		sum += cursor_walk(&s->as, &cur, pas, q);
		t1 = bench_now_ns();
		tw = dmin(tw, (double)(t1 - t0));

		kmm_p2v_cursor_init(&cur);
		t0 = bench_now_ns();
		for (size_t b = 0; b < nb; b++)
			if (kmm_phys_to_virt_cursor(&s->as, &cur, pas[start[b]],
						    &va) == 0)
				sum += va;
		t1 = bench_now_ns();
		tf = dmin(tf, (double)(t1 - t0));
	}
	/* The cursor path alone: the first 64 buffers over and over, their
	 * index nodes, regions and pages all in cache. */
	for (int round = 0; round < 5; round++) {
		size_t n = start[nb < 64 ? nb : 64];

		t0 = bench_now_ns();
		for (int rep = 0; rep < 100; rep++) {
			kmm_p2v_cursor_init(&cur);
			sum += cursor_walk(&s->as, &cur, pas, n);
		}
		t1 = bench_now_ns();
		warm = dmin(warm, per_lookup(t0, t1, 100 * n));
	}
	bench_keep(sum);
	bench_metric(ctx, "p2v.locality.ns", (tw - tf) / (double)(q - nb));
	bench_metric(ctx, "p2v.locality.ns_with_first", tw / (double)q);
	bench_metric(ctx, "p2v.locality.first_ns", tf / (double)nb);
	bench_metric(ctx, "p2v.locality.warm_ns", warm);
	bench_metric(ctx, "p2v.locality.pages_per_buffer",
		     (double)q / (double)nb);
	free(start);
	free(pas);
}

static void run_size(struct bench_ctx *ctx, size_t nr_regions,
		     const char *label, size_t q, size_t q_linear, bool loc)
{
	struct p2v_set s;
	uint64_t seed = 0x5eed ^ nr_regions, *pas, sums[4] = { 0 }, t0, t1;
	double ns_kmm, ns_bsd, ns_sorted, ns_linear = 0;
	void *bsd, *sorted, *linear = NULL;

	if (set_build(&s, nr_regions, &seed)) {
		fprintf(stderr, "p2v: cannot build %s regions\n", label);
		set_free(&s);
		return;
	}
	bsd = p2v_bsdtree_build(s.runs, s.nr_runs);
	sorted = p2v_sorted_build(s.runs, s.nr_runs);
	if (q_linear)
		linear = p2v_linear_build(s.runs, s.region_first, nr_regions);
	pas = make_queries(&s, q, &seed);
	if (!bsd || !sorted || !pas)
		abort();

	/* Best of three interleaved rounds: the machine is shared. */
	ns_kmm = ns_bsd = ns_sorted = 1e30;
	for (int round = 0; round < 3; round++) {
		t0 = bench_now_ns();
		sums[0] = kmm_lookups(&s.as, pas, q);
		t1 = bench_now_ns();
		ns_kmm = dmin(ns_kmm, per_lookup(t0, t1, q));
		t0 = bench_now_ns();
		sums[1] = p2v_bsdtree_lookups(bsd, pas, q);
		t1 = bench_now_ns();
		ns_bsd = dmin(ns_bsd, per_lookup(t0, t1, q));
		t0 = bench_now_ns();
		sums[2] = p2v_sorted_lookups(sorted, pas, q);
		t1 = bench_now_ns();
		ns_sorted = dmin(ns_sorted, per_lookup(t0, t1, q));
	}
	if (linear) {
		t0 = bench_now_ns();
		sums[3] = p2v_linear_lookups(linear, pas, q_linear);
		t1 = bench_now_ns();
		ns_linear = per_lookup(t0, t1, q_linear);
		if (sums[3] != kmm_lookups(&s.as, pas, q_linear))
			fprintf(stderr, "p2v: linear scan disagrees\n");
	}
	if (sums[0] != sums[1] || sums[0] != sums[2])
		fprintf(stderr, "p2v: structures disagree at %s\n", label);

	metric(ctx, label, "ns.kmm", ns_kmm);
	metric(ctx, label, "ns.bsdtree", ns_bsd);
	metric(ctx, label, "ns.bsearch", ns_sorted);
	if (linear)
		metric(ctx, label, "ns.linear", ns_linear);
	metric(ctx, label, "ratio_vs_bsdtree", ns_kmm / ns_bsd);
	metric(ctx, label, "ratio_vs_bsearch", ns_kmm / ns_sorted);
	if (linear)
		metric(ctx, label, "speedup_vs_linear", ns_linear / ns_kmm);
	if (loc)
		locality(ctx, &s, &seed);

	free(pas);
	p2v_bsdtree_free(bsd);
	p2v_sorted_free(sorted);
	if (linear)
		p2v_linear_free(linear);
	set_free(&s);
}

void bench_p2v(struct bench_ctx *ctx)
{
	run_size(ctx, 1000, "1k", 1u << 20, 5000, false);
	run_size(ctx, 65536, "64k", ctx->quick ? 1u << 19 : 1u << 21,
		 ctx->quick ? 100 : 400, true);
	if (!ctx->quick)
		run_size(ctx, 1u << 20, "1m", 1u << 21, 20, false);
}
