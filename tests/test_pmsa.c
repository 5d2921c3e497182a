// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the PMSA backend: golden register encodings for every
 * flavour, the region-set rules (identity, merge, refcount, split, slot
 * budget), the order of the register writes (replayed on a simulated MPU
 * that checks, after every single register write, that no two enabled
 * slots overlap and the running code stays mapped), boot to run time,
 * guest sets and their switch, and a randomized test against a reference
 * per-granule model.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/as.h"
#include "kmm/errors.h"
#include "kmm/pmsa.h"

#define A64 KMM_PMSA_ARMV8R_AARCH64
#define A32 KMM_PMSA_ARMV8R_AARCH32
#define V8M KMM_PMSA_ARMV8M

#define RO_DATA (KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB))

/* ------------------------------------------------------------------------
 * Golden encodings. Field comments name the architecture fields.
 */

struct golden {
	unsigned int arch;
	kmm_paddr_t base, limit;
	kmm_attr_t attr;
	uint64_t rbar, rlar;
};

static const struct golden goldens[] = {
	/* PRBAR_EL2: BASE[47:6]=0x40000000, SH[5:4]=0b11 inner, AP[2:1]
	 * (bits 3:2)=0b10 RO EL2 only, XN[1:0]=0b00.
	 * PRLAR_EL2: LIMIT[47:6]=0x401fffc0, NS[4]=0, AttrIndx[3:1]=0, EN=1 */
	{ A64, 0x40000000, 0x401fffff, KMM_ATTR_RX_CODE, 0x40000038,
	  0x401fffc1 },
	/* PRBAR_EL2: SH=0b11, AP=0b00 RW EL2 only, XN[1:0]=0b10 never.
	 * PRLAR_EL2: AttrIndx=0 (Normal WB), EN=1 */
	{ A64, 0x40200000, 0x402fffff, KMM_ATTR_RW_DATA, 0x40200032,
	  0x402fffc1 },
	/* PRBAR_EL2: SH=0b10 outer, AP=0b00, XN=0b10.
	 * PRLAR_EL2: AttrIndx[3:1]=3 (Device-nGnRE), EN=1 */
	{ A64, 0x09000000, 0x09000fff, KMM_ATTR_RW_DEVICE, 0x09000022,
	  0x09000fc7 },
	/* PRBAR_EL2: SH=0b10, AP=0b11 RO any EL, XN=0b10.
	 * PRLAR_EL2: one 64-byte granule, AttrIndx=1 (Normal NC), EN=1 */
	{ A64, 0x80000000, 0x8000003f,
	  KMM_ATTR_R | KMM_ATTR_USER | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
	  0x8000002e, 0x80000003 },
	/* PRBAR_EL2: BASE at the top of 48 bits, SH=0b10, AP=0b00, XN=0b10.
	 * PRLAR_EL2: LIMIT[47:6] all ones, NS[4]=1, AttrIndx=2 (nGnRnE) */
	{ A64, 0xffffffff0000, 0xffffffffffff,
	  KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_NS |
		  KMM_ATTR_MT(KMM_MT_DEVICE_NGNRNE),
	  0xffffffff0022, 0xffffffffffd5 },
	/* PRBAR_EL2: BASE=0, SH=0b11, AP=0b01 RW any EL, XN=0b00 */
	{ A64, 0, 0x3f,
	  KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_X | KMM_ATTR_USER |
		  KMM_ATTR_MT(KMM_MT_NORMAL_WB),
	  0x34, 0x01 },

	/* HPRBAR/PRBAR: BASE[31:6]=0, SH[4:3]=0b11, AP[2:1]=0b10 RO, XN[0]=0.
	 * HPRLAR/PRLAR: LIMIT[31:6]=0x1ffc0, AttrIndx[3:1]=0, EN[0]=1 */
	{ A32, 0, 0x1ffff, KMM_ATTR_RX_CODE, 0x1c, 0x1ffc1 },
	/* PRBAR: SH=0b11, AP=0b01 RW any, XN=0 (the QEMU R52 probe
	 * 0x20000002 used SH=0b00; kmm marks write-back memory inner
	 * shareable). PRLAR: LIMIT=0x2001ffc0, EN=1 */
	{ A32, 0x20000000, 0x2001ffff,
	  KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_X | KMM_ATTR_USER |
		  KMM_ATTR_MT(KMM_MT_NORMAL_WB),
	  0x2000001a, 0x2001ffc1 },
	/* HPRBAR: SH=0b10 outer, AP=0b00, XN=1. HPRLAR: AttrIndx=3, EN=1 */
	{ A32, 0xe0000000, 0xe0000fff, KMM_ATTR_RW_DEVICE, 0xe0000011,
	  0xe0000fc7 },
	/* PRBAR: last granule of 4 GiB, SH=0b10, AP=0b11 RO any, XN=1.
	 * PRLAR: AttrIndx=1 (NC), EN=1 */
	{ A32, 0xffffffc0, 0xffffffff,
	  KMM_ATTR_R | KMM_ATTR_USER | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
	  0xffffffd7, 0xffffffc3 },

	/* MPU_RBAR: BASE[31:5]=0x10000000, SH[4:3]=0b00, AP[2:1]=0b01 RW any
	 * privilege, XN[0]=0 -- the QEMU mps2-an505 known-good value.
	 * MPU_RLAR: LIMIT[31:5]=0x1001ffe0, AttrIndx[3:1]=0, EN[0]=1 */
	{ V8M, 0x10000000, 0x1001ffff,
	  KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_X | KMM_ATTR_USER |
		  KMM_ATTR_MT(KMM_MT_NORMAL_WB),
	  0x10000002, 0x1001ffe1 },
	/* MPU_RBAR: one 32-byte granule, SH=0b00, AP=0b00 RW priv, XN=1.
	 * MPU_RLAR: LIMIT=0x20000020, EN=1 */
	{ V8M, 0x20000020, 0x2000003f, KMM_ATTR_RW_DATA, 0x20000021,
	  0x20000021 },
	/* MPU_RBAR: SH=0b00, AP=0b00, XN=1. MPU_RLAR: AttrIndx=2 nGnRnE */
	{ V8M, 0x40200000, 0x40200fff,
	  KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_DEVICE_NGNRNE),
	  0x40200001, 0x40200fe5 },
	/* MPU_RBAR: AP=0b10 RO privileged, XN=0. MPU_RLAR: EN=1 */
	{ V8M, 0, 0x7ffff, KMM_ATTR_RX_CODE, 0x4, 0x7ffe1 },
};

