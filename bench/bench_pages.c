// SPDX-License-Identifier: BSD-2-Clause
/*
 * Page allocator figures:
 *  - pages.pair_ns.order0, pages.pair_ns.order9: one alloc + one free, on
 *    a 64 GiB span half full, measured in batches (a batch of allocations,
 *    then their frees in shuffled order, so blocks split and merge);
 *  - pages.growth: the order-0 pair time on that 64 GiB span divided by
 *    the same on a 64 MiB span, also half full (goal <= 1.3);
 *  - pages.meta_bytes_per_page: metadata bytes per frame (goal <= 8);
 *  - pages.speedup_vs_bitmap: the order-0 pair time of the first-fit
 *    bitmap baseline (bench/baseline_bitmap.c) over kmm's, same span, same
 *    occupancy, same access pattern (goal >= 10).
 * "Half full" is the lower half of the span in use, which is where a
 * first-fit allocator puts the first half of its allocations. The port has
 * no lock and a scrub hook that does nothing, so the figures are the
 * allocator's own cost (scrubbing costs the same in both designs).
 */
#include <stdlib.h>

#include "bench.h"
#include "baselines.h"
#include "kmm/errors.h"
#include "kmm/pages.h"

#define PAGE ((uint64_t)KMM_PAGE_SIZE)
#define SPAN_BASE 0x80000000ull
#define BATCH 1024
#define ROUNDS 5

static double min_d(double a, double b)
{
	return a < b ? a : b;
}

static void no_scrub(void *cookie, kmm_paddr_t pa, size_t size)
{
	(void)cookie;
	bench_keep(pa + size);
}

static const struct kmm_port bench_port = { .scrub = no_scrub };

struct kmm_span {
	struct kmm_pages p;
	uint64_t *meta;
	uint64_t pages;
};

static int span_setup(struct kmm_span *s, uint64_t size)
{
	size_t meta_size = kmm_pages_meta_size(SPAN_BASE, size);

	s->pages = size / PAGE;
	s->meta = malloc(meta_size);
	if (s->meta == NULL ||
	    kmm_pages_init(&s->p, &bench_port, SPAN_BASE, size, s->meta,
			   meta_size) ||
	    kmm_pages_add(&s->p, SPAN_BASE, size) ||
	    kmm_pages_alloc_range(&s->p, SPAN_BASE, size / 2, 1)) {
		free(s->meta);
		return -1;
	}
	return 0;
}

static void shuffle(uint64_t *v, size_t n, uint64_t *seed)
{
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(bench_rand(seed) % (i + 1));
		uint64_t t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

/* Nanoseconds per alloc + free pair on @s, @batches batches of @n. */
static double kmm_pair_ns(struct kmm_span *s, unsigned int order, size_t n,
			  unsigned int batches)
{
	uint64_t pa[BATCH], seed = 7, t0, t;

	t0 = bench_now_ns();
	for (unsigned int b = 0; b < batches; b++) {
		for (size_t i = 0; i < n; i++)
			if (kmm_pages_alloc(&s->p, order, 2, 0, &pa[i]))
				return -1;
		shuffle(pa, n, &seed);
		for (size_t i = 0; i < n; i++)
			kmm_pages_free(&s->p, pa[i], order, 2);
	}
	t = bench_now_ns() - t0;
	return (double)t / ((double)n * batches);
}

static double bitmap_pair_ns(struct bitmap_pool *bp, unsigned int order,
			     size_t n, unsigned int batches)
{
	uint64_t pfn[BATCH], seed = 7, t0, t;

	t0 = bench_now_ns();
	for (unsigned int b = 0; b < batches; b++) {
		for (size_t i = 0; i < n; i++)
			if (bitmap_pool_alloc(bp, order, &pfn[i]))
				return -1;
		shuffle(pfn, n, &seed);
		for (size_t i = 0; i < n; i++)
			bitmap_pool_free(bp, pfn[i], order);
	}
	t = bench_now_ns() - t0;
	return (double)t / ((double)n * batches);
}

/*
 * pages.pair_ns.span.<span>: the order-0 pair on spans from 64 MiB to
 * 64 GiB, each half full (the plot of pair time against span).
 */
static void span_series(struct bench_ctx *ctx, double at64g, double at64m,
			unsigned int batches)
{
	static const struct {
		uint64_t size;
		const char *name;
	} mid[] = { { 1ull << 30, "pages.pair_ns.span.1g" },
		    { 16ull << 30, "pages.pair_ns.span.16g" } };

	bench_metric(ctx, "pages.pair_ns.span.64m", at64m);
	for (size_t i = 0; i < sizeof(mid) / sizeof(mid[0]); i++) {
		struct kmm_span s;
		double best = 1e30;

		if (span_setup(&s, mid[i].size))
			continue;
		kmm_pair_ns(&s, 0, BATCH, 10);
		for (unsigned int r = 0; r < ROUNDS; r++)
			best = min_d(best, kmm_pair_ns(&s, 0, BATCH, batches));
		bench_metric(ctx, mid[i].name, best);
		free(s.meta);
	}
	bench_metric(ctx, "pages.pair_ns.span.64g", at64g);
}

void bench_pages(struct bench_ctx *ctx)
{
	uint64_t big = 64ull << 30, small = 64ull << 20;
	unsigned int batches = ctx->quick ? 40 : 200;
	struct kmm_span sb, ss;
	struct bitmap_pool bp;
	uint64_t *bits;
	double big0, small0, big9, bitmap0;

	if (span_setup(&sb, big))
		return;
	if (span_setup(&ss, small)) {
		free(sb.meta);
		return;
	}
	/* The machine is shared: alternate the spans over several rounds and
	 * keep each one's best round, so a busy moment does not land on one
	 * side of a ratio only. */
	kmm_pair_ns(&sb, 0, BATCH, 10);
	kmm_pair_ns(&ss, 0, BATCH, 10);
	big0 = small0 = big9 = 1e30;
	for (unsigned int r = 0; r < ROUNDS; r++) {
		big0 = min_d(big0, kmm_pair_ns(&sb, 0, BATCH, batches));
		small0 = min_d(small0, kmm_pair_ns(&ss, 0, BATCH, batches));
		big9 = min_d(big9, kmm_pair_ns(&sb, 9, 64, batches));
	}
	bench_metric(ctx, "pages.pair_ns.order0", big0);
	bench_metric(ctx, "pages.pair_ns.order9", big9);
	bench_metric(ctx, "pages.pair_ns.order0_64mib", small0);
	bench_metric(ctx, "pages.growth", big0 / small0);
	bench_metric(ctx, "pages.meta_bytes_per_page",
		     (double)kmm_pages_meta_size(SPAN_BASE, big) /
			     (double)(big / PAGE));

	bits = malloc((big / PAGE + 63) / 64 * sizeof(uint64_t));
	if (bits) {
		bitmap_pool_init(&bp, SPAN_BASE / PAGE, big / PAGE, bits);
		bitmap_pool_mark(&bp, 0, big / PAGE / 2, true);
		bitmap0 = bitmap_pair_ns(&bp, 0, BATCH, ctx->quick ? 2 : 10);
		bench_metric(ctx, "pages.bitmap_pair_ns.order0", bitmap0);
		bench_metric(ctx, "pages.speedup_vs_bitmap", bitmap0 / big0);
		free(bits);
	}
	if (!ctx->quick)
		span_series(ctx, big0, small0, batches);
	free(sb.meta);
	free(ss.meta);
}
