// SPDX-License-Identifier: BSD-2-Clause
/*
 * Cortex-R52 (QEMU 10, mps3-an536) enforces kmm's PMSA region sets: the
 * hypervisor's own set in the EL2 MPU (HPRBAR/HPRLAR) and two guests' sets
 * in the EL1 MPU (PRBAR/PRLAR), switched with kmm_pmsa_switch().
 *
 * The guests are kmm guests: kmm_guest_create() builds each one's region
 * set through the stage-2 constructor handed to kmm_init()
 * (kmm_pmsa_guest_init() with the guest's MPU-slot quota). Each guest
 * holds its two windows in kmm's page allocator, whose span is exactly
 * the guests' windows, and they are mapped with kmm_guest_map(); the
 * image is outside that span (the hypervisor's policy lets every guest
 * run the program's code).
 *
 * Both MPUs run without a background region, so every access must hit one
 * of kmm's regions. The program checks that:
 * - the MPU registers hold exactly what kmm says it wrote, in both banks;
 * - the hypervisor runs under its set, and an access outside it takes a
 *   data abort to Hyp with the exact HSR and HDFAR;
 * - each guest, run in SVC mode (EL1) under its own set, reads and writes
 *   its own window; a read of the other guest's window and a write to its
 *   read-only window each take a data abort at EL1 with the exact DFSR and
 *   DFAR; after switching back, a guest finds its data again;
 * - a switch writes only the slots whose content differs;
 * - kmm_guest_map() refuses to give a guest the other guest's window;
 * - kmm_guest_destroy() of the guest that is not loaded leaves the EL1
 *   MPU alone; of the loaded one, disables every slot of its set in the
 *   EL1 MPU; either way kmm_guest_usage() is all zero afterwards.
 */
#include "bm.h"
#include "bm_armv8r.h"
#include "bm_port.h"
#include "kmm/as.h"
#include "kmm/errors.h"
#include "kmm/guest.h"
#include "kmm/pages.h"
#include "kmm/pmsa.h"

/* Windows in DDR, above the image. */
#define HYP_WIN 0x21000000u
#define G1_WIN 0x21010000u
#define G2_WIN 0x21020000u
#define G1_RO 0x21030000u
#define G2_RO 0x21040000u
#define WIN_SIZE 0x1000u
#define OWNER_G1 1
#define OWNER_G2 2
/* The page allocator's span: the guests' windows, nothing else. */
#define POOL_BASE G1_WIN
#define POOL_SIZE (G2_RO + WIN_SIZE - G1_WIN)
#define GUEST_SLOTS 8

#define SCTLR_M (1u << 0)
#define SCTLR_BR (1u << 17)

/*
 * Syndromes, long-descriptor format (LPAE bit 9 set, as PMSAv8-32 always
 * reports): an access that hits no region (no background region) and a
 * write a region does not allow both come as a permission fault at level
 * 0, FS 0b001100, which is what QEMU 10's Cortex-R52 reports; WnR (bit
 * 11) marks a write. In HSR the same fault is EC 0x25 (data abort taken
 * from Hyp) with IL set and DFSC 0b001100 (ISV clear).
 */
#define DFSR_PERM_READ 0x20cu
#define DFSR_PERM_WRITE 0xa0cu
#define HSR_PERM_READ 0x9600000cu

/* What a guest did, filled by the guest and checked by the hypervisor. */
struct guest_job {
	uint32_t own; /* Its window. */
	uint32_t other; /* The other guest's window. */
	uint32_t ro; /* Its read-only window. */
	uint32_t pattern; /* Written to the first word of its window. */
	uint32_t seen_before; /* First word of its window on entry. */
	uint32_t own_ok; /* Its window read back what it wrote. */
	struct bm_fault other_fault; /* Reading the other guest's window. */
	struct bm_fault ro_fault; /* Writing its read-only window. */
	uint32_t other_faulted;
	uint32_t ro_faulted;
};

/* Each guest: its two windows and eight EL1 MPU slots. */
static const struct kmm_guest_quota guest_quota = {
	.pages = 2 * WIN_SIZE / 4096,
	.mpu_slots = GUEST_SLOTS,
};

static struct kmm_pmsa hyp;
static struct kmm_pmsa guests[2];
static struct guest_job jobs[2];
static uint64_t pages_meta[64];
static struct kmm_pages pages;
static struct kmm kmm;
static uint8_t guest_stacks[2][4096] __attribute__((aligned(64)));

