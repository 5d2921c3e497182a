// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the SMMUv3 module (arch/arm64/smmuv3): golden STE and
 * command encodings checked field by field against the SMMUv3
 * specification (Arm IHI 0070, 5.2 STE and chapter 4 Commands), stream-ID
 * ownership with its error paths, the order in which STE words and
 * commands reach the SMMU, and the TLB port that adds the SMMU's
 * invalidations to the CPU's.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/smmu.h"

#define ARENA_BASE 0x80000000ull
#define ARENA_SIZE (1ull << 20)
#define NSIDS 64u

static const uint64_t ABORT_W0 = 0x1; /* V = 1, Config = 0b000 */
static const uint64_t S2_W0 = 0xd; /* V = 1, Config = 0b110 */

/* 4K pages, 40-bit IPA from level 1 with 2 concatenated tables. */
static struct kmm_smmu_s2_cfg cfg_4k40(uint16_t vmid, kmm_paddr_t root)
{
	return (struct kmm_smmu_s2_cfg){
		.root_pa = root,
		.vmid = vmid,
		.ipa_bits = 40,
		.granule_shift = 12,
		.start_level = 1,
		.pa_bits = 40,
		.walk_inner = 1,
		.walk_outer = 1,
		.walk_share = 3,
		.flags = KMM_SMMU_S2_RECORD_FAULTS,
	};
}

static void fill(uint64_t *w, size_t n, uint64_t v)
{
	for (size_t i = 0; i < n; i++)
		w[i] = v;
}

/* ---- Golden encodings --------------------------------------------------- */

Test(smmu_encode, abort_ste_is_valid_with_config_abort_and_nothing_else)
{
	uint64_t ste[8];

	fill(ste, 8, ~0ull);
	kmm_smmu_ste_encode_abort(ste);
	/* STE.V, bit [0] = 1; STE.Config, bits [3:1] = 0b000 (abort). */
	cr_assert_eq(ste[0], 0x1);
	for (int i = 1; i < 8; i++)
		cr_assert_eq(ste[i], 0, "word %d", i);
}

Test(smmu_encode, s2_ste_4k_40bit_ipa_level1_concatenated_golden)
{
	struct kmm_smmu_s2_cfg c = cfg_4k40(5, 0x802000ull);
	uint64_t ste[8];

	/* 2 concatenated 4K tables: the root is 8 KiB aligned. */
	cr_assert_eq(kmm_smmu_ste_encode_s2(&c, ste), 0);
	/* STE.V [0] = 1, STE.Config [3:1] = 0b110: S1 bypass, S2 translate. */
	cr_assert_eq(ste[0], 0xd);
	/* Word 1 (S1DSS .. SHCFG): all zero, SHCFG not requested. */
	cr_assert_eq(ste[1], 0);
	/*
	 * Word 2 = bits [191:128]:
	 *  S2VMID [143:128] = 5          -> word bits [15:0]
	 *  S2T0SZ [165:160] = 64-40 = 24 -> [37:32] = 0x18
	 *  S2SL0 [167:166] = 1 (level 1, 4K) -> [39:38]
	 *  S2IR0 [169:168] = 0b01 WB RA WA   -> [41:40]
	 *  S2OR0 [171:170] = 0b01            -> [43:42]
	 *  S2SH0 [173:172] = 0b11 Inner Sh.  -> [45:44]
	 *  S2TG [175:174] = 0b00 4KB         -> [47:46]
	 *  S2PS [178:176] = 0b010 40 bits    -> [50:48]
	 *  S2AA64 [179] = 1 VMSAv8-64        -> [51]
	 *  S2ENDI [180], S2AFFD [181], S2PTW [182], S2HD [183], S2HA [184],
	 *  S2S [185] = 0
	 *  S2R [186] = 1 record faults       -> [58]
	 */
	cr_assert_eq(ste[2], 0x040a355800000005ull);
	/* S2TTB [243:196] = address [51:4] -> word 3 bits [51:4]. */
	cr_assert_eq(ste[3], 0x802000ull);
	for (int i = 4; i < 8; i++)
		cr_assert_eq(ste[i], 0, "word %d", i);
}

Test(smmu_encode, s2_ste_16k_48bit_ipa_level1_golden)
{
	struct kmm_smmu_s2_cfg c = {
		.root_pa = 0xfedc000000ull,
		.vmid = 0xbeef,
		.ipa_bits = 48,
		.granule_shift = 14,
		.start_level = 1,
		.pa_bits = 48,
		.walk_inner = 1,
		.walk_outer = 1,
		.walk_share = 3,
		.flags = KMM_SMMU_S2_SHCFG_INCOMING,
	};
	uint64_t ste[8];

	cr_assert_eq(kmm_smmu_ste_encode_s2(&c, ste), 0);
	cr_assert_eq(ste[0], 0xd);
	/* SHCFG, bits [109:108] = 0b01 (use incoming) -> word 1 [45:44]. */
	cr_assert_eq(ste[1], 1ull << 44);
	/*
	 * S2VMID = 0xbeef; S2T0SZ = 16 -> 0x10; S2SL0 = 0b10 (level 1 with
	 * 16K); S2IR0 = S2OR0 = 0b01; S2SH0 = 0b11; S2TG = 0b10 (16KB);
	 * S2PS = 0b101 (48 bits); S2AA64 = 1; S2R = 0.
	 */
	cr_assert_eq(ste[2], 0x000db5900000beefull);
	cr_assert_eq(ste[3], 0xfedc000000ull);
}

Test(smmu_encode, s2_ste_64k_42bit_ipa_level2_golden)
{
	struct kmm_smmu_s2_cfg c = {
		.root_pa = 0x40010000ull,
		.vmid = 0x42,
		.ipa_bits = 42,
		.granule_shift = 16,
		.start_level = 2,
		.pa_bits = 44,
		.walk_inner = 0,
		.walk_outer = 0,
		.walk_share = 2,
		.flags = KMM_SMMU_S2_RECORD_FAULTS,
	};
	uint64_t ste[8];

	cr_assert_eq(kmm_smmu_ste_encode_s2(&c, ste), 0);
	/*
	 * S2VMID = 0x42; S2T0SZ = 22 -> 0x16; S2SL0 = 0b01 (level 2 with
	 * 64K); S2IR0 = S2OR0 = 0b00 (Non-cacheable walks); S2SH0 = 0b10
	 * (Outer Shareable); S2TG = 0b01 (64KB); S2PS = 0b100 (44 bits);
	 * S2AA64 = 1; S2R = 1.
	 */
	cr_assert_eq(ste[2], 0x040c605600000042ull);
	cr_assert_eq(ste[3], 0x40010000ull);
}

Test(smmu_encode, cfgi_ste_golden)
{
	uint64_t cmd[2];

	kmm_smmu_cmd_cfgi_ste(cmd, 0x1234);
	/* Opcode [7:0] = 0x03, SSec [10] = 0, StreamID [63:32]. */
	cr_assert_eq(cmd[0], 0x0000123400000003ull);
	/* Leaf [64] = 1: a linear table has no L1 descriptors. */
	cr_assert_eq(cmd[1], 0x1);
}

