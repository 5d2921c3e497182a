// SPDX-License-Identifier: BSD-2-Clause
/*
 * Register encoders of the PMSA backend. Three layouts of one idea:
 *
 * Armv8-R AArch64, PRBAR_EL2 / PRLAR_EL2 (64-bit):
 *   PRBAR: BASE[47:6], SH[5:4], AP[2:1] in bits [3:2], XN[1:0] in [1:0]
 *   PRLAR: LIMIT[47:6], NS[4], AttrIndx[3:1], EN[0]
 * Armv8-R AArch32, HPRBAR / HPRLAR (EL2) and PRBAR / PRLAR (EL1), 32-bit:
 *   PRBAR: BASE[31:6], SH[4:3], AP[2:1], XN[0]
 *   PRLAR: LIMIT[31:6], AttrIndx[3:1], EN[0]
 * Armv8-M, MPU_RBAR / MPU_RLAR (32-bit, 32-byte granule):
 *   RBAR: BASE[31:5], SH[4:3], AP[2:1], XN[0]
 *   RLAR: LIMIT[31:5], AttrIndx[3:1], EN[0] (bit 4 is PXN on v8.1-M only)
 *
 * AP[2:1]: AP[2] set = read-only, AP[1] set = also accessible from the
 * lower privilege (EL0 / unprivileged; for EL2 regions EL1 and EL0).
 * LIMIT holds the address of the last granule; the hardware fills the low
 * bits with ones.
 *
 * XN on AArch64 is two bits wide. kmm sets XN[1] (value 0b10) for a
 * non-executable region, as Xen's and Zephyr's Armv8-R AArch64 ports do:
 * it forbids execution in the EL2 stage-1 regime and, read as a stage-2
 * XN[1:0], at both EL1 and EL0.
 */
#include "kmm/pmsa.h"
#include "util.h"

#define SH_NON 0u /* Non-shareable */
#define SH_OUTER 2u /* Outer Shareable */
#define SH_INNER 3u /* Inner Shareable */

#define AP_RO (1u << 1) /* AP[2]: read-only */
#define AP_LOWER (1u << 0) /* AP[1]: lower privilege may access too */

#define A64_ADDR_MASK 0x0000ffffffffffc0ull /* bits [47:6] */
#define A64_SH_SHIFT 4
#define A64_AP_SHIFT 2
#define A64_XN_NEVER 0x2ull /* XN[1:0] = 0b10 */
#define A64_XN_MASK 0x3ull
#define A64_NS (1ull << 4)

#define A32_ADDR_MASK 0xffffffc0ull /* bits [31:6] */
#define V8M_ADDR_MASK 0xffffffe0ull /* bits [31:5] */
#define A32_SH_SHIFT 3
#define A32_AP_SHIFT 1
#define A32_XN 0x1ull

#define ATTRINDX_SHIFT 1
#define ATTRINDX_MASK (0x7ull << ATTRINDX_SHIFT)
#define EN 0x1ull

/*
 * MAIR attribute bytes, one per kmm memory type (the AttrIndx is the type):
 * 0xff Normal, inner and outer write-back non-transient, read and write
 * allocate; 0x44 Normal, inner and outer non-cacheable; 0x00
 * Device-nGnRnE; 0x04 Device-nGnRE. Armv8-M MPU_MAIR0 uses the same
 * encodings for Attr0..Attr3.
 */
static const uint8_t mair_attr[KMM_MT_COUNT] = {
	[KMM_MT_NORMAL_WB] = 0xff,
	[KMM_MT_NORMAL_NC] = 0x44,
	[KMM_MT_DEVICE_NGNRNE] = 0x00,
	[KMM_MT_DEVICE_NGNRE] = 0x04,
};

static bool arch_is_known(unsigned int arch)
{
	return arch == KMM_PMSA_ARMV8R_AARCH64 ||
	       arch == KMM_PMSA_ARMV8R_AARCH32 || arch == KMM_PMSA_ARMV8M;
}

uint64_t kmm_pmsa_granule(unsigned int arch)
{
	if (!arch_is_known(arch))
		return 0;
	return arch == KMM_PMSA_ARMV8M ? 32 : 64;
}

/* One past the highest address a flavour can describe. */
static uint64_t addr_end(unsigned int arch)
{
	return arch == KMM_PMSA_ARMV8R_AARCH64 ? 1ull << 48 : 1ull << 32;
}

uint64_t kmm_pmsa_mair(unsigned int arch)
{
	uint64_t mair = 0;
	unsigned int i;

	if (!arch_is_known(arch))
		return 0;
	for (i = 0; i < KMM_MT_COUNT; i++)
		mair |= (uint64_t)mair_attr[i] << (8 * i);
	return mair;
}

