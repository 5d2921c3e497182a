// SPDX-License-Identifier: BSD-2-Clause
/*
 * vaspace figures. With N ranges live, one "pair" is one allocation of a
 * random size (1..16 pages) and alignment (4 KiB..1 MiB) followed by the
 * free of a random live range, so N stays constant.
 *
 *   vaspace.pair_ns.1k, .100k, .1m   ns per pair with N live
 *   vaspace.growth_1k_to_1m          pair_ns.1m / pair_ns.1k (goal <= 2)
 *   vaspace.speedup_vs_list          list pair time / kmm pair time at
 *                                    100k live, same start state and the
 *                                    same pairs (goal >= 100)
 *
 * Both are measured in steady state: after the fill, kmm runs min(N, 200k)
 * (--quick: 20k) untimed pairs so that its nodes are no longer laid out in address order.
 * The list is a tee_mm-style sorted linked list (baseline_teemm.c) built
 * from kmm's ranges at that point, with its entries shuffled in memory as
 * a long-running heap would leave them; so both start from the same state,
 * run the same pairs and must return the same addresses (a mismatch is
 * reported as vaspace.list_mismatches).
 *
 *   vaspace.speedup_vs_list_in_order  the same with the list's entries in
 *                                     address order, the list's best case
 *
 * --quick leaves out the 1m case (a few hundred MB of nodes and seconds
 * of fill) and runs fewer pairs.
 */
#include <stdlib.h>

#include "bench.h"
#include "baselines.h"
#include "kmm/vaspace.h"

#define PAGE 0x1000ull
#define WIN_BASE 0x100000000000ull
#define WIN_SIZE (1ull << 44)

struct range {
	uint64_t va, size;
};

struct setup {
	struct kmm_vaspace *vs;
	struct kmm_slab slab;
	void *mem;
	struct range *live;
	size_t n;
};

static void random_request(uint64_t *seed, uint64_t *size, uint64_t *align)
{
	uint64_t r = bench_rand(seed);

	*size = (1 + (r & 15)) * PAGE;
	*align = PAGE << ((r >> 8) % 9);
}

/* A vaspace over one big window with @n random ranges live. */
static int setup_live(struct setup *s, size_t n, uint64_t *seed)
{
	size_t nodes = 2 * n + 64;
	struct kmm_vaspace_config cfg = { .granule = PAGE, .nodes = &s->slab };

	s->n = n;
	s->vs = malloc(sizeof(*s->vs));
	s->mem = malloc(nodes * sizeof(struct kmm_vaspace_node));
	s->live = malloc(n * sizeof(*s->live));
	if (!s->vs || !s->mem || !s->live)
		return -1;
	/*
	 * 64-byte aligned objects: a node is two cache lines, and a descent
	 * reads only the first.
	 */
	if (kmm_slab_init(&s->slab, sizeof(struct kmm_vaspace_node), 64) ||
	    kmm_slab_add_memory(&s->slab, s->mem,
				nodes * sizeof(struct kmm_vaspace_node)) ||
	    kmm_vaspace_init(s->vs, &cfg) ||
	    kmm_vaspace_add_window(s->vs, WIN_BASE, WIN_SIZE))
		return -1;
	for (size_t i = 0; i < n; i++) {
		uint64_t size, align;

		random_request(seed, &size, &align);
		if (kmm_vaspace_alloc(s->vs, size, align, 1, &s->live[i].va))
			return -1;
		s->live[i].size = size;
	}
	return 0;
}

static void setup_free(struct setup *s)
{
	free(s->vs);
	free(s->mem);
	free(s->live);
}

/*
 * Runs @pairs pairs on kmm; returns ns per pair, or -1. With @record, the
 * address of every allocation is stored there.
 */
static double run_kmm(struct setup *s, size_t pairs, uint64_t seed,
		      uint64_t *record)
{
	uint64_t t0 = bench_now_ns(), t1;

	for (size_t i = 0; i < pairs; i++) {
		uint64_t size, align, va;
		size_t victim;

		random_request(&seed, &size, &align);
		if (kmm_vaspace_alloc(s->vs, size, align, 1, &va))
			return -1;
		if (record)
			record[i] = va;
		victim = bench_rand(&seed) % s->n;
		if (kmm_vaspace_free(s->vs, s->live[victim].va,
				     s->live[victim].size, 1))
			return -1;
		s->live[victim].va = va;
		s->live[victim].size = size;
	}
	t1 = bench_now_ns();
	return (double)(t1 - t0) / (double)pairs;
}

/* Untimed pairs that take kmm from the fill to its steady state. */
static int warm_up(struct setup *s, uint64_t *seed, size_t max_pairs)
{
	size_t pairs = s->n < max_pairs ? s->n : max_pairs;

	if (run_kmm(s, pairs, *seed, NULL) < 0)
		return -1;
	*seed += 1;
	return 0;
}

/*
 * Runs the same pairs on the list, from a state equal to kmm's before its
 * run (@live as it was then); counts addresses that differ from @want.
 */
static double run_list(struct teemm *p, struct range *live, size_t n,
		       size_t pairs, uint64_t seed, const uint64_t *want,
		       size_t *mismatches)
{
	uint64_t t0 = bench_now_ns(), t1;

	for (size_t i = 0; i < pairs; i++) {
		uint64_t size, align, va;
		size_t victim;

		random_request(&seed, &size, &align);
		if (teemm_alloc(p, size, align, &va))
			return -1;
		*mismatches += va != want[i];
		victim = bench_rand(&seed) % n;
		if (teemm_free(p, live[victim].va))
			return -1;
		live[victim].va = va;
		live[victim].size = size;
	}
	t1 = bench_now_ns();
	return (double)(t1 - t0) / (double)pairs;
}