Test(smmu_encode, cfgi_all_is_cfgi_ste_range_with_range_31)
{
	uint64_t cmd[2];

	kmm_smmu_cmd_cfgi_all(cmd);
	/* Opcode 0x04 (CMD_CFGI_STE_RANGE), StreamID ignored. */
	cr_assert_eq(cmd[0], 0x04);
	/* Range [68:64] = 31: every StreamID. */
	cr_assert_eq(cmd[1], 31);
}

Test(smmu_encode, tlbi_s2_ipa_golden)
{
	uint64_t cmd[2];

	cr_assert_eq(kmm_smmu_cmd_tlbi_s2_ipa(cmd, 7, 0x812345000ull, true), 0);
	/* Opcode [7:0] = 0x2a, VMID [47:32] = 7, NUM/SCALE = 0. */
	cr_assert_eq(cmd[0], 0x000000070000002aull);
	/* Leaf [64] = 1, TTL [73:72] = TG [75:74] = 0, Address [115:76]. */
	cr_assert_eq(cmd[1], 0x0000000812345001ull);
	cr_assert_eq(kmm_smmu_cmd_tlbi_s2_ipa(cmd, 0xffff, 0xffffffffff000ull,
					      false),
		     0);
	cr_assert_eq(cmd[0], 0x0000ffff0000002aull);
	cr_assert_eq(cmd[1], 0x000ffffffffff000ull);
}

Test(smmu_encode, tlbi_s2_ipa_refuses_what_it_cannot_carry)
{
	uint64_t cmd[2] = { 0xaa, 0xbb };

	cr_assert_eq(kmm_smmu_cmd_tlbi_s2_ipa(cmd, 1, 0x1800, false),
		     KMM_EALIGN);
	cr_assert_eq(kmm_smmu_cmd_tlbi_s2_ipa(cmd, 1, 1ull << 52, false),
		     KMM_ERANGE);
	cr_assert_eq(kmm_smmu_cmd_tlbi_s2_ipa(NULL, 1, 0, false), KMM_EINVAL);
	cr_assert_eq(cmd[0], 0xaa);
	cr_assert_eq(cmd[1], 0xbb);
}

Test(smmu_encode, tlbi_s12_vmall_golden)
{
	uint64_t cmd[2];

	kmm_smmu_cmd_tlbi_s12_vmall(cmd, 9);
	/* Opcode [7:0] = 0x28, VMID [47:32] = 9. */
	cr_assert_eq(cmd[0], 0x0000000900000028ull);
	cr_assert_eq(cmd[1], 0);
}

Test(smmu_encode, sync_golden)
{
	uint64_t cmd[2];

	kmm_smmu_cmd_sync(cmd);
	/* Opcode 0x46, CS [13:12] = 0b00 SIG_NONE, no MSI. */
	cr_assert_eq(cmd[0], 0x46);
	cr_assert_eq(cmd[1], 0);
}

/* ---- Encoder validation -------------------------------------------------- */

static void expect_refused(const struct kmm_smmu_s2_cfg *c, int err)
{
	uint64_t ste[8];

	fill(ste, 8, 0x5a5a5a5a5a5a5a5aull);
	cr_assert_eq(kmm_smmu_ste_encode_s2(c, ste), err,
		     "ipa %u granule %u level %u", c->ipa_bits,
		     c->granule_shift, c->start_level);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(ste[i], 0x5a5a5a5a5a5a5a5aull);
}

static int encode_geometry(unsigned int g, unsigned int ipa, unsigned int lvl)
{
	struct kmm_smmu_s2_cfg c = cfg_4k40(1, 0);
	uint64_t ste[8];

	c.granule_shift = (uint8_t)g;
	c.ipa_bits = (uint8_t)ipa;
	c.start_level = (uint8_t)lvl;
	c.pa_bits = 48;
	return kmm_smmu_ste_encode_s2(&c, ste);
}

Test(smmu_encode, initial_level_resolves_at_most_16_concatenated_tables)
{
	/* 4K: level 1 covers 31..43 bits (43 = 16 tables of 512 entries). */
	cr_assert_eq(encode_geometry(12, 43, 1), 0);
	cr_assert_eq(encode_geometry(12, 44, 1), KMM_ERANGE);
	cr_assert_eq(encode_geometry(12, 31, 1), 0);
	cr_assert_eq(encode_geometry(12, 30, 1), KMM_ERANGE);
	/* 4K level 0 resolves bits [47:39] only. */
	cr_assert_eq(encode_geometry(12, 48, 0), 0);
	cr_assert_eq(encode_geometry(12, 39, 0), KMM_ERANGE);
	/* 4K level 2: 25 to 34 bits. */
	cr_assert_eq(encode_geometry(12, 34, 2), 0);
	cr_assert_eq(encode_geometry(12, 35, 2), KMM_ERANGE);
	/* 16K: level 1 up to 48 bits (2 tables), level 2 36..40. */
	cr_assert_eq(encode_geometry(14, 48, 1), 0);
	cr_assert_eq(encode_geometry(14, 40, 2), 0);
	cr_assert_eq(encode_geometry(14, 41, 2), KMM_ERANGE);
	/* 64K: level 1 43..48, level 2 30..46, level 3 25..33. */
	cr_assert_eq(encode_geometry(16, 48, 1), 0);
	cr_assert_eq(encode_geometry(16, 42, 1), KMM_ERANGE);
	cr_assert_eq(encode_geometry(16, 46, 2), 0);
	cr_assert_eq(encode_geometry(16, 33, 3), 0);
	cr_assert_eq(encode_geometry(16, 34, 3), KMM_ERANGE);
	/* IPA size limits of STE.S2T0SZ (16..39 with VMSAv8-64, no LPA). */
	cr_assert_eq(encode_geometry(12, 24, 2), KMM_ERANGE);
	cr_assert_eq(encode_geometry(16, 49, 1), KMM_ERANGE);
}

Test(smmu_encode, start_levels_that_sl0_cannot_encode_are_refused)
{
	cr_assert_eq(encode_geometry(12, 25, 3), KMM_ENOTSUP); /* FEAT_TTST */
	cr_assert_eq(encode_geometry(14, 48, 0), KMM_ENOTSUP); /* LPA2 */
	cr_assert_eq(encode_geometry(16, 48, 0), KMM_ENOTSUP);
	cr_assert_eq(encode_geometry(13, 40, 1), KMM_ENOTSUP);
}

Test(smmu_encode, bad_descriptions_are_refused_and_ste_untouched)
{
	struct kmm_smmu_s2_cfg c;
	uint64_t ste[8];

	cr_assert_eq(kmm_smmu_ste_encode_s2(NULL, ste), KMM_EINVAL);
	c = cfg_4k40(1, 0x2000);
	cr_assert_eq(kmm_smmu_ste_encode_s2(&c, NULL), KMM_EINVAL);
	c.flags = 1u << 7;
	expect_refused(&c, KMM_EINVAL);
	c = cfg_4k40(1, 0x2000);
	c.walk_share = 1; /* reserved Shareability */
	expect_refused(&c, KMM_EINVAL);
	c = cfg_4k40(1, 0x2000);
	c.walk_inner = 4;
	expect_refused(&c, KMM_EINVAL);
	c = cfg_4k40(1, 0x2000);
	c.pa_bits = 52;
	expect_refused(&c, KMM_ENOTSUP);
	c = cfg_4k40(1, 0x2000);
	c.pa_bits = 38;
	expect_refused(&c, KMM_ENOTSUP);
	c = cfg_4k40(1, 1ull << 40); /* root beyond the 40-bit PA size */
	expect_refused(&c, KMM_ERANGE);
	c = cfg_4k40(1, 0x1000); /* 2 concatenated tables need 8K */
	expect_refused(&c, KMM_EALIGN);
}

