/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file vmsa.h
 * @brief Armv8-A VMSAv8-64 translation tables behind the kmm_as API:
 *        stage 1 (EL1&0 with an ASID, EL2) and stage 2 (IPA with a VMID,
 *        concatenated root tables), 4 KiB, 16 KiB and 64 KiB granules.
 *
 * A struct kmm_vmsa embeds a struct kmm_as; after kmm_vmsa_init() callers
 * use &vmsa.as with kmm_map(), kmm_unmap(), kmm_protect(), kmm_query(),
 * kmm_as_dump() and kmm_as_destroy(). Table pages come from a struct
 * kmm_pages under the address space's owner and are reached through the
 * port's pa_to_ptr.
 *
 * Every change of a valid descriptor follows break-before-make: the entry
 * is made invalid (and cleaned when walks are not coherent), a TLB
 * invalidation for it is added to the port's batch (tlb_add_page per leaf
 * up to KMM_CONFIG_TLBI_THRESHOLD, one tlb_flush_all beyond), tlb_sync is
 * called, and only then is the new entry written. Filling invalid entries
 * needs no invalidation; a map ends with one tlb_sync so that the new
 * descriptors are visible to the walker before the caller uses them.
 * Every table a call needs is allocated before the first descriptor
 * changes, so KMM_ENOMEM leaves the tables exactly as they were.
 */
#ifndef KMM_VMSA_H
#define KMM_VMSA_H

#include "kmm/as.h"
#include "kmm/errors.h"

struct kmm_pages;

/** Config flag: the table walker does not snoop the data cache. */
#define KMM_VMSA_NONCOHERENT_WALK (1u << 0)
/** Config flag: never use block descriptors, map with pages only. */
#define KMM_VMSA_NO_BLOCKS (1u << 1)
/** Config flag: after map and protect, fold full tables back to blocks. */
#define KMM_VMSA_AUTO_FOLD (1u << 2)
/** Config flag: 16-bit ASID (TCR_EL1.AS) or VMID (VTCR_EL2.VS). */
#define KMM_VMSA_ID16 (1u << 3)
/** Config flag: an SMMU walks the same tables (passed to TLB callbacks). */
#define KMM_VMSA_SHARED_SMMU (1u << 4)

/** kmm_vmsa_config.start_level: choose the stage-2 start level. */
#define KMM_VMSA_LEVEL_AUTO (-1)

/** Deepest lookup level of VMSAv8-64 (pages live there). */
#define KMM_VMSA_LAST_LEVEL 3

/**
 * What an address space looks like. Fill it with kmm_vmsa_config_init()
 * and change the fields that differ; kmm_vmsa_init() validates it.
 */
struct kmm_vmsa_config {
	/**
	 * Translation regime: KMM_REGIME_EL1 (stage 1 of EL1&0, tagged with
	 * @c id as ASID), KMM_REGIME_EL2 (stage 1 of EL2 with HCR_EL2.E2H 0,
	 * one privilege level) or KMM_REGIME_STAGE2 (stage 2 of EL1&0,
	 * tagged with @c id as VMID).
	 */
	uint8_t regime;
	/** log2 of the translation granule: 12, 14 or 16. */
	uint8_t granule_shift;
	/** Width of the input address (VA, or IPA at stage 2): 32 to 48. */
	uint8_t va_bits;
	/** Output (physical) address size: 32, 36, 40, 42, 44 or 48. */
	uint8_t oa_bits;
	/**
	 * Stage 2 only: lookup level the walk starts at, or
	 * KMM_VMSA_LEVEL_AUTO for the deepest level that needs at most 16
	 * concatenated root tables. Ignored at stage 1, where the start
	 * level follows from @c va_bits.
	 */
	int8_t start_level;
	/**
	 * MAIR attribute index used for each KMM_MT_* memory type (stage 1);
	 * the indexes must differ and be below 8. kmm_vmsa_mair() gives the
	 * MAIR value these indexes assume.
	 */
	uint8_t mair_index[KMM_MT_COUNT];
	/** ASID (EL1) or VMID (stage 2) the tables are tagged with. */
	uint16_t id;
	/** OR of KMM_VMSA_* config flags. */
	uint32_t flags;
	/**
	 * Most frames the tables may take, the root tables included; 0: no
	 * limit. A call that would need more fails with KMM_EQUOTA and
	 * changes nothing. The guest layer bounds a guest's stage-2 table
	 * pages with it (kmm_guest_create()).
	 */
	uint64_t max_table_pages;
};

