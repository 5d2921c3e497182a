/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file pmsa.h
 * @brief The PMSA backend: MPU region sets for Armv8-R (AArch64 and
 *        AArch32) and Armv8-M behind the kmm_as map/unmap API.
 *
 * An MPU has a small number of slots (MPUIR: typically 16 to 32, at most
 * 255); each holds one region [base, limit] with one set of attributes.
 * PMSAv8 regions must never overlap: an access that hits two enabled
 * regions faults. A struct kmm_pmsa is one region set: the hypervisor's own
 * (bank 0, EL2) or one guest's (bank 1, the EL1 / stage-2 view loaded on a
 * vCPU switch). It keeps its regions sorted, never overlapping and merged
 * as far as possible (adjacent regions with identical attributes, owner
 * and flags become one), so that the slot budget lasts.
 *
 * Identity only: an MPU does not translate, so every mapping has VA == PA
 * and kmm_map() with va != pa returns KMM_ENOTSUP; kmm_as_caps() reports
 * KMM_CAP_IDENTITY_ONLY. A caller that would let the backend choose a VA
 * (vmap, ioremap, the regions module's "any VA" requests) asks with
 * va == pa on a space with that capability and gets pa back as the VA. A
 * non-contiguous vmap cannot be expressed (KMM_CAP_NONCONTIG is clear).
 *
 * Reference counts: mapping a range that lies entirely inside mapped
 * memory with the same attributes and owner does not use a slot: the
 * bytes' reference count goes up, and unmapping only removes bytes whose
 * count drops to zero. Unmapping part of a region splits it only if a
 * slot is free, else KMM_ENOSPC and nothing changes.
 *
 * Hardware writes: while a set is live (loaded in the MPU) every change is
 * written through port.mpu_write()/mpu_sync() in an order that never makes
 * two enabled slots overlap: slots that go away are disabled first; a slot
 * whose region grows or shrinks with the same attributes is rewritten in
 * place, so the bytes it keeps stay mapped; new regions come last. This
 * relies on the port writing the base register before the limit register
 * of one slot (PRSELR; PRBAR; PRLAR), as Xen and every Arm example do.
 * A range whose attributes change is briefly unmapped (break before make).
 *
 * Attribute encoding assumed by the encoders (AttrIndx = kmm memory type):
 * Attr0 Normal write-back, Attr1 Normal non-cacheable, Attr2
 * Device-nGnRnE, Attr3 Device-nGnRE; kmm_pmsa_mair() gives the matching
 * MAIR_EL2 / HMAIR0 / MPU_MAIR0 value.
 */
#ifndef KMM_PMSA_H
#define KMM_PMSA_H

#include "kmm/as.h"
#include "kmm/types.h"

/** Register flavours of a region set. */
enum kmm_pmsa_arch {
	/** Armv8-R AArch64: PRBAR_EL2/PRLAR_EL2, 64-byte granule, 48 bits. */
	KMM_PMSA_ARMV8R_AARCH64 = KMM_CONFIG_PMSA_ARCH_ARMV8R_AARCH64,
	/** Armv8-R AArch32 (Cortex-R52): HPRBAR/HPRLAR, PRBAR/PRLAR. */
	KMM_PMSA_ARMV8R_AARCH32 = KMM_CONFIG_PMSA_ARCH_ARMV8R_AARCH32,
	/** Armv8-M (Cortex-M33): MPU_RBAR/MPU_RLAR, 32-byte granule. */
	KMM_PMSA_ARMV8M = KMM_CONFIG_PMSA_ARCH_ARMV8M,
};

/** Port register bank of the hypervisor's own (EL2) regions. */
#define KMM_PMSA_BANK_HYP 0u
/** Port register bank of the running guest's EL1 / stage-2 regions. */
#define KMM_PMSA_BANK_GUEST 1u

/** Largest number of regions (and slots) one set can hold. */
#define KMM_PMSA_MAX_REGIONS KMM_CONFIG_PMSA_MAX_REGIONS

/** Region flag: boot-only (init text/data); kmm_pmsa_boot_to_runtime()
 *  drops it. Regions only merge with regions of the same flags. */
#define KMM_PMSA_REGION_INIT (1u << 0)

/** One region of a set: bytes [base, limit] in hardware slot @c slot. */
struct kmm_pmsa_region {
	kmm_paddr_t base; /**< First byte, granule aligned. */
	kmm_paddr_t limit; /**< Last byte (inclusive): one below a granule. */
	kmm_attr_t attr; /**< Attributes, as given to kmm_map(). */
	kmm_owner_t owner; /**< Owner of the region. */
	uint8_t flags; /**< KMM_PMSA_REGION_* flags. */
	uint8_t slot; /**< Slot, relative to the set's first slot. */
};

/** Bytes [base, limit] that are mapped @c count (>= 2) times. */
struct kmm_pmsa_ref {
	kmm_paddr_t base; /**< First byte. */
	kmm_paddr_t limit; /**< Last byte (inclusive). */
	uint32_t count; /**< Number of live mappings of these bytes. */
};

/** The encoded content of one slot; @c rlar == 0 means disabled. */
struct kmm_pmsa_slot {
	uint64_t rbar; /**< Base register (PRBAR_EL2, HPRBAR, MPU_RBAR...). */
	uint64_t rlar; /**< Limit register (PRLAR_EL2, HPRLAR, MPU_RLAR...). */
};

/** A range that must stay mapped while the hardware is rewritten. */
struct kmm_pmsa_range {
	kmm_paddr_t base; /**< First byte. */
	size_t size; /**< Size in bytes, non-zero. */
};

/** What kmm_pmsa_boot_to_runtime() did. */
struct kmm_pmsa_report {
	unsigned int slots_before; /**< Slots used by the boot set. */
	unsigned int slots_after; /**< Slots used by the run-time set. */
	unsigned int first_free; /**< Every slot from here on is free. */
	unsigned int dropped; /**< Init regions removed. */
	unsigned int writes; /**< Slot writes issued through the port. */
};

/** Configuration of the hypervisor's region set and the guest window. */
struct kmm_pmsa_config {
	/** enum kmm_pmsa_arch; 0 selects KMM_CONFIG_PMSA_ARCH. */
	unsigned int arch;
	/** Bank-0 slots [0, hyp_slots) the hypervisor set may use. */
	unsigned int hyp_slots;
	/** First bank-1 slot guest sets use. */
	unsigned int guest_first;
	/** Bank-1 slots guests share (one guest loaded at a time). */
	unsigned int guest_slots;
	/**
	 * Banks 0 and 1 are one register file (e.g. an Armv8-R AArch64 EL2
	 * MPU that holds both EL2 stage 1 and EL1 stage 2): the guest window
	 * must then start at or after @c hyp_slots, so that no guest can
	 * ever be given a hypervisor slot.
	 */
	bool shared_mpu;
	/** KMM_AS_* flags of the hypervisor's space (and its guests'). */
	uint32_t as_flags;
};

/**
 * Working space of one update: the next regions and references and the
 * write plan, computed in full before anything is committed. Internal.
 */
struct kmm_pmsa_scratch {
	/** Regions after the update. */
	struct kmm_pmsa_region regions[KMM_PMSA_MAX_REGIONS];
	/** References after the update. */
	struct kmm_pmsa_ref refs[KMM_PMSA_MAX_REGIONS];
	/** Slot contents after the update. */
	struct kmm_pmsa_slot hw[KMM_PMSA_MAX_REGIONS];
	/** Per slot: how it changes (keep, disable, morph, fresh). */
	uint8_t kind[KMM_PMSA_MAX_REGIONS];
	/** Slots rewritten in place, in a safe order. */
	uint8_t morph[KMM_PMSA_MAX_REGIONS];
	unsigned int nregions; /**< Entries of @c regions in use. */
	unsigned int nrefs; /**< Entries of @c refs in use. */
	unsigned int nmorph; /**< Entries of @c morph in use. */
};

/** One MPU region set; embeds the kmm_as that kmm_map() and friends use. */
struct kmm_pmsa {
	struct kmm_as as; /**< The generic address space; ops are PMSA's. */
	/** The hypervisor set for a guest set; NULL in the hypervisor set. */
	const struct kmm_pmsa *hyp;
	unsigned int arch; /**< enum kmm_pmsa_arch of the registers. */
	unsigned int bank; /**< KMM_PMSA_BANK_HYP or KMM_PMSA_BANK_GUEST. */
	unsigned int first_slot; /**< Port slot of this set's slot 0. */
	unsigned int nslots; /**< Slots this set may use (its quota). */
	unsigned int guest_first; /**< Hypervisor set: guest window start. */
	unsigned int guest_slots; /**< Hypervisor set: guest window size. */
	bool live; /**< The set is loaded: changes go to the hardware. */
	unsigned int nregions; /**< Entries of @c regions in use. */
	unsigned int nrefs; /**< Entries of @c refs in use. */
	/** Regions sorted by base, never overlapping, maximally merged. */
	struct kmm_pmsa_region regions[KMM_PMSA_MAX_REGIONS];
	/** Multiply mapped bytes, sorted, never overlapping. */
	struct kmm_pmsa_ref refs[KMM_PMSA_MAX_REGIONS];
	/** What each slot holds (the hardware's content when live). */
	struct kmm_pmsa_slot hw[KMM_PMSA_MAX_REGIONS];
	/** Working space; its content between calls means nothing. */
	struct kmm_pmsa_scratch scratch;
};

/**
 * Encodes region [@p base, @p limit] with @p attr as the base and limit
 * register values of flavour @p arch (enabled, EN = 1).
 * @param arch  enum kmm_pmsa_arch.
 * @param base  first byte, aligned to the flavour's granule (64 or 32).
 * @param limit last byte; @p limit + 1 granule aligned, @p limit >= @p base.
 * @param attr  valid kmm attributes.
 * @param rbar  out: PRBAR_EL2 / HPRBAR / PRBAR / MPU_RBAR value.
 * @param rlar  out: PRLAR_EL2 / HPRLAR / PRLAR / MPU_RLAR value.
 * @return 0; KMM_EINVAL (NULL out pointer, unknown @p arch, invalid
 *         @p attr, @p limit < @p base), KMM_EALIGN, KMM_ERANGE (beyond the
 *         flavour's address size), KMM_ENOTSUP (KMM_ATTR_NS on a flavour
 *         without PRLAR.NS).
 */
int kmm_pmsa_encode(unsigned int arch, kmm_paddr_t base, kmm_paddr_t limit,
		    kmm_attr_t attr, uint64_t *rbar, uint64_t *rlar);

/**
 * Decodes an enabled slot written by kmm_pmsa_encode() back into its range
 * and attributes (KMM_ATTR_NG is never set: an MPU has no ASIDs).
 * @return 0; KMM_EINVAL (unknown @p arch, NULL out pointer), KMM_ENOENT
 *         (EN is 0), KMM_EBADDATA (an AttrIndx kmm does not use).
 */
int kmm_pmsa_decode(unsigned int arch, uint64_t rbar, uint64_t rlar,
		    kmm_paddr_t *base, kmm_paddr_t *limit, kmm_attr_t *attr);

/**
 * Returns the MAIR_EL2 (AArch64), HMAIR0 (AArch32) or MPU_MAIR0 (Armv8-M)
 * value that gives each AttrIndx the memory type the encoders assume, or
 * 0 for an unknown @p arch.
 */
uint64_t kmm_pmsa_mair(unsigned int arch);

/**
 * Returns the region granule of @p arch in bytes (64 or 32), or 0 for an
 * unknown flavour.
 */
uint64_t kmm_pmsa_granule(unsigned int arch);

/**
 * Initialises the hypervisor's region set (bank 0, owner KMM_OWNER_KERNEL)
 * with no region. The set is not live: nothing is written until
 * kmm_pmsa_load() or kmm_pmsa_adopt().
 * @param p    the set.
 * @param port environment callbacks, or NULL (no locking, no hardware).
 * @param cfg  slot budget and flavour.
 * @return 0; KMM_EINVAL (NULL argument, unknown flavour, zero or too many
 *         slots, a shared guest window that overlaps the hypervisor's).
 */
int kmm_pmsa_init(struct kmm_pmsa *p, const struct kmm_port *port,
		  const struct kmm_pmsa_config *cfg);

/**
 * Initialises a guest's region set: bank 1, slots [guest_first,
 * guest_first + @p quota) of the window @p hyp was configured with; never a
 * hypervisor slot. Not live until kmm_pmsa_switch() loads it.
 * @return 0; KMM_EINVAL (NULL, @p owner is the kernel or none, zero quota,
 *         @p hyp is a guest set), KMM_EQUOTA (@p quota exceeds the window).
 */
int kmm_pmsa_guest_init(struct kmm_pmsa *g, const struct kmm_pmsa *hyp,
			kmm_owner_t owner, unsigned int quota);

/**
 * Maps [@p base, @p base + @p size) identically with @p attr for @p owner
 * and region flags @p flags (e.g. KMM_PMSA_REGION_INIT for boot regions).
 * Same rules and return codes as kmm_map() with va == pa; takes the lock.
 * @return as kmm_map(); KMM_EINVAL also for unknown @p flags or an owner
 *         of KMM_OWNER_NONE.
 */
int kmm_pmsa_add(struct kmm_pmsa *p, kmm_paddr_t base, size_t size,
		 kmm_attr_t attr, kmm_owner_t owner, unsigned int flags);

/**
 * Unmaps [@p base, @p base + @p size) on behalf of @p owner: as kmm_unmap(),
 * but KMM_EPERM when a mapped byte of the range belongs to another owner
 * (the kernel owner may remove anything).
 */
int kmm_pmsa_remove(struct kmm_pmsa *p, kmm_paddr_t base, size_t size,
		    kmm_owner_t owner);

/**
 * Returns how many more regions @p p can hold (its slots minus its
 * regions), or KMM_EINVAL when @p p is NULL.
 */
int kmm_pmsa_free_slots(const struct kmm_pmsa *p);

/**
 * Writes every slot of @p p to the hardware (disabling the unused ones)
 * and marks it live. For a hypervisor set whose MPU is not yet enabled.
 * @return the number of slot writes; KMM_EINVAL; KMM_EBUSY when @p p is a
 *         guest set (use kmm_pmsa_switch()).
 */
int kmm_pmsa_load(struct kmm_pmsa *p);

/**
 * Marks the hypervisor set @p p live without writing anything: the boot
 * code has already programmed exactly the slots in @p p->hw.
 * @return 0; KMM_EINVAL; KMM_EBUSY for a guest set.
 */
int kmm_pmsa_adopt(struct kmm_pmsa *p);

/**
 * Replaces the boot set by the run-time set: drops every
 * KMM_PMSA_REGION_INIT region, merges what becomes mergeable and packs the
 * regions into the lowest slots, so that the free slots form one tail.
 * While @p p is live, the registers are rewritten so that each range of
 * @p keep (the running code, the stack the update uses) stays mapped at
 * every step: the region holding it keeps its slot and is rewritten in
 * place; other moved regions are disabled before they are rewritten.
 * @param p     the hypervisor set.
 * @param keep  ranges that must stay mapped, or NULL.
 * @param nkeep entries of @p keep.
 * @param rep   out: slots before and after, writes issued; or NULL.
 * @return 0; KMM_EINVAL; KMM_EBUSY (a @p keep range is not inside one
 *         region that survives unchanged in attributes, or is dropped);
 *         nothing changed on error.
 */
int kmm_pmsa_boot_to_runtime(struct kmm_pmsa *p,
			     const struct kmm_pmsa_range *keep, size_t nkeep,
			     struct kmm_pmsa_report *rep);

/**
 * Loads guest set @p to in place of @p from (NULL: the guest slots hold
 * something unknown). Only slots whose content differs are written, then
 * one mpu_sync. Guest regions are not used by the hypervisor itself, so
 * the order of the writes does not matter while no guest runs.
 * @return the number of slot writes; KMM_EINVAL (NULL @p to, a set that is
 *         not a guest set, sets of different hypervisor sets, @p from not
 *         live, @p to already live).
 */
int kmm_pmsa_switch(struct kmm_pmsa *from, struct kmm_pmsa *to);

#endif /* KMM_PMSA_H */