/* ---- A host SMMU: stream table, bookkeeping, recorded commands ---------- */

struct rig {
	struct kmm_host host;
	struct kmm_smmu smmu;
	void *meta;
	uint64_t *strtab;
	/* Snapshot of STE words 0, 2, 3 of 'watch' at every command. */
	uint32_t watch;
	size_t nsnap;
	uint64_t snap[64][3];
	unsigned long lock_depth_at_cmd;
};

static void snapshot(struct kmm_host *h, const struct kmm_host_event *ev)
{
	struct rig *r = h->user;
	const uint64_t *ste = r->strtab + (size_t)r->watch * 8;

	if (ev->kind != KMM_HOST_EV_SMMU_CMD)
		return;
	r->lock_depth_at_cmd = h->lock_depth;
	if (r->nsnap < 64) {
		r->snap[r->nsnap][0] = ste[0];
		r->snap[r->nsnap][1] = ste[2];
		r->snap[r->nsnap][2] = ste[3];
		r->nsnap++;
	}
}

static const struct kmm_smmu_caps full_caps = {
	.oas_bits = 48,
	.vmid_bits = 16,
	.granules = (1u << 12) | (1u << 14) | (1u << 16),
};

static void rig_init(struct rig *r, uint32_t nsids)
{
	struct kmm_smmu_config cfg;

	memset(r, 0, sizeof(*r));
	cr_assert_eq(kmm_host_init(&r->host, ARENA_BASE, ARENA_SIZE, 4096), 0);
	r->host.log_enabled = false;
	r->host.user = r;
	r->host.on_event = snapshot;
	r->meta = aligned_alloc(8, kmm_smmu_meta_size(nsids) + 8);
	r->strtab = kmm_host_ptr(&r->host, ARENA_BASE);
	cfg = (struct kmm_smmu_config){
		.port = &r->host.port,
		.strtab = NULL,
		.strtab_pa = ARENA_BASE,
		.num_sids = nsids,
		.meta = r->meta,
		.meta_size = kmm_smmu_meta_size(nsids),
		.caps = full_caps,
	};
	cr_assert_eq(kmm_smmu_init(&r->smmu, &cfg), 0);
	kmm_host_clear_events(&r->host);
	r->nsnap = 0;
}

static void rig_fini(struct rig *r)
{
	free(r->meta);
	kmm_host_fini(&r->host);
}

static const uint64_t *ste_at(const struct rig *r, uint32_t sid)
{
	return r->strtab + (size_t)sid * 8;
}

/* The recorded SMMU commands, in order (other events skipped). */
static size_t smmu_cmds(const struct rig *r, uint64_t out[][2], size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < r->host.events_len && i < r->host.events_cap;
	     i++) {
		const struct kmm_host_event *ev = &r->host.events[i];

		if (ev->kind != KMM_HOST_EV_SMMU_CMD)
			continue;
		if (n < cap) {
			out[n][0] = ev->arg0;
			out[n][1] = ev->arg1;
		}
		n++;
	}
	return n;
}

static uint8_t opcode(const uint64_t cmd[2])
{
	return (uint8_t)(cmd[0] & 0xff);
}

Test(smmu_streams, init_sets_every_ste_to_abort_and_invalidates_all)
{
	struct rig r;
	uint64_t cmds[4][2];
	struct kmm_smmu_config cfg;

	memset(&r, 0, sizeof(r));
	cr_assert_eq(kmm_host_init(&r.host, ARENA_BASE, ARENA_SIZE, 64), 0);
	r.meta = aligned_alloc(8, kmm_smmu_meta_size(NSIDS));
	r.strtab = kmm_host_ptr(&r.host, ARENA_BASE);
	memset(r.strtab, 0xff, NSIDS * 64); /* bypass-looking garbage */
	cfg = (struct kmm_smmu_config){ .port = &r.host.port,
					.strtab_pa = ARENA_BASE,
					.num_sids = NSIDS,
					.meta = r.meta,
					.meta_size = kmm_smmu_meta_size(NSIDS),
					.caps = full_caps };
	cr_assert_eq(kmm_smmu_init(&r.smmu, &cfg), 0);
	for (uint32_t sid = 0; sid < NSIDS; sid++) {
		kmm_owner_t o;

		cr_assert_eq(ste_at(&r, sid)[0], ABORT_W0);
		for (int w = 1; w < 8; w++)
			cr_assert_eq(ste_at(&r, sid)[w], 0);
		cr_assert_eq(kmm_smmu_query(&r.smmu, sid, &o, NULL), 0);
		cr_assert_eq(o, KMM_OWNER_NONE);
	}
	cr_assert_eq(smmu_cmds(&r, cmds, 4), 2);
	cr_assert_eq(opcode(cmds[0]), KMM_SMMU_OP_CFGI_ALL);
	cr_assert_eq(cmds[0][1], 31);
	cr_assert_eq(opcode(cmds[1]), KMM_SMMU_OP_SYNC);
	rig_fini(&r);
}

Test(smmu_streams, init_refuses_bad_configurations_and_touches_nothing)
{
	struct kmm_host h;
	struct kmm_smmu smmu, before;
	struct kmm_port no_cmd;
	static uint64_t table[4 * 8] __attribute__((aligned(64)));
	uint64_t meta[4096];
	struct kmm_smmu_config good = { .strtab = table,
					.num_sids = 4,
					.meta = meta,
					.meta_size = sizeof(meta),
					.caps = full_caps };
	struct kmm_smmu_config c;

	cr_assert_eq(kmm_host_init(&h, ARENA_BASE, ARENA_SIZE, 64), 0);
	good.port = &h.port;
	no_cmd = h.port;
	no_cmd.smmu_cmd = NULL;
	memset(&smmu, 0x77, sizeof(smmu));
	before = smmu;
	fill(table, 32, 0x33);

	cr_assert_eq(kmm_smmu_init(NULL, &good), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_init(&smmu, NULL), KMM_EINVAL);
	c = good;
	c.port = &no_cmd;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.num_sids = 0;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.meta_size = kmm_smmu_meta_size(4) - 1;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.meta = (char *)meta + 4;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.strtab = (char *)table + 8;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.strtab = NULL;
	c.strtab_pa = 0x1000; /* outside the arena: pa_to_ptr gives NULL */
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.caps.vmid_bits = 12;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.caps.oas_bits = 52;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);
	c = good;
	c.caps.granules = 1u << 13;
	cr_assert_eq(kmm_smmu_init(&smmu, &c), KMM_EINVAL);

	cr_assert_eq(memcmp(&smmu, &before, sizeof(smmu)), 0);
	for (int i = 0; i < 32; i++)
		cr_assert_eq(table[i], 0x33);
	cr_assert_eq(kmm_host_count(&h, KMM_HOST_EV_SMMU_CMD), 0);
	cr_assert_eq(kmm_smmu_meta_size(0), 0);
	kmm_host_fini(&h);
}

