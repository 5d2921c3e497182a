/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file smmu.h
 * @brief SMMUv3 stage-2 sharing: Stream Table Entries that point an SMMU
 *        at a guest's stage-2 tables, the commands that keep the SMMU's
 *        caches coherent with them, and stream-ID ownership.
 *
 * A device (a stream ID) may DMA only through the stage 2 of the owner that
 * holds its stream ID. A stream that nobody holds, or whose owner let go of
 * it, is set to abort (STE.V = 1, STE.Config = 0b000): kmm never writes a
 * bypass STE. Every STE change is followed by CMD_CFGI_STE and CMD_SYNC
 * through the port's @c smmu_cmd hook, so that no stale configuration stays
 * cached in the SMMU.
 *
 * Field positions follow the SMMUv3 specification (Arm IHI 0070), section
 * 5.2 "STE, Stream Table Entry" and chapter 4 "Commands". Only Non-secure,
 * stage-2-only (Config = 0b110), VMSAv8-64 configurations are produced.
 *
 * Contract with the port (in addition to port.h):
 * - @c smmu_cmd must make every earlier write to the stream table and to
 *   translation tables visible to the SMMU before the command is published
 *   (DSB ISHST before updating CMDQ_PROD), and, for CMD_SYNC, must not
 *   return before the SMMU has completed it (CMDQ_CONS has passed it).
 * - When the SMMU does not snoop the stream table, @c clean_range cleans the
 *   STE kmm just wrote; kmm calls it before every CMD_CFGI_STE.
 *
 * Locking: every kmm_smmu_* call that changes state takes the port lock.
 */
#ifndef KMM_SMMU_H
#define KMM_SMMU_H

#include "kmm/port.h"
#include "kmm/types.h"

/** Number of 64-bit words in one Stream Table Entry (64 bytes). */
#define KMM_SMMU_STE_WORDS 8
/** Size in bytes of one Stream Table Entry; STEs are 64-byte aligned. */
#define KMM_SMMU_STE_SIZE 64

/** Opcode of CMD_CFGI_STE (SMMUv3 4.3.1). */
#define KMM_SMMU_OP_CFGI_STE 0x03u
/** Opcode of CMD_CFGI_STE_RANGE and CMD_CFGI_ALL (SMMUv3 4.3.2, 4.3.6). */
#define KMM_SMMU_OP_CFGI_ALL 0x04u
/** Opcode of CMD_TLBI_S12_VMALL (SMMUv3 4.4.3.2). */
#define KMM_SMMU_OP_TLBI_S12_VMALL 0x28u
/** Opcode of CMD_TLBI_S2_IPA (SMMUv3 4.4.3.1). */
#define KMM_SMMU_OP_TLBI_S2_IPA 0x2au
/** Opcode of CMD_SYNC (SMMUv3 4.7). */
#define KMM_SMMU_OP_SYNC 0x46u

/** Flag of struct kmm_smmu_s2_cfg: record stage-2 faults (STE.S2R). */
#define KMM_SMMU_S2_RECORD_FAULTS (1u << 0)
/**
 * Flag of struct kmm_smmu_s2_cfg: STE.SHCFG = 0b01, use the incoming
 * shareability. Only for SMMUs with SMMU_IDR1.ATTR_TYPES_OVR == 1, where
 * the field is not RES0.
 */
#define KMM_SMMU_S2_SHCFG_INCOMING (1u << 1)

/**
 * An explicit description of a stage-2 translation, from which
 * kmm_smmu_ste_encode_s2() builds the STE. The values are the ones the
 * CPU's VTCR_EL2 and VTTBR_EL2 hold for the same tables, in plain units.
 */
