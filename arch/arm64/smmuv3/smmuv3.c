// SPDX-License-Identifier: BSD-2-Clause
/*
 * SMMUv3 stage-2 sharing and stream-ID ownership (see kmm/smmu.h).
 *
 * Invariants kept under the port lock:
 * - A stream ID nobody holds has the abort STE (V = 1, Config = 0b000).
 * - A held stream is either aborting or translating through its owner's
 *   stage 2; every translating stream of an owner has the same STE words 2
 *   and 3 (VMID, geometry, root), recorded in the owner's bookkeeping.
 * - No two owners translate with the same VMID.
 * - Word 0 of an STE (V and Config) changes only by one 64-bit store, and
 *   words 1..7 change only while word 0 says abort and after the SMMU has
 *   been told to drop its cached copy (CMD_CFGI_STE, CMD_SYNC).
 *
 * Bit positions are from the SMMUv3 specification: STE fields in section
 * 5.2 (numbered over the 512-bit entry; word n holds bits [64n+63:64n]),
 * command fields in chapter 4 (numbered over the 128-bit command).
 */
#include "kmm/smmu.h"
#include "kmm/vmsa.h"
#include "util.h"

/* STE word 0, bits [63:0]. */
#define STE0_V (1ull << 0) /* V, bit [0] */
#define STE0_CONFIG_SHIFT 1 /* Config, bits [3:1] */
#define STE0_CONFIG_ABORT 0x0ull /* 0b000: abort, no event */
#define STE0_CONFIG_S2_TRANS 0x6ull /* 0b110: S1 bypass, S2 translate */

/* STE word 1, bits [127:64]. */
#define STE1_SHCFG_SHIFT 44 /* SHCFG, bits [109:108] */
#define STE1_SHCFG_INCOMING 0x1ull

/* STE word 2, bits [191:128]. */
#define STE2_S2VMID_SHIFT 0 /* S2VMID, bits [143:128] */
#define STE2_S2VMID_MASK 0xffffull
#define STE2_S2T0SZ_SHIFT 32 /* S2T0SZ, bits [165:160] */
#define STE2_S2SL0_SHIFT 38 /* S2SL0, bits [167:166] */
#define STE2_S2IR0_SHIFT 40 /* S2IR0, bits [169:168] */
#define STE2_S2OR0_SHIFT 42 /* S2OR0, bits [171:170] */
#define STE2_S2SH0_SHIFT 44 /* S2SH0, bits [173:172] */
#define STE2_S2TG_SHIFT 46 /* S2TG, bits [175:174] */
#define STE2_S2PS_SHIFT 48 /* S2PS, bits [178:176] */
#define STE2_S2AA64 (1ull << 51) /* S2AA64, bit [179] */
#define STE2_S2R (1ull << 58) /* S2R, bit [186] */

/* STE word 3, bits [255:192]: S2TTB, bits [243:196] = address [51:4]. */
#define STE3_S2TTB_MASK 0x000ffffffffffff0ull

/* S2TG encodings (not in granule order). */
#define S2TG_4K 0x0u
#define S2TG_64K 0x1u
#define S2TG_16K 0x2u

/* Command fields. */
#define CMD0_OPCODE_MASK 0xffull /* opcode, bits [7:0] */
#define CMD0_SID_SHIFT 32 /* CFGI: StreamID, bits [63:32] */
#define CMD0_VMID_SHIFT 32 /* TLBI: VMID, bits [47:32] */
#define CMD1_LEAF (1ull << 0) /* CFGI_STE, TLBI: Leaf, bit [64] */
#define CMD1_RANGE_ALL 31ull /* CFGI_STE_RANGE: Range, bits [68:64] */
#define CMD1_IPA_MASK 0x000ffffffffff000ull /* Address, bits [115:76] */
#define CMD0_SYNC_CS_NONE (0x0ull << 12) /* CMD_SYNC: CS, bits [13:12] */

#define KMM_SMMU_S2_FLAGS \
	(KMM_SMMU_S2_RECORD_FAULTS | KMM_SMMU_S2_SHCFG_INCOMING)

/* Output address sizes S2PS (and VTCR_EL2.PS) can encode, by encoding. */
static const uint8_t ps_bits[] = { 32, 36, 40, 42, 44, 48 };

