// SPDX-License-Identifier: BSD-2-Clause
/* Armv8-M kmm_port (see bm_port.h). */
#include "bm_port.h"

#include "../bm.h"
#include "bm_armv8m.h"

static void port_mpu_write(void *cookie, unsigned int bank, unsigned int slot,
			   uint64_t rbar, uint64_t rlar)
{
	struct bm_port_stats *st = cookie;

	(void)bank;
	/*
	 * Base before limit and never a disable in between: kmm rewrites the
	 * slot that maps the running code in place, and relies on this order
	 * to keep the bytes both the old and the new region cover mapped.
	 */
	bm_mmio_write32(BM_MPU_RNR, slot);
	bm_mmio_write32(BM_MPU_RBAR, (uint32_t)rbar);
	bm_mmio_write32(BM_MPU_RLAR, (uint32_t)rlar);
	if (st)
		st->mpu_writes++;
}

static void port_mpu_sync(void *cookie)
{
	struct bm_port_stats *st = cookie;

	bm_dsb_isb();
	if (st)
		st->mpu_syncs++;
}

void bm_port_init(struct kmm_port *port, struct bm_port_stats *stats)
{
	*port = (struct kmm_port){
		.cookie = stats,
		.mpu_write = port_mpu_write,
		.mpu_sync = port_mpu_sync,
		.log = bm_port_log,
	};
}
