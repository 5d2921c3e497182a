// SPDX-License-Identifier: BSD-2-Clause
/*
 * Baseline for the vaspace figures: a range allocator in the style of
 * OP-TEE's tee_mm, i.e. one singly linked list of allocated entries sorted
 * by address, first-fit allocation by walking the list for the first gap
 * that is large enough, and free by walking the list to the entry. Every
 * operation is O(n). Unlike tee_mm it takes an alignment, so that it runs
 * the same workload as kmm_vaspace_alloc() and must return the same
 * addresses (lowest aligned fit).
 *
 * Entries come from a pool made at creation instead of malloc(), so that
 * the benchmark decides where they lie in memory: shuffled, as after a
 * long run of allocations and frees, which is the steady state the
 * vaspace figures measure.
 */
#include <stdint.h>
#include <stdlib.h>

#include "baselines.h"

struct teemm_entry {
	struct teemm_entry *next;
	uint64_t base;
	uint64_t size;
};

struct teemm {
	uint64_t hi; /* one past the last address (no wrap in the bench) */
	struct teemm_entry head; /* sentinel: empty entry at the base */
	struct teemm_entry *tail; /* last entry, for building in order */
	struct teemm_entry *pool; /* every entry */
	struct teemm_entry *spare; /* free entries, linked through next */
};

static uint64_t mix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static struct teemm_entry *entry_get(struct teemm *p)
{
	struct teemm_entry *e = p->spare;

	if (e)
		p->spare = e->next;
	return e;
}

static void entry_put(struct teemm *p, struct teemm_entry *e)
{
	e->next = p->spare;
	p->spare = e;
}

struct teemm *teemm_create(uint64_t base, uint64_t size, size_t capacity,
			   uint64_t shuffle_seed)
{
	struct teemm *p = calloc(1, sizeof(*p));
	size_t *order = malloc(capacity * sizeof(*order));

	if (p)
		p->pool = calloc(capacity, sizeof(*p->pool));
	if (p == NULL || p->pool == NULL || order == NULL) {
		free(order);
		teemm_destroy(p);
		return NULL;
	}
	p->hi = base + size;
	p->head.base = base;
	p->tail = &p->head;
	/* Hand the pool out in a random order (Fisher-Yates). */
	for (size_t i = 0; i < capacity; i++)
		order[i] = i;
	for (size_t i = capacity; shuffle_seed && i > 1; i--) {
		size_t j = mix(&shuffle_seed) % i, t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	for (size_t i = capacity; i-- > 0;)
		entry_put(p, &p->pool[order[i]]);
	free(order);
	return p;
}

void teemm_destroy(struct teemm *p)
{
	if (p == NULL)
		return;
	free(p->pool);
	free(p);
}

int teemm_append(struct teemm *p, uint64_t base, uint64_t size)
{
	struct teemm_entry *e;

	if (base < p->tail->base + p->tail->size)
		return -1;
	e = entry_get(p);
	if (e == NULL)
		return -1;
	e->next = NULL;
	e->base = base;
	e->size = size;
	p->tail->next = e;
	p->tail = e;
	return 0;
}

int teemm_alloc(struct teemm *p, uint64_t size, uint64_t align, uint64_t *va)
{
	struct teemm_entry *prev = &p->head, *e;
	uint64_t start;

	/* Walk the gaps between entries, lowest first. */
	for (;;) {
		uint64_t gap_end = prev->next ? prev->next->base : p->hi;

		start = (prev->base + prev->size + align - 1) & ~(align - 1);
		if (start <= gap_end && gap_end - start >= size)
			break;
		if (prev->next == NULL)
			return -1;
		prev = prev->next;
	}
	e = entry_get(p);
	if (e == NULL)
		return -1;
	e->base = start;
	e->size = size;
	e->next = prev->next;
	prev->next = e;
	if (p->tail == prev)
		p->tail = e;
	*va = start;
	return 0;
}

int teemm_free(struct teemm *p, uint64_t va)
{
	struct teemm_entry *prev = &p->head, *e;

	while (prev->next && prev->next->base != va)
		prev = prev->next;
	e = prev->next;
	if (e == NULL)
		return -1;
	prev->next = e->next;
	if (p->tail == e)
		p->tail = prev;
	entry_put(p, e);
	return 0;
}