static int encode_ps(unsigned int pa_bits, uint64_t *ps)
{
	for (size_t i = 0; i < KMM_ARRAY_SIZE(ps_bits); i++) {
		if (ps_bits[i] == pa_bits) {
			*ps = i;
			return KMM_OK;
		}
	}
	return KMM_ENOTSUP;
}

/*
 * Checks the walk geometry and returns the S2TG and S2SL0 encodings and
 * log2 of the size in bytes of the (concatenated) initial tables.
 */
static int encode_geometry(const struct kmm_smmu_s2_cfg *cfg, uint64_t *tg,
			   uint64_t *sl0, unsigned int *root_log2)
{
	unsigned int g = cfg->granule_shift;
	unsigned int level = cfg->start_level;
	unsigned int lowest, sl0_base, stride, below, resolved;

	/*
	 * VTCR_EL2.SL0 (= STE.S2SL0) counts levels up from the lowest start
	 * level encodable without FEAT_TTST/FEAT_LPA2: level 2 for 4K, level
	 * 3 for 16K and 64K. Level 0 is 4K-only (16K needs LPA2 for it).
	 */
	switch (g) {
	case 12:
		*tg = S2TG_4K;
		lowest = 0;
		sl0_base = 2;
		break;
	case 14:
		*tg = S2TG_16K;
		lowest = 1;
		sl0_base = 3;
		break;
	case 16:
		*tg = S2TG_64K;
		lowest = 1;
		sl0_base = 3;
		break;
	default:
		return KMM_ENOTSUP;
	}
	if (level < lowest || level > sl0_base)
		return KMM_ENOTSUP;
	if (cfg->ipa_bits < 25 || cfg->ipa_bits > 48)
		return KMM_ERANGE;

	/* Bits resolved below the initial level, page offset included. */
	stride = g - 3;
	below = g + (3 - level) * stride;
	if (cfg->ipa_bits <= below)
		return KMM_ERANGE;
	/* At most 16 concatenated tables: 4 bits more than one table. */
	resolved = cfg->ipa_bits - below;
	if (resolved > stride + 4)
		return KMM_ERANGE;
	*sl0 = sl0_base - level;
	*root_log2 = resolved + 3;
	return KMM_OK;
}

int kmm_smmu_ste_encode_s2(const struct kmm_smmu_s2_cfg *cfg,
			   uint64_t ste[KMM_SMMU_STE_WORDS])
{
	uint64_t tg, sl0, ps;
	unsigned int root_log2;
	int ret;

	if (cfg == NULL || ste == NULL)
		return KMM_EINVAL;
	if (cfg->flags & ~KMM_SMMU_S2_FLAGS)
		return KMM_EINVAL;
	/* IRGN/ORGN: any 2-bit value; SH: 0b01 is reserved. */
	if (cfg->walk_inner > 3 || cfg->walk_outer > 3 || cfg->walk_share > 3 ||
	    cfg->walk_share == 1)
		return KMM_EINVAL;
	ret = encode_geometry(cfg, &tg, &sl0, &root_log2);
	if (ret)
		return ret;
	ret = encode_ps(cfg->pa_bits, &ps);
	if (ret)
		return ret;
	if (cfg->root_pa >> cfg->pa_bits)
		return KMM_ERANGE;
	if (!kmm_is_aligned(cfg->root_pa, 1ull << root_log2))
		return KMM_EALIGN;

	kmm_memzero(ste, KMM_SMMU_STE_SIZE);
	ste[0] = STE0_V | (STE0_CONFIG_S2_TRANS << STE0_CONFIG_SHIFT);
	if (cfg->flags & KMM_SMMU_S2_SHCFG_INCOMING)
		ste[1] = STE1_SHCFG_INCOMING << STE1_SHCFG_SHIFT;
	ste[2] = ((uint64_t)cfg->vmid << STE2_S2VMID_SHIFT) |
		 ((uint64_t)(64u - cfg->ipa_bits) << STE2_S2T0SZ_SHIFT) |
		 (sl0 << STE2_S2SL0_SHIFT) |
		 ((uint64_t)cfg->walk_inner << STE2_S2IR0_SHIFT) |
		 ((uint64_t)cfg->walk_outer << STE2_S2OR0_SHIFT) |
		 ((uint64_t)cfg->walk_share << STE2_S2SH0_SHIFT) |
		 (tg << STE2_S2TG_SHIFT) | (ps << STE2_S2PS_SHIFT) |
		 STE2_S2AA64;
	if (cfg->flags & KMM_SMMU_S2_RECORD_FAULTS)
		ste[2] |= STE2_S2R;
	ste[3] = cfg->root_pa & STE3_S2TTB_MASK;
	return KMM_OK;
}

