/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The baselines kmm-bench measures kmm against, each in bench/baseline_*.c:
 * what they take and give, declared once for the baselines and the
 * benchmarks that run them.
 */
#ifndef KMM_BENCH_BASELINES_H
#define KMM_BENCH_BASELINES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* phys_to_virt baselines: one physical run [first, first + size) at va. */
struct p2v_run {
	uint64_t first;
	uint64_t size;
	uint64_t va;
};

/* The BSD sys/tree.h red-black tree (baseline_bsdtree.c). */
void *p2v_bsdtree_build(const struct p2v_run *runs, size_t n);
uint64_t p2v_bsdtree_lookups(const void *idx, const uint64_t *pas, size_t q);
void p2v_bsdtree_free(void *idx);

/* A sorted array with branch-free binary search (baseline_sorted.c). */
void *p2v_sorted_build(const struct p2v_run *runs, size_t n);
uint64_t p2v_sorted_lookups(const void *idx, const uint64_t *pas, size_t q);
void p2v_sorted_free(void *idx);

/* A linear scan of the region list (baseline_linear.c); runs grouped by
 * region, region r's runs from region_first[r] to region_first[r + 1]. */
void *p2v_linear_build(const struct p2v_run *runs, const size_t *region_first,
		       size_t nr_regions);
uint64_t p2v_linear_lookups(const void *idx, const uint64_t *pas, size_t q);
void p2v_linear_free(void *idx);

/* A first-fit bitmap page allocator (baseline_bitmap.c). */
struct bitmap_pool {
	uint64_t *bits; /* bit set: frame in use */
	uint64_t pages;
	uint64_t base_pfn;
};

void bitmap_pool_init(struct bitmap_pool *b, uint64_t base_pfn, uint64_t pages,
		      uint64_t *bits);
void bitmap_pool_mark(struct bitmap_pool *b, uint64_t first, uint64_t n,
		      bool used);
int bitmap_pool_alloc(struct bitmap_pool *b, unsigned int order, uint64_t *pfn);
void bitmap_pool_free(struct bitmap_pool *b, uint64_t pfn, unsigned int order);

/* A sorted linked-list first-fit VA allocator (baseline_teemm.c). */
struct teemm;
struct teemm *teemm_create(uint64_t base, uint64_t size, size_t capacity,
			   uint64_t shuffle_seed);
void teemm_destroy(struct teemm *p);
int teemm_append(struct teemm *p, uint64_t base, uint64_t size);
int teemm_alloc(struct teemm *p, uint64_t size, uint64_t align, uint64_t *va);
int teemm_free(struct teemm *p, uint64_t va);

#endif /* KMM_BENCH_BASELINES_H */