Test(pmsa_encode, golden_values_of_every_flavour)
{
	for (size_t i = 0; i < sizeof(goldens) / sizeof(goldens[0]); i++) {
		const struct golden *g = &goldens[i];
		uint64_t rbar = 0, rlar = 0;

		cr_assert_eq(kmm_pmsa_encode(g->arch, g->base, g->limit,
					     g->attr, &rbar, &rlar),
			     KMM_OK, "golden %zu", i);
		cr_expect_eq(rbar, g->rbar, "golden %zu rbar %#lx", i,
			     (unsigned long)rbar);
		cr_expect_eq(rlar, g->rlar, "golden %zu rlar %#lx", i,
			     (unsigned long)rlar);
	}
}

/* Field positions per flavour, from the Arm ARM and the v8-R supplement. */
struct layout {
	unsigned int arch;
	unsigned int sh_shift, ap_shift; /* SH and AP[2:1] field positions */
	uint64_t xn_never; /* XN field value meaning "never execute" */
	uint64_t sh_wb, sh_other; /* SH for write-back and for the rest */
};

static const struct layout layouts[] = {
	{ A64, 4, 2, 0x2, 3, 2 }, /* PRBAR_EL2 SH[5:4] AP[3:2] XN[1:0] */
	{ A32, 3, 1, 0x1, 3, 2 }, /* HPRBAR SH[4:3] AP[2:1] XN[0] */
	{ V8M, 3, 1, 0x1, 0, 0 }, /* MPU_RBAR SH[4:3] AP[2:1] XN[0] */
};

Test(pmsa_encode, every_attribute_combination_sets_ap_xn_sh_attrindx)
{
	for (size_t l = 0; l < 3; l++) {
		const struct layout *lo = &layouts[l];

		for (unsigned int bits = 0; bits < 8; bits++) {
			for (unsigned int mt = 0; mt < KMM_MT_COUNT; mt++) {
				bool w = bits & 1, x = bits & 2, u = bits & 4;
				kmm_attr_t a = KMM_ATTR_R | KMM_ATTR_MT(mt) |
					       (w ? KMM_ATTR_W : 0) |
					       (x ? KMM_ATTR_X : 0) |
					       (u ? KMM_ATTR_USER : 0);
				/* AP[2] = read-only, AP[1] = lower EL too */
				uint64_t ap = (w ? 0 : 2) | (u ? 1 : 0);
				uint64_t sh = mt == KMM_MT_NORMAL_WB ?
						      lo->sh_wb :
						      lo->sh_other;
				uint64_t rbar, rlar;

				cr_assert_eq(kmm_pmsa_encode(lo->arch, 0x1000,
							     0x1fff, a, &rbar,
							     &rlar),
					     KMM_OK);
				cr_expect_eq((rbar >> lo->ap_shift) & 3, ap);
				cr_expect_eq((rbar >> lo->sh_shift) & 3, sh);
				cr_expect_eq(rbar & (lo->xn_never | 1) &
						     (lo->arch == A64 ? 3 : 1),
					     x ? 0 : lo->xn_never);
				/* AttrIndx[3:1] is the kmm memory type */
				cr_expect_eq((rlar >> 1) & 7, mt);
				cr_expect_eq(rlar & 1, 1); /* EN */
			}
		}
	}
}

Test(pmsa_encode, decode_inverts_encode_for_every_combination)
{
	const unsigned int arches[] = { A64, A32, V8M };

	for (size_t k = 0; k < 3; k++) {
		for (kmm_attr_t a = 0; a < (1u << 11); a++) {
			kmm_paddr_t b, l;
			kmm_attr_t d;
			uint64_t rbar, rlar;

			if (!kmm_attr_is_valid(a) || (a & KMM_ATTR_NG))
				continue;
			if ((a & KMM_ATTR_NS) && arches[k] != A64)
				continue;
			cr_assert_eq(kmm_pmsa_encode(arches[k], 0x8000, 0x8fff,
						     a, &rbar, &rlar),
				     KMM_OK);
			cr_assert_eq(kmm_pmsa_decode(arches[k], rbar, rlar, &b,
						     &l, &d),
				     KMM_OK);
			cr_expect_eq(b, 0x8000);
			cr_expect_eq(l, 0x8fff);
			cr_expect_eq(d, a, "arch %u attr %#x got %#x",
				     arches[k], a, d);
		}
	}
}

Test(pmsa_encode, rejects_what_the_registers_cannot_hold)
{
	uint64_t rb, rl;
	kmm_paddr_t b, l;
	kmm_attr_t a;

	cr_expect_eq(kmm_pmsa_encode(A64, 0x20, 0x7f, KMM_ATTR_RW_DATA, &rb,
				     &rl),
		     KMM_EALIGN); /* 64-byte granule */
	cr_expect_eq(kmm_pmsa_encode(V8M, 0x20, 0x3f, KMM_ATTR_RW_DATA, &rb,
				     &rl),
		     KMM_OK); /* 32-byte granule */
	cr_expect_eq(kmm_pmsa_encode(A32, 0x40, 0x80, KMM_ATTR_RW_DATA, &rb,
				     &rl),
		     KMM_EALIGN);
	cr_expect_eq(kmm_pmsa_encode(A32, 0x80, 0x3f, KMM_ATTR_RW_DATA, &rb,
				     &rl),
		     KMM_EINVAL);
	cr_expect_eq(kmm_pmsa_encode(A32, 0xffffffc0, 0x13fffffff,
				     KMM_ATTR_RW_DATA, &rb, &rl),
		     KMM_ERANGE);
	cr_expect_eq(kmm_pmsa_encode(A64, 0x1000000000000ull,
				     0x100000000003full, KMM_ATTR_RW_DATA, &rb,
				     &rl),
		     KMM_ERANGE);
	cr_expect_eq(kmm_pmsa_encode(V8M, 0, 0x1f,
				     KMM_ATTR_RW_DATA | KMM_ATTR_NS, &rb, &rl),
		     KMM_ENOTSUP);
	cr_expect_eq(kmm_pmsa_encode(A32, 0, 0x3f,
				     KMM_ATTR_RW_DATA | KMM_ATTR_NS, &rb, &rl),
		     KMM_ENOTSUP);
	cr_expect_eq(kmm_pmsa_encode(A64, 0, 0x3f, KMM_ATTR_W, &rb, &rl),
		     KMM_EINVAL); /* not readable */
	cr_expect_eq(kmm_pmsa_encode(7, 0, 0x3f, KMM_ATTR_RW_DATA, &rb, &rl),
		     KMM_EINVAL);
	cr_expect_eq(kmm_pmsa_encode(A64, 0, 0x3f, KMM_ATTR_RW_DATA, NULL, &rl),
		     KMM_EINVAL);
	cr_expect_eq(kmm_pmsa_decode(A64, 0x40000000, 0x40000fc0, &b, &l, &a),
		     KMM_ENOENT); /* EN = 0 */
	cr_expect_eq(kmm_pmsa_decode(A64, 0x40000000, 0x40000fc0 | 0xe | 1, &b,
				     &l, &a),
		     KMM_EBADDATA); /* AttrIndx 7 is not used by kmm */
}