Test(smmu_streams, assign_refuses_a_stream_id_another_owner_holds)
{
	struct rig r;
	kmm_owner_t o;

	rig_init(&r, NSIDS);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 7, 1), 0);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 7, 1), 0); /* idempotent */
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 7, 2), KMM_EBUSY);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 7, KMM_OWNER_KERNEL), KMM_EBUSY);
	cr_assert_eq(kmm_smmu_query(&r.smmu, 7, &o, NULL), 0);
	cr_assert_eq(o, 1);
	/* Assigning alone lets no DMA through: the STE stays abort. */
	cr_assert_eq(ste_at(&r, 7)[0], ABORT_W0);
	cr_assert_eq(kmm_host_count(&r.host, KMM_HOST_EV_SMMU_CMD), 0);
	rig_fini(&r);
}

Test(smmu_streams, bad_arguments_are_refused_with_specific_codes)
{
	struct rig r;
	struct kmm_smmu_s2_cfg c = cfg_4k40(3, 0x802000);
	kmm_owner_t o;

	rig_init(&r, NSIDS);
	cr_assert_eq(kmm_smmu_assign(NULL, 1, 1), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 1, KMM_OWNER_NONE), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 1, KMM_CONFIG_MAX_OWNERS),
		     KMM_EINVAL);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, NSIDS, 1), KMM_ERANGE);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, NSIDS, 1, &c), KMM_ERANGE);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 1, 1, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_release(&r.smmu, NSIDS, 1), KMM_ERANGE);
	cr_assert_eq(kmm_smmu_release(NULL, 1, 1), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_release_all(NULL, 1), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_release_all(&r.smmu, KMM_OWNER_NONE), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_query(&r.smmu, NSIDS, &o, NULL), KMM_ERANGE);
	cr_assert_eq(kmm_smmu_query(&r.smmu, 1, NULL, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_host_count(&r.host, KMM_HOST_EV_SMMU_CMD), 0);
	rig_fini(&r);
}

Test(smmu_streams, attach_writes_s2_words_under_abort_then_word0_last)
{
	struct rig r;
	struct kmm_smmu_s2_cfg c = cfg_4k40(3, 0x802000);
	uint64_t golden[8], cmds[8][2];
	bool tr;

	rig_init(&r, NSIDS);
	cr_assert_eq(kmm_smmu_ste_encode_s2(&c, golden), 0);
	r.watch = 9;
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 9, 1), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 9, 1, &c), 0);
	cr_assert_eq(memcmp(ste_at(&r, 9), golden, 64), 0);
	cr_assert_eq(kmm_smmu_query(&r.smmu, 9, &(kmm_owner_t){ 0 }, &tr), 0);
	cr_assert(tr);

	/* CFGI_STE, SYNC while aborting; CFGI_STE, SYNC once valid. */
	cr_assert_eq(smmu_cmds(&r, cmds, 8), 4);
	cr_assert_eq(cmds[0][0], 0x0000000900000003ull);
	cr_assert_eq(opcode(cmds[1]), KMM_SMMU_OP_SYNC);
	cr_assert_eq(cmds[2][0], 0x0000000900000003ull);
	cr_assert_eq(opcode(cmds[3]), KMM_SMMU_OP_SYNC);
	/* What the SMMU could see at each command: never half valid. */
	cr_assert_eq(r.nsnap, 4);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(r.snap[i][0], ABORT_W0, "cmd %d", i);
		cr_assert_eq(r.snap[i][1], golden[2]);
		cr_assert_eq(r.snap[i][2], golden[3]);
	}
	for (int i = 2; i < 4; i++)
		cr_assert_eq(r.snap[i][0], S2_W0, "cmd %d", i);
	/* Each STE is cleaned before its CFGI (non-coherent SMMUs). */
	cr_assert_eq(kmm_host_count(&r.host, KMM_HOST_EV_CLEAN), 2);
	cr_assert_eq(r.lock_depth_at_cmd, 1);
	rig_fini(&r);
}

Test(smmu_streams, attach_checks_holder_vmid_and_root_and_changes_nothing)
{
	struct rig r;
	struct kmm_smmu_s2_cfg c1 = cfg_4k40(3, 0x802000);
	struct kmm_smmu_s2_cfg c2 = cfg_4k40(4, 0x804000);
	struct kmm_smmu_s2_cfg bad;

	rig_init(&r, NSIDS);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 1, 1, &c1), KMM_ENOENT);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 1, 1), 0);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 2, 1), 0);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 3, 2), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 1, 2, &c1), KMM_EPERM);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 1, 1, &c1), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 1, 1, &c1), KMM_EEXIST);
	kmm_host_clear_events(&r.host);

	/* Owner 1's other stream must use the same VMID and root. */
	bad = c1;
	bad.root_pa = 0x806000;
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 2, 1, &bad), KMM_EEXIST);
	bad = c1;
	bad.vmid = 5;
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 2, 1, &bad), KMM_EEXIST);
	/* Another owner may not translate with owner 1's VMID. */
	bad = c2;
	bad.vmid = 3;
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 3, 2, &bad), KMM_EBUSY);
	/* Beyond the SMMU's caps. */
	r.smmu.caps.vmid_bits = 8;
	bad = c2;
	bad.vmid = 0x100;
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 3, 2, &bad), KMM_ENOTSUP);
	r.smmu.caps.granules = 1u << 16;
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 3, 2, &c2), KMM_ENOTSUP);
	r.smmu.caps = full_caps;
	r.smmu.caps.oas_bits = 36;
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 3, 2, &c2), KMM_ENOTSUP);
	r.smmu.caps = full_caps;
	bad = c2;
	bad.walk_share = 1;
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 3, 2, &bad), KMM_EINVAL);

	cr_assert_eq(kmm_host_count(&r.host, KMM_HOST_EV_SMMU_CMD), 0);
	cr_assert_eq(ste_at(&r, 2)[0], ABORT_W0);
	cr_assert_eq(ste_at(&r, 3)[0], ABORT_W0);
	cr_assert_eq(ste_at(&r, 2)[2], 0);
	/* The right configurations still go through. */
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 2, 1, &c1), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 3, 2, &c2), 0);
	rig_fini(&r);
}

Test(smmu_streams, release_leaves_abort_then_invalidates_ste_and_vmid)
{
	struct rig r;
	struct kmm_smmu_s2_cfg c = cfg_4k40(3, 0x802000);
	uint64_t cmds[8][2];
	kmm_owner_t o;

	rig_init(&r, NSIDS);
	r.watch = 5;
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 5, 1), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 5, 1, &c), 0);
	kmm_host_clear_events(&r.host);
	r.nsnap = 0;

	cr_assert_eq(kmm_smmu_release(&r.smmu, 5, 2), KMM_EPERM);
	cr_assert_eq(ste_at(&r, 5)[0], S2_W0);
	cr_assert_eq(kmm_smmu_release(&r.smmu, 5, 1), 0);
	cr_assert_eq(ste_at(&r, 5)[0], ABORT_W0); /* never bypass */
	cr_assert_eq(kmm_smmu_query(&r.smmu, 5, &o, NULL), 0);
	cr_assert_eq(o, KMM_OWNER_NONE);
	cr_assert_eq(kmm_smmu_release(&r.smmu, 5, 1), KMM_ENOENT);

	cr_assert_eq(smmu_cmds(&r, cmds, 8), 4);
	cr_assert_eq(cmds[0][0], 0x0000000500000003ull); /* CFGI_STE(5) */
	cr_assert_eq(opcode(cmds[1]), KMM_SMMU_OP_SYNC);
	cr_assert_eq(cmds[2][0], 0x0000000300000028ull); /* S12_VMALL(3) */
	cr_assert_eq(opcode(cmds[3]), KMM_SMMU_OP_SYNC);
	/* The STE already aborted when the SMMU was told to drop it. */
	cr_assert_eq(r.snap[0][0], ABORT_W0);
	/* The stream can be given to another owner now. */
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 5, 2), 0);
	rig_fini(&r);
}