struct kmm_smmu_s2_cfg {
	/**
	 * PA of the starting-level table (the first of the concatenated
	 * tables), aligned to the size of all of them together (STE.S2TTB,
	 * VTTBR_EL2.BADDR).
	 */
	kmm_paddr_t root_pa;
	/** VMID the SMMU tags its TLB entries with (STE.S2VMID). */
	uint16_t vmid;
	/** Width of the IPA space, 25 to 48 (STE.S2T0SZ = 64 - ipa_bits). */
	uint8_t ipa_bits;
	/** log2 of the translation granule: 12, 14 or 16 (STE.S2TG). */
	uint8_t granule_shift;
	/**
	 * Level of the initial lookup (STE.S2SL0): 0 to 2 with 4K pages,
	 * 1 to 3 with 16K and 64K pages. The initial level may resolve at
	 * most 4 bits more than one table does (up to 16 concatenated
	 * tables), as the Arm ARM allows for stage 2.
	 */
	uint8_t start_level;
	/** Output address size: 32, 36, 40, 42, 44 or 48 (STE.S2PS). */
	uint8_t pa_bits;
	/** Inner cacheability of table walks, VTCR encoding (STE.S2IR0). */
	uint8_t walk_inner;
	/** Outer cacheability of table walks, VTCR encoding (STE.S2OR0). */
	uint8_t walk_outer;
	/** Shareability of table walks: 0, 2 or 3 (STE.S2SH0). */
	uint8_t walk_share;
	/** OR of KMM_SMMU_S2_* flags. */
	uint32_t flags;
};

/** What the SMMU implements, from its ID registers. */
struct kmm_smmu_caps {
	/** Output address size, SMMU_IDR5.OAS in bits (32 to 48). */
	uint8_t oas_bits;
	/** VMID width: 8 or 16 (SMMU_IDR0.VMID16). */
	uint8_t vmid_bits;
	/**
	 * Supported granules: bit 12, 14 and/or 16 set for 4K, 16K, 64K
	 * (SMMU_IDR5.GRAN4K, GRAN16K, GRAN64K).
	 */
	uint32_t granules;
};

/** Per-stream-ID bookkeeping, one per stream ID, in caller memory. */
struct kmm_smmu_stream {
	uint32_t next; /**< Next stream of the same owner, or KMM_SMMU_NIL. */
	uint32_t prev; /**< Previous stream of the same owner, or NIL. */
	kmm_owner_t owner; /**< Holder, or KMM_OWNER_NONE when free. */
	uint8_t translating; /**< Nonzero: the STE translates (Config 110). */
	uint8_t reserved; /**< Zero. */
};

/** Per-owner bookkeeping, KMM_CONFIG_MAX_OWNERS of them, in caller memory. */
struct kmm_smmu_owner {
	/**
	 * STE words 2 and 3 (S2VMID ... S2R, S2TTB) every translating stream
	 * of the owner uses; valid while @c translating is nonzero.
	 */
	uint64_t s2_words[2];
	uint32_t head; /**< First stream held, or KMM_SMMU_NIL. */
	uint32_t translating; /**< Streams of this owner that translate. */
};

/** "No stream" in the per-owner lists. */
#define KMM_SMMU_NIL UINT32_MAX

/** Where the stream table and the bookkeeping of one SMMU live. */
struct kmm_smmu_config {
	const struct kmm_port *port; /**< Environment; @c smmu_cmd required. */
	/**
	 * The linear stream table, @c num_sids * 64 bytes, 64-byte aligned,
	 * or NULL to reach it through @c port->pa_to_ptr(@c strtab_pa).
	 */
	void *strtab;
	kmm_paddr_t strtab_pa; /**< PA of the stream table (when NULL above). */
	uint32_t num_sids; /**< Entries in the stream table, at least 1. */
	/** Bookkeeping memory of kmm_smmu_meta_size(@c num_sids) bytes. */
	void *meta;
	size_t meta_size; /**< Bytes at @c meta. */
	struct kmm_smmu_caps caps; /**< What the SMMU implements. */
};

