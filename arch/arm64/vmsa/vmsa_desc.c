// SPDX-License-Identifier: BSD-2-Clause
/*
 * VMSAv8-64 encoders: kmm attributes to and from the attribute bits of
 * block and page descriptors, the configuration check that fixes the walk
 * geometry, and the register values a port programs (MAIR_ELx, TCR_EL1,
 * TCR_EL2, VTCR_EL2, TTBR0_ELx, VTTBR_EL2).
 */
#include "util.h"
#include "vmsa_internal.h"

/* MAIR_ELx attribute byte of each kmm memory type (Arm ARM, MAIR_EL1.Attr<n>):
 * 0xff Normal Inner/Outer Write-Back Non-transient Read/Write-Allocate,
 * 0x44 Normal Inner/Outer Non-cacheable, 0x00 Device-nGnRnE,
 * 0x04 Device-nGnRE. */
static const uint8_t mair_attr[KMM_MT_COUNT] = {
	[KMM_MT_NORMAL_WB] = 0xff,
	[KMM_MT_NORMAL_NC] = 0x44,
	[KMM_MT_DEVICE_NGNRNE] = 0x00,
	[KMM_MT_DEVICE_NGNRE] = 0x04,
};

/* Stage-2 MemAttr[3:0] of each memory type (with HCR_EL2.FWB 0):
 * [3:2] outer, [1:0] inner for Normal (0b11 Write-Back, 0b01 Non-cacheable);
 * [3:2] 0b00 for Device with [1:0] 0b00 nGnRnE, 0b01 nGnRE. */
static const uint8_t s2_memattr[KMM_MT_COUNT] = {
	[KMM_MT_NORMAL_WB] = 0xf,
	[KMM_MT_NORMAL_NC] = 0x5,
	[KMM_MT_DEVICE_NGNRNE] = 0x0,
	[KMM_MT_DEVICE_NGNRE] = 0x1,
};

#define VMSA_KNOWN_FLAGS                                                       \
	(KMM_VMSA_NONCOHERENT_WALK | KMM_VMSA_NO_BLOCKS | KMM_VMSA_AUTO_FOLD | \
	 KMM_VMSA_ID16 | KMM_VMSA_SHARED_SMMU)

int kmm_vmsa_config_init(struct kmm_vmsa_config *cfg, unsigned int regime)
{
	if (cfg == NULL || regime > KMM_REGIME_STAGE2)
		return KMM_EINVAL;
	if (regime == KMM_REGIME_STAGE2 && !KMM_CONFIG_VMSA_STAGE2)
		return KMM_ENOTSUP;
	kmm_memzero(cfg, sizeof(*cfg));
	cfg->regime = (uint8_t)regime;
	cfg->granule_shift = KMM_CONFIG_VMSA_GRANULE_SHIFT;
	cfg->va_bits = KMM_CONFIG_VA_BITS;
	cfg->oa_bits = 48;
	cfg->start_level = KMM_VMSA_LEVEL_AUTO;
	for (unsigned int mt = 0; mt < KMM_MT_COUNT; mt++)
		cfg->mair_index[mt] = (uint8_t)mt;
	return KMM_OK;
}

/* TCR_ELx.{I}PS / VTCR_EL2.PS encoding of an output size, or -1: 32, 36,
 * 40, 42, 44 and 48 bits are 0 to 5. */
static int ps_encoding(unsigned int oa_bits)
{
	static const int8_t enc[] = { 0, -1, 1, -1, 2, 3, 4, -1, 5 };
	unsigned int i = (oa_bits - 32) / 2; /* below 32: wraps, too large */

	if ((oa_bits & 1) || i >= KMM_ARRAY_SIZE(enc))
		return -1;
	return enc[i];
}

/*
 * A stage-2 walk may start at @level when the initial lookup resolves
 * between 1 and stride + 4 bits (at most 16 concatenated tables), and the
 * granule and output size allow that level (Arm ARM, VTCR_EL2.SL0 and the
 * rules for concatenated initial tables).
 */
static bool s2_level_ok(const struct kmm_vmsa_config *cfg, int level)
{
	unsigned int g = cfg->granule_shift, stride = g - 3;
	int bits;

	if (level < 0 || level > KMM_VMSA_LAST_LEVEL)
		return false;
	bits = (int)cfg->va_bits - (int)vmsa_level_shift(g, (unsigned)level);
	if (bits < 1 || bits > (int)stride + 4)
		return false;
	if (g == 12)
		return level != 0 || cfg->oa_bits > 42;
	if (level == 0)
		return false;
	if (level == 1)
		return cfg->oa_bits > (g == 14 ? 40u : 42u);
	return true;
}