void kmm_smmu_ste_encode_abort(uint64_t ste[KMM_SMMU_STE_WORDS])
{
	kmm_memzero(ste, KMM_SMMU_STE_SIZE);
	ste[0] = STE0_V | (STE0_CONFIG_ABORT << STE0_CONFIG_SHIFT);
}

void kmm_smmu_cmd_cfgi_ste(uint64_t cmd[2], uint32_t sid)
{
	cmd[0] = KMM_SMMU_OP_CFGI_STE | ((uint64_t)sid << CMD0_SID_SHIFT);
	cmd[1] = CMD1_LEAF;
}

void kmm_smmu_cmd_cfgi_all(uint64_t cmd[2])
{
	cmd[0] = KMM_SMMU_OP_CFGI_ALL;
	cmd[1] = CMD1_RANGE_ALL;
}

int kmm_smmu_cmd_tlbi_s2_ipa(uint64_t cmd[2], uint16_t vmid, kmm_paddr_t ipa,
			     bool leaf_only)
{
	if (cmd == NULL)
		return KMM_EINVAL;
	if (!kmm_is_aligned(ipa, 1ull << 12))
		return KMM_EALIGN;
	if (ipa >> 52)
		return KMM_ERANGE;
	cmd[0] = KMM_SMMU_OP_TLBI_S2_IPA | ((uint64_t)vmid << CMD0_VMID_SHIFT);
	cmd[1] = (ipa & CMD1_IPA_MASK) | (leaf_only ? CMD1_LEAF : 0);
	return KMM_OK;
}

void kmm_smmu_cmd_tlbi_s12_vmall(uint64_t cmd[2], uint16_t vmid)
{
	cmd[0] = KMM_SMMU_OP_TLBI_S12_VMALL |
		 ((uint64_t)vmid << CMD0_VMID_SHIFT);
	cmd[1] = 0;
}

void kmm_smmu_cmd_sync(uint64_t cmd[2])
{
	cmd[0] = KMM_SMMU_OP_SYNC | CMD0_SYNC_CS_NONE;
	cmd[1] = 0;
}

/* ---- Stream table and ownership ---------------------------------------- */

/* Largest table: release_all() returns the count as an int. */
#define MAX_SIDS ((uint32_t)INT32_MAX)

static size_t owners_size(void)
{
	return (size_t)KMM_CONFIG_MAX_OWNERS * sizeof(struct kmm_smmu_owner);
}

size_t kmm_smmu_meta_size(uint32_t num_sids)
{
	if (num_sids == 0 || num_sids > MAX_SIDS ||
	    num_sids >
		    (SIZE_MAX - owners_size()) / sizeof(struct kmm_smmu_stream))
		return 0;
	return owners_size() +
	       (size_t)num_sids * sizeof(struct kmm_smmu_stream);
}

static bool owner_is_valid(kmm_owner_t owner)
{
	return owner != KMM_OWNER_NONE && owner < KMM_CONFIG_MAX_OWNERS;
}

static uint64_t *ste_of(const struct kmm_smmu *smmu, uint32_t sid)
{
	return smmu->strtab + (size_t)sid * KMM_SMMU_STE_WORDS;
}

/* One single-copy-atomic 64-bit store the compiler may not split. */
static void ste_store(uint64_t *word, uint64_t value)
{
	*(volatile uint64_t *)word = value;
}

static void submit(const struct kmm_smmu *smmu, const uint64_t cmd[2])
{
	smmu->port->smmu_cmd(smmu->port->cookie, cmd);
}

/* Cleans the STE for non-coherent SMMUs, then invalidates its copies. */
static void cfgi_ste(const struct kmm_smmu *smmu, uint32_t sid)
{
	const struct kmm_port *port = smmu->port;
	uint64_t cmd[2];

	if (port->clean_range)
		port->clean_range(port->cookie, ste_of(smmu, sid),
				  KMM_SMMU_STE_SIZE);
	kmm_smmu_cmd_cfgi_ste(cmd, sid);
	submit(smmu, cmd);
}

