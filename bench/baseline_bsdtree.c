// SPDX-License-Identifier: BSD-2-Clause
/*
 * p2v baseline: the BSD sys/tree.h red-black tree (libbsd), one malloc'd
 * node per physical run keyed by its first PA, looked up by the greatest
 * first PA <= pa. This is what an implementer would reach for.
 */
/* libbsd's cdefs.h leaves __unused undefined; RB_GENERATE_STATIC needs it. */
#ifndef __unused
#define __unused __attribute__((__unused__))
#endif
#include <sys/tree.h> /* the BSD header, through libbsd-overlay */
#include <stdint.h>
#include <stdlib.h>

#include "baselines.h"

struct bsd_run {
	RB_ENTRY(bsd_run) link;
	uint64_t first;
	uint64_t last;
	uint64_t va;
};

static int bsd_run_cmp(struct bsd_run *a, struct bsd_run *b)
{
	return a->first < b->first ? -1 : a->first > b->first;
}

RB_HEAD(bsd_runs, bsd_run);
RB_GENERATE_STATIC(bsd_runs, bsd_run, link, bsd_run_cmp)

void *p2v_bsdtree_build(const struct p2v_run *runs, size_t n)
{
	struct bsd_runs *head = malloc(sizeof(*head));

	if (head == NULL)
		return NULL;
	RB_INIT(head);
	for (size_t i = 0; i < n; i++) {
		struct bsd_run *r = malloc(sizeof(*r));

		if (r == NULL)
			abort();
		r->first = runs[i].first;
		r->last = runs[i].first + runs[i].size - 1;
		r->va = runs[i].va;
		RB_INSERT(bsd_runs, head, r);
	}
	return head;
}

/* Resolves every PA of @pas; returns the sum of the VAs (0 for misses). */
uint64_t p2v_bsdtree_lookups(const void *idx, const uint64_t *pas, size_t q)
{
	const struct bsd_runs *head = idx;
	uint64_t sum = 0;

	for (size_t i = 0; i < q; i++) {
		uint64_t pa = pas[i];
		struct bsd_run *n = RB_ROOT(head), *best = NULL;

		while (n != NULL) {
			if (n->first <= pa) {
				best = n;
				n = RB_RIGHT(n, link);
			} else {
				n = RB_LEFT(n, link);
			}
		}
		if (best != NULL && pa <= best->last)
			sum += best->va + (pa - best->first);
	}
	return sum;
}

void p2v_bsdtree_free(void *idx)
{
	struct bsd_runs *head = idx;
	struct bsd_run *n, *next;

	for (n = RB_MIN(bsd_runs, head); n != NULL; n = next) {
		next = RB_NEXT(bsd_runs, head, n);
		RB_REMOVE(bsd_runs, head, n);
		free(n);
	}
	free(head);
}