static int check_mair(const struct kmm_vmsa_config *cfg)
{
	uint8_t seen = 0;

	for (unsigned int mt = 0; mt < KMM_MT_COUNT; mt++) {
		uint8_t idx = cfg->mair_index[mt];

		if (idx > 7 || (seen & (1u << idx)))
			return KMM_EINVAL;
		seen = (uint8_t)(seen | (1u << idx));
	}
	return KMM_OK;
}

static int check_id(const struct kmm_vmsa_config *cfg)
{
	if (cfg->regime == KMM_REGIME_EL2)
		return cfg->id == 0 && !(cfg->flags & KMM_VMSA_ID16) ?
			       KMM_OK :
			       KMM_EINVAL;
	if (!(cfg->flags & KMM_VMSA_ID16) && cfg->id > 0xff)
		return KMM_EINVAL;
	return KMM_OK;
}

int kmm_vmsa_geometry(const struct kmm_vmsa_config *cfg,
		      unsigned int *start_level, unsigned int *root_tables)
{
	unsigned int g, stride, level, bits;
	int ret;

	if (cfg->regime != KMM_REGIME_EL1 && cfg->regime != KMM_REGIME_EL2 &&
	    cfg->regime != KMM_REGIME_STAGE2)
		return KMM_EINVAL;
	if (cfg->flags & ~VMSA_KNOWN_FLAGS)
		return KMM_EINVAL;
	if ((cfg->flags & KMM_VMSA_AUTO_FOLD) &&
	    (cfg->flags & KMM_VMSA_NO_BLOCKS))
		return KMM_EINVAL;
	ret = check_id(cfg);
	if (ret)
		return ret;
	if (cfg->regime != KMM_REGIME_STAGE2) {
		ret = check_mair(cfg);
		if (ret)
			return ret;
	} else if (!KMM_CONFIG_VMSA_STAGE2) {
		return KMM_ENOTSUP;
	}
	g = cfg->granule_shift;
	if (!vmsa_granule_built(g))
		return KMM_ENOTSUP;
	g = vmsa_g(g);
	if (cfg->va_bits < 32 || cfg->va_bits > 48 ||
	    ps_encoding(cfg->oa_bits) < 0)
		return KMM_ENOTSUP;
	stride = g - 3;

	if (!vmsa_is_s2(cfg)) {
		/* Stage 1: the deepest level whose table covers va_bits. */
		level = KMM_VMSA_LAST_LEVEL;
		while (vmsa_level_shift(g, level) + stride < cfg->va_bits)
			level--;
		*start_level = level;
		*root_tables = 1;
		return KMM_OK;
	}

	/* Stage 2: an IPA wider than the output size is not allowed. */
	if (cfg->va_bits > cfg->oa_bits)
		return KMM_ENOTSUP;
	if (cfg->start_level == KMM_VMSA_LEVEL_AUTO) {
		int l = KMM_VMSA_LAST_LEVEL;

		while (l >= 0 && !s2_level_ok(cfg, l))
			l--;
		if (l < 0)
			return KMM_ENOTSUP;
		level = (unsigned int)l;
	} else {
		if (!s2_level_ok(cfg, cfg->start_level))
			return KMM_ENOTSUP;
		level = (unsigned int)cfg->start_level;
	}
	bits = cfg->va_bits - vmsa_level_shift(g, level);
	*start_level = level;
	*root_tables = bits > stride ? 1u << (bits - stride) : 1u;
	return KMM_OK;
}

/*
 * Leaf attribute bits of each regime: a row adds @bits when the attribute
 * bits under @mask equal @value (a row with mask 0 always adds); @forbid
 * lists the attributes the regime cannot express.
 */
struct enc_row {
	kmm_attr_t mask, value;
	uint64_t bits;
};

struct regime_enc {
	kmm_attr_t forbid;
	struct enc_row rows[7];
};