Test(smmu_streams, release_of_a_stream_that_never_translated_needs_no_tlbi)
{
	struct rig r;
	uint64_t cmds[4][2];

	rig_init(&r, NSIDS);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 5, 1), 0);
	cr_assert_eq(kmm_smmu_release(&r.smmu, 5, 1), 0);
	cr_assert_eq(smmu_cmds(&r, cmds, 4), 2);
	cr_assert_eq(opcode(cmds[0]), KMM_SMMU_OP_CFGI_STE);
	cr_assert_eq(opcode(cmds[1]), KMM_SMMU_OP_SYNC);
	rig_fini(&r);
}

Test(smmu_streams, release_all_takes_back_only_the_owners_streams)
{
	struct rig r;
	struct kmm_smmu_s2_cfg c1 = cfg_4k40(3, 0x802000);
	struct kmm_smmu_s2_cfg c2 = cfg_4k40(4, 0x804000);
	uint64_t cmds[16][2];
	kmm_owner_t o;
	bool tr;

	rig_init(&r, NSIDS);
	for (uint32_t sid = 10; sid < 13; sid++)
		cr_assert_eq(kmm_smmu_assign(&r.smmu, sid, 1), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 10, 1, &c1), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 12, 1, &c1), 0);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 20, 2), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 20, 2, &c2), 0);
	kmm_host_clear_events(&r.host);

	cr_assert_eq(kmm_smmu_release_all(&r.smmu, 1), 3);
	for (uint32_t sid = 10; sid < 13; sid++) {
		cr_assert_eq(ste_at(&r, sid)[0], ABORT_W0);
		cr_assert_eq(kmm_smmu_query(&r.smmu, sid, &o, &tr), 0);
		cr_assert_eq(o, KMM_OWNER_NONE);
		cr_assert(!tr);
	}
	/* Three CFGI_STE, one SYNC, one S12_VMALL(3), one SYNC. */
	cr_assert_eq(smmu_cmds(&r, cmds, 16), 6);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(opcode(cmds[i]), KMM_SMMU_OP_CFGI_STE);
	cr_assert_eq(opcode(cmds[3]), KMM_SMMU_OP_SYNC);
	cr_assert_eq(cmds[4][0], 0x0000000300000028ull);
	cr_assert_eq(opcode(cmds[5]), KMM_SMMU_OP_SYNC);

	/* Owner 2 is untouched; owner 1 holds nothing now. */
	cr_assert_eq(ste_at(&r, 20)[0], S2_W0);
	cr_assert_eq(kmm_smmu_query(&r.smmu, 20, &o, &tr), 0);
	cr_assert_eq(o, 2);
	cr_assert(tr);
	kmm_host_clear_events(&r.host);
	cr_assert_eq(kmm_smmu_release_all(&r.smmu, 1), 0);
	cr_assert_eq(kmm_host_count(&r.host, KMM_HOST_EV_SMMU_CMD), 0);
	/* VMID 3 is free again for another owner. */
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 11, 3), 0);
	cr_assert_eq(kmm_smmu_attach_s2(&r.smmu, 11, 3, &c1), 0);
	rig_fini(&r);
}

/*
 * Random operations against a reference model: who holds each stream, which
 * translate, and every owner's VMID. After every operation the return code
 * is the model's and every STE's word 0 says abort unless it translates.
 */
#define MODEL_SIDS 24u
#define MODEL_OWNERS 5u

struct model {
	kmm_owner_t owner[MODEL_SIDS];
	bool translating[MODEL_SIDS];
	unsigned int attached[MODEL_OWNERS];
};

static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Owner k translates with VMID 100 + k and its own root. */
static struct kmm_smmu_s2_cfg owner_cfg(kmm_owner_t k)
{
	return cfg_4k40((uint16_t)(100 + k), 0x800000ull + 0x2000ull * k);
}

static void model_check(const struct rig *r, const struct model *m)
{
	for (uint32_t sid = 0; sid < MODEL_SIDS; sid++) {
		kmm_owner_t o;
		bool tr;

		cr_assert_eq(kmm_smmu_query(&r->smmu, sid, &o, &tr), 0);
		cr_assert_eq(o, m->owner[sid], "sid %u", sid);
		cr_assert_eq(tr, m->translating[sid], "sid %u", sid);
		cr_assert_eq(ste_at(r, sid)[0], tr ? S2_W0 : ABORT_W0);
		if (tr) {
			uint64_t want[8];
			struct kmm_smmu_s2_cfg c = owner_cfg(o);

			kmm_smmu_ste_encode_s2(&c, want);
			cr_assert_eq(memcmp(ste_at(r, sid), want, 64), 0);
		}
	}
}

static void run_model(uint64_t seed)
{
	struct rig r;
	struct model m;

	rig_init(&r, MODEL_SIDS);
	r.host.on_event = NULL;
	memset(&m, 0, sizeof(m));
	for (uint32_t s = 0; s < MODEL_SIDS; s++)
		m.owner[s] = KMM_OWNER_NONE;
	for (int step = 0; step < 2000; step++) {
		uint32_t sid = (uint32_t)(rng_next(&seed) % MODEL_SIDS);
		kmm_owner_t k = (kmm_owner_t)(rng_next(&seed) % MODEL_OWNERS);
		struct kmm_smmu_s2_cfg c = owner_cfg(k);
		int op = (int)(rng_next(&seed) % 10), want, got;

		if (op < 4) {
			want = m.owner[sid] == KMM_OWNER_NONE ||
					       m.owner[sid] == k ?
				       0 :
				       KMM_EBUSY;
			got = kmm_smmu_assign(&r.smmu, sid, k);
			if (want == 0)
				m.owner[sid] = k;
		} else if (op < 7) {
			if (m.owner[sid] == KMM_OWNER_NONE)
				want = KMM_ENOENT;
			else if (m.owner[sid] != k)
				want = KMM_EPERM;
			else if (m.translating[sid])
				want = KMM_EEXIST;
			else
				want = 0;
			got = kmm_smmu_attach_s2(&r.smmu, sid, k, &c);
			if (want == 0) {
				m.translating[sid] = true;
				m.attached[k]++;
			}
		} else if (op < 9) {
			if (m.owner[sid] == KMM_OWNER_NONE)
				want = KMM_ENOENT;
			else if (m.owner[sid] != k)
				want = KMM_EPERM;
			else
				want = 0;
			got = kmm_smmu_release(&r.smmu, sid, k);
			if (want == 0) {
				m.attached[k] -= m.translating[sid];
				m.owner[sid] = KMM_OWNER_NONE;
				m.translating[sid] = false;
			}
		} else {
			want = 0;
			for (uint32_t s = 0; s < MODEL_SIDS; s++) {
				if (m.owner[s] != k)
					continue;
				want++;
				m.owner[s] = KMM_OWNER_NONE;
				m.translating[s] = false;
			}
			m.attached[k] = 0;
			got = kmm_smmu_release_all(&r.smmu, k);
		}
		cr_assert_eq(got, want, "seed step %d op %d sid %u owner %u",
			     step, op, sid, k);
		model_check(&r, &m);
	}
	rig_fini(&r);
}

