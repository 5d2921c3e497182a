// SPDX-License-Identifier: BSD-2-Clause
/*
 * VMSA map figures on the host port (coherent walks, 4 KiB granule):
 *   map.4k_ns_per_page        map 1 GiB (256 MiB with --quick) contiguous
 *                             with blocks disabled, ns per 4 KiB page;
 *   map.unmap_4k_ns_per_page  unmap that range again, ns per page;
 *   map.block_1g_descriptors  leaf descriptors written to map 1 GiB
 *                             aligned with blocks on (goal: 1).
 * The walker visits each leaf table once per call, so the per-page cost is
 * one descriptor store.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "host_port.h"
#include "kmm/pages.h"
#include "kmm/vmsa.h"

#define ARENA_BASE 0x40000000ull
#define ARENA_SIZE (8ull << 20)

struct map_env {
	struct kmm_host h;
	struct kmm_port pages_port;
	struct kmm_pages pages;
	void *meta;
	struct kmm_vmsa v;
};

static int env_init(struct map_env *e, uint32_t flags)
{
	struct kmm_vmsa_config c;
	size_t meta = kmm_pages_meta_size(ARENA_BASE, ARENA_SIZE);

	if (kmm_host_init(&e->h, ARENA_BASE, ARENA_SIZE, 0))
		return -1;
	e->h.log_enabled = false;
	/* Table memory of a kernel is resident: fault the lazily reserved
	 * arena in before timing. */
	memset(e->h.arena, 0, ARENA_SIZE);
	/* The allocator runs inside kmm_map(), which holds the port lock. */
	e->pages_port = e->h.port;
	e->pages_port.lock = NULL;
	e->pages_port.unlock = NULL;
	e->meta = malloc(meta);
	if (e->meta == NULL ||
	    kmm_pages_init(&e->pages, &e->pages_port, ARENA_BASE, ARENA_SIZE,
			   e->meta, meta) ||
	    kmm_pages_add(&e->pages, ARENA_BASE, ARENA_SIZE))
		return -1;
	kmm_vmsa_config_init(&c, KMM_REGIME_EL1);
	c.granule_shift = 12;
	c.va_bits = 48;
	c.flags = flags;
	return kmm_vmsa_init(&e->v, &c, &e->h.port, &e->pages, 1, 0);
}

static void env_fini(struct map_env *e)
{
	kmm_as_destroy(&e->v.as);
	free(e->meta);
	kmm_host_fini(&e->h);
}

static void bench_pages_only(struct bench_ctx *ctx)
{
	struct map_env e;
	uint64_t size = ctx->quick ? (256ull << 20) : (1ull << 30);
	uint64_t pages = size >> 12;
	uint64_t t0, t1, t2;
	int ret;

	if (env_init(&e, KMM_VMSA_NO_BLOCKS))
		return;
	t0 = bench_now_ns();
	ret = kmm_map(&e.v.as, 1ull << 30, 1ull << 32, size, KMM_ATTR_RW_DATA);
	t1 = bench_now_ns();
	ret |= kmm_unmap(&e.v.as, 1ull << 30, size);
	t2 = bench_now_ns();
	if (ret == 0) {
		bench_metric(ctx, "map.4k_ns_per_page",
			     (double)(t1 - t0) / (double)pages);
		bench_metric(ctx, "map.unmap_4k_ns_per_page",
			     (double)(t2 - t1) / (double)pages);
	}
	env_fini(&e);
}

static void bench_block(struct bench_ctx *ctx)
{
	struct map_env e;

	if (env_init(&e, 0))
		return;
	e.v.leaf_writes = 0;
	if (kmm_map(&e.v.as, 1ull << 30, 1ull << 32, 1ull << 30,
		    KMM_ATTR_RW_DATA) == 0)
		bench_metric(ctx, "map.block_1g_descriptors",
			     (double)e.v.leaf_writes);
	env_fini(&e);
}

void bench_map(struct bench_ctx *ctx)
{
	bench_pages_only(ctx);
	bench_block(ctx);
}