/** One SMMU: its stream table and who holds which stream ID. */
struct kmm_smmu {
	const struct kmm_port *port; /**< Environment callbacks. */
	uint64_t *strtab; /**< The linear stream table. */
	struct kmm_smmu_stream *streams; /**< One per stream ID. */
	struct kmm_smmu_owner *owners; /**< One per owner id. */
	uint32_t num_sids; /**< Stream IDs 0 .. num_sids - 1. */
	struct kmm_smmu_caps caps; /**< What the SMMU implements. */
};

/**
 * Encodes the Stream Table Entry that makes a stream translate through the
 * stage 2 described by @p cfg: V = 1, Config = 0b110 (stage 1 bypass,
 * stage 2 translate), S2AA64 = 1 (VMSAv8-64), little-endian walks,
 * S2AFFD = 0, no hardware AF/dirty update, S2S = 0 (faults terminate).
 * @param cfg the stage-2 description.
 * @param ste out: the 8 words of the STE (untouched on error).
 * @return 0; KMM_EINVAL (NULL pointer, reserved walk attribute, unknown
 *         flag), KMM_ENOTSUP (granule, start level, PA size or VMID width
 *         not encodable), KMM_ERANGE (@p ipa_bits out of 25..48 or not
 *         reachable from @p start_level with at most 16 concatenated
 *         tables, root beyond @p pa_bits), KMM_EALIGN (root not aligned
 *         to its tables' size).
 */
int kmm_smmu_ste_encode_s2(const struct kmm_smmu_s2_cfg *cfg,
			   uint64_t ste[KMM_SMMU_STE_WORDS]);

/**
 * Encodes the abort STE: V = 1, Config = 0b000. Transactions are
 * terminated with an abort to the device and no event is recorded; the
 * other words are zero.
 * @param ste out: the 8 words of the STE.
 */
void kmm_smmu_ste_encode_abort(uint64_t ste[KMM_SMMU_STE_WORDS]);

/**
 * Encodes CMD_CFGI_STE(StreamID = @p sid, SSec = 0, Leaf = 1): invalidates
 * the cached copies of one STE of a linear stream table.
 * @param cmd out: the two 64-bit words of the command.
 * @param sid the stream ID whose STE changed.
 */
void kmm_smmu_cmd_cfgi_ste(uint64_t cmd[2], uint32_t sid);

/**
 * Encodes CMD_CFGI_ALL (CMD_CFGI_STE_RANGE with Range = 31, SSec = 0):
 * invalidates every cached configuration structure.
 * @param cmd out: the two 64-bit words of the command.
 */
void kmm_smmu_cmd_cfgi_all(uint64_t cmd[2]);

/**
 * Encodes CMD_TLBI_S2_IPA(VMID, Addr, Leaf), without range or level hint
 * (TG = 0): invalidates the stage-2 TLB entries of @p vmid that translate
 * @p ipa, at every level or (@p leaf_only) only the last one.
 * @param cmd       out: the two 64-bit words (untouched on error).
 * @param vmid      the VMID of the stage 2.
 * @param ipa       the intermediate physical address.
 * @param leaf_only only last-level entries need to go (Leaf = 1).
 * @return 0; KMM_EINVAL (NULL @p cmd), KMM_EALIGN (@p ipa not a multiple
 *         of 4 KiB), KMM_ERANGE (@p ipa at or above 2^52).
 */
int kmm_smmu_cmd_tlbi_s2_ipa(uint64_t cmd[2], uint16_t vmid, kmm_paddr_t ipa,
			     bool leaf_only);

/**
 * Encodes CMD_TLBI_S12_VMALL(VMID): invalidates every TLB entry of
 * @p vmid, at both stages.
 * @param cmd  out: the two 64-bit words of the command.
 * @param vmid the VMID whose entries go.
 */
void kmm_smmu_cmd_tlbi_s12_vmall(uint64_t cmd[2], uint16_t vmid);

/**
 * Encodes CMD_SYNC with CS = SIG_NONE: completion is observed through the
 * queue's consumer index, which the port polls.
 * @param cmd out: the two 64-bit words of the command.
 */
