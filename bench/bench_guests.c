// SPDX-License-Identifier: BSD-2-Clause
/*
 * Guest teardown figures:
 *  - guests.teardown_ns_per_object: kmm_guest_destroy() of a guest that
 *    holds N frames (each mapped in its VMSA stage 2) and N / 4 SHM
 *    regions of four scattered frames in the kernel's map, divided by the
 *    objects it held (N + N / 4); best of a few rounds;
 *  - guests.teardown_crowded_ratio: the same teardown while another guest
 *    holds five times as much, over the teardown alone (goal ~1: the cost
 *    depends on what the dying guest holds, not on what others hold).
 * The system is the host port's (pthread lock, simulated memory): the
 * figures include the lock and the recorded TLB calls.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/guest.h"
#include "kmm/region.h"
#include "kmm/vmsa.h"

#define PG 4096ull
#define ARENA_BASE 0x40000000ull
#define KVA_BASE 0x4000000000ull
#define KVA_SIZE (1ull << 36)
#define ROUNDS 3

struct sys {
	struct kmm_host host;
	struct kmm_pages pages;
	void *meta;
	struct kmm_vmsa kas;
	struct kmm_slab vs_slab, rg_slab;
	void *vs_mem, *rg_mem;
	struct kmm_vaspace vs;
	struct kmm_regions regions;
	struct kmm_vmsa s2[3];
	struct kmm k;
};

static int s2_create(void *ctx, kmm_owner_t id, const struct kmm_guest_quota *q,
		     struct kmm_as **out)
{
	struct sys *s = ctx;
	struct kmm_vmsa_config cfg;
	int ret;

	kmm_vmsa_config_init(&cfg, KMM_REGIME_STAGE2);
	cfg.va_bits = 40;
	cfg.oa_bits = 40;
	cfg.id = id;
	cfg.max_table_pages = q->table_pages;
	ret = kmm_vmsa_init(&s->s2[id], &cfg, &s->host.port, &s->pages, id, 0);
	if (ret == KMM_OK)
		*out = &s->s2[id].as;
	return ret;
}

static void s2_usage(void *ctx, const struct kmm_as *s2, uint64_t *tables,
		     uint32_t *slots)
{
	(void)ctx;
	*tables = kmm_vmsa_table_pages(
		kmm_container_of(s2, const struct kmm_vmsa, as));
	*slots = 0;
}

static const struct kmm_guest_s2_ops s2_ops = { s2_create, s2_usage };

static bool sys_init(struct sys *s, uint64_t arena, size_t nodes)
{
	struct kmm_vaspace_config vc = { .granule = PG };
	struct kmm_vmsa_config kc;
	struct kmm_config cfg = { 0 };
	size_t msize = kmm_pages_meta_size(ARENA_BASE, arena);
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (kmm_host_init(&s->host, ARENA_BASE, arena, 0) != 0)
		return false;
	s->host.log_enabled = false;
	s->meta = aligned_alloc(8, msize);
	s->vs_mem = aligned_alloc(64, nodes * 128);
	s->rg_mem = aligned_alloc(64, nodes * KMM_REGION_NODE_SIZE);
	if (!s->meta || !s->vs_mem || !s->rg_mem)
		return false;
	ret |= kmm_pages_init(&s->pages, &s->host.port, ARENA_BASE, arena,
			      s->meta, msize);
	ret |= kmm_pages_add(&s->pages, ARENA_BASE, arena);
	kmm_vmsa_config_init(&kc, KMM_REGIME_EL2);
	ret |= kmm_vmsa_init(&s->kas, &kc, &s->host.port, &s->pages, 0, 0);
	ret |= kmm_slab_init(&s->vs_slab, sizeof(struct kmm_vaspace_node),
			     _Alignof(struct kmm_vaspace_node));
	ret |= kmm_slab_add_memory(&s->vs_slab, s->vs_mem, nodes * 128);
	vc.nodes = &s->vs_slab;
	ret |= kmm_vaspace_init(&s->vs, &vc);
	ret |= kmm_vaspace_add_window(&s->vs, KVA_BASE, KVA_SIZE);
	ret |= kmm_slab_init(&s->rg_slab, KMM_REGION_NODE_SIZE,
			     KMM_REGION_NODE_ALIGN);
	ret |= kmm_slab_add_memory(&s->rg_slab, s->rg_mem,
				   nodes * KMM_REGION_NODE_SIZE);
	ret |= kmm_regions_init(&s->regions, &s->kas.as, &s->vs, &s->rg_slab);
	cfg.port = &s->host.port;
	cfg.pages = &s->pages;
	cfg.vs = &s->vs;
	cfg.spaces[0] = &s->kas.as;
	cfg.nspaces = 1;
	cfg.s2_ops = &s2_ops;
	cfg.s2_ctx = s;
	ret |= kmm_init(&s->k, &cfg);
	return ret == 0;
}

static void sys_fini(struct sys *s)
{
	free(s->meta);
	free(s->vs_mem);
	free(s->rg_mem);
	kmm_host_fini(&s->host);
}

/* Guest @id gets @n frames mapped in its stage 2 and n / 4 SHM regions. */
static bool populate(struct sys *s, kmm_owner_t id, size_t n)
{
	const struct kmm_guest_quota q = {
		.pages = n,
		.table_pages = 64 + n / 256,
		.va_bytes = UINT64_MAX,
		.regions = UINT32_MAX,
	};
	kmm_paddr_t *pa = malloc(n * sizeof(*pa));
	bool ok = pa != NULL && kmm_guest_create(&s->k, id, &q, NULL) == 0;

	for (size_t i = 0; ok && i < n; i++)
		ok = kmm_guest_alloc_pages(&s->k, id, 0, 0, &pa[i]) == 0 &&
		     kmm_guest_map(&s->k, id, i * PG, pa[i], PG,
				   KMM_ATTR_RW_DATA) == 0;
	for (size_t r = 0; ok && r < n / 4; r++) {
		kmm_paddr_t buf[4];
		kmm_vaddr_t va;

		for (size_t j = 0; j < 4; j++)
			buf[j] = pa[(r + j * (n / 4)) % n];
		ok = kmm_guest_shm_register(&s->k, id, 0, buf, 4, &va) == 0;
	}
	free(pa);
	return ok;
}