/*
 * Armv8-R: Normal write-back memory is Inner Shareable (the hypervisor runs
 * SMP); non-cacheable and Device memory is always treated as Outer
 * Shareable, so say so. Armv8-M: single-core MCUs, and shareable Normal
 * memory may be treated as non-cacheable there, so Non-shareable.
 */
static unsigned int shareability(unsigned int arch, kmm_attr_t attr)
{
	if (arch == KMM_PMSA_ARMV8M)
		return SH_NON;
	return KMM_ATTR_MT_GET(attr) == KMM_MT_NORMAL_WB ? SH_INNER : SH_OUTER;
}

static unsigned int access_perm(kmm_attr_t attr)
{
	unsigned int ap = 0;

	if (!(attr & KMM_ATTR_W))
		ap |= AP_RO;
	if (attr & KMM_ATTR_USER)
		ap |= AP_LOWER;
	return ap;
}

int kmm_pmsa_encode(unsigned int arch, kmm_paddr_t base, kmm_paddr_t limit,
		    kmm_attr_t attr, uint64_t *rbar, uint64_t *rlar)
{
	uint64_t granule = kmm_pmsa_granule(arch);
	uint64_t sh, ap, idx, mask;

	if (granule == 0 || rbar == NULL || rlar == NULL ||
	    !kmm_attr_is_valid(attr) || limit < base)
		return KMM_EINVAL;
	if (!kmm_is_aligned(base, granule) ||
	    !kmm_is_aligned(limit + 1, granule))
		return KMM_EALIGN;
	if (limit >= addr_end(arch))
		return KMM_ERANGE;
	if ((attr & KMM_ATTR_NS) && arch != KMM_PMSA_ARMV8R_AARCH64)
		return KMM_ENOTSUP;

	sh = shareability(arch, attr);
	ap = access_perm(attr);
	idx = KMM_ATTR_MT_GET(attr);
	if (arch == KMM_PMSA_ARMV8R_AARCH64) {
		*rbar = (base & A64_ADDR_MASK) | sh << A64_SH_SHIFT |
			ap << A64_AP_SHIFT |
			((attr & KMM_ATTR_X) ? 0 : A64_XN_NEVER);
		*rlar = (limit & A64_ADDR_MASK) |
			((attr & KMM_ATTR_NS) ? A64_NS : 0) |
			idx << ATTRINDX_SHIFT | EN;
		return KMM_OK;
	}
	mask = arch == KMM_PMSA_ARMV8M ? V8M_ADDR_MASK : A32_ADDR_MASK;
	*rbar = (base & mask) | sh << A32_SH_SHIFT | ap << A32_AP_SHIFT |
		((attr & KMM_ATTR_X) ? 0 : A32_XN);
	*rlar = (limit & mask) | idx << ATTRINDX_SHIFT | EN;
	return KMM_OK;
}

int kmm_pmsa_decode(unsigned int arch, uint64_t rbar, uint64_t rlar,
		    kmm_paddr_t *base, kmm_paddr_t *limit, kmm_attr_t *attr)
{
	uint64_t granule = kmm_pmsa_granule(arch);
	uint64_t mask, idx, ap;
	bool xn;
	kmm_attr_t a = KMM_ATTR_R;

	if (granule == 0 || base == NULL || limit == NULL || attr == NULL)
		return KMM_EINVAL;
	if (!(rlar & EN))
		return KMM_ENOENT;
	idx = (rlar & ATTRINDX_MASK) >> ATTRINDX_SHIFT;
	if (idx >= KMM_MT_COUNT)
		return KMM_EBADDATA;

	if (arch == KMM_PMSA_ARMV8R_AARCH64) {
		mask = A64_ADDR_MASK;
		ap = (rbar >> A64_AP_SHIFT) & 0x3;
		xn = (rbar & A64_XN_MASK) != 0;
		if (rlar & A64_NS)
			a |= KMM_ATTR_NS;
	} else {
		mask = arch == KMM_PMSA_ARMV8M ? V8M_ADDR_MASK : A32_ADDR_MASK;
		ap = (rbar >> A32_AP_SHIFT) & 0x3;
		xn = (rbar & A32_XN) != 0;
	}
	if (!(ap & AP_RO))
		a |= KMM_ATTR_W;
	if (ap & AP_LOWER)
		a |= KMM_ATTR_USER;
	if (!xn)
		a |= KMM_ATTR_X;
	*base = rbar & mask;
	*limit = (rlar & mask) | (granule - 1);
	*attr = a | KMM_ATTR_MT(idx);
	return KMM_OK;
}