static void guest_main(uint32_t arg)
{
	struct guest_job *job = (struct guest_job *)(uintptr_t)arg;
	uint32_t val = 0;

	BM_CHECK_NO_FAULT(bm_probe_read32(job->own, &job->seen_before));
	BM_CHECK_NO_FAULT(bm_probe_write32(job->own, job->pattern));
	BM_CHECK_NO_FAULT(bm_probe_read32(job->own, &val));
	job->own_ok = val == job->pattern;
	job->other_faulted = bm_probe_read32(job->other + 0x10u, &val);
	job->other_fault = bm_fault;
	job->ro_faulted = bm_probe_write32(job->ro + 0x20u, 1);
	job->ro_fault = bm_fault;
	BM_CHECK_NO_FAULT(bm_probe_read32(job->ro, &val));
	bm_guest_hvc_exit(0);
}

static void check_bank(const struct kmm_pmsa *set, unsigned int bank)
{
	unsigned int slot;
	uint32_t rbar, rlar;

	for (slot = 0; slot < set->nslots; slot++) {
		bm_mpu_read(bank, set->first_slot + slot, &rbar, &rlar);
		BM_CHECK_EQ(rlar, set->hw[slot].rlar);
		/* The base register of a disabled slot means nothing. */
		if (set->hw[slot].rlar)
			BM_CHECK_EQ(rbar, set->hw[slot].rbar);
	}
}

static void map_image(struct kmm_pmsa *set)
{
	uintptr_t text = (uintptr_t)__text_start;
	uintptr_t data = (uintptr_t)__data_start;

	BM_CHECK_EQ(kmm_map(&set->as, text, text, (uintptr_t)__text_end - text,
			    KMM_ATTR_RX_CODE),
		    KMM_OK);
	BM_CHECK_EQ(kmm_map(&set->as, data, data, (uintptr_t)__data_end - data,
			    KMM_ATTR_RW_DATA),
		    KMM_OK);
}

/*
 * The stage-2 constructor kmm_guest_create() calls: guest @id's region set
 * in the EL1 bank, bounded by its MPU-slot quota.
 */
static int s2_create(void *ctx, kmm_owner_t id,
		     const struct kmm_guest_quota *quota, struct kmm_as **s2)
{
	struct kmm_pmsa *g = &guests[id - OWNER_G1];
	int ret = kmm_pmsa_guest_init(g, ctx, id, quota->mpu_slots);

	if (ret == KMM_OK)
		*s2 = &g->as;
	return ret;
}

static void s2_usage(void *ctx, const struct kmm_as *s2, uint64_t *table_pages,
		     uint32_t *mpu_slots)
{
	(void)ctx;
	*table_pages = 0;
	*mpu_slots = ((const struct kmm_pmsa *)((uintptr_t)s2 -
						offsetof(struct kmm_pmsa, as)))
			     ->nregions;
}

static const struct kmm_guest_s2_ops s2_ops = {
	.create = s2_create,
	.usage = s2_usage,
};

static void check_usage(kmm_owner_t id, uint64_t pages_held, uint32_t mpu_slots)
{
	struct kmm_guest_usage u;

	BM_CHECK_EQ(kmm_guest_usage(&kmm, id, &u), KMM_OK);
	BM_CHECK_EQ(u.pages, pages_held);
	BM_CHECK_EQ(u.table_pages, 0);
	BM_CHECK_EQ(u.va_bytes, 0);
	BM_CHECK_EQ(u.regions, 0);
	BM_CHECK_EQ(u.mpu_slots, mpu_slots);
	BM_CHECK_EQ(u.streams, 0);
}

static void setup_guest(unsigned int i, uint32_t own, uint32_t other,
			uint32_t ro)
{
	kmm_owner_t id = i == 0 ? OWNER_G1 : OWNER_G2;
	struct kmm_pmsa *g = &guests[i];
	uintptr_t text = (uintptr_t)__text_start;
	uintptr_t data = (uintptr_t)__data_start;
	struct kmm_as *as = NULL;

	BM_CHECK_EQ(kmm_guest_create(&kmm, id, &guest_quota, &as), KMM_OK);
	BM_CHECK(as == &g->as);
	BM_CHECK_EQ(g->nslots, GUEST_SLOTS);
	BM_CHECK_EQ(g->as.owner, id);
	/* Its windows become its own frames. */
	BM_CHECK_EQ(kmm_guest_check(&kmm, id), KMM_OK);
	BM_CHECK_EQ(kmm_pages_alloc_range(&pages, own, WIN_SIZE, id), KMM_OK);
	BM_CHECK_EQ(kmm_pages_alloc_range(&pages, ro, WIN_SIZE, id), KMM_OK);
	BM_CHECK_EQ(kmm_guest_map(&kmm, id, text, text,
				  (uintptr_t)__text_end - text,
				  KMM_ATTR_RX_CODE),
		    KMM_OK);
	BM_CHECK_EQ(kmm_guest_map(&kmm, id, data, data,
				  (uintptr_t)__data_end - data,
				  KMM_ATTR_RW_DATA),
		    KMM_OK);
	BM_CHECK_EQ(kmm_guest_map(&kmm, id, own, own, WIN_SIZE,
				  KMM_ATTR_RW_DATA),
		    KMM_OK);
	BM_CHECK_EQ(kmm_guest_map(&kmm, id, ro, ro, WIN_SIZE,
				  KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB)),
		    KMM_OK);
	/* The other guest's window is not this guest's to map. */
	BM_CHECK_EQ(kmm_guest_map(&kmm, id, other, other, WIN_SIZE,
				  KMM_ATTR_RW_DATA),
		    KMM_EPERM);
	check_usage(id, 2, 4);
	jobs[i] = (struct guest_job){ .own = own, .other = other, .ro = ro };
}