void kmm_smmu_cmd_sync(uint64_t cmd[2]);

/**
 * Bytes of bookkeeping memory kmm_smmu_init() needs for @p num_sids
 * stream IDs (8-byte aligned memory).
 * @return the size, or 0 when @p num_sids is 0 or too large.
 */
size_t kmm_smmu_meta_size(uint32_t num_sids);

/**
 * Takes over a stream table: every entry becomes the abort STE, nobody
 * holds any stream ID, and CMD_CFGI_ALL then CMD_SYNC are issued.
 * @param smmu the context to fill.
 * @param cfg  where the table and the bookkeeping live.
 * @return 0; KMM_EINVAL (NULL pointer, no @c smmu_cmd hook, zero
 *         @c num_sids, unaligned memory, meta too small, the table cannot
 *         be reached, bad caps). On error @p smmu and the table are
 *         untouched.
 */
int kmm_smmu_init(struct kmm_smmu *smmu, const struct kmm_smmu_config *cfg);

/**
 * Gives stream ID @p sid to @p owner. Its STE stays abort until
 * kmm_smmu_attach_s2() points it at the owner's stage 2. Assigning a
 * stream ID the owner already holds succeeds and changes nothing.
 * @return 0; KMM_EINVAL (NULL @p smmu, @p owner not a valid owner id),
 *         KMM_ERANGE (@p sid outside the table), KMM_EBUSY (another owner
 *         holds @p sid).
 */
int kmm_smmu_assign(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner);

/**
 * Makes stream @p sid, which @p owner holds, translate through the stage 2
 * described by @p cfg. The STE is written without ever being seen half
 * valid: the S2 words are written while the entry still aborts, then
 * CMD_CFGI_STE and CMD_SYNC, then word 0 (V, Config) in one 64-bit store,
 * then CMD_CFGI_STE and CMD_SYNC (SMMUv3 3.21.3.1). All streams of one
 * owner share one VMID and one root; no two owners share a VMID, since the
 * SMMU's TLB entries are tagged by VMID alone.
 * @return 0; the errors of kmm_smmu_ste_encode_s2(); KMM_EINVAL (NULL
 *         pointer, invalid owner); KMM_ERANGE (@p sid outside the table);
 *         KMM_ENOENT (nobody holds @p sid); KMM_EPERM (another owner holds
 *         it); KMM_ENOTSUP (granule, VMID or PA size beyond the SMMU's
 *         caps); KMM_EBUSY (another owner translates with this VMID);
 *         KMM_EEXIST (the owner's other streams use another VMID or root,
 *         or @p sid already translates).
 */
int kmm_smmu_attach_s2(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner,
		       const struct kmm_smmu_s2_cfg *cfg);

/**
 * Takes stream ID @p sid back from @p owner: its STE becomes abort (word 0
 * in one store), then CMD_CFGI_STE and CMD_SYNC; if it translated, then
 * CMD_TLBI_S12_VMALL of its VMID and CMD_SYNC, so that no TLB entry of the
 * VMID outlives the stream (the VMID may later be given to another guest).
 * @return 0; KMM_EINVAL (NULL @p smmu, invalid owner); KMM_ERANGE;
 *         KMM_ENOENT (nobody holds @p sid); KMM_EPERM (another owner does).
 */
int kmm_smmu_release(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner);

/**
 * Takes back every stream ID @p owner holds (guest teardown), in time
 * proportional to their number: all their STEs become abort, one
 * CMD_CFGI_STE each, one CMD_SYNC, then CMD_TLBI_S12_VMALL of the owner's
 * VMID and CMD_SYNC if any of them translated.
 * @return the number of stream IDs released (0 when it held none);
 *         KMM_EINVAL (NULL @p smmu, invalid owner).
 */
int kmm_smmu_release_all(struct kmm_smmu *smmu, kmm_owner_t owner);

