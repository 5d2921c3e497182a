/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * kmm-bench harness. Each module's benchmark is one file bench_<name>.c
 * with a function `void bench_<name>(struct bench_ctx *ctx)`; it measures
 * kmm and, where a figure is a ratio, a baseline on the same data in the
 * same run, and prints one "metric: value" line per figure through
 * bench_metric().
 */
#ifndef KMM_BENCH_H
#define KMM_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* What every benchmark function gets. */
struct bench_ctx {
	bool quick; /* --quick: smaller sizes, the whole run under a minute */
	const char *filter; /* only run benchmarks whose name contains it */
	FILE *json; /* --json FILE: every metric is also written there */
	unsigned int metrics; /* metrics printed so far */
};

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* Prints "name: value" (and records it in the JSON file, if any). */
void bench_metric(struct bench_ctx *ctx, const char *name, double value);

/* Deterministic 64-bit pseudo-random numbers (splitmix64). */
static inline uint64_t bench_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Keeps the compiler from dropping a computed value. */
static inline void bench_keep(uint64_t v)
{
	__asm__ volatile("" : : "r"(v) : "memory");
}

#define BENCH(name) void bench_##name(struct bench_ctx *ctx);
#include "bench_list.h"
#undef BENCH

#endif /* KMM_BENCH_H */
