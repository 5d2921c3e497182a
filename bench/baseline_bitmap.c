// SPDX-License-Identifier: BSD-2-Clause
/*
 * Baseline for pages.speedup_vs_bitmap: a first-fit bitmap page allocator
 * of the kind Jailhouse uses for its page pools. One bit per frame; an
 * allocation of 2^order frames scans from the first frame for a free,
 * naturally aligned run, skipping words that are completely used.
 */
#include <stdbool.h>
#include <stdint.h>

#include "baselines.h"

void bitmap_pool_init(struct bitmap_pool *b, uint64_t base_pfn, uint64_t pages,
		      uint64_t *bits)
{
	b->bits = bits;
	b->pages = pages;
	b->base_pfn = base_pfn;
	for (uint64_t w = 0; w < (pages + 63) / 64; w++)
		bits[w] = 0;
	/* Frames past the end of the pool read as used. */
	if (pages % 64)
		bits[pages / 64] = ~0ull << (pages % 64);
}

void bitmap_pool_mark(struct bitmap_pool *b, uint64_t first, uint64_t n,
		      bool used)
{
	for (uint64_t i = first; i < first + n; i++) {
		if (used)
			b->bits[i / 64] |= 1ull << (i % 64);
		else
			b->bits[i / 64] &= ~(1ull << (i % 64));
	}
}

static bool run_free(const struct bitmap_pool *b, uint64_t i, uint64_t n)
{
	for (uint64_t j = i; j < i + n; j++)
		if (b->bits[j / 64] & (1ull << (j % 64)))
			return false;
	return true;
}

int bitmap_pool_alloc(struct bitmap_pool *b, unsigned int order, uint64_t *pfn)
{
	uint64_t n = 1ull << order;
	uint64_t words = (b->pages + 63) / 64;

	if (order == 0) {
		for (uint64_t w = 0; w < words; w++) {
			if (b->bits[w] == ~0ull)
				continue;
			uint64_t i =
				w * 64 + (uint64_t)__builtin_ctzll(~b->bits[w]);

			b->bits[w] |= 1ull << (i % 64);
			*pfn = b->base_pfn + i;
			return 0;
		}
		return -1;
	}
	/* Aligned runs: first-fit over candidates aligned in PA. */
	for (uint64_t i = (n - b->base_pfn % n) % n; i + n <= b->pages;
	     i += n) {
		if (n >= 64 && b->bits[i / 64] == ~0ull)
			continue;
		if (run_free(b, i, n)) {
			bitmap_pool_mark(b, i, n, true);
			*pfn = b->base_pfn + i;
			return 0;
		}
	}
	return -1;
}

void bitmap_pool_free(struct bitmap_pool *b, uint64_t pfn, unsigned int order)
{
	bitmap_pool_mark(b, pfn - b->base_pfn, 1ull << order, false);
}
