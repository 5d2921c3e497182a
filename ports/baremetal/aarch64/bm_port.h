/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The struct kmm_port a bare-metal AArch64 kernel hands to kmm: real TLB
 * invalidation with the barriers the Arm ARM's break-before-make sequence
 * needs, real cache maintenance of table memory, identity access to
 * physical memory (the kernel runs with VA == PA for RAM), console logging.
 * Single core: no lock.
 */
#ifndef KMM_BM_AARCH64_PORT_H
#define KMM_BM_AARCH64_PORT_H

#include "kmm/port.h"

/* Counts what kmm asked of the hardware, so a test can check it happened. */
struct bm_port_stats {
	uint64_t tlbi_all; /* Whole-ASID/VMID invalidations. */
	uint64_t tlbi_pages; /* Per-page invalidations issued. */
	uint64_t syncs; /* tlb_sync calls. */
	uint64_t cleaned_bytes; /* Bytes of table memory cleaned to PoC. */
};

/* Fills @port with the AArch64 callbacks; @stats may be NULL. */
void bm_port_init(struct kmm_port *port, struct bm_port_stats *stats);

/* Cleans and invalidates [ptr, ptr + size) to the point of coherency. */
void bm_dcache_clean_inval(const void *ptr, size_t size);

#endif /* KMM_BM_AARCH64_PORT_H */
