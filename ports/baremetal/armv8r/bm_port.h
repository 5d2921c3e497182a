/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The struct kmm_port of a bare-metal Armv8-R AArch32 hypervisor
 * (Cortex-R52): bank 0 (the hypervisor's own regions) is the EL2 MPU,
 * written through HPRSELR/HPRBAR/HPRLAR; bank 1 (the running guest's
 * regions) is the EL1 MPU, written through PRSELR/PRBAR/PRLAR. Base before
 * limit, as the PMSA backend requires; mpu_sync is DSB; ISB. Single core:
 * no lock.
 */
#ifndef KMM_BM_ARMV8R_PORT_H
#define KMM_BM_ARMV8R_PORT_H

#include "kmm/port.h"

/* Counts what kmm asked of the hardware. */
struct bm_port_stats {
	uint32_t mpu_writes[2]; /* Slot writes per bank. */
	uint32_t mpu_syncs; /* mpu_sync calls. */
};

/* Fills @port with the Armv8-R AArch32 callbacks; @stats may be NULL. */
void bm_port_init(struct kmm_port *port, struct bm_port_stats *stats);

/* Reads back slot @slot of bank @bank (0: EL2 MPU, 1: EL1 MPU). */
void bm_mpu_read(unsigned int bank, unsigned int slot, uint32_t *rbar,
		 uint32_t *rlar);

#endif /* KMM_BM_ARMV8R_PORT_H */