/* Time of one teardown of guest 1 holding @n, with guest 2 holding @m. */
static double teardown_ns(size_t n, size_t m)
{
	static struct sys s;
	uint64_t arena = ((uint64_t)(n + m) * PG * 5 / 4 + (64ull << 20)) &
			 ~((4ull << 20) - 1);
	size_t nodes = (n + m) / 2 + 4096;
	double ns = -1;

	if (sys_init(&s, arena, nodes) && populate(&s, 1, n) &&
	    (m == 0 || populate(&s, 2, m))) {
		uint64_t t0 = bench_now_ns();

		if (kmm_guest_destroy(&s.k, 1) == 0)
			ns = (double)(bench_now_ns() - t0);
	}
	sys_fini(&s);
	return ns;
}

void bench_guests(struct bench_ctx *ctx)
{
	size_t n = ctx->quick ? 4000 : 40000;
	double alone = 0, crowded = 0;

	for (int r = 0; r < ROUNDS; r++) {
		double a = teardown_ns(n, 0), c = teardown_ns(n, 5 * n);

		if (a < 0 || c < 0) {
			fprintf(stderr, "bench_guests: setup failed\n");
			return;
		}
		alone = r == 0 || a < alone ? a : alone;
		crowded = r == 0 || c < crowded ? c : crowded;
	}
	bench_metric(ctx, "guests.teardown_ns_per_object",
		     alone / (double)(n + n / 4));
	bench_metric(ctx, "guests.teardown_crowded_ratio", crowded / alone);
}