Test(smmu_streams, random_operations_match_the_reference_model)
{
	run_model(0x1234567887654321ull);
	run_model(42);
	run_model(0xdeadbeefcafef00dull);
}

/* ---- The TLB port: CPU and SMMU invalidations in one gather ------------- */

struct trig {
	struct kmm_host host;
	struct kmm_smmu_tlb_port w;
};

static void trig_init(struct trig *t)
{
	cr_assert_eq(kmm_host_init(&t->host, ARENA_BASE, ARENA_SIZE, 4096), 0);
	t->host.log_enabled = false;
	cr_assert_eq(kmm_smmu_tlb_port_init(&t->w, &t->host.port), 0);
}

static const struct kmm_host_event *ev_at(const struct trig *t, size_t i)
{
	cr_assert(i < t->host.events_len);
	return &t->host.events[i];
}

static void expect_smmu(const struct trig *t, size_t i, uint64_t w0,
			uint64_t w1)
{
	const struct kmm_host_event *ev = ev_at(t, i);

	cr_assert_eq(ev->kind, KMM_HOST_EV_SMMU_CMD, "event %zu", i);
	cr_assert_eq(ev->arg0, w0, "event %zu", i);
	cr_assert_eq(ev->arg1, w1, "event %zu", i);
}

static void expect_kind(const struct trig *t, size_t i,
			enum kmm_host_event_kind kind)
{
	cr_assert_eq(ev_at(t, i)->kind, kind, "event %zu", i);
}

static const struct kmm_tlb_ctx shared_s2 = { .regime = KMM_REGIME_STAGE2,
					      .shared_smmu = 1,
					      .id = 6 };

Test(smmu_tlb_port, gathered_pages_are_invalidated_in_cpu_and_smmu_then_synced)
{
	struct trig t;
	const struct kmm_port *p;

	trig_init(&t);
	p = &t.w.port;
	p->tlb_add_page(p->cookie, &shared_s2, 0x40001000, 0x1000, true);
	p->tlb_add_page(p->cookie, &shared_s2, 0x40200000, 0x200000, false);
	p->tlb_sync(p->cookie, &shared_s2);

	cr_assert_eq(t.host.events_len, 6);
	expect_kind(&t, 0, KMM_HOST_EV_TLB_ADD_PAGE);
	cr_assert_eq(ev_at(&t, 0)->addr, 0x40001000);
	cr_assert_eq(ev_at(&t, 0)->ctx.id, 6);
	expect_smmu(&t, 1, 0x000000060000002aull, 0x40001001ull);
	expect_kind(&t, 2, KMM_HOST_EV_TLB_ADD_PAGE);
	expect_smmu(&t, 3, 0x000000060000002aull, 0x40200000ull);
	/* The CPU's DSB first, then the SMMU's CMD_SYNC. */
	expect_kind(&t, 4, KMM_HOST_EV_TLB_SYNC);
	expect_smmu(&t, 5, 0x46, 0);
	kmm_host_fini(&t.host);
}

Test(smmu_tlb_port, whole_vmid_flush_becomes_tlbi_s12_vmall)
{
	struct trig t;
	const struct kmm_port *p;

	trig_init(&t);
	p = &t.w.port;
	p->tlb_flush_all(p->cookie, &shared_s2);
	p->tlb_sync(p->cookie, &shared_s2);
	cr_assert_eq(t.host.events_len, 4);
	expect_kind(&t, 0, KMM_HOST_EV_TLB_FLUSH_ALL);
	expect_smmu(&t, 1, 0x0000000600000028ull, 0);
	expect_kind(&t, 2, KMM_HOST_EV_TLB_SYNC);
	expect_smmu(&t, 3, 0x46, 0);
	kmm_host_fini(&t.host);
}

Test(smmu_tlb_port, small_range_goes_page_by_page_large_range_whole_vmid)
{
	struct trig t;
	const struct kmm_port *p;
	size_t big = ((size_t)KMM_CONFIG_TLBI_THRESHOLD + 1) * 0x1000;

	trig_init(&t);
	p = &t.w.port;
	p->tlb_flush_range(p->cookie, &shared_s2, 0x10000, 0x3000, 0x1000,
			   false);
	cr_assert_eq(t.host.events_len, 4);
	expect_kind(&t, 0, KMM_HOST_EV_TLB_FLUSH_RANGE);
	for (size_t i = 0; i < 3; i++)
		expect_smmu(&t, 1 + i, 0x000000060000002aull,
			    0x10000ull + 0x1000 * i);

	kmm_host_clear_events(&t.host);
	p->tlb_flush_range(p->cookie, &shared_s2, 0, big, 0x1000, true);
	cr_assert_eq(t.host.events_len, 2);
	expect_smmu(&t, 1, 0x0000000600000028ull, 0);
	kmm_host_fini(&t.host);
}

Test(smmu_tlb_port, unshared_or_stage1_contexts_reach_only_the_cpu)
{
	struct trig t;
	const struct kmm_port *p;
	struct kmm_tlb_ctx private_s2 = shared_s2;
	struct kmm_tlb_ctx s1 = { .regime = KMM_REGIME_EL1,
				  .shared_smmu = 1,
				  .id = 6 };

	trig_init(&t);
	p = &t.w.port;
	private_s2.shared_smmu = 0;
	p->tlb_add_page(p->cookie, &private_s2, 0x1000, 0x1000, true);
	p->tlb_flush_all(p->cookie, &s1);
	p->tlb_flush_range(p->cookie, &private_s2, 0, 0x2000, 0x1000, true);
	p->tlb_sync(p->cookie, &private_s2);
	cr_assert_eq(t.host.events_len, 4);
	cr_assert_eq(kmm_host_count(&t.host, KMM_HOST_EV_SMMU_CMD), 0);
	kmm_host_fini(&t.host);
}

Test(smmu_tlb_port, an_ipa_the_command_cannot_carry_costs_a_vmall)
{
	struct trig t;
	const struct kmm_port *p;

	trig_init(&t);
	p = &t.w.port;
	p->tlb_add_page(p->cookie, &shared_s2, 1ull << 52, 0x1000, true);
	expect_smmu(&t, 1, 0x0000000600000028ull, 0);
	kmm_host_fini(&t.host);
}

static void *no_ptr(void *cookie, kmm_paddr_t pa)
{
	(void)cookie;
	(void)pa;
	return NULL;
}

