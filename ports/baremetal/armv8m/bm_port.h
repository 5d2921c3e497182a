/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The struct kmm_port of a bare-metal Armv8-M kernel: kmm's region sets
 * are written to the one MPU through MPU_RNR/MPU_RBAR/MPU_RLAR (base
 * before limit, as the PMSA backend requires), completed by DSB; ISB.
 * Both of kmm's banks name the same MPU: an Armv8-M core has no EL2.
 * Single core: no lock.
 */
#ifndef KMM_BM_ARMV8M_PORT_H
#define KMM_BM_ARMV8M_PORT_H

#include "kmm/port.h"

/* Counts what kmm asked of the hardware. */
struct bm_port_stats {
	uint32_t mpu_writes; /* Slot writes. */
	uint32_t mpu_syncs; /* mpu_sync calls. */
};

/* Fills @port with the Armv8-M callbacks; @stats may be NULL. */
void bm_port_init(struct kmm_port *port, struct bm_port_stats *stats);

#endif /* KMM_BM_ARMV8M_PORT_H */
