// SPDX-License-Identifier: BSD-2-Clause
/*
 * p2v baseline: a static array of runs sorted by first PA, searched with a
 * branch-free binary search that prefetches both possible next probes
 * (the practical floor for a comparison-based index). It cannot be
 * updated without rebuilding it.
 */
#include <stdint.h>
#include <stdlib.h>

#include "baselines.h"

struct sorted_index {
	size_t n;
	uint64_t *first;
	uint64_t *last;
	uint64_t *va;
};

static int cmp_run(const void *a, const void *b)
{
	const struct p2v_run *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

void *p2v_sorted_build(const struct p2v_run *runs, size_t n)
{
	struct sorted_index *s = malloc(sizeof(*s));
	struct p2v_run *tmp = malloc(n * sizeof(*tmp));

	if (s == NULL || tmp == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		tmp[i] = runs[i];
	qsort(tmp, n, sizeof(*tmp), cmp_run);
	s->n = n;
	s->first = malloc(n * sizeof(uint64_t));
	s->last = malloc(n * sizeof(uint64_t));
	s->va = malloc(n * sizeof(uint64_t));
	if (s->first == NULL || s->last == NULL || s->va == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		s->first[i] = tmp[i].first;
		s->last[i] = tmp[i].first + tmp[i].size - 1;
		s->va[i] = tmp[i].va;
	}
	free(tmp);
	return s;
}

uint64_t p2v_sorted_lookups(const void *idx, const uint64_t *pas, size_t q)
{
	const struct sorted_index *s = idx;
	uint64_t sum = 0;

	for (size_t i = 0; i < q; i++) {
		uint64_t pa = pas[i];
		const uint64_t *base = s->first;
		size_t len = s->n, k;

		while (len > 1) {
			size_t half = len / 2;

			__builtin_prefetch(base + half / 2);
			__builtin_prefetch(base + half + half / 2);
			base = base[half] <= pa ? base + half : base;
			len -= half;
		}
		k = (size_t)(base - s->first);
		if (s->first[k] <= pa && pa <= s->last[k])
			sum += s->va[k] + (pa - s->first[k]);
	}
	return sum;
}

void p2v_sorted_free(void *idx)
{
	struct sorted_index *s = idx;

	free(s->first);
	free(s->last);
	free(s->va);
	free(s);
}