Test(smmu_tlb_port, everything_else_is_forwarded_and_absent_hooks_stay_null)
{
	struct trig t;
	struct kmm_port bare = { 0 };
	struct kmm_smmu_tlb_port w2;
	const struct kmm_port *p;

	trig_init(&t);
	p = &t.w.port;
	cr_assert_eq(p->cookie, &t.w);
	p->lock(p->cookie);
	cr_assert_eq(t.host.lock_depth, 1);
	p->unlock(p->cookie);
	cr_assert_eq(t.host.lock_depth, 0);
	cr_assert_eq(p->pa_to_ptr(p->cookie, ARENA_BASE + 0x10),
		     kmm_host_ptr(&t.host, ARENA_BASE + 0x10));
	p->scrub(p->cookie, ARENA_BASE, 0x1000);
	p->mpu_write(p->cookie, 1, 2, 3, 4);
	p->mpu_sync(p->cookie);
	p->smmu_cmd(p->cookie, (const uint64_t[2]){ 0x46, 0 });
	p->clean_range(p->cookie, &t, 8);
	cr_assert_eq(kmm_host_count(&t.host, KMM_HOST_EV_SCRUB), 1);
	cr_assert_eq(kmm_host_count(&t.host, KMM_HOST_EV_MPU_WRITE), 1);
	cr_assert_eq(kmm_host_count(&t.host, KMM_HOST_EV_MPU_SYNC), 1);
	cr_assert_eq(kmm_host_count(&t.host, KMM_HOST_EV_SMMU_CMD), 1);
	cr_assert_eq(kmm_host_count(&t.host, KMM_HOST_EV_CLEAN), 1);
	/* A sync with no SMMU invalidation pending sends no CMD_SYNC. */
	p->tlb_sync(p->cookie, &shared_s2);
	cr_assert_eq(kmm_host_count(&t.host, KMM_HOST_EV_SMMU_CMD), 1);

	bare.smmu_cmd = t.host.port.smmu_cmd;
	bare.cookie = &t.host;
	bare.pa_to_ptr = no_ptr;
	cr_assert_eq(kmm_smmu_tlb_port_init(&w2, &bare), 0);
	cr_assert_null(w2.port.lock);
	cr_assert_null(w2.port.unlock);
	cr_assert_null(w2.port.scrub);
	cr_assert_null(w2.port.clean_range);
	cr_assert_null(w2.port.log);
	cr_assert_not_null(w2.port.pa_to_ptr);
	cr_assert_not_null(w2.port.tlb_sync);

	bare.smmu_cmd = NULL;
	cr_assert_eq(kmm_smmu_tlb_port_init(&w2, &bare), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_tlb_port_init(NULL, &t.host.port), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_tlb_port_init(&w2, NULL), KMM_EINVAL);
	kmm_host_fini(&t.host);
}

/* ---- Stage 2 of a VMSA address space (needs the VMSA backend) ------------ */

#include "kmm/pages.h"
#include "kmm/vmsa.h"

#define VARENA_BASE 0x40000000ull
#define VARENA_SIZE (8ull << 20)

struct venv {
	struct kmm_host h;
	struct kmm_pages pages;
	uint64_t meta[VARENA_SIZE / KMM_PAGE_SIZE];
	struct kmm_smmu_tlb_port w;
	struct kmm_vmsa v;
	/* Pages owner 1 held when the last CMD_SYNC was recorded. */
	uint64_t held_at_smmu_sync;
};

/* Notes what the guest held at each CMD_SYNC, to order syncs and frees. */
static void note_sync(struct kmm_host *h, const struct kmm_host_event *ev)
{
	struct venv *e = h->user;

	if (ev->kind == KMM_HOST_EV_SMMU_CMD &&
	    (ev->arg0 & 0xff) == KMM_SMMU_OP_SYNC)
		kmm_pages_usage(&e->pages, 1, &e->held_at_smmu_sync);
}

static int venv_init(struct venv *e, unsigned int g, unsigned int ipa,
		     uint16_t vmid, uint32_t flags)
{
	struct kmm_vmsa_config c;

	memset(e, 0, sizeof(*e));
	cr_assert_eq(kmm_host_init(&e->h, VARENA_BASE, VARENA_SIZE, 1 << 16),
		     0);
	e->h.log_enabled = false;
	e->h.user = e;
	cr_assert_leq(kmm_pages_meta_size(VARENA_BASE, VARENA_SIZE),
		      sizeof(e->meta));
	cr_assert_eq(kmm_pages_init(&e->pages, &e->h.port, VARENA_BASE,
				    VARENA_SIZE, e->meta, sizeof(e->meta)),
		     0);
	cr_assert_eq(kmm_pages_add(&e->pages, VARENA_BASE, VARENA_SIZE), 0);
	cr_assert_eq(kmm_smmu_tlb_port_init(&e->w, &e->h.port), 0);
	cr_assert_eq(kmm_vmsa_config_init(&c, KMM_REGIME_STAGE2), 0);
	c.granule_shift = (uint8_t)g;
	c.va_bits = (uint8_t)ipa;
	c.oa_bits = 48;
	c.id = vmid;
	c.flags = flags;
	return kmm_vmsa_init(&e->v, &c, &e->w.port, &e->pages, 1, 0);
}

static void venv_fini(struct venv *e)
{
	kmm_as_destroy(&e->v.as);
	kmm_host_fini(&e->h);
}

static uint64_t bits(uint64_t v, unsigned int hi, unsigned int lo)
{
	return (v >> lo) & ((2ull << (hi - lo)) - 1);
}

Test(smmu_vmsa, ste_agrees_with_vtcr_and_vttbr_for_every_granule_and_ipa)
{
	static const unsigned int granules[] = { 12, 14, 16 };
	static const unsigned int ipas[] = { 32, 36, 39, 40, 42, 44, 47, 48 };
	static const uint32_t flag_sets[] = {
		KMM_VMSA_SHARED_SMMU | KMM_VMSA_ID16,
		KMM_VMSA_SHARED_SMMU | KMM_VMSA_NONCOHERENT_WALK,
	};
	unsigned int checked = 0;

	for (size_t gi = 0; gi < 3; gi++)
		for (size_t ii = 0; ii < 8; ii++)
			for (size_t fi = 0; fi < 2; fi++) {
				struct venv e;
				uint64_t ste[8], vtcr, vttbr;
				uint16_t vmid = fi ? 0x5a : 0x1234;
				int ret = venv_init(&e, granules[gi], ipas[ii],
						    vmid, flag_sets[fi]);

				cr_assert_eq(ret, 0, "g %u ipa %u",
					     granules[gi], ipas[ii]);
				cr_assert_eq(kmm_smmu_ste_encode(&e.v, ste), 0);
				vtcr = kmm_vmsa_tcr(&e.v);
				vttbr = kmm_vmsa_ttbr(&e.v);
				/* STE.V = 1, Config = 0b110. */
				cr_assert_eq(ste[0], 0xd);
				/* S2T0SZ == VTCR_EL2.T0SZ [5:0]. */
				cr_assert_eq(bits(ste[2], 37, 32),
					     bits(vtcr, 5, 0));
				/* S2SL0 == VTCR_EL2.SL0 [7:6]. */
				cr_assert_eq(bits(ste[2], 39, 38),
					     bits(vtcr, 7, 6), "g %u ipa %u",
					     granules[gi], ipas[ii]);
				/* S2IR0, S2OR0, S2SH0 == IRGN0, ORGN0, SH0. */
				cr_assert_eq(bits(ste[2], 41, 40),
					     bits(vtcr, 9, 8));
				cr_assert_eq(bits(ste[2], 43, 42),
					     bits(vtcr, 11, 10));
				cr_assert_eq(bits(ste[2], 45, 44),
					     bits(vtcr, 13, 12));
				/* S2TG == VTCR_EL2.TG0 [15:14] (same code). */
				cr_assert_eq(bits(ste[2], 47, 46),
					     bits(vtcr, 15, 14));
				/* S2PS == VTCR_EL2.PS [18:16]. */
				cr_assert_eq(bits(ste[2], 50, 48),
					     bits(vtcr, 18, 16));
				/* S2AA64 = 1: VMSAv8-64 like the CPU. */
				cr_assert_eq(bits(ste[2], 51, 51), 1);
				/* S2VMID == VTTBR_EL2.VMID [63:48]. */
				cr_assert_eq(bits(ste[2], 15, 0),
					     bits(vttbr, 63, 48));
				/* S2TTB == VTTBR_EL2.BADDR (CnP 0). */
				cr_assert_eq(ste[3], vttbr & 0xfffffffffffeull);
				venv_fini(&e);
				checked++;
			}
	cr_assert_eq(checked, 48);
}

