/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file port.h
 * @brief What an environment (OP-TEE, Xen, a bare-metal kernel, the host
 *        test build) supplies to kmm: locking, TLB and cache maintenance,
 *        access to physical memory, scrubbing, MPU and SMMU register access
 *        and logging.
 *
 * The core never includes a port header: the caller fills a struct kmm_port
 * and hands a pointer to it to every context it initialises. The struct must
 * outlive those contexts. Every callback gets the port's @c cookie first.
 *
 * TLB maintenance has the shape of Linux io-pgtable: a whole flush of one
 * ASID/VMID, a flush of a range, single pages added to a gather batch, and a
 * sync that completes everything issued so far. The contract on the barriers
 * is the Arm ARM's break-before-make sequence: kmm writes the invalid
 * descriptor (and cleans it with @c clean_range when walks are not
 * coherent), then calls a TLBI callback, which must order the preceding
 * descriptor writes before the invalidation (DSB ISHST on Armv8-A), then
 * calls @c tlb_sync, which must not return before every invalidation issued
 * is complete (DSB ISH; ISB). Only then is the new descriptor written.
 */
#ifndef KMM_PORT_H
#define KMM_PORT_H

#include "kmm/types.h"

/** Translation regimes a TLB maintenance request applies to. */
enum kmm_regime {
	KMM_REGIME_EL1 = 0, /**< Stage 1 of EL1&0, tagged with an ASID. */
	KMM_REGIME_EL2 = 1, /**< Stage 1 of EL2 (no ASID unless E2H). */
	KMM_REGIME_STAGE2 = 2, /**< Stage 2 of EL1&0, tagged with a VMID. */
	KMM_REGIME_EL3 = 3, /**< Stage 1 of EL3. */
};

/** Identifies the translations a TLB maintenance callback must remove. */
struct kmm_tlb_ctx {
	uint8_t regime; /**< One of enum kmm_regime. */
	uint8_t shared_smmu; /**< Nonzero: an SMMU walks the same tables. */
	uint16_t id; /**< ASID (stage 1) or VMID (stage 2). */
};

/** The callbacks and cookie an environment hands to kmm. */
struct kmm_port {
	/** Opaque pointer passed first to every callback. */
	void *cookie;

	/**
	 * Takes the lock that serialises every mutation of kmm state sharing
	 * this port. NULL when the environment is single-threaded.
	 *
	 * The lock must be recursive for the calling CPU or thread: when one
	 * kmm module calls another (the VMSA backend allocating a table page
	 * from the page allocator while it holds the address space's lock,
	 * the regions layer mapping through an address space), the same lock
	 * is taken again. An environment that prefers separate locks gives
	 * each context its own port and keeps the nesting order regions,
	 * vaspace, address space, page allocator.
	 */
	void (*lock)(void *cookie);
	/** Releases the lock taken by @c lock. NULL together with @c lock. */
	void (*unlock)(void *cookie);

	/** Invalidates every TLB entry of the ASID/VMID in @p ctx. */
	void (*tlb_flush_all)(void *cookie, const struct kmm_tlb_ctx *ctx);
	/**
	 * Invalidates the TLB entries for [@p va, @p va + @p size) in steps of
	 * @p granule; when @p leaf_only is false, cached table walks too.
	 */
	void (*tlb_flush_range)(void *cookie, const struct kmm_tlb_ctx *ctx,
				kmm_vaddr_t va, size_t size, size_t granule,
				bool leaf_only);
	/**
	 * Adds one invalidation of the translation of @p va (mapped with a
	 * leaf of size @p granule) to the current batch; it need not be
	 * complete before @c tlb_sync returns.
	 */
	void (*tlb_add_page)(void *cookie, const struct kmm_tlb_ctx *ctx,
			     kmm_vaddr_t va, size_t granule, bool leaf_only);
	/** Completes every invalidation issued so far (DSB ISH; ISB). */
	void (*tlb_sync)(void *cookie, const struct kmm_tlb_ctx *ctx);

	/**
	 * Cleans the data cache lines of [@p ptr, @p ptr + @p size) of table
	 * memory to the point of coherency, for walkers that do not snoop.
	 * NULL when table walks are cache coherent.
	 */
	void (*clean_range)(void *cookie, const void *ptr, size_t size);

	/**
	 * Returns a pointer through which the kernel can access the physical
	 * range starting at @p pa (table pages, pages to scrub), or NULL if
	 * it cannot. Required by the VMSA backend.
	 */
	void *(*pa_to_ptr)(void *cookie, kmm_paddr_t pa);
	/**
	 * Zeroes the physical range [@p pa, @p pa + @p size). NULL: kmm
	 * zeroes through @c pa_to_ptr.
	 */
	void (*scrub)(void *cookie, kmm_paddr_t pa, size_t size);

	/**
	 * Writes MPU region @p slot of register bank @p bank (0: the
	 * hypervisor's EL2 regions, 1: the EL1 / stage-2 regions of the
	 * running guest) with the encoded base and limit registers. A zero
	 * @p rlar disables the slot. Required by the PMSA backend when it
	 * programs hardware.
	 */
	void (*mpu_write)(void *cookie, unsigned int bank, unsigned int slot,
			  uint64_t rbar, uint64_t rlar);
	/** Makes MPU writes take effect (DSB; ISB). */
	void (*mpu_sync)(void *cookie);

	/**
	 * Submits one 16-byte SMMUv3 command (CFGI_STE, TLBI_S2_IPA, SYNC,
	 * ...) to the command queue. NULL when no SMMU shares tables.
	 */
	void (*smmu_cmd)(void *cookie, const uint64_t cmd[2]);

	/** Prints one line of diagnostics. NULL to drop them. */
	void (*log)(void *cookie, const char *line);
};

#endif /* KMM_PORT_H */