/**
 * Looks up who holds stream ID @p sid.
 * @param smmu  the SMMU.
 * @param sid   the stream ID.
 * @param owner out: the holder, KMM_OWNER_NONE when free.
 * @param translating out (may be NULL): whether its STE translates.
 * @return 0; KMM_EINVAL (NULL pointer); KMM_ERANGE.
 */
int kmm_smmu_query(const struct kmm_smmu *smmu, uint32_t sid,
		   kmm_owner_t *owner, bool *translating);

struct kmm_vmsa;

/**
 * Describes the stage 2 of @p v as the SMMU must see it: root, VMID, IPA
 * size, granule, start level and output size from @p v, and the table-walk
 * cacheability and shareability from the VTCR_EL2 value kmm_vmsa_tcr()
 * gives the CPU, so that the STE and VTCR_EL2/VTTBR_EL2 agree field by
 * field. Faults are recorded (S2R = 1).
 * @param v   a stage-2 VMSA address space.
 * @param cfg out: the description.
 * @return 0; KMM_EINVAL (NULL pointer, @p v not a stage-2 space).
 */
int kmm_smmu_s2_cfg_from_vmsa(const struct kmm_vmsa *v,
			      struct kmm_smmu_s2_cfg *cfg);

/**
 * Encodes the STE that makes a stream translate through the stage 2 of
 * @p v (kmm_smmu_s2_cfg_from_vmsa() then kmm_smmu_ste_encode_s2()).
 * @param v   a stage-2 VMSA address space.
 * @param ste out: the 8 words of the STE (untouched on error).
 * @return as kmm_smmu_s2_cfg_from_vmsa() and kmm_smmu_ste_encode_s2().
 */
int kmm_smmu_ste_encode(const struct kmm_vmsa *v,
			uint64_t ste[KMM_SMMU_STE_WORDS]);

/**
 * kmm_smmu_attach_s2() with the stage 2 of @p v, which @p owner must own
 * and which must be configured with KMM_VMSA_SHARED_SMMU, so that its
 * unmaps and protects invalidate the SMMU's TLB too.
 * @return as kmm_smmu_attach_s2(); KMM_EINVAL also when @p v lacks
 *         KMM_VMSA_SHARED_SMMU; KMM_EPERM when @p owner does not own @p v.
 */
int kmm_smmu_attach_vmsa(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner,
			 const struct kmm_vmsa *v);

/**
 * A port that forwards everything to an environment's port and, for TLB
 * maintenance of a stage 2 shared with the SMMU (struct kmm_tlb_ctx with
 * @c regime == KMM_REGIME_STAGE2 and @c shared_smmu set), also emits the
 * SMMU's invalidations in the same gather: each CPU invalidation is
 * followed by CMD_TLBI_S2_IPA (per page) or CMD_TLBI_S12_VMALL (whole VMID,
 * or a range larger than KMM_CONFIG_TLBI_THRESHOLD pages), and @c tlb_sync
 * completes the CPU's invalidations then issues CMD_SYNC. A translation
 * table page kmm frees after @c tlb_sync is therefore unreachable by both
 * the CPU and the SMMU.
 *
 * Hand @c port to the stage-2 address space; the struct must outlive it.
 */
struct kmm_smmu_tlb_port {
	struct kmm_port port; /**< The wrapping port to hand to kmm. */
	const struct kmm_port *inner; /**< The environment's port. */
	bool pending; /**< SMMU invalidations issued since the last sync. */
};

/**
 * Builds @p w around @p inner. Callbacks @p inner lacks stay NULL in
 * @c w->port, so that kmm's fallbacks (e.g. scrub through pa_to_ptr) work
 * as with @p inner itself.
 * @return 0; KMM_EINVAL (NULL pointer, or @p inner has no @c smmu_cmd).
 */
int kmm_smmu_tlb_port_init(struct kmm_smmu_tlb_port *w,
			   const struct kmm_port *inner);

#endif /* KMM_SMMU_H */