Test(smmu_vmsa, attach_vmsa_needs_the_owner_and_the_shared_flag)
{
	struct venv e;
	struct rig r;
	uint64_t want[8];
	struct kmm_vmsa_config c;
	struct kmm_vmsa s1;

	rig_init(&r, NSIDS);
	cr_assert_eq(venv_init(&e, 12, 40, 7, 0), 0);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 4, 1), 0);
	cr_assert_eq(kmm_smmu_attach_vmsa(&r.smmu, 4, 1, &e.v), KMM_EINVAL);
	venv_fini(&e);

	cr_assert_eq(venv_init(&e, 12, 40, 7, KMM_VMSA_SHARED_SMMU), 0);
	cr_assert_eq(kmm_smmu_assign(&r.smmu, 5, 2), 0);
	cr_assert_eq(kmm_smmu_attach_vmsa(&r.smmu, 5, 2, &e.v), KMM_EPERM);
	cr_assert_eq(kmm_smmu_attach_vmsa(&r.smmu, 4, 1, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_smmu_attach_vmsa(&r.smmu, 4, 1, &e.v), 0);
	cr_assert_eq(kmm_smmu_ste_encode(&e.v, want), 0);
	cr_assert_eq(memcmp(ste_at(&r, 4), want, 64), 0);

	/* A stage-1 space has no stage 2 to share. */
	cr_assert_eq(kmm_vmsa_config_init(&c, KMM_REGIME_EL1), 0);
	memset(&s1, 0, sizeof(s1));
	s1.cfg = c;
	cr_assert_eq(kmm_smmu_ste_encode(&s1, want), KMM_EINVAL);
	venv_fini(&e);
	rig_fini(&r);
}

/* Index of the first event at or after @from of @kind (and opcode). */
static size_t find_ev(const struct kmm_host *h, size_t from,
		      enum kmm_host_event_kind kind, int op)
{
	for (size_t i = from; i < h->events_len; i++) {
		const struct kmm_host_event *ev = &h->events[i];

		if (ev->kind == kind &&
		    (op < 0 || (ev->arg0 & 0xff) == (uint64_t)op))
			return i;
	}
	return SIZE_MAX;
}

Test(smmu_vmsa, unmap_invalidates_cpu_and_smmu_before_tables_are_freed)
{
	struct venv e;
	size_t cpu, smmu, cpu_sync, smmu_sync;
	const size_t ipa = 0x12345000;
	uint64_t held_before, held_after;

	cr_assert_eq(venv_init(&e, 12, 40, 9, KMM_VMSA_SHARED_SMMU), 0);
	cr_assert_eq(kmm_map(&e.v.as, ipa, VARENA_BASE + 0x400000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     0);
	kmm_host_clear_events(&e.h);
	kmm_pages_usage(&e.pages, 1, &held_before);
	e.h.on_event = note_sync;
	cr_assert_eq(kmm_unmap(&e.v.as, ipa, 0x1000), 0);
	e.h.on_event = NULL;
	kmm_pages_usage(&e.pages, 1, &held_after);

	cpu = find_ev(&e.h, 0, KMM_HOST_EV_TLB_ADD_PAGE, -1);
	cr_assert_neq(cpu, SIZE_MAX);
	cr_assert_eq(e.h.events[cpu].addr, ipa);
	cr_assert_eq(e.h.events[cpu].ctx.id, 9);
	cr_assert(e.h.events[cpu].ctx.shared_smmu);
	smmu = find_ev(&e.h, cpu, KMM_HOST_EV_SMMU_CMD,
		       KMM_SMMU_OP_TLBI_S2_IPA);
	cr_assert_neq(smmu, SIZE_MAX);
	cr_assert_eq(e.h.events[smmu].arg0, 0x000000090000002aull);
	cr_assert_eq(e.h.events[smmu].arg1 & ~1ull, ipa);
	cpu_sync = find_ev(&e.h, smmu, KMM_HOST_EV_TLB_SYNC, -1);
	cr_assert_neq(cpu_sync, SIZE_MAX);
	smmu_sync =
		find_ev(&e.h, cpu_sync, KMM_HOST_EV_SMMU_CMD, KMM_SMMU_OP_SYNC);
	cr_assert_neq(smmu_sync, SIZE_MAX);
	/*
	 * The unmap emptied leaf tables and gave them back, but only after
	 * both syncs: at the last CMD_SYNC the guest still held them all.
	 */
	cr_assert_lt(held_after, held_before);
	cr_assert_eq(e.held_at_smmu_sync, held_before);
	venv_fini(&e);
}

Test(smmu_vmsa, protect_invalidates_cpu_and_smmu_in_the_same_gather)
{
	struct venv e;
	size_t smmu_tlbi, cpu_sync, smmu_sync;

	cr_assert_eq(venv_init(&e, 16, 42, 3, KMM_VMSA_SHARED_SMMU), 0);
	cr_assert_eq(kmm_map(&e.v.as, 0x100000, VARENA_BASE + 0x400000, 0x20000,
			     KMM_ATTR_RW_DATA),
		     0);
	kmm_host_clear_events(&e.h);
	cr_assert_eq(kmm_protect(&e.v.as, 0x100000, 0x20000,
				 KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB)),
		     0);
	cr_assert_eq(kmm_host_count(&e.h, KMM_HOST_EV_TLB_ADD_PAGE), 2);
	smmu_tlbi =
		find_ev(&e.h, 0, KMM_HOST_EV_SMMU_CMD, KMM_SMMU_OP_TLBI_S2_IPA);
	cr_assert_neq(smmu_tlbi, SIZE_MAX);
	cpu_sync = find_ev(&e.h, smmu_tlbi, KMM_HOST_EV_TLB_SYNC, -1);
	smmu_sync =
		find_ev(&e.h, cpu_sync, KMM_HOST_EV_SMMU_CMD, KMM_SMMU_OP_SYNC);
	cr_assert_neq(smmu_sync, SIZE_MAX);
	/* Two pages, two SMMU TLBIs, then one CMD_SYNC. */
	cr_assert_eq(find_ev(&e.h, smmu_tlbi + 1, KMM_HOST_EV_SMMU_CMD,
			     KMM_SMMU_OP_TLBI_S2_IPA) < cpu_sync,
		     true);
	venv_fini(&e);
}