Test(pmsa_encode, mair_gives_each_attrindx_its_memory_type)
{
	/* Attr0 0xff Normal WB RW-allocate, Attr1 0x44 Normal NC,
	 * Attr2 0x00 Device-nGnRnE, Attr3 0x04 Device-nGnRE */
	cr_expect_eq(kmm_pmsa_mair(A64), 0x040044ffull); /* MAIR_EL2 */
	cr_expect_eq(kmm_pmsa_mair(A32), 0x040044ffull); /* HMAIR0 */
	cr_expect_eq(kmm_pmsa_mair(V8M), 0x040044ffull); /* MPU_MAIR0 */
	cr_expect_eq(kmm_pmsa_mair(0), 0);
	cr_expect_eq(kmm_pmsa_granule(A64), 64);
	cr_expect_eq(kmm_pmsa_granule(A32), 64);
	cr_expect_eq(kmm_pmsa_granule(V8M), 32);
}

/* ------------------------------------------------------------------------
 * A simulated MPU fed with the recorded writes.
 */

/* Slots simulated per bank: the hypervisor window plus the guest one. */
#define SIM_SLOTS 64

struct mpu_sim {
	struct kmm_pmsa_slot s[2][SIM_SLOTS];
	unsigned int arch;
	const struct kmm_pmsa_range *keep;
	size_t nkeep;
	size_t next_event;
	unsigned int writes;
};

static bool sim_range(const struct mpu_sim *m, const struct kmm_pmsa_slot *v,
		      kmm_paddr_t *b, kmm_paddr_t *l, kmm_attr_t *a)
{
	if (kmm_pmsa_decode(m->arch, v->rbar, v->rlar, b, l, a))
		return false;
	return *b <= *l;
}

/* Checks the state after one register write. */
static void sim_check(const struct mpu_sim *m, unsigned int bank)
{
	for (unsigned int i = 0; i < SIM_SLOTS; i++) {
		kmm_paddr_t bi, li, bj, lj;
		kmm_attr_t ai, aj;

		if (!sim_range(m, &m->s[bank][i], &bi, &li, &ai))
			continue;
		for (unsigned int j = i + 1; j < SIM_SLOTS; j++) {
			if (!sim_range(m, &m->s[bank][j], &bj, &lj, &aj))
				continue;
			cr_assert(bj > li || bi > lj,
				  "slots %u and %u overlap after write %u", i,
				  j, m->writes);
		}
	}
	for (size_t k = 0; k < m->nkeep && bank == 0; k++) {
		kmm_paddr_t kb = m->keep[k].base;
		kmm_paddr_t ke = kb + m->keep[k].size - 1;
		bool held = false;

		for (unsigned int i = 0; i < SIM_SLOTS && !held; i++) {
			kmm_paddr_t b, l;
			kmm_attr_t a;

			held = sim_range(m, &m->s[0][i], &b, &l, &a) &&
			       b <= kb && ke <= l;
		}
		cr_assert(held, "kept range %zu unmapped after write %u", k,
			  m->writes);
	}
}

/* Replays the writes recorded since the last call, register by register
 * (the base register first, as the port contract says). */
static void sim_replay(struct mpu_sim *m, const struct kmm_host *h)
{
	cr_assert_leq(h->events_len, h->events_cap);
	for (size_t i = m->next_event; i < h->events_len; i++) {
		const struct kmm_host_event *ev = &h->events[i];

		if (ev->kind != KMM_HOST_EV_MPU_WRITE)
			continue;
		cr_assert_lt(ev->granule, 2);
		cr_assert_lt(ev->addr, SIM_SLOTS);
		m->writes++;
		m->s[ev->granule][ev->addr].rbar = ev->arg0;
		sim_check(m, (unsigned int)ev->granule);
		m->s[ev->granule][ev->addr].rlar = ev->arg1;
		sim_check(m, (unsigned int)ev->granule);
	}
	m->next_event = h->events_len;
}

/* What the simulated MPU bank says about byte @x. */
static bool sim_lookup(const struct mpu_sim *m, unsigned int bank,
		       kmm_paddr_t x, kmm_attr_t *attr)
{
	for (unsigned int i = 0; i < SIM_SLOTS; i++) {
		kmm_paddr_t b, l;
		kmm_attr_t a;

		if (sim_range(m, &m->s[bank][i], &b, &l, &a) && b <= x &&
		    x <= l) {
			*attr = a;
			return true;
		}
	}
	return false;
}

/* ------------------------------------------------------------------------
 * Invariants of a region set.
 */

static void check_invariants(const struct kmm_pmsa *p)
{
	bool used[KMM_PMSA_MAX_REGIONS] = { false };

	cr_assert_leq(p->nregions, p->nslots);
	for (unsigned int i = 0; i < p->nregions; i++) {
		const struct kmm_pmsa_region *r = &p->regions[i];
		uint64_t rbar, rlar;

		cr_assert_leq(r->base, r->limit);
		cr_assert_lt(r->slot, p->nslots);
		cr_assert(!used[r->slot], "slot %u used twice", r->slot);
		used[r->slot] = true;
		cr_assert_eq(kmm_pmsa_encode(p->arch, r->base, r->limit,
					     r->attr, &rbar, &rlar),
			     KMM_OK);
		cr_assert_eq(p->hw[r->slot].rbar, rbar);
		cr_assert_eq(p->hw[r->slot].rlar, rlar);
		if (i == 0)
			continue;
		const struct kmm_pmsa_region *q = &p->regions[i - 1];

		cr_assert_lt(q->limit, r->base, "regions overlap or unsorted");
		cr_assert(!(q->limit + 1 == r->base && q->attr == r->attr &&
			    q->owner == r->owner && q->flags == r->flags),
			  "regions %u and %u should have been merged", i - 1,
			  i);
	}
	for (unsigned int s = 0; s < p->nslots; s++)
		if (!used[s])
			cr_assert_eq(p->hw[s].rlar, 0);
	for (unsigned int i = 0; i < p->nrefs; i++) {
		const struct kmm_pmsa_ref *f = &p->refs[i];
		cr_assert_geq(f->count, 2);
		cr_assert_leq(f->base, f->limit);
		if (i > 0) {
			cr_assert_lt(p->refs[i - 1].limit, f->base);
			cr_assert(!(p->refs[i - 1].limit + 1 == f->base &&
				    p->refs[i - 1].count == f->count));
		}
		for (kmm_paddr_t x = f->base; x <= f->limit; x += 32)
			cr_assert_eq(kmm_query(&p->as, x, NULL, NULL, NULL),
				     KMM_OK, "ref over unmapped byte");
	}
}