/*
 * A list holding kmm's current ranges, room for @extra more, its entries
 * shuffled in memory (@shuffle_seed != 0) or laid out in address order.
 */
static struct teemm *list_from(const struct kmm_vaspace *vs, size_t n,
			       size_t extra, uint64_t shuffle_seed)
{
	struct teemm *p =
		teemm_create(WIN_BASE, WIN_SIZE, n + extra, shuffle_seed);

	if (p == NULL)
		return NULL;
	for (struct kmm_rb_node *rb = kmm_rb_first(&vs->tree); rb;
	     rb = kmm_rb_next(rb)) {
		const struct kmm_vaspace_node *r =
			kmm_container_of(rb, struct kmm_vaspace_node, rb);

		if (r->end == r->base)
			continue; /* the window's sentinel */
		if (teemm_append(p, r->base, r->end - r->base - vs->guard)) {
			teemm_destroy(p);
			return NULL;
		}
	}
	return p;
}

static double pair_ns(struct bench_ctx *ctx, size_t n, const char *label,
		      size_t pairs, size_t warm)
{
	struct setup s = { 0 };
	uint64_t seed = 0x5eed0000 + n;
	double ns = -1;
	char name[64];

	if (setup_live(&s, n, &seed) == 0 && warm_up(&s, &seed, warm) == 0)
		ns = run_kmm(&s, pairs, seed, NULL);
	setup_free(&s);
	if (ns < 0) {
		fprintf(stderr, "vaspace: %s run failed\n", label);
		return -1;
	}
	snprintf(name, sizeof(name), "vaspace.pair_ns.%s", label);
	bench_metric(ctx, name, ns);
	return ns;
}

/* The list @p runs the pairs from the ranges @start; -1 on failure. */
static double list_run(struct teemm *p, const struct range *start, size_t n,
		       size_t pairs, uint64_t seed, const uint64_t *want,
		       size_t *mismatches)
{
	struct range *live = malloc(n * sizeof(*live));
	double ns = -1;

	if (p && live) {
		for (size_t i = 0; i < n; i++)
			live[i] = start[i];
		ns = run_list(p, live, n, pairs, seed, want, mismatches);
	}
	free(live);
	return ns;
}

/*
 * kmm and the list on the same start state and pairs at @n live: the list
 * with shuffled entries (steady state) gives vaspace.speedup_vs_list, the
 * list in address order (its best case) gives
 * vaspace.speedup_vs_list_in_order.
 */
static void speedup(struct bench_ctx *ctx, size_t n, size_t pairs, size_t warm)
{
	struct setup s = { 0 };
	uint64_t seed = 0x5eed1000 + n;
	struct range *start = malloc(n * sizeof(*start));
	uint64_t *want = malloc(pairs * sizeof(*want));
	struct teemm *shuffled = NULL, *ordered = NULL;
	double kmm = -1, list = -1, list_ordered = -1;
	size_t mismatches = 0;

	if (start && want && setup_live(&s, n, &seed) == 0 &&
	    warm_up(&s, &seed, warm) == 0) {
		for (size_t i = 0; i < n; i++)
			start[i] = s.live[i];
		shuffled = list_from(s.vs, n, pairs + 1, 77);
		ordered = list_from(s.vs, n, pairs + 1, 0);
		if (shuffled && ordered)
			kmm = run_kmm(&s, pairs, seed, want);
	}
	if (kmm > 0) {
		list = list_run(shuffled, start, n, pairs, seed, want,
				&mismatches);
		list_ordered = list_run(ordered, start, n, pairs, seed, want,
					&mismatches);
	}
	if (list > 0 && list_ordered > 0) {
		bench_metric(ctx, "vaspace.list_pair_ns.100k", list);
		bench_metric(ctx, "vaspace.speedup_vs_list", list / kmm);
		bench_metric(ctx, "vaspace.speedup_vs_list_in_order",
			     list_ordered / kmm);
		bench_metric(ctx, "vaspace.list_mismatches",
			     (double)mismatches);
	} else {
		fprintf(stderr, "vaspace: list comparison failed\n");
	}
	teemm_destroy(shuffled);
	teemm_destroy(ordered);
	setup_free(&s);
	free(start);
	free(want);
}

void bench_vaspace(struct bench_ctx *ctx)
{
	size_t pairs = ctx->quick ? 20000 : 500000;
	size_t warm = ctx->quick ? 20000 : 200000;
	double ns_1k, ns_1m;

	ns_1k = pair_ns(ctx, 1000, "1k", pairs, warm);
	pair_ns(ctx, 100000, "100k", pairs, warm);
	if (!ctx->quick) {
		ns_1m = pair_ns(ctx, 1000000, "1m", pairs, warm);
		if (ns_1k > 0 && ns_1m > 0)
			bench_metric(ctx, "vaspace.growth_1k_to_1m",
				     ns_1m / ns_1k);
	}
	/* The list takes milliseconds per pair at 100k: few pairs. */
	speedup(ctx, 100000, ctx->quick ? 100 : 1000, warm);
}
