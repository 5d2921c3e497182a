// SPDX-License-Identifier: BSD-2-Clause
/*
 * p2v baseline: a linked list of regions, each with its array of physical
 * runs, scanned from the head for every lookup. This is how OP-TEE's
 * phys_to_virt walks its memory map.
 */
#include <stdint.h>
#include <stdlib.h>

#include "baselines.h"

struct linear_region {
	struct linear_region *next;
	size_t nr_runs;
	struct p2v_run runs[];
};

/* @region_first[i] is the index of region i's first run; one extra entry. */
void *p2v_linear_build(const struct p2v_run *runs, const size_t *region_first,
		       size_t nr_regions)
{
	struct linear_region *head = NULL;

	for (size_t i = nr_regions; i-- > 0;) {
		size_t k = region_first[i + 1] - region_first[i];
		struct linear_region *r =
			malloc(sizeof(*r) + k * sizeof(struct p2v_run));

		if (r == NULL)
			abort();
		r->nr_runs = k;
		for (size_t j = 0; j < k; j++)
			r->runs[j] = runs[region_first[i] + j];
		r->next = head;
		head = r;
	}
	return head;
}

uint64_t p2v_linear_lookups(const void *idx, const uint64_t *pas, size_t q)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < q; i++) {
		uint64_t pa = pas[i];

		for (const struct linear_region *r = idx; r; r = r->next) {
			for (size_t j = 0; j < r->nr_runs; j++) {
				const struct p2v_run *run = &r->runs[j];

				if (pa - run->first < run->size) {
					sum += run->va + (pa - run->first);
					goto next;
				}
			}
		}
next:;
	}
	return sum;
}

void p2v_linear_free(void *idx)
{
	struct linear_region *r = idx, *next;

	for (; r != NULL; r = next) {
		next = r->next;
		free(r);
	}
}
