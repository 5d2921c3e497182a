/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * VMSAv8-64 descriptor bits and table geometry shared by vmsa.c (tables)
 * and vmsa_desc.c (attribute and register encoders). Not installed.
 *
 * Field names and positions follow the Arm ARM (DDI 0487), "VMSAv8-64
 * translation table format descriptors" and the TCR_EL1, TCR_EL2, VTCR_EL2,
 * TTBR0_EL1 and VTTBR_EL2 register descriptions. Only the 48-bit output
 * address format is used (no FEAT_LPA/LPA2), so bits [49:48] are RES0.
 */
#ifndef KMM_VMSA_INTERNAL_H
#define KMM_VMSA_INTERNAL_H

#include "kmm/vmsa.h"

/* Descriptor bits[1:0]: bit 0 valid; 0b11 table (levels 0-2) or page
 * (level 3); 0b01 block (levels that allow blocks), reserved at level 3. */
#define VMSA_VALID (1ull << 0)
#define VMSA_TYPE_MASK 3ull
#define VMSA_TYPE_BLOCK 1ull
#define VMSA_TYPE_TABLE 3ull
#define VMSA_TYPE_PAGE 3ull

/* Stage 1 lower attributes. */
#define VMSA_ATTRINDX(n) ((uint64_t)(n) << 2) /* AttrIndx[2:0], bits [4:2] */
#define VMSA_ATTRINDX_GET(d) (((d) >> 2) & 7u)
#define VMSA_NS (1ull << 5) /* NS, bit 5 */
#define VMSA_AP_EL0 (1ull << 6) /* AP[1], bit 6: EL0 access; RES1 at EL2 */
#define VMSA_AP_RO (1ull << 7) /* AP[2], bit 7: read-only */
#define VMSA_NG (1ull << 11) /* nG, bit 11 */
/* Stage 2 lower attributes. */
#define VMSA_S2_MEMATTR(n) ((uint64_t)(n) << 2) /* MemAttr[3:0], [5:2] */
#define VMSA_S2_MEMATTR_GET(d) (((d) >> 2) & 0xfu)
#define VMSA_S2AP_R (1ull << 6) /* S2AP[0], bit 6: read */
#define VMSA_S2AP_W (1ull << 7) /* S2AP[1], bit 7: write */
/* Both stages. */
#define VMSA_SH(n) ((uint64_t)(n) << 8) /* SH[1:0], bits [9:8] */
#define VMSA_SH_OUTER 2u
#define VMSA_SH_INNER 3u
#define VMSA_AF (1ull << 10) /* AF, bit 10 */
/* Upper attributes. */
#define VMSA_PXN (1ull << 53) /* PXN, bit 53 (stage 1 EL1&0; RES0 at EL2) */
#define VMSA_UXN (1ull << 54) /* UXN (EL1&0), XN (EL2), XN[1] (stage 2) */

/* Every attribute bit of a block or page descriptor: [11:2] and [63:50]. */
#define VMSA_ATTR_MASK 0xfffc000000000ffcull
/* Output address bits [47:0] of the 48-bit format. */
#define VMSA_OA_BITS_MASK 0x0000ffffffffffffull

/* Number of translation granules this build supports (option
 * vmsa_granules). */
#define VMSA_GRANULES                                               \
	(KMM_CONFIG_VMSA_GRANULE_4K + KMM_CONFIG_VMSA_GRANULE_16K + \
	 KMM_CONFIG_VMSA_GRANULE_64K)

/* The granule shift @g of a checked configuration. With one granule built
 * it is a constant, so that every geometry computation below folds. */
static inline unsigned int vmsa_g(unsigned int g)
{
	return VMSA_GRANULES == 1 ? KMM_CONFIG_VMSA_GRANULE_SHIFT : g;
}

/* Whether this build supports the granule 2^@g. */
static inline bool vmsa_granule_built(unsigned int g)
{
	return (g == 12 && KMM_CONFIG_VMSA_GRANULE_4K) ||
	       (g == 14 && KMM_CONFIG_VMSA_GRANULE_16K) ||
	       (g == 16 && KMM_CONFIG_VMSA_GRANULE_64K);
}

/* Whether @cfg describes stage-2 tables (never when the build leaves stage
 * 2 out: kmm_vmsa_geometry() refuses them, and the stage-2 code folds). */
static inline bool vmsa_is_s2(const struct kmm_vmsa_config *cfg)
{
	return KMM_CONFIG_VMSA_STAGE2 && cfg->regime == KMM_REGIME_STAGE2;
}

/* log2 of the bytes one entry at @level maps with granule 2^@g. */
static inline unsigned int vmsa_level_shift(unsigned int g, unsigned int level)
{
	g = vmsa_g(g);
	return g + (KMM_VMSA_LAST_LEVEL - level) * (g - 3);
}

/* Whether the architecture allows a block descriptor at @level (48-bit
 * OA): 4 KiB granule levels 1 and 2, 16 KiB and 64 KiB level 2 only. */
static inline bool vmsa_block_level(unsigned int g, unsigned int level)
{
	g = vmsa_g(g);
	return g == 12 ? (level == 1 || level == 2) : level == 2;
}

/* Output-address bits [47:shift] of a leaf at @level. */
static inline uint64_t vmsa_oa_mask(unsigned int g, unsigned int level)
{
	return VMSA_OA_BITS_MASK & ~((1ull << vmsa_level_shift(g, level)) - 1);
}

/* Next-level table address bits [47:g] of a table descriptor. */
static inline uint64_t vmsa_table_mask(unsigned int g)
{
	return VMSA_OA_BITS_MASK & ~((1ull << vmsa_g(g)) - 1);
}

/*
 * Checks @cfg and derives the walk geometry: the start level and the
 * number of concatenated root tables. Returns 0, KMM_EINVAL or
 * KMM_ENOTSUP as kmm_vmsa_init() documents.
 */
int kmm_vmsa_geometry(const struct kmm_vmsa_config *cfg,
		      unsigned int *start_level, unsigned int *root_tables);

/* kmm_vmsa_attr_encode() on a configuration, for valid @attr. */
int kmm_vmsa_attr_bits(const struct kmm_vmsa_config *cfg, kmm_attr_t attr,
		       uint64_t *bits);

#endif /* KMM_VMSA_INTERNAL_H */
