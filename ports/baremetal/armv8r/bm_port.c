// SPDX-License-Identifier: BSD-2-Clause
/* Armv8-R AArch32 kmm_port (see bm_port.h). */
#include "bm_port.h"

#include "../bm.h"
#include "bm_armv8r.h"

static void port_mpu_write(void *cookie, unsigned int bank, unsigned int slot,
			   uint64_t rbar, uint64_t rlar)
{
	struct bm_port_stats *st = cookie;

	/*
	 * Base before limit and never a disable in between: kmm rewrites the
	 * slot that maps the running code in place, and relies on this order
	 * to keep the bytes both the old and the new region cover mapped.
	 */
	if (bank == 0) {
		bm_cp15_write(4, c6, c2, 1, slot); /* HPRSELR */
		__asm__ volatile("isb" ::: "memory");
		bm_cp15_write(4, c6, c3, 0, (uint32_t)rbar); /* HPRBAR */
		bm_cp15_write(4, c6, c3, 1, (uint32_t)rlar); /* HPRLAR */
	} else {
		bm_cp15_write(0, c6, c2, 1, slot); /* PRSELR */
		__asm__ volatile("isb" ::: "memory");
		bm_cp15_write(0, c6, c3, 0, (uint32_t)rbar); /* PRBAR */
		bm_cp15_write(0, c6, c3, 1, (uint32_t)rlar); /* PRLAR */
	}
	if (st)
		st->mpu_writes[bank != 0]++;
}

void bm_mpu_read(unsigned int bank, unsigned int slot, uint32_t *rbar,
		 uint32_t *rlar)
{
	if (bank == 0) {
		bm_cp15_write(4, c6, c2, 1, slot);
		__asm__ volatile("isb" ::: "memory");
		*rbar = bm_cp15_read(4, c6, c3, 0);
		*rlar = bm_cp15_read(4, c6, c3, 1);
	} else {
		bm_cp15_write(0, c6, c2, 1, slot);
		__asm__ volatile("isb" ::: "memory");
		*rbar = bm_cp15_read(0, c6, c3, 0);
		*rlar = bm_cp15_read(0, c6, c3, 1);
	}
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