static void sync(const struct kmm_smmu *smmu)
{
	uint64_t cmd[2];

	kmm_smmu_cmd_sync(cmd);
	submit(smmu, cmd);
}

static void tlbi_vmall(const struct kmm_smmu *smmu, uint16_t vmid)
{
	uint64_t cmd[2];

	kmm_smmu_cmd_tlbi_s12_vmall(cmd, vmid);
	submit(smmu, cmd);
}

static uint16_t vmid_of_words(const uint64_t s2_words[2])
{
	return (uint16_t)((s2_words[0] >> STE2_S2VMID_SHIFT) &
			  STE2_S2VMID_MASK);
}

/* The table's size in bytes fits a size_t (always on 64-bit hosts). */
static bool table_fits(uint32_t num_sids)
{
	uint64_t bytes = (uint64_t)num_sids * KMM_SMMU_STE_SIZE;

	return bytes <= (uint64_t)SIZE_MAX;
}

static bool caps_are_valid(const struct kmm_smmu_caps *caps)
{
	uint64_t ps;

	if (encode_ps(caps->oas_bits, &ps))
		return false;
	if (caps->vmid_bits != 8 && caps->vmid_bits != 16)
		return false;
	return caps->granules != 0 &&
	       (caps->granules & ~((1u << 12) | (1u << 14) | (1u << 16))) == 0;
}

int kmm_smmu_init(struct kmm_smmu *smmu, const struct kmm_smmu_config *cfg)
{
	uint64_t *strtab;
	size_t need;
	uint64_t abort_ste[KMM_SMMU_STE_WORDS];
	uint64_t cmd[2];

	if (smmu == NULL || cfg == NULL || cfg->port == NULL ||
	    cfg->port->smmu_cmd == NULL || cfg->meta == NULL)
		return KMM_EINVAL;
	need = kmm_smmu_meta_size(cfg->num_sids);
	if (need == 0 || cfg->meta_size < need || !table_fits(cfg->num_sids) ||
	    !kmm_is_aligned((uintptr_t)cfg->meta, sizeof(uint64_t)))
		return KMM_EINVAL;
	if (!caps_are_valid(&cfg->caps))
		return KMM_EINVAL;
	strtab = cfg->strtab;
	if (strtab == NULL)
		strtab = kmm_port_pa_to_ptr(cfg->port, cfg->strtab_pa);
	if (strtab == NULL ||
	    !kmm_is_aligned((uintptr_t)strtab, KMM_SMMU_STE_SIZE))
		return KMM_EINVAL;

	kmm_port_lock(cfg->port);
	smmu->port = cfg->port;
	smmu->strtab = strtab;
	smmu->owners = cfg->meta;
	smmu->streams = (struct kmm_smmu_stream *)(void *)((char *)cfg->meta +
							   owners_size());
	smmu->num_sids = cfg->num_sids;
	smmu->caps = cfg->caps;
	for (size_t i = 0; i < KMM_CONFIG_MAX_OWNERS; i++) {
		smmu->owners[i] =
			(struct kmm_smmu_owner){ .head = KMM_SMMU_NIL };
	}
	kmm_smmu_ste_encode_abort(abort_ste);
	for (uint32_t sid = 0; sid < cfg->num_sids; sid++) {
		uint64_t *ste = ste_of(smmu, sid);

		/* Abort first: whatever the other words say is ignored. */
		ste_store(&ste[0], abort_ste[0]);
		for (unsigned int w = 1; w < KMM_SMMU_STE_WORDS; w++)
			ste_store(&ste[w], abort_ste[w]);
		smmu->streams[sid] = (struct kmm_smmu_stream){
			.next = KMM_SMMU_NIL,
			.prev = KMM_SMMU_NIL,
			.owner = KMM_OWNER_NONE,
		};
	}
	if (cfg->port->clean_range)
		cfg->port->clean_range(cfg->port->cookie, strtab,
				       (size_t)cfg->num_sids *
					       KMM_SMMU_STE_SIZE);
	kmm_smmu_cmd_cfgi_all(cmd);
	submit(smmu, cmd);
	sync(smmu);
	kmm_port_unlock(cfg->port);
	return KMM_OK;
}

