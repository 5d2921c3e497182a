// SPDX-License-Identifier: BSD-2-Clause
/*
 * PMSA figures on a live 32-slot Armv8-R AArch64 set with 16 regions:
 * pmsa.map_unmap_ns (map then unmap one new region, with its register
 * writes through the host port), pmsa.refcount_map_unmap_ns (the same
 * range inside an identical region: no slot, no write), and
 * pmsa.switch_writes (slot writes of a guest switch between two guests
 * that share half of their regions, out of pmsa.switch_window).
 */
#include <stdlib.h>

#include "bench.h"
#include "host_port.h"
#include "kmm/as.h"
#include "kmm/pmsa.h"

#define BASE 0x40000000ull
#define STEP 0x20000ull

static double per_op_ns(uint64_t t0, unsigned int n)
{
	return (double)(bench_now_ns() - t0) / n;
}

void bench_pmsa(struct bench_ctx *ctx)
{
	unsigned int iters = ctx->quick ? 20000 : 200000;
	struct kmm_pmsa_config cfg = { .arch = KMM_PMSA_ARMV8R_AARCH64,
				       .hyp_slots = 16,
				       .guest_first = 16,
				       .guest_slots = 16,
				       .shared_mpu = true };
	struct kmm_pmsa *p = calloc(3, sizeof(*p));
	struct kmm_host host;
	uint64_t t0;
	int writes = 0;

	if (!p || kmm_host_init(&host, 0, 0, 0)) {
		free(p);
		return;
	}
	host.log_enabled = false;
	if (kmm_pmsa_init(&p[0], &host.port, &cfg) || kmm_pmsa_load(&p[0]) < 0)
		goto out;
	for (unsigned int i = 0; i < 15; i++)
		kmm_map(&p[0].as, BASE + 2 * STEP * i, BASE + 2 * STEP * i,
			STEP, i & 1 ? KMM_ATTR_RW_DATA : KMM_ATTR_RW_DEVICE);

	t0 = bench_now_ns();
	for (unsigned int i = 0; i < iters; i++) {
		kmm_paddr_t x = BASE + 2 * STEP * (i % 15) + STEP;

		if (kmm_map(&p[0].as, x, x, 0x1000, KMM_ATTR_RX_CODE) ||
		    kmm_unmap(&p[0].as, x, 0x1000))
			goto out;
	}
	bench_metric(ctx, "pmsa.map_unmap_ns", per_op_ns(t0, iters));

	t0 = bench_now_ns();
	for (unsigned int i = 0; i < iters; i++) {
		kmm_paddr_t x = BASE + 0x1000 * (i % 16);

		if (kmm_map(&p[0].as, x, x, 0x1000, KMM_ATTR_RW_DEVICE) ||
		    kmm_unmap(&p[0].as, x, 0x1000))
			goto out;
	}
	bench_metric(ctx, "pmsa.refcount_map_unmap_ns", per_op_ns(t0, iters));

	/* Two guests: the same 8 device regions, then 8 RAM regions each. */
	for (unsigned int g = 1; g < 3; g++) {
		if (kmm_pmsa_guest_init(&p[g], &p[0], (kmm_owner_t)g, 16))
			goto out;
		for (unsigned int i = 0; i < 8; i++)
			kmm_map(&p[g].as, 0x9000000 + 2 * STEP * i,
				0x9000000 + 2 * STEP * i, STEP,
				KMM_ATTR_RW_DEVICE);
		for (unsigned int i = 0; i < 8; i++)
			kmm_map(&p[g].as, (0x80000000ull * g) + 2 * STEP * i,
				(0x80000000ull * g) + 2 * STEP * i, STEP,
				KMM_ATTR_RW_DATA);
	}
	kmm_pmsa_switch(NULL, &p[1]);
	writes = kmm_pmsa_switch(&p[1], &p[2]);
	bench_metric(ctx, "pmsa.switch_writes", writes);
	bench_metric(ctx, "pmsa.switch_window", cfg.guest_slots);
	t0 = bench_now_ns();
	for (unsigned int i = 0; i < iters; i++)
		kmm_pmsa_switch(&p[2 - (i & 1)], &p[1 + (i & 1)]);
	bench_metric(ctx, "pmsa.switch_ns", per_op_ns(t0, iters));
out:
	kmm_host_fini(&host);
	free(p);
}