/** A VMSAv8-64 address space: one set of translation tables. */
struct kmm_vmsa {
	/** The generic address space; hand &as to the kmm_as API. */
	struct kmm_as as;
	/** Validated configuration. */
	struct kmm_vmsa_config cfg;
	/** Page allocator table pages come from. */
	struct kmm_pages *pages;
	/** PA of the root table (all concatenated root tables). */
	kmm_paddr_t root_pa;
	/** Entries of the root table (all concatenated tables together). */
	uint32_t root_entries;
	/** Number of concatenated root tables (1 at stage 1). */
	uint8_t root_tables;
	/** Level the walk starts at. */
	uint8_t start_level;
	/** Table pages held, the root included. */
	uint64_t tables;
	/** Leaf (block or page) descriptors written so far, for statistics. */
	uint64_t leaf_writes;
};

/** Why kmm_vmsa_walk() stopped without a translation. */
enum kmm_vmsa_fault {
	KMM_VMSA_FAULT_NONE = 0, /**< Translated. */
	KMM_VMSA_FAULT_TRANSLATION = 1, /**< Invalid or reserved descriptor. */
	KMM_VMSA_FAULT_ADDRESS_SIZE = 2, /**< Address beyond the OA size. */
	KMM_VMSA_FAULT_ACCESS_FLAG = 3, /**< Leaf with AF clear. */
};

/** The result of a software table walk. */
struct kmm_vmsa_walk {
	/** The leaf descriptor, or the one that faulted (0 if none read). */
	uint64_t desc;
	/** PA of @c desc in its table. */
	kmm_paddr_t desc_pa;
	/** Output address of the walked address (leaf base + offset). */
	kmm_paddr_t pa;
	/** Bytes the leaf maps (page or block size). */
	uint64_t size;
	/** Attributes decoded from the leaf. */
	kmm_attr_t attr;
	/** Level of the leaf or of the fault. */
	uint8_t level;
	/** One of enum kmm_vmsa_fault. */
	uint8_t fault;
};

/**
 * Fills @p cfg with the defaults for @p regime: the meson granule and
 * address width (KMM_CONFIG_VMSA_GRANULE_SHIFT, KMM_CONFIG_VA_BITS), a
 * 48-bit (40-bit at stage 2 with a smaller IPA) output size no smaller
 * than the input, coherent walks, blocks on, no folding, identity MAIR
 * indexes (memory type n uses index n) and id 0.
 * @return 0; KMM_EINVAL when @p cfg is NULL or @p regime unknown;
 *         KMM_ENOTSUP for KMM_REGIME_STAGE2 when the build leaves stage 2
 *         out (KMM_CONFIG_VMSA_STAGE2 0).
 */
int kmm_vmsa_config_init(struct kmm_vmsa_config *cfg, unsigned int regime);

/**
 * Validates @p cfg, allocates the (zeroed) root table(s) from @p pages
 * under @p owner and makes @p v a usable address space.
 * @param v      the context to set up; overwritten.
 * @param cfg    the configuration (copied).
 * @param port   environment callbacks; pa_to_ptr is required.
 * @param pages  page allocator for table pages.
 * @param owner  owner of the address space and its table pages.
 * @param as_flags KMM_AS_* flags (e.g. KMM_AS_ALLOW_WX).
 * @return 0; KMM_EINVAL (NULL argument, no pa_to_ptr, unknown flags or
 *         regime, bad MAIR indexes), KMM_ENOTSUP (granule, address sizes
 *         or start level the architecture does not allow; a granule or
 *         stage 2 the build leaves out, see KMM_CONFIG_VMSA_GRANULE_4K
 *         and KMM_CONFIG_VMSA_STAGE2), KMM_EQUOTA
 *         (the root tables alone exceed @c max_table_pages), KMM_ENOMEM.
 */