static const struct regime_enc regime_enc[3] = {
	[KMM_REGIME_EL1] = {
		.rows = {
			{ KMM_ATTR_NS, KMM_ATTR_NS, VMSA_NS },
			{ KMM_ATTR_USER, KMM_ATTR_USER, VMSA_AP_EL0 },
			{ KMM_ATTR_W, 0, VMSA_AP_RO },
			{ KMM_ATTR_NG, KMM_ATTR_NG, VMSA_NG },
			{ KMM_ATTR_X, 0, VMSA_PXN | VMSA_UXN },
			/* EL0 code is never executable at EL1, EL1 code
			 * never at EL0. */
			{ KMM_ATTR_X | KMM_ATTR_USER, KMM_ATTR_X | KMM_ATTR_USER,
			  VMSA_PXN },
			{ KMM_ATTR_X | KMM_ATTR_USER, KMM_ATTR_X, VMSA_UXN },
		},
	},
	/* One privilege level: no EL0, no ASID; AP[1] is RES1. */
	[KMM_REGIME_EL2] = {
		.forbid = KMM_ATTR_USER | KMM_ATTR_NG,
		.rows = {
			{ 0, 0, VMSA_AP_EL0 },
			{ KMM_ATTR_NS, KMM_ATTR_NS, VMSA_NS },
			{ KMM_ATTR_W, 0, VMSA_AP_RO },
			{ KMM_ATTR_X, 0, VMSA_UXN },
		},
	},
	[KMM_REGIME_STAGE2] = {
		.forbid = KMM_ATTR_USER | KMM_ATTR_NG | KMM_ATTR_NS,
		.rows = {
			{ 0, 0, VMSA_S2AP_R },
			{ KMM_ATTR_W, KMM_ATTR_W, VMSA_S2AP_W },
			/* XN[1:0] = 0b10: no execution */
			{ KMM_ATTR_X, 0, VMSA_UXN },
		},
	},
};

/* Per memory type: the AttrIndx (stage 1) or MemAttr (stage 2) value, both
 * at bits [5:2]. */
static const uint8_t *memtypes(const struct kmm_vmsa_config *cfg)
{
	return vmsa_is_s2(cfg) ? s2_memattr : cfg->mair_index;
}

int kmm_vmsa_attr_bits(const struct kmm_vmsa_config *cfg, kmm_attr_t attr,
		       uint64_t *bits)
{
	unsigned int mt = KMM_ATTR_MT_GET(attr);
	bool device = mt == KMM_MT_DEVICE_NGNRNE || mt == KMM_MT_DEVICE_NGNRE;
	/* Device memory is Outer Shareable whatever SH says; Normal memory
	 * is mapped Inner Shareable. */
	uint64_t b = VMSA_AF | VMSA_SH(device ? VMSA_SH_OUTER : VMSA_SH_INNER);
	const struct regime_enc *r;

	/* Speculative instruction fetch must never reach a device. */
	if (device && (attr & KMM_ATTR_X))
		return KMM_ENOTSUP;
	if (cfg->regime > KMM_REGIME_STAGE2 ||
	    (cfg->regime == KMM_REGIME_STAGE2 && !KMM_CONFIG_VMSA_STAGE2))
		return KMM_EINVAL;
	r = &regime_enc[cfg->regime];
	if (attr & r->forbid)
		return KMM_ENOTSUP;
	b |= (uint64_t)memtypes(cfg)[mt] << 2;
	for (unsigned int k = 0; k < KMM_ARRAY_SIZE(r->rows); k++)
		if ((attr & r->rows[k].mask) == r->rows[k].value)
			b |= r->rows[k].bits;
	*bits = b;
	return KMM_OK;
}

int kmm_vmsa_attr_encode(const struct kmm_vmsa *v, kmm_attr_t attr,
			 uint64_t *bits)
{
	if (v == NULL || bits == NULL || !kmm_attr_is_valid(attr))
		return KMM_EINVAL;
	return kmm_vmsa_attr_bits(&v->cfg, attr, bits);
}

/*
 * Reads the attributes out of @d: each flag a one-flag row of the regime
 * encodes, and the memory type; decode() then checks that encoding them
 * again gives exactly the same bits (the encoding is one-to-one).
 */
static int guess_attr(const struct kmm_vmsa_config *cfg, uint64_t d,
		      kmm_attr_t *attr)
{
	const struct enc_row *rows;
	const uint8_t *types = memtypes(cfg);
	unsigned int field = (unsigned int)(d >> 2) &
			     (vmsa_is_s2(cfg) ? 0xfu : 7u);
	kmm_attr_t a = KMM_ATTR_R;

	if (cfg->regime > KMM_REGIME_STAGE2)
		return KMM_EBADDATA;
	rows = regime_enc[cfg->regime].rows;
	for (unsigned int k = 0; k < KMM_ARRAY_SIZE(regime_enc[0].rows); k++) {
		const struct enc_row *row = &rows[k];

		if (kmm_is_pow2(row->mask) &&
		    ((d & row->bits) == row->bits) == (row->value != 0))
			a |= row->mask;
	}
	for (unsigned int mt = 0; mt < KMM_MT_COUNT; mt++) {
		if (types[mt] == field) {
			*attr = a | KMM_ATTR_MT(mt);
			return KMM_OK;
		}
	}
	return KMM_EBADDATA;
}