static void link_stream(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner)
{
	struct kmm_smmu_owner *o = &smmu->owners[owner];
	struct kmm_smmu_stream *st = &smmu->streams[sid];

	st->owner = owner;
	st->translating = 0;
	st->prev = KMM_SMMU_NIL;
	st->next = o->head;
	if (o->head != KMM_SMMU_NIL)
		smmu->streams[o->head].prev = sid;
	o->head = sid;
}

static void unlink_stream(struct kmm_smmu *smmu, uint32_t sid)
{
	struct kmm_smmu_stream *st = &smmu->streams[sid];
	struct kmm_smmu_owner *o = &smmu->owners[st->owner];

	if (st->prev != KMM_SMMU_NIL)
		smmu->streams[st->prev].next = st->next;
	else
		o->head = st->next;
	if (st->next != KMM_SMMU_NIL)
		smmu->streams[st->next].prev = st->prev;
	*st = (struct kmm_smmu_stream){ .next = KMM_SMMU_NIL,
					.prev = KMM_SMMU_NIL,
					.owner = KMM_OWNER_NONE };
}

int kmm_smmu_assign(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner)
{
	int ret = KMM_OK;
	kmm_owner_t holder;

	if (smmu == NULL || !owner_is_valid(owner))
		return KMM_EINVAL;
	if (sid >= smmu->num_sids)
		return KMM_ERANGE;
	kmm_port_lock(smmu->port);
	holder = smmu->streams[sid].owner;
	if (holder == KMM_OWNER_NONE)
		link_stream(smmu, sid, owner); /* the STE stays abort */
	else if (holder != owner)
		ret = KMM_EBUSY;
	kmm_port_unlock(smmu->port);
	return ret;
}

/* Checks @owner may point @sid at the stage 2 of @ste; lock held. */
static int check_attach(const struct kmm_smmu *smmu, uint32_t sid,
			kmm_owner_t owner, const uint64_t ste[])
{
	const struct kmm_smmu_stream *st = &smmu->streams[sid];
	const struct kmm_smmu_owner *o = &smmu->owners[owner];
	uint16_t vmid = vmid_of_words(&ste[2]);

	if (st->owner == KMM_OWNER_NONE)
		return KMM_ENOENT;
	if (st->owner != owner)
		return KMM_EPERM;
	if (st->translating)
		return KMM_EEXIST;
	if (o->translating &&
	    (o->s2_words[0] != ste[2] || o->s2_words[1] != ste[3]))
		return KMM_EEXIST;
	for (size_t i = 0; i < KMM_CONFIG_MAX_OWNERS; i++) {
		const struct kmm_smmu_owner *other = &smmu->owners[i];

		if (i != owner && other->translating &&
		    vmid_of_words(other->s2_words) == vmid)
			return KMM_EBUSY;
	}
	return KMM_OK;
}

/*
 * Points @sid, whose STE aborts, at a stage 2 (SMMUv3 3.21.3.1): words
 * 1..7 first, which the abort configuration ignores; CMD_CFGI_STE and
 * CMD_SYNC so that no cached copy can mix old and new words; then word 0
 * in one store, CMD_CFGI_STE and CMD_SYNC.
 */
static void install_ste(struct kmm_smmu *smmu, uint32_t sid,
			const uint64_t ste[KMM_SMMU_STE_WORDS])
{
	uint64_t *dst = ste_of(smmu, sid);

	for (unsigned int w = 1; w < KMM_SMMU_STE_WORDS; w++)
		ste_store(&dst[w], ste[w]);
	cfgi_ste(smmu, sid);
	sync(smmu);
	ste_store(&dst[0], ste[0]);
	cfgi_ste(smmu, sid);
	sync(smmu);
}