/* The part of a set that a failed call must leave untouched. */
struct snapshot {
	struct kmm_pmsa_region regions[KMM_PMSA_MAX_REGIONS];
	struct kmm_pmsa_ref refs[KMM_PMSA_MAX_REGIONS];
	struct kmm_pmsa_slot hw[KMM_PMSA_MAX_REGIONS];
	unsigned int nregions, nrefs;
	bool live;
};

static void take(struct snapshot *s, const struct kmm_pmsa *p)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->regions, p->regions, p->nregions * sizeof(p->regions[0]));
	memcpy(s->refs, p->refs, p->nrefs * sizeof(p->refs[0]));
	memcpy(s->hw, p->hw, sizeof(s->hw));
	s->nregions = p->nregions;
	s->nrefs = p->nrefs;
	s->live = p->live;
}

static void assert_unchanged(const struct snapshot *s, const struct kmm_pmsa *p)
{
	struct snapshot now;

	take(&now, p);
	cr_assert_eq(memcmp(s, &now, sizeof(now)), 0,
		     "a failed call changed the set");
}

/* ------------------------------------------------------------------------
 * Fixtures.
 */

static struct kmm_host host;
static struct kmm_pmsa *hyp;

static void setup(void)
{
	cr_assert_eq(kmm_host_init(&host, 0, 0, 1 << 16), 0);
	host.log_enabled = false;
	hyp = calloc(1, sizeof(*hyp));
	cr_assert_not_null(hyp);
}

static void teardown(void)
{
	free(hyp);
	kmm_host_fini(&host);
}

static void init_hyp(unsigned int arch, unsigned int slots, uint32_t flags)
{
	struct kmm_pmsa_config cfg = { .arch = arch,
				       .hyp_slots = slots,
				       .guest_first = slots,
				       .guest_slots = 8,
				       .shared_mpu = true,
				       .as_flags = flags };

	cr_assert_eq(kmm_pmsa_init(hyp, &host.port, &cfg), KMM_OK);
}

static size_t mpu_writes(void)
{
	return kmm_host_count(&host, KMM_HOST_EV_MPU_WRITE);
}

TestSuite(pmsa, .init = setup, .fini = teardown);

Test(pmsa, map_refuses_a_va_that_differs_from_the_pa)
{
	struct snapshot s;

	init_hyp(A64, 8, 0);
	take(&s, hyp);
	cr_expect_eq(kmm_map(&hyp->as, 0x40000000, 0x50000000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_ENOTSUP);
	assert_unchanged(&s, hyp);
}

Test(pmsa, caps_report_identity_only_and_the_flavour_granule)
{
	struct kmm_as_caps caps;

	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_as_caps(&hyp->as, &caps), KMM_OK);
	cr_expect_eq(caps.flags, KMM_CAP_IDENTITY_ONLY | KMM_CAP_PARTIAL_UNMAP);
	cr_expect_eq(caps.granule, 64);
	cr_expect_eq(caps.va_end, 1ull << 48);
	cr_expect_eq(caps.block_sizes & 0xffff, 0xffc0);
	init_hyp(V8M, 8, 0);
	cr_assert_eq(kmm_as_caps(&hyp->as, &caps), KMM_OK);
	cr_expect_eq(caps.granule, 32);
	cr_expect_eq(caps.va_end, 1ull << 32);
	cr_expect_eq(kmm_map(&hyp->as, 0x20, 0x20, 0x20, KMM_ATTR_RW_DATA),
		     KMM_OK);
	init_hyp(A32, 8, 0);
	cr_expect_eq(kmm_map(&hyp->as, 0x20, 0x20, 0x20, KMM_ATTR_RW_DATA),
		     KMM_EALIGN);
	cr_expect_eq(kmm_map(&hyp->as, 0xfffff000, 0xfffff000, 0x2000,
			     KMM_ATTR_RW_DATA),
		     KMM_ERANGE);
}

Test(pmsa, map_merges_adjacent_identical_regions_into_one_slot)
{
	size_t len;

	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_map(&hyp->as, 0x40000000, 0x40000000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_assert_eq(kmm_map(&hyp->as, 0x40002000, 0x40002000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_expect_eq(kmm_pmsa_free_slots(hyp), 6);
	cr_assert_eq(kmm_map(&hyp->as, 0x40001000, 0x40001000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_expect_eq(hyp->nregions, 1);
	cr_expect_eq(kmm_pmsa_free_slots(hyp), 7);
	cr_expect_eq(kmm_query(&hyp->as, 0x40002fc0, NULL, NULL, &len), KMM_OK);
	cr_expect_eq(len, 0x3000);
	check_invariants(hyp);
}

Test(pmsa, regions_of_different_owners_or_attributes_stay_apart)
{
	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x40000000, 0x1000, KMM_ATTR_RW_DATA, 0,
				  0),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x40001000, 0x1000, KMM_ATTR_RW_DATA, 3,
				  0),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x40002000, 0x1000, RO_DATA, 3, 0),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x40003000, 0x1000, RO_DATA, 3,
				  KMM_PMSA_REGION_INIT),
		     KMM_OK);
	cr_expect_eq(hyp->nregions, 4);
	check_invariants(hyp);
	cr_expect_eq(kmm_pmsa_add(hyp, 0x40004000, 0x1000, RO_DATA, 3, 0x80),
		     KMM_EINVAL);
	cr_expect_eq(kmm_pmsa_add(hyp, 0x40004000, 0x1000, RO_DATA,
				  KMM_OWNER_NONE, 0),
		     KMM_EINVAL);
}