int kmm_vmsa_init(struct kmm_vmsa *v, const struct kmm_vmsa_config *cfg,
		  const struct kmm_port *port, struct kmm_pages *pages,
		  kmm_owner_t owner, uint32_t as_flags);

/**
 * Returns the frames the tables of @p v take now, the root tables
 * included (0 after kmm_as_destroy()), or 0 when @p v is NULL.
 */
uint64_t kmm_vmsa_table_pages(const struct kmm_vmsa *v);

/**
 * Walks the tables for @p va exactly as the hardware does: descriptor
 * types per level (level-3 0b01 is reserved, blocks only where the
 * granule allows them), output addresses checked against the OA size, the
 * access flag checked, attributes decoded. Takes no lock: the caller
 * serialises against changes.
 * @return 0 with @p out filled; KMM_EINVAL (NULL argument);
 *         KMM_ERANGE (@p va above the input range); KMM_ENOENT (a fault:
 *         @p out->fault and @p out->level say where); KMM_EBADDATA (the
 *         leaf translates but uses attributes kmm never writes).
 */
int kmm_vmsa_walk(const struct kmm_vmsa *v, kmm_vaddr_t va,
		  struct kmm_vmsa_walk *out);

/**
 * Replaces every table in [@p va, @p va + @p size) whose entries map one
 * aligned, contiguous range with one attribute by a block descriptor (with
 * break-before-make) and frees the table after the TLB invalidation.
 * @return the number of tables folded (>= 0); KMM_EINVAL, KMM_ERANGE,
 *         KMM_EALIGN as kmm_unmap().
 */
int kmm_vmsa_fold(struct kmm_vmsa *v, kmm_vaddr_t va, size_t size);

/**
 * Encodes @p attr into the attribute bits of a leaf descriptor of @p v
 * (everything but the output address and the type bits [1:0]).
 * @return 0; KMM_EINVAL (invalid attributes); KMM_ENOTSUP (the regime
 *         cannot express them: USER or NG at EL2, NS, NG or USER at
 *         stage 2, X on Device memory).
 */
int kmm_vmsa_attr_encode(const struct kmm_vmsa *v, kmm_attr_t attr,
			 uint64_t *bits);

/**
 * Decodes the attribute bits of leaf descriptor @p desc of @p v.
 * @return 0; KMM_EINVAL (NULL argument); KMM_EBADDATA when the bits are
 *         not exactly what kmm_vmsa_attr_encode() writes for some @p attr.
 */
int kmm_vmsa_attr_decode(const struct kmm_vmsa *v, uint64_t desc,
			 kmm_attr_t *attr);

/**
 * Returns the MAIR_ELx value the descriptors of @p v assume: attribute
 * 0xff (Normal, write-back read/write-allocate) for KMM_MT_NORMAL_WB,
 * 0x44 (Normal non-cacheable) for KMM_MT_NORMAL_NC, 0x00 for
 * Device-nGnRnE and 0x04 for Device-nGnRE, each at its configured index.
 * Unused indexes are 0. Stage 2 has no MAIR: returns 0.
 */
uint64_t kmm_vmsa_mair(const struct kmm_vmsa *v);

/**
 * Returns the TCR_EL1 (EL1 regime: TTBR0 walks only, EPD1 set),
 * TCR_EL2 (EL2 regime, RES1 bits 31 and 23 set) or VTCR_EL2 (stage 2,
 * RES1 bit 31, SL0 from the start level) value for @p v: T0SZ from the
 * input size, inner/outer write-back write-allocate inner-shareable walks
 * (non-cacheable, non-shareable with KMM_VMSA_NONCOHERENT_WALK), TG0 from
 * the granule, IPS/PS from the output size, AS/VS with KMM_VMSA_ID16.
 */
uint64_t kmm_vmsa_tcr(const struct kmm_vmsa *v);

/**
 * Returns the TTBR0_EL1 (root PA, ASID in [63:48]), TTBR0_EL2 (root PA)
 * or VTTBR_EL2 (root PA, VMID in [63:48] or [55:48]) value for @p v.
 */
uint64_t kmm_vmsa_ttbr(const struct kmm_vmsa *v);

#endif /* KMM_VMSA_H */