int kmm_smmu_attach_s2(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner,
		       const struct kmm_smmu_s2_cfg *cfg)
{
	uint64_t ste[KMM_SMMU_STE_WORDS];
	struct kmm_smmu_owner *o;
	int ret;

	if (smmu == NULL || cfg == NULL || !owner_is_valid(owner))
		return KMM_EINVAL;
	if (sid >= smmu->num_sids)
		return KMM_ERANGE;
	ret = kmm_smmu_ste_encode_s2(cfg, ste);
	if (ret)
		return ret;
	if (!((smmu->caps.granules >> cfg->granule_shift) & 1u) ||
	    cfg->pa_bits > smmu->caps.oas_bits ||
	    ((uint32_t)cfg->vmid >> smmu->caps.vmid_bits) != 0)
		return KMM_ENOTSUP;

	kmm_port_lock(smmu->port);
	ret = check_attach(smmu, sid, owner, ste);
	if (ret == KMM_OK) {
		install_ste(smmu, sid, ste);
		o = &smmu->owners[owner];
		o->s2_words[0] = ste[2];
		o->s2_words[1] = ste[3];
		o->translating++;
		smmu->streams[sid].translating = 1;
	}
	kmm_port_unlock(smmu->port);
	return ret;
}

/* Word 0 to abort in one store, then CMD_CFGI_STE (no sync yet). */
static void abort_ste(const struct kmm_smmu *smmu, uint32_t sid)
{
	ste_store(&ste_of(smmu, sid)[0],
		  STE0_V | (STE0_CONFIG_ABORT << STE0_CONFIG_SHIFT));
	cfgi_ste(smmu, sid);
}

int kmm_smmu_release(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner)
{
	struct kmm_smmu_stream *st;
	struct kmm_smmu_owner *o;
	int ret = KMM_OK;

	if (smmu == NULL || !owner_is_valid(owner))
		return KMM_EINVAL;
	if (sid >= smmu->num_sids)
		return KMM_ERANGE;
	kmm_port_lock(smmu->port);
	st = &smmu->streams[sid];
	o = &smmu->owners[owner];
	if (st->owner == KMM_OWNER_NONE) {
		ret = KMM_ENOENT;
	} else if (st->owner != owner) {
		ret = KMM_EPERM;
	} else {
		abort_ste(smmu, sid);
		sync(smmu);
		/*
		 * TLB entries of the VMID made through this stream must not
		 * outlive it: the VMID may go to another guest later. The
		 * STE is invalidated first so that no walk through the old
		 * configuration can refill the TLB after the TLBI.
		 */
		if (st->translating) {
			tlbi_vmall(smmu, vmid_of_words(o->s2_words));
			sync(smmu);
			o->translating--;
		}
		unlink_stream(smmu, sid);
	}
	kmm_port_unlock(smmu->port);
	return ret;
}

int kmm_smmu_release_all(struct kmm_smmu *smmu, kmm_owner_t owner)
{
	struct kmm_smmu_owner *o;
	int count = 0;

	if (smmu == NULL || !owner_is_valid(owner))
		return KMM_EINVAL;
	kmm_port_lock(smmu->port);
	o = &smmu->owners[owner];
	for (uint32_t sid = o->head; sid != KMM_SMMU_NIL;
	     sid = smmu->streams[sid].next) {
		abort_ste(smmu, sid);
		count++;
	}
	if (count)
		sync(smmu);
	if (o->translating) {
		tlbi_vmall(smmu, vmid_of_words(o->s2_words));
		sync(smmu);
	}
	while (o->head != KMM_SMMU_NIL)
		unlink_stream(smmu, o->head);
	*o = (struct kmm_smmu_owner){ .head = KMM_SMMU_NIL };
	kmm_port_unlock(smmu->port);
	return count;
}

int kmm_smmu_query(const struct kmm_smmu *smmu, uint32_t sid,
		   kmm_owner_t *owner, bool *translating)
{
	if (smmu == NULL || owner == NULL)
		return KMM_EINVAL;
	if (sid >= smmu->num_sids)
		return KMM_ERANGE;
	kmm_port_lock(smmu->port);
	*owner = smmu->streams[sid].owner;
	if (translating)
		*translating = smmu->streams[sid].translating != 0;
	kmm_port_unlock(smmu->port);
	return KMM_OK;
}

/* ---- Stage 2 of a VMSA address space ----------------------------------- */

/* VTCR_EL2 walk attributes: IRGN0 [9:8], ORGN0 [11:10], SH0 [13:12]. */
#define VTCR_IRGN0_SHIFT 8
#define VTCR_ORGN0_SHIFT 10
#define VTCR_SH0_SHIFT 12