Test(pmsa, a_range_inside_an_identical_region_is_refcounted_not_duplicated)
{
	kmm_attr_t a;

	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_map(&hyp->as, 0x40000000, 0x40000000, 0x4000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_assert_eq(kmm_map(&hyp->as, 0x40001000, 0x40001000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_expect_eq(hyp->nregions, 1);
	cr_expect_eq(hyp->nrefs, 1);
	cr_expect_eq(hyp->refs[0].count, 2);
	/* The whole first mapping goes; the inner one keeps its bytes. */
	cr_assert_eq(kmm_unmap(&hyp->as, 0x40000000, 0x4000), KMM_OK);
	cr_expect_eq(hyp->nregions, 1);
	cr_expect_eq(hyp->nrefs, 0);
	cr_expect_eq(hyp->regions[0].base, 0x40001000);
	cr_expect_eq(hyp->regions[0].limit, 0x40001fff);
	cr_expect_eq(kmm_query(&hyp->as, 0x40001000, NULL, &a, NULL), KMM_OK);
	cr_expect_eq(a, KMM_ATTR_RW_DATA);
	cr_expect_eq(kmm_query(&hyp->as, 0x40000000, NULL, NULL, NULL),
		     KMM_ENOENT);
	cr_assert_eq(kmm_unmap(&hyp->as, 0x40001000, 0x1000), KMM_OK);
	cr_expect_eq(hyp->nregions, 0);
	check_invariants(hyp);
}

Test(pmsa, overlapping_with_other_attributes_is_eexist_and_changes_nothing)
{
	struct snapshot s;

	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_map(&hyp->as, 0x40000000, 0x40000000, 0x2000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	take(&s, hyp);
	cr_expect_eq(kmm_map(&hyp->as, 0x40001000, 0x40001000, 0x1000, RO_DATA),
		     KMM_EEXIST);
	cr_expect_eq(kmm_map(&hyp->as, 0x40001000, 0x40001000, 0x2000,
			     KMM_ATTR_RW_DATA),
		     KMM_EEXIST); /* only partly inside */
	assert_unchanged(&s, hyp);
}

Test(pmsa, writable_and_executable_is_refused_unless_allowed)
{
	const kmm_attr_t rwx = KMM_ATTR_RW_DATA | KMM_ATTR_X;

	init_hyp(V8M, 8, 0);
	cr_expect_eq(kmm_map(&hyp->as, 0x10000000, 0x10000000, 0x20000, rwx),
		     KMM_EPERM);
	cr_expect_eq(hyp->nregions, 0);
	init_hyp(V8M, 8, KMM_AS_ALLOW_WX);
	cr_expect_eq(kmm_map(&hyp->as, 0x10000000, 0x10000000, 0x20000, rwx),
		     KMM_OK);
}

Test(pmsa, non_secure_output_is_enotsup_where_prlar_has_no_ns)
{
	init_hyp(A32, 8, 0);
	cr_expect_eq(kmm_map(&hyp->as, 0x1000, 0x1000, 0x1000,
			     KMM_ATTR_RW_DATA | KMM_ATTR_NS),
		     KMM_ENOTSUP);
	init_hyp(A64, 8, 0);
	cr_expect_eq(kmm_map(&hyp->as, 0x1000, 0x1000, 0x1000,
			     KMM_ATTR_RW_DATA | KMM_ATTR_NS),
		     KMM_OK);
}

/* Maps @n separate one-page regions of alternating attributes. */
static void fill(unsigned int n)
{
	for (unsigned int i = 0; i < n; i++)
		cr_assert_eq(kmm_map(&hyp->as, 0x40000000 + 0x2000ull * i,
				     0x40000000 + 0x2000ull * i, 0x1000,
				     KMM_ATTR_RW_DATA),
			     KMM_OK);
}

Test(pmsa, exhausted_slots_give_enospc_and_change_nothing)
{
	struct snapshot s;

	init_hyp(A64, 4, 0);
	fill(4);
	cr_expect_eq(kmm_pmsa_free_slots(hyp), 0);
	take(&s, hyp);
	cr_expect_eq(kmm_map(&hyp->as, 0x50000000, 0x50000000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_ENOSPC);
	assert_unchanged(&s, hyp);
	/* Filling a gap merges three regions into one: that fits. */
	cr_expect_eq(kmm_map(&hyp->as, 0x40001000, 0x40001000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_expect_eq(kmm_pmsa_free_slots(hyp), 1);
}

Test(pmsa, partial_unmap_splits_a_region_when_a_slot_is_free)
{
	init_hyp(A64, 4, 0);
	cr_assert_eq(kmm_map(&hyp->as, 0x40000000, 0x40000000, 0x3000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_assert_eq(kmm_unmap(&hyp->as, 0x40001000, 0x1000), KMM_OK);
	cr_expect_eq(hyp->nregions, 2);
	cr_expect_eq(hyp->regions[0].limit, 0x40000fff);
	cr_expect_eq(hyp->regions[1].base, 0x40002000);
	check_invariants(hyp);
}

Test(pmsa, partial_unmap_without_a_free_slot_is_enospc_and_writes_nothing)
{
	struct snapshot s;

	init_hyp(A64, 4, 0);
	cr_assert_eq(kmm_pmsa_load(hyp), 4);
	fill(3);
	cr_assert_eq(kmm_map(&hyp->as, 0x50000000, 0x50000000, 0x3000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	take(&s, hyp);
	kmm_host_clear_events(&host);
	cr_expect_eq(kmm_unmap(&hyp->as, 0x50001000, 0x1000), KMM_ENOSPC);
	assert_unchanged(&s, hyp);
	cr_expect_eq(host.events_len, 0);
	/* Cutting an end needs no new slot. */
	cr_expect_eq(kmm_unmap(&hyp->as, 0x50002000, 0x1000), KMM_OK);
	check_invariants(hyp);
}

Test(pmsa, unmap_of_nothing_is_enoent_and_of_another_owner_is_eperm)
{
	struct snapshot s;

	init_hyp(A64, 4, 0);
	cr_expect_eq(kmm_unmap(&hyp->as, 0x40000000, 0x1000), KMM_ENOENT);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x40000000, 0x1000, KMM_ATTR_RW_DATA, 5,
				  0),
		     KMM_OK);
	take(&s, hyp);
	cr_expect_eq(kmm_pmsa_remove(hyp, 0x40000000, 0x1000, 6), KMM_EPERM);
	assert_unchanged(&s, hyp);
	cr_expect_eq(kmm_pmsa_remove(hyp, 0x40000000, 0x1000, 5), KMM_OK);
	cr_expect_eq(kmm_pmsa_remove(hyp, 0x40000000, 0x1000, 5), KMM_ENOENT);
	cr_expect_eq(kmm_pmsa_remove(hyp, 0x40000000, 0, 5), KMM_EINVAL);
	cr_expect_eq(kmm_pmsa_remove(NULL, 0x40000000, 0x1000, 5), KMM_EINVAL);
}

Test(pmsa, protect_changes_attributes_and_merges_with_neighbours)
{
	init_hyp(A64, 4, 0);
	cr_assert_eq(kmm_map(&hyp->as, 0x40000000, 0x40000000, 0x1000, RO_DATA),
		     KMM_OK);
	cr_assert_eq(kmm_map(&hyp->as, 0x40001000, 0x40001000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_expect_eq(hyp->nregions, 2);
	cr_assert_eq(kmm_protect(&hyp->as, 0x40001000, 0x1000, RO_DATA),
		     KMM_OK);
	cr_expect_eq(hyp->nregions, 1);
	cr_expect_eq(kmm_protect(&hyp->as, 0x40001000, 0x2000, RO_DATA),
		     KMM_ENOENT); /* a hole inside */
	check_invariants(hyp);
}

/* Maps [pa, pa + size) of the hypervisor at VA == PA as RW data. */
static void map_rw(kmm_paddr_t pa, uint64_t size)
{
	cr_assert_eq(kmm_map(&hyp->as, pa, pa, size, KMM_ATTR_RW_DATA), KMM_OK,
		     "map %llx", (unsigned long long)pa);
}

Test(pmsa, protect_keeps_every_reference_count_of_the_range)
{
	init_hyp(A64, 4, 0);
	map_rw(0x40000000, 0x4000);
	map_rw(0x40001000, 0x2000);
	map_rw(0x40002000, 0x1000);
	cr_assert_eq(kmm_protect(&hyp->as, 0x40000000, 0x4000, RO_DATA),
		     KMM_OK);
	cr_assert_eq(hyp->nregions, 1);
	cr_assert_eq(hyp->regions[0].attr, RO_DATA);
	cr_assert_eq(hyp->nrefs, 2);
	cr_expect_eq(hyp->refs[0].base, 0x40001000);
	cr_expect_eq(hyp->refs[0].limit, 0x40001fff);
	cr_expect_eq(hyp->refs[0].count, 2);
	cr_expect_eq(hyp->refs[1].base, 0x40002000);
	cr_expect_eq(hyp->refs[1].limit, 0x40002fff);
	cr_expect_eq(hyp->refs[1].count, 3);
	/* One reference less everywhere: the counted bytes stay mapped. */
	cr_assert_eq(kmm_unmap(&hyp->as, 0x40000000, 0x4000), KMM_OK);
	cr_assert_eq(hyp->nregions, 1);
	cr_expect_eq(hyp->regions[0].base, 0x40001000);
	cr_expect_eq(hyp->regions[0].limit, 0x40002fff);
	cr_assert_eq(hyp->nrefs, 1);
	cr_expect_eq(hyp->refs[0].base, 0x40002000);
	cr_expect_eq(hyp->refs[0].count, 2);
	check_invariants(hyp);
}

Test(pmsa, query_gives_the_pa_equal_to_the_va_and_the_region_size)
{
	kmm_paddr_t pa;
	kmm_attr_t a;
	size_t len;

	init_hyp(A32, 4, 0);
	cr_assert_eq(kmm_map(&hyp->as, 0x20000000, 0x20000000, 0x20000,
			     KMM_ATTR_RX_CODE),
		     KMM_OK);
	cr_expect_eq(kmm_query(&hyp->as, 0x20012345, &pa, &a, &len), KMM_OK);
	cr_expect_eq(pa, 0x20012345);
	cr_expect_eq(a, KMM_ATTR_RX_CODE);
	cr_expect_eq(len, 0x20000);
	cr_expect_eq(kmm_query(&hyp->as, 0x20020000, &pa, &a, &len),
		     KMM_ENOENT);
}

Test(pmsa, a_live_map_writes_one_slot_and_growing_rewrites_it_in_place)
{
	struct mpu_sim *m = calloc(1, sizeof(*m));

	m->arch = A64;
	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_pmsa_load(hyp), 8);
	sim_replay(m, &host);
	kmm_host_clear_events(&host);
	m->next_event = 0;
	cr_assert_eq(kmm_map(&hyp->as, 0x40000000, 0x40000000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_expect_eq(mpu_writes(), 1);
	cr_expect_eq(kmm_host_count(&host, KMM_HOST_EV_MPU_SYNC), 1);
	sim_replay(m, &host);
	kmm_host_clear_events(&host);
	m->next_event = 0;
	/* Growing: the same slot gets the larger range, never disabled. */
	cr_assert_eq(kmm_map(&hyp->as, 0x40001000, 0x40001000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_expect_eq(mpu_writes(), 1);
	cr_expect_eq(host.events[0].addr, hyp->regions[0].slot);
	cr_expect_neq(host.events[0].arg1, 0);
	sim_replay(m, &host);
	check_invariants(hyp);
	free(m);
}

Test(pmsa, destroy_disables_every_used_slot)
{
	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_pmsa_load(hyp), 8);
	fill(3);
	kmm_host_clear_events(&host);
	cr_assert_eq(kmm_as_destroy(&hyp->as), KMM_OK);
	cr_expect_eq(hyp->nregions, 0);
	cr_expect_eq(mpu_writes(), 3);
	for (size_t i = 0; i < host.events_len; i++)
		if (host.events[i].kind == KMM_HOST_EV_MPU_WRITE)
			cr_expect_eq(host.events[i].arg1, 0);
}

/* ------------------------------------------------------------------------
 * Boot to run time.
 */

#define TEXT 0x40000000ull
#define STACK 0x40180000ull

static void build_boot_set(void)
{
	/* slot 0 text, 1 init text, 2 rodata, 3 init data, 4 data, 5 uart,
	 * 6 device tree banks */
	cr_assert_eq(kmm_pmsa_add(hyp, TEXT, 0x80000, KMM_ATTR_RX_CODE, 0, 0),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, TEXT + 0x80000, 0x10000,
				  KMM_ATTR_RX_CODE, 0, KMM_PMSA_REGION_INIT),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x40090000, 0x30000, RO_DATA, 0, 0),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x400c0000, 0x40000, KMM_ATTR_RW_DATA, 0,
				  KMM_PMSA_REGION_INIT),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x40100000, 0x100000, KMM_ATTR_RW_DATA,
				  0, 0),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x09000000, 0x1000, KMM_ATTR_RW_DEVICE,
				  0, 0),
		     KMM_OK);
	cr_assert_eq(kmm_pmsa_add(hyp, 0x48000000, 0x8000000, KMM_ATTR_RW_DATA,
				  0, 0),
		     KMM_OK);
}

Test(pmsa, boot_to_runtime_drops_init_packs_and_never_unmaps_running_code)
{
	const struct kmm_pmsa_range keep[] = { { TEXT + 0x1000, 0x2000 },
					       { STACK, 0x4000 } };
	struct mpu_sim *m = calloc(1, sizeof(*m));
	struct kmm_pmsa_report rep;

	init_hyp(A64, 16, 0);
	build_boot_set();
	cr_assert_eq(hyp->nregions, 7);
	cr_assert_eq(kmm_pmsa_load(hyp), 16);
	m->arch = A64;
	sim_replay(m, &host);
	m->keep = keep;
	m->nkeep = 2;
	m->writes = 0;
	kmm_host_clear_events(&host);
	m->next_event = 0;

	cr_assert_eq(kmm_pmsa_boot_to_runtime(hyp, keep, 2, &rep), KMM_OK);
	sim_replay(m, &host);
	cr_expect_eq(rep.slots_before, 7);
	cr_expect_eq(rep.slots_after, 5);
	cr_expect_eq(rep.dropped, 2);
	cr_expect_eq(rep.writes, m->writes);
	cr_expect_eq(rep.first_free, 5); /* packed: slots 0..4 */
	cr_expect_eq(kmm_pmsa_free_slots(hyp), 11);
	cr_expect_eq(kmm_query(&hyp->as, TEXT + 0x80000, NULL, NULL, NULL),
		     KMM_ENOENT);
	cr_expect_eq(kmm_query(&hyp->as, 0x400c0000, NULL, NULL, NULL),
		     KMM_ENOENT);
	/* The simulated hardware says what the set says, byte by byte. */
	for (kmm_paddr_t x = 0x40000000; x < 0x40200000; x += 0x1000) {
		kmm_attr_t hw_attr = 0, set_attr = 0;
		bool in_hw = sim_lookup(m, 0, x, &hw_attr);
		bool in_set = kmm_query(&hyp->as, x, NULL, &set_attr, NULL) ==
			      KMM_OK;

		cr_assert_eq(in_hw, in_set, "%#lx", (unsigned long)x);
		cr_assert_eq(hw_attr, set_attr);
	}
	check_invariants(hyp);
	free(m);
}

Test(pmsa, boot_to_runtime_refuses_to_drop_the_running_code)
{
	const struct kmm_pmsa_range keep[] = { { TEXT + 0x80000, 0x1000 } };
	struct snapshot s;

	init_hyp(A64, 16, 0);
	build_boot_set();
	cr_assert_eq(kmm_pmsa_load(hyp), 16);
	take(&s, hyp);
	kmm_host_clear_events(&host);
	cr_expect_eq(kmm_pmsa_boot_to_runtime(hyp, keep, 1, NULL), KMM_EBUSY);
	assert_unchanged(&s, hyp);
	cr_expect_eq(host.events_len, 0);
	cr_expect_eq(kmm_pmsa_boot_to_runtime(hyp, NULL, 1, NULL), KMM_EINVAL);
}

/* ------------------------------------------------------------------------
 * Guests.
 */

Test(pmsa, guest_sets_stay_in_their_window_and_quota)
{
	struct kmm_pmsa *g = calloc(1, sizeof(*g));
	struct kmm_pmsa_config bad = { .arch = A64,
				       .hyp_slots = 8,
				       .guest_first = 4,
				       .guest_slots = 8,
				       .shared_mpu = true };

	cr_expect_eq(kmm_pmsa_init(hyp, &host.port, &bad), KMM_EINVAL);
	init_hyp(A64, 8, 0);
	cr_expect_eq(kmm_pmsa_guest_init(g, hyp, 1, 9), KMM_EQUOTA);
	cr_expect_eq(kmm_pmsa_guest_init(g, hyp, KMM_OWNER_KERNEL, 2),
		     KMM_EINVAL);
	cr_expect_eq(kmm_pmsa_guest_init(g, hyp, 1, 0), KMM_EINVAL);
	cr_assert_eq(kmm_pmsa_guest_init(g, hyp, 1, 2), KMM_OK);
	cr_expect_eq(g->first_slot, 8);
	cr_expect_eq(g->bank, KMM_PMSA_BANK_GUEST);
	cr_assert_eq(kmm_map(&g->as, 0x80000000, 0x80000000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_assert_eq(kmm_map(&g->as, 0x80002000, 0x80002000, 0x1000, RO_DATA),
		     KMM_OK);
	cr_expect_eq(kmm_map(&g->as, 0x80004000, 0x80004000, 0x1000, RO_DATA),
		     KMM_ENOSPC);
	cr_expect_eq(g->regions[0].owner, 1);
	cr_expect_eq(kmm_pmsa_load(g), KMM_EBUSY);
	free(g);
}

Test(pmsa, guest_switch_writes_only_the_slots_that_differ)
{
	struct kmm_pmsa *a = calloc(1, sizeof(*a));
	struct kmm_pmsa *b = calloc(1, sizeof(*b));

	init_hyp(A64, 8, 0);
	cr_assert_eq(kmm_pmsa_guest_init(a, hyp, 1, 4), KMM_OK);
	cr_assert_eq(kmm_pmsa_guest_init(b, hyp, 2, 6), KMM_OK);
	/* Both guests see the same UART in their slot 0. */
	cr_assert_eq(kmm_map(&a->as, 0x09000000, 0x09000000, 0x1000,
			     KMM_ATTR_RW_DEVICE),
		     KMM_OK);
	cr_assert_eq(kmm_map(&b->as, 0x09000000, 0x09000000, 0x1000,
			     KMM_ATTR_RW_DEVICE),
		     KMM_OK);
	cr_assert_eq(kmm_map(&a->as, 0x80000000, 0x80000000, 0x100000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_assert_eq(kmm_map(&b->as, 0x90000000, 0x90000000, 0x100000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_assert_eq(kmm_map(&b->as, 0x90200000, 0x90200000, 0x1000, RO_DATA),
		     KMM_OK);

	kmm_host_clear_events(&host);
	cr_expect_eq(kmm_pmsa_switch(NULL, a), 8); /* unknown: all 8 */
	cr_expect_eq(kmm_pmsa_switch(a, b), 2); /* slots 1 and 2 */
	for (size_t i = 0; i < host.events_len; i++) {
		if (host.events[i].kind != KMM_HOST_EV_MPU_WRITE)
			continue;
		cr_expect_eq(host.events[i].granule, KMM_PMSA_BANK_GUEST);
		cr_expect_geq(host.events[i].addr, 8,
			      "a hypervisor slot was handed to a guest");
	}
	cr_expect_eq(kmm_pmsa_switch(b, a), 2);
	cr_expect_eq(kmm_pmsa_switch(b, a), KMM_EINVAL); /* b not live */
	cr_expect_eq(kmm_pmsa_switch(NULL, a), KMM_EINVAL); /* a is live */
	cr_expect_eq(kmm_pmsa_switch(a, hyp), KMM_EINVAL);

	/* A live guest's own changes go straight to its slots. */
	kmm_host_clear_events(&host);
	cr_assert_eq(kmm_map(&a->as, 0xa0000000, 0xa0000000, 0x1000, RO_DATA),
		     KMM_OK);
	cr_expect_eq(mpu_writes(), 1);
	cr_expect_eq(host.events[0].addr, 8 + 2);
	free(a);
	free(b);
}

/* ------------------------------------------------------------------------
 * Randomized test against a per-granule reference model.
 */

#define G 64u /* granule of the model: the Armv8-R granule */
#define NG 512u /* granules in the model window */
#define WBASE 0x40000000ull

struct model {
	uint32_t count[NG];
	kmm_attr_t attr[NG];
};

static const kmm_attr_t attrs[] = {
	KMM_ATTR_RW_DATA,
	KMM_ATTR_RX_CODE,
	RO_DATA,
	KMM_ATTR_RW_DEVICE,
	KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_USER | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
};

static unsigned int model_regions(const struct model *m)
{
	unsigned int n = 0;

	for (unsigned int g = 0; g < NG; g++)
		if (m->count[g] && (g == 0 || !m->count[g - 1] ||
				    m->attr[g - 1] != m->attr[g]))
			n++;
	return n;
}

static unsigned int model_refs(const struct model *m)
{
	unsigned int n = 0;

	for (unsigned int g = 0; g < NG; g++)
		if (m->count[g] >= 2 &&
		    (g == 0 || m->count[g - 1] != m->count[g]))
			n++;
	return n;
}

/* Applies an operation to a copy of the model and predicts the code. */
static int model_op(struct model *m, int op, unsigned int g0, unsigned int n,
		    kmm_attr_t a, unsigned int nslots)
{
	struct model next = *m;
	unsigned int mapped = 0, same = 0;

	for (unsigned int g = g0; g < g0 + n; g++) {
		mapped += m->count[g] != 0;
		same += m->count[g] != 0 && m->attr[g] == a;
	}
	for (unsigned int g = g0; g < g0 + n; g++) {
		if (op == 0) { /* map */
			if (mapped && (mapped != n || same != n))
				return KMM_EEXIST;
			next.count[g]++;
			next.attr[g] = a;
		} else if (op == 1) { /* unmap */
			if (!mapped)
				return KMM_ENOENT;
			if (next.count[g])
				next.count[g]--;
		} else { /* protect */
			if (mapped != n)
				return KMM_ENOENT;
			next.attr[g] = a;
		}
	}
	if (model_regions(&next) > nslots ||
	    model_refs(&next) > KMM_PMSA_MAX_REGIONS)
		return KMM_ENOSPC;
	*m = next;
	return KMM_OK;
}

static void check_against_model(const struct kmm_pmsa *p, const struct model *m,
				const struct mpu_sim *sim)
{
	for (unsigned int g = 0; g < NG; g++) {
		kmm_paddr_t x = WBASE + (kmm_paddr_t)g * G;
		kmm_attr_t a = 0, h = 0;
		int ret = kmm_query(&p->as, x + G - 1, NULL, &a, NULL);
		uint32_t refs = 1;

		cr_assert_eq(ret == KMM_OK, m->count[g] != 0, "granule %u", g);
		cr_assert_eq(sim_lookup(sim, 0, x, &h), m->count[g] != 0);
		if (!m->count[g])
			continue;
		cr_assert_eq(a, m->attr[g], "granule %u attr", g);
		cr_assert_eq(h, m->attr[g], "granule %u hardware attr", g);
		for (unsigned int i = 0; i < p->nrefs; i++)
			if (p->refs[i].base <= x && x <= p->refs[i].limit)
				refs = p->refs[i].count;
		cr_assert_eq(refs, m->count[g], "granule %u count", g);
	}
}

static void random_run(uint64_t seed, unsigned int nslots, unsigned int ops)
{
	struct model *m = calloc(1, sizeof(*m));
	struct mpu_sim *sim = calloc(1, sizeof(*sim));
	struct snapshot s;

	srand((unsigned int)seed);
	init_hyp(A64, nslots, 0);
	cr_assert_eq(kmm_pmsa_load(hyp), (int)nslots);
	sim->arch = A64;
	for (unsigned int i = 0; i < ops; i++) {
		int op = rand() % 3;
		unsigned int n = 1 + (unsigned int)(rand() % 24);
		unsigned int g0 = (unsigned int)rand() % (NG - n);
		kmm_attr_t a = attrs[(unsigned int)rand() % 5];
		kmm_paddr_t x = WBASE + (kmm_paddr_t)g0 * G;
		int want, got;

		if (op == 0 && rand() % 3 == 0) {
			/* aim inside a mapped run to exercise refcounts */
			for (unsigned int g = 0; g < NG; g++) {
				unsigned int k = (g0 + g) % (NG - n);

				if (m->count[k]) {
					g0 = k;
					a = m->attr[k];
					x = WBASE + (kmm_paddr_t)g0 * G;
					break;
				}
			}
		}
		take(&s, hyp);
		kmm_host_clear_events(&host);
		sim->next_event = 0;
		want = model_op(m, op, g0, n, a, nslots);
		if (op == 0)
			got = kmm_map(&hyp->as, x, x, n * G, a);
		else if (op == 1)
			got = kmm_unmap(&hyp->as, x, n * G);
		else
			got = kmm_protect(&hyp->as, x, n * G, a);
		cr_assert_eq(got, want, "seed %lu op %u (%d at %u+%u): %d",
			     (unsigned long)seed, i, op, g0, n, got);
		if (got) {
			assert_unchanged(&s, hyp);
			cr_assert_eq(host.events_len, 0);
		}
		sim_replay(sim, &host);
		check_invariants(hyp);
		check_against_model(hyp, m, sim);
	}
	free(m);
	free(sim);
}

Test(pmsa, random_map_unmap_protect_matches_a_reference_model)
{
	unsigned int ops = getenv("KMM_TEST_UNDER_VALGRIND") ? 300 : 3000;
	const uint64_t seeds[] = { 1, 2, 3, 42, 1234 };
	const unsigned int slots[] = { 4, 8, 16, 32, 8 };

	for (size_t i = 0; i < 5; i++)
		random_run(seeds[i],
			   slots[i] > KMM_PMSA_MAX_REGIONS ?
				   KMM_PMSA_MAX_REGIONS :
				   slots[i],
			   ops);
}