/* Reads the first @n slots of the EL1 MPU: none may be enabled. */
static void check_el1_mpu_off(unsigned int n)
{
	unsigned int slot;
	uint32_t rbar, rlar;

	for (slot = 0; slot < n; slot++) {
		bm_mpu_read(1, slot, &rbar, &rlar);
		BM_CHECK_EQ(rlar & 1u, 0);
	}
}

static void destroy_guest(kmm_owner_t id)
{
	uint64_t used = 1;

	BM_CHECK_EQ(kmm_guest_destroy(&kmm, id), KMM_OK);
	BM_CHECK_EQ(kmm_guest_state(&kmm, id), KMM_GUEST_FREE);
	check_usage(id, 0, 0);
	BM_CHECK_EQ(kmm_pages_usage(&pages, id, &used), KMM_OK);
	BM_CHECK_EQ(used, 0);
}

static void run_guest(unsigned int i, uint32_t pattern)
{
	struct guest_job *job = &jobs[i];

	job->pattern = pattern;
	check_bank(&guests[i], 1);
	BM_CHECK_EQ(bm_guest_enter((uintptr_t)guest_main, (uintptr_t)job,
				   (uintptr_t)guest_stacks[i] +
					   sizeof(guest_stacks[i])),
		    0);
	bm_printf("r52: guest %u: other window DFSR=0x%x DFAR=0x%x, "
		  "read-only write DFSR=0x%x DFAR=0x%x\n",
		  i + 1, (unsigned int)job->other_fault.syndrome,
		  (unsigned int)job->other_fault.addr,
		  (unsigned int)job->ro_fault.syndrome,
		  (unsigned int)job->ro_fault.addr);
	BM_CHECK_EQ(job->own_ok, 1);
	BM_CHECK_EQ(job->other_faulted, 1);
	BM_CHECK_EQ(job->other_fault.el, 1);
	BM_CHECK_EQ(job->other_fault.syndrome, DFSR_PERM_READ);
	BM_CHECK_EQ(job->other_fault.addr, job->other + 0x10u);
	BM_CHECK_EQ(job->other_fault.pc, (uintptr_t)bm_probe_read32_insn);
	BM_CHECK_EQ(job->ro_faulted, 1);
	BM_CHECK_EQ(job->ro_fault.el, 1);
	BM_CHECK_EQ(job->ro_fault.syndrome, DFSR_PERM_WRITE);
	BM_CHECK_EQ(job->ro_fault.addr, job->ro + 0x20u);
	BM_CHECK_EQ(job->ro_fault.pc, (uintptr_t)bm_probe_write32_insn);
}

static void hyp_mpu_on(void)
{
	uint64_t mair = kmm_pmsa_mair(KMM_PMSA_ARMV8R_AARCH32);
	int writes;

	bm_cp15_write(4, c10, c2, 0, (uint32_t)mair); /* HMAIR0 */
	bm_cp15_write(4, c10, c2, 1, (uint32_t)(mair >> 32)); /* HMAIR1 */
	bm_cp15_write(0, c10, c2, 0, (uint32_t)mair); /* MAIR0 */
	bm_cp15_write(0, c10, c2, 1, (uint32_t)(mair >> 32)); /* MAIR1 */
	writes = kmm_pmsa_load(&hyp);
	BM_CHECK_EQ(writes, (int)hyp.nslots);
	check_bank(&hyp, 0);
	bm_cp15_write(4, c1, c0, 0,
		      (bm_cp15_read(4, c1, c0, 0) | SCTLR_M) & ~SCTLR_BR);
	bm_dsb_isb();
}