int kmm_smmu_s2_cfg_from_vmsa(const struct kmm_vmsa *v,
			      struct kmm_smmu_s2_cfg *cfg)
{
	uint64_t vtcr;

	if (v == NULL || cfg == NULL || v->cfg.regime != KMM_REGIME_STAGE2)
		return KMM_EINVAL;
	vtcr = kmm_vmsa_tcr(v);
	*cfg = (struct kmm_smmu_s2_cfg){
		.root_pa = v->root_pa,
		.vmid = v->cfg.id,
		.ipa_bits = v->cfg.va_bits,
		.granule_shift = v->cfg.granule_shift,
		.start_level = v->start_level,
		.pa_bits = v->cfg.oa_bits,
		.walk_inner = (uint8_t)((vtcr >> VTCR_IRGN0_SHIFT) & 3u),
		.walk_outer = (uint8_t)((vtcr >> VTCR_ORGN0_SHIFT) & 3u),
		.walk_share = (uint8_t)((vtcr >> VTCR_SH0_SHIFT) & 3u),
		.flags = KMM_SMMU_S2_RECORD_FAULTS,
	};
	return KMM_OK;
}

int kmm_smmu_ste_encode(const struct kmm_vmsa *v,
			uint64_t ste[KMM_SMMU_STE_WORDS])
{
	struct kmm_smmu_s2_cfg cfg;
	int ret = kmm_smmu_s2_cfg_from_vmsa(v, &cfg);

	if (ret)
		return ret;
	return kmm_smmu_ste_encode_s2(&cfg, ste);
}

int kmm_smmu_attach_vmsa(struct kmm_smmu *smmu, uint32_t sid, kmm_owner_t owner,
			 const struct kmm_vmsa *v)
{
	struct kmm_smmu_s2_cfg cfg;
	int ret = kmm_smmu_s2_cfg_from_vmsa(v, &cfg);

	if (ret)
		return ret;
	if (!(v->cfg.flags & KMM_VMSA_SHARED_SMMU))
		return KMM_EINVAL;
	if (v->as.owner != owner)
		return KMM_EPERM;
	return kmm_smmu_attach_s2(smmu, sid, owner, &cfg);
}

/* ---- A port that adds the SMMU's invalidations to the CPU's ------------- */

static struct kmm_smmu_tlb_port *wrap_of(void *cookie)
{
	return cookie;
}

static bool shared_with_smmu(const struct kmm_tlb_ctx *ctx)
{
	return ctx->shared_smmu && ctx->regime == KMM_REGIME_STAGE2;
}

static void wrap_submit(struct kmm_smmu_tlb_port *w, const uint64_t cmd[2])
{
	w->inner->smmu_cmd(w->inner->cookie, cmd);
	w->pending = true;
}

static void wrap_vmall(struct kmm_smmu_tlb_port *w, uint16_t vmid)
{
	uint64_t cmd[2];

	kmm_smmu_cmd_tlbi_s12_vmall(cmd, vmid);
	wrap_submit(w, cmd);
}

/* One IPA; an address the command cannot carry costs a whole-VMID TLBI. */
static void wrap_ipa(struct kmm_smmu_tlb_port *w, uint16_t vmid,
		     kmm_vaddr_t ipa, bool leaf_only)
{
	uint64_t cmd[2];

	if (kmm_smmu_cmd_tlbi_s2_ipa(cmd, vmid, ipa, leaf_only))
		kmm_smmu_cmd_tlbi_s12_vmall(cmd, vmid);
	wrap_submit(w, cmd);
}

static void wrap_tlb_flush_all(void *cookie, const struct kmm_tlb_ctx *ctx)
{
	struct kmm_smmu_tlb_port *w = wrap_of(cookie);

	if (w->inner->tlb_flush_all)
		w->inner->tlb_flush_all(w->inner->cookie, ctx);
	if (shared_with_smmu(ctx))
		wrap_vmall(w, ctx->id);
}