int kmm_vmsa_attr_decode(const struct kmm_vmsa *v, uint64_t desc,
			 kmm_attr_t *attr)
{
	kmm_attr_t a;
	uint64_t bits;

	if (v == NULL || attr == NULL)
		return KMM_EINVAL;
	if (guess_attr(&v->cfg, desc, &a))
		return KMM_EBADDATA;
	if (kmm_vmsa_attr_bits(&v->cfg, a, &bits) ||
	    bits != (desc & VMSA_ATTR_MASK))
		return KMM_EBADDATA;
	*attr = a;
	return KMM_OK;
}

uint64_t kmm_vmsa_mair(const struct kmm_vmsa *v)
{
	uint64_t mair = 0;

	if (v == NULL || v->cfg.regime == KMM_REGIME_STAGE2)
		return 0;
	for (unsigned int mt = 0; mt < KMM_MT_COUNT; mt++)
		mair |= (uint64_t)mair_attr[mt] << (8 * v->cfg.mair_index[mt]);
	return mair;
}

/* TCR_ELx.TG0 / VTCR_EL2.TG0: 0b00 4 KiB, 0b01 64 KiB, 0b10 16 KiB. */
static uint64_t tg0(unsigned int g)
{
	return g == 12 ? 0 : g == 16 ? 1 : 2;
}

/* IRGN0 [9:8], ORGN0 [11:10], SH0 [13:12] of the table walks. */
static uint64_t walk_attrs(const struct kmm_vmsa_config *cfg)
{
	if (cfg->flags & KMM_VMSA_NONCOHERENT_WALK)
		return 0; /* Non-cacheable, Non-shareable */
	/* Write-Back Read-Allocate Write-Allocate, Inner Shareable */
	return (1ull << 8) | (1ull << 10) | (3ull << 12);
}

uint64_t kmm_vmsa_tcr(const struct kmm_vmsa *v)
{
	const struct kmm_vmsa_config *cfg;
	uint64_t tcr, ps;

	if (v == NULL)
		return 0;
	cfg = &v->cfg;
	ps = (uint64_t)ps_encoding(cfg->oa_bits);
	tcr = (64u - cfg->va_bits) | walk_attrs(cfg) |
	      (tg0(vmsa_g(cfg->granule_shift)) << 14);
	switch (cfg->regime) {
	case KMM_REGIME_EL1:
		/* EPD1 [23]: no TTBR1 walks; IPS [34:32]; AS [36]. */
		tcr |= (1ull << 23) | (ps << 32);
		if (cfg->flags & KMM_VMSA_ID16)
			tcr |= 1ull << 36;
		break;
	case KMM_REGIME_EL2:
		/* PS [18:16]; bits 31 and 23 are RES1. */
		tcr |= (ps << 16) | (1ull << 31) | (1ull << 23);
		break;
	default: {
		if (!KMM_CONFIG_VMSA_STAGE2)
			break;
		/* SL0 [7:6]: 4 KiB 2 - level, 16/64 KiB 3 - level; PS [18:16];
		 * VS [19]; bit 31 is RES1. */
		unsigned int sl0 =
			(cfg->granule_shift == 12 ? 2u : 3u) - v->start_level;

		tcr |= ((uint64_t)sl0 << 6) | (ps << 16) | (1ull << 31);
		if (cfg->flags & KMM_VMSA_ID16)
			tcr |= 1ull << 19;
		break;
	}
	}
	return tcr;
}

uint64_t kmm_vmsa_ttbr(const struct kmm_vmsa *v)
{
	if (v == NULL)
		return 0;
	/* BADDR in [47:1] (the root is aligned to its size); ASID or VMID
	 * in [63:48] (an 8-bit id fits [55:48]); CnP 0. */
	if (v->cfg.regime == KMM_REGIME_EL2)
		return v->root_pa;
	return v->root_pa | ((uint64_t)v->cfg.id << 48);
}