int bm_main(void)
{
	struct kmm_port port;
	struct bm_port_stats stats = { 0 };
	struct kmm_pmsa_config cfg = {
		.arch = KMM_PMSA_ARMV8R_AARCH32,
		.hyp_slots = bm_cp15_read(4, c0, c0, 4) & 0xffu,
		.guest_first = 0,
		.guest_slots = (bm_cp15_read(0, c0, c0, 4) >> 8) & 0xffu,
	};
	struct kmm_config kcfg = { 0 };
	uint32_t val = 0, el1_writes;
	int writes;

	bm_port_init(&port, &stats);
	BM_CHECK(kmm_pages_meta_size(POOL_BASE, POOL_SIZE) <=
		 sizeof(pages_meta));
	BM_CHECK_EQ(kmm_pages_init(&pages, &port, POOL_BASE, POOL_SIZE,
				   pages_meta, sizeof(pages_meta)),
		    KMM_OK);
	BM_CHECK_EQ(kmm_pages_add(&pages, POOL_BASE, POOL_SIZE), KMM_OK);
	BM_CHECK_EQ(cfg.hyp_slots, 16);
	BM_CHECK_EQ(cfg.guest_slots, 16);
	BM_CHECK_EQ(kmm_pmsa_init(&hyp, &port, &cfg), KMM_OK);
	map_image(&hyp);
	BM_CHECK_EQ(kmm_map(&hyp.as, HYP_WIN, HYP_WIN, WIN_SIZE,
			    KMM_ATTR_RW_DATA),
		    KMM_OK);
	hyp_mpu_on();
	kcfg.port = &port;
	kcfg.pages = &pages;
	kcfg.s2_ops = &s2_ops;
	kcfg.s2_ctx = &hyp;
	BM_CHECK_EQ(kmm_init(&kmm, &kcfg), KMM_OK);
	bm_printf("r52: EL2 MPU on with %u kmm regions\n",
		  (unsigned int)hyp.nregions);

	BM_CHECK_NO_FAULT(bm_probe_write32(HYP_WIN, 0x12345678u));
	BM_CHECK_NO_FAULT(bm_probe_read32(HYP_WIN, &val));
	BM_CHECK_EQ(val, 0x12345678u);
	BM_CHECK_FAULTS(bm_probe_read32(G1_WIN, &val));
	bm_printf("r52: hypervisor outside its set: HSR=0x%x HDFAR=0x%x\n",
		  (unsigned int)bm_fault.syndrome, (unsigned int)bm_fault.addr);
	BM_CHECK_EQ(bm_fault.el, 2);
	BM_CHECK_EQ(bm_fault.syndrome, HSR_PERM_READ);
	BM_CHECK_EQ(bm_fault.addr, G1_WIN);

	setup_guest(0, G1_WIN, G2_WIN, G1_RO);
	setup_guest(1, G2_WIN, G1_WIN, G2_RO);
	/* EL1 MPU on, no background region; its slots are kmm's from now. */
	writes = kmm_pmsa_switch(NULL, &guests[0]);
	BM_CHECK(writes > 0);
	bm_cp15_write(0, c1, c0, 0,
		      (bm_cp15_read(0, c1, c0, 0) | SCTLR_M) & ~SCTLR_BR);
	bm_dsb_isb();

	run_guest(0, 0x6e510001u);
	BM_CHECK_EQ(jobs[0].seen_before, 0);
	/* Guest 2's set differs from guest 1's only in its two windows. */
	writes = kmm_pmsa_switch(&guests[0], &guests[1]);
	bm_printf("r52: switch to guest 2 wrote %d slots\n", writes);
	BM_CHECK_EQ(writes, 2);
	run_guest(1, 0x6e510002u);
	BM_CHECK_EQ(jobs[1].seen_before, 0);

	/* Back to guest 1: its data is where it left it. */
	BM_CHECK_EQ(kmm_pmsa_switch(&guests[1], &guests[0]), 2);
	run_guest(0, 0x6e510003u);
	BM_CHECK_EQ(jobs[0].seen_before, 0x6e510001u);

	/*
	 * Guest 2 is not loaded: its teardown leaves the EL1 MPU with guest
	 * 1's set. Guest 1 is: its teardown disables every slot it had.
	 */
	el1_writes = stats.mpu_writes[1];
	destroy_guest(OWNER_G2);
	BM_CHECK_EQ(stats.mpu_writes[1], el1_writes);
	check_bank(&guests[0], 1);
	destroy_guest(OWNER_G1);
	/* One write per region guest 1 had, each disabling its slot. */
	BM_CHECK_EQ(stats.mpu_writes[1], el1_writes + 4);
	check_el1_mpu_off(GUEST_SLOTS);

	/* The hypervisor's set is untouched by all the switching. */
	check_bank(&hyp, 0);
	BM_CHECK_NO_FAULT(bm_probe_read32(HYP_WIN, &val));
	BM_CHECK_EQ(val, 0x12345678u);
	bm_printf("r52: PASS (%u EL2 and %u EL1 slot writes)\n",
		  (unsigned int)stats.mpu_writes[0],
		  (unsigned int)stats.mpu_writes[1]);
	return 0;
}