static void wrap_tlb_flush_range(void *cookie, const struct kmm_tlb_ctx *ctx,
				 kmm_vaddr_t va, size_t size, size_t granule,
				 bool leaf_only)
{
	struct kmm_smmu_tlb_port *w = wrap_of(cookie);

	if (w->inner->tlb_flush_range)
		w->inner->tlb_flush_range(w->inner->cookie, ctx, va, size,
					  granule, leaf_only);
	if (!shared_with_smmu(ctx))
		return;
	if (granule == 0 || size / granule > KMM_CONFIG_TLBI_THRESHOLD ||
	    kmm_range_wraps(va, size)) {
		wrap_vmall(w, ctx->id);
		return;
	}
	for (size_t off = 0; off < size; off += granule)
		wrap_ipa(w, ctx->id, va + off, leaf_only);
}

static void wrap_tlb_add_page(void *cookie, const struct kmm_tlb_ctx *ctx,
			      kmm_vaddr_t va, size_t granule, bool leaf_only)
{
	struct kmm_smmu_tlb_port *w = wrap_of(cookie);

	if (w->inner->tlb_add_page)
		w->inner->tlb_add_page(w->inner->cookie, ctx, va, granule,
				       leaf_only);
	if (shared_with_smmu(ctx))
		wrap_ipa(w, ctx->id, va, leaf_only);
}

/* The CPU's invalidations complete first, then the SMMU's. */
static void wrap_tlb_sync(void *cookie, const struct kmm_tlb_ctx *ctx)
{
	struct kmm_smmu_tlb_port *w = wrap_of(cookie);
	uint64_t cmd[2];

	if (w->inner->tlb_sync)
		w->inner->tlb_sync(w->inner->cookie, ctx);
	if (w->pending) {
		kmm_smmu_cmd_sync(cmd);
		w->inner->smmu_cmd(w->inner->cookie, cmd);
		w->pending = false;
	}
}

static void wrap_lock(void *cookie)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->lock(in->cookie);
}

static void wrap_unlock(void *cookie)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->unlock(in->cookie);
}

static void wrap_clean_range(void *cookie, const void *ptr, size_t size)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->clean_range(in->cookie, ptr, size);
}

static void *wrap_pa_to_ptr(void *cookie, kmm_paddr_t pa)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	return in->pa_to_ptr(in->cookie, pa);
}

static void wrap_scrub(void *cookie, kmm_paddr_t pa, size_t size)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->scrub(in->cookie, pa, size);
}

static void wrap_mpu_write(void *cookie, unsigned int bank, unsigned int slot,
			   uint64_t rbar, uint64_t rlar)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->mpu_write(in->cookie, bank, slot, rbar, rlar);
}

static void wrap_mpu_sync(void *cookie)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->mpu_sync(in->cookie);
}

static void wrap_smmu_cmd(void *cookie, const uint64_t cmd[2])
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->smmu_cmd(in->cookie, cmd);
}

static void wrap_log(void *cookie, const char *line)
{
	const struct kmm_port *in = wrap_of(cookie)->inner;

	in->log(in->cookie, line);
}

int kmm_smmu_tlb_port_init(struct kmm_smmu_tlb_port *w,
			   const struct kmm_port *inner)
{
	if (w == NULL || inner == NULL || inner->smmu_cmd == NULL)
		return KMM_EINVAL;
	if ((inner->lock == NULL) != (inner->unlock == NULL))
		return KMM_EINVAL;
	kmm_memzero(w, sizeof(*w));
	w->inner = inner;
	w->port.cookie = w;
	w->port.lock = inner->lock ? wrap_lock : NULL;
	w->port.unlock = inner->unlock ? wrap_unlock : NULL;
	w->port.tlb_flush_all = wrap_tlb_flush_all;
	w->port.tlb_flush_range = wrap_tlb_flush_range;
	w->port.tlb_add_page = wrap_tlb_add_page;
	w->port.tlb_sync = wrap_tlb_sync;
	w->port.clean_range = inner->clean_range ? wrap_clean_range : NULL;
	w->port.pa_to_ptr = inner->pa_to_ptr ? wrap_pa_to_ptr : NULL;
	w->port.scrub = inner->scrub ? wrap_scrub : NULL;
	w->port.mpu_write = inner->mpu_write ? wrap_mpu_write : NULL;
	w->port.mpu_sync = inner->mpu_sync ? wrap_mpu_sync : NULL;
	w->port.smmu_cmd = wrap_smmu_cmd;
	w->port.log = inner->log ? wrap_log : NULL;
	return KMM_OK;
}
