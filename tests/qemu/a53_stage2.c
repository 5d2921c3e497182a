// SPDX-License-Identifier: BSD-2-Clause
/*
 * Cortex-A53 at EL2 (QEMU virt, virtualization=on) runs guests whose
 * lifecycle goes through kmm's guest module, as a hypervisor's would.
 *
 * kmm_init() ties the page allocator to a stage-2 constructor that builds
 * each guest's stage 2 with its own root table and VMID (= its owner id).
 * kmm_guest_create() makes guest 1; its RAM is four scattered frames from
 * kmm_guest_alloc_pages() mapped at IPA 0x80000000 with kmm_guest_map(),
 * plus one read-only frame. The guest shares the program's code and its
 * fault record: those frames are the hypervisor's (kmm_guest_map() refuses
 * them), so the program maps them with kmm_map() on the guest's stage 2
 * after kmm_guest_check(). kmm gives VTCR_EL2 and VTTBR_EL2; the guest
 * runs at EL1 with its stage 1 off, so its addresses are IPAs.
 * The program checks that:
 * - the guest writes and reads its RAM, and the data lands in its frames;
 * - a page unmapped with kmm_guest_unmap() while the guest's translation
 *   of it is cached traps on the next access (the port's TLBI by IPA);
 * - an access outside its IPA map traps to EL2 with the exact ESR_EL2
 *   (data abort from a lower level, level-3 translation fault, valid
 *   syndrome), FAR_EL2 and HPFAR_EL2 holding the IPA; a write to its
 *   read-only frame traps as a level-3 permission fault;
 * - after kmm_guest_destroy() the dead guest holds nothing
 *   (kmm_guest_usage() all zero, its id FREE);
 * - a new guest (id and VMID 2) gets the same frames at the same IPAs
 *   (and the dead guest's root table frame as its root) and reads zeros
 *   where the old one wrote: the page allocator scrubbed them before
 *   handing them out again (the program never clears them);
 * - each VTTBR_EL2 holds exactly its guest's root table (a frame the
 *   guest owns) and VMID, and the two guests' VMIDs differ;
 * - the port did one TLBI by IPA (the unmap) and one whole-VMID
 *   invalidation per teardown.
 */
#include "bm.h"
#include "bm_aarch64.h"
#include "bm_port.h"
#include "kmm/as.h"
#include "kmm/errors.h"
#include "kmm/guest.h"
#include "kmm/pages.h"
#include "kmm/vmsa.h"
#include "sysreg.h"

#define PAGE 0x1000ul
#define RAM_BASE 0x40000000ul
#define RAM_SIZE 0x8000000ul
#define POOL_BASE 0x40400000ul
#define GUEST_RAM_IPA 0x80000000ul
#define GUEST_RO_IPA (GUEST_RAM_IPA + 0x8000ul)
#define GUEST_HOLE_IPA (GUEST_RAM_IPA + 0x10000ul)
#define NFRAMES 4
#define BLOCK_2M 0x200000ul
#define VTTBR_VMID_SHIFT 48
#define OWNER_G1 1
#define OWNER_G2 2

#define HCR_EL2_VM (1ull << 0)
#define HCR_EL2_RW (1ull << 31)
/* SCTLR_EL1 RES1 bits (Armv8.0), MMU and caches off. */
#define SCTLR_EL1_RES1 0x30d00800ull

/*
 * ESR_EL2 values: EC 0x24 (data abort from a lower level), IL, ISV with
 * SAS 0b10 (word) and SRT = the probe's register (w11 for the load, w1 for
 * the store), DFSC 0b000111 (translation fault, level 3) or 0b001111
 * (permission fault, level 3), WnR (bit 6) for the store.
 */
#define ESR_S2_TRANS_L3_READ 0x938b0007u
#define ESR_S2_PERM_L3_WRITE 0x9381004fu

/* What a guest did, filled at EL1 and checked at EL2. */
struct guest_job {
	uint64_t probe_only; /* Nonzero: only read probe_ipa. */
	uint64_t probe_ipa; /* With probe_only: the IPA to read. */
	uint32_t probe_faulted;
	struct bm_fault probe; /* Reading probe_ipa. */
	uint64_t write; /* Nonzero: write the pattern first. */
	uint32_t nonzero; /* Words of its RAM that were not zero on entry. */
	uint32_t mismatches; /* Words that did not read back the pattern. */
	uint32_t hole_faulted;
	uint32_t ro_faulted;
	struct bm_fault hole; /* Reading outside its IPA map. */
	struct bm_fault ro; /* Writing its read-only frame. */
};

/* Each guest's limits: the scattered allocation holds eight frames. */
static const struct kmm_guest_quota guest_quota = {
	.pages = 2 * NFRAMES,
	.table_pages = 16,
};

/* The stage 2s the hypervisor's constructor builds, one per owner id. */
struct s2_pool {
	const struct kmm_port *port;
	struct kmm_pages *pages;
	struct kmm_vmsa s2[KMM_CONFIG_MAX_OWNERS];
};

static uint64_t pages_meta[RAM_SIZE / PAGE];
static struct kmm_pages pages;
static struct bm_port_stats stats;
static struct s2_pool s2_pool;
static struct kmm kmm;
static struct guest_job job;

static uint32_t pattern(unsigned long i)
{
	return 0xc0de0000u ^ (uint32_t)i;
}

/* Runs at EL1 on IPAs. */
static void guest_main(uint64_t arg)
{
	struct guest_job *j = (struct guest_job *)arg;
	volatile uint32_t *ram = (volatile uint32_t *)GUEST_RAM_IPA;
	unsigned long i;
	uint32_t val = 0;

	if (j->probe_only) {
		j->probe_faulted = bm_probe_read32(j->probe_ipa, &val);
		j->probe = bm_fault;
		bm_guest_hvc_exit(0x600d);
	}
	for (i = 0; i < NFRAMES * PAGE / 4; i++)
		j->nonzero += ram[i] != 0;
	if (j->write) {
		for (i = 0; i < NFRAMES * PAGE / 4; i++)
			ram[i] = pattern(i);
		for (i = 0; i < NFRAMES * PAGE / 4; i++)
			j->mismatches += ram[i] != pattern(i);
	}
	j->hole_faulted = bm_probe_read32(GUEST_HOLE_IPA + 0x24, &val);
	j->hole = bm_fault;
	j->ro_faulted = bm_probe_write32(GUEST_RO_IPA + 0x8, 1);
	j->ro = bm_fault;
	bm_guest_hvc_exit(0x600d);
}

static struct kmm_vmsa *vmsa_of(const struct kmm_as *as)
{
	return (struct kmm_vmsa *)((uintptr_t)as -
				   offsetof(struct kmm_vmsa, as));
}

/*
 * kmm_guest_create() calls this with the guest's page quota in place: a
 * stage 2 with its own root table, charged to the guest, tagged with its
 * owner id as VMID and bounded by its table-page quota.
 */
static int s2_create(void *ctx, kmm_owner_t id,
		     const struct kmm_guest_quota *quota, struct kmm_as **s2)
{
	struct s2_pool *sp = ctx;
	struct kmm_vmsa_config cfg;
	int ret;

	/* max_table_pages 0 would mean no limit. */
	if (quota->table_pages == 0)
		return KMM_EQUOTA;
	ret = kmm_vmsa_config_init(&cfg, KMM_REGIME_STAGE2);
	if (ret)
		return ret;
	cfg.va_bits = 40; /* IPA size */
	cfg.oa_bits = 40; /* ID_AA64MMFR0_EL1.PARange of the A53 */
	cfg.id = id; /* VMID */
	cfg.flags |= KMM_VMSA_NONCOHERENT_WALK;
	cfg.max_table_pages = quota->table_pages;
	ret = kmm_vmsa_init(&sp->s2[id], &cfg, sp->port, sp->pages, id, 0);
	if (ret == KMM_OK)
		*s2 = &sp->s2[id].as;
	return ret;
}

static void s2_usage(void *ctx, const struct kmm_as *s2, uint64_t *table_pages,
		     uint32_t *mpu_slots)
{
	(void)ctx;
	*table_pages = kmm_vmsa_table_pages(vmsa_of(s2));
	*mpu_slots = 0;
}

static const struct kmm_guest_s2_ops s2_ops = {
	.create = s2_create,
	.usage = s2_usage,
};

/*
 * Maps the program's own frames (shared code, the fault record) into guest
 * @id's stage 2. They are the hypervisor's, so kmm_guest_map() refuses
 * them; the hypervisor maps them itself on the guest's address space after
 * kmm_guest_check() (the port has no lock: one core, no preemption).
 */
static void map_shared(kmm_owner_t id, uintptr_t start, uintptr_t end,
		       kmm_attr_t attr)
{
	BM_CHECK_EQ(kmm_guest_map(&kmm, id, start, start, end - start, attr),
		    KMM_EPERM);
	BM_CHECK_EQ(kmm_guest_check(&kmm, id), KMM_OK);
	BM_CHECK_EQ(kmm_map(kmm_guest_s2(&kmm, id), start, start, end - start,
			    attr),
		    KMM_OK);
}

/* Table pages of the guest's stage 2 after build_guest(). */
static uint64_t expected_tables(void)
{
	uintptr_t lo = (uintptr_t)__text_start & ~(BLOCK_2M - 1);
	uintptr_t hi = ((uintptr_t)__data_end + BLOCK_2M - 1) & ~(BLOCK_2M - 1);

	/*
	 * Two concatenated level-1 root tables (40-bit IPA), one level-2
	 * table for the image's GiB and a level-3 table per 2 MiB it
	 * touches, one level-2 and one level-3 table for the guest's RAM.
	 */
	return 2 + 1 + (hi - lo) / BLOCK_2M + 1 + 1;
}

/*
 * Creates guest @id through the guest module and builds its memory: the
 * shared image, four scattered frames of RAM and one read-only frame.
 */
static struct kmm_vmsa *build_guest(kmm_owner_t id, kmm_paddr_t *frames,
				    kmm_paddr_t *ro_frame)
{
	struct kmm_as *as = NULL;
	kmm_paddr_t scratch[2 * NFRAMES], extra;
	unsigned int i;

	BM_CHECK_EQ(kmm_guest_create(&kmm, id, &guest_quota, &as), KMM_OK);
	BM_CHECK(as == &s2_pool.s2[id].as);
	BM_CHECK(kmm_guest_s2(&kmm, id) == as);
	BM_CHECK_EQ(kmm_guest_create(&kmm, id, &guest_quota, NULL), KMM_EEXIST);

	map_shared(id, (uintptr_t)__text_start, (uintptr_t)__text_end,
		   KMM_ATTR_RX_CODE);
	map_shared(id, (uintptr_t)__rodata_start, (uintptr_t)__rodata_end,
		   KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB));
	map_shared(id, (uintptr_t)__data_start, (uintptr_t)__data_end,
		   KMM_ATTR_RW_DATA);

	/* Every other frame of eight for the guest: scattered. */
	for (i = 0; i < 2 * NFRAMES; i++)
		BM_CHECK_EQ(kmm_guest_alloc_pages(&kmm, id, 0, 0, &scratch[i]),
			    KMM_OK);
	/* Eight frames is its whole quota (table pages not counted). */
	BM_CHECK_EQ(kmm_guest_alloc_pages(&kmm, id, 0, 0, &extra), KMM_EQUOTA);
	for (i = 0; i < NFRAMES; i++) {
		frames[i] = scratch[2 * i + 1];
		BM_CHECK_EQ(kmm_guest_free_pages(&kmm, id, scratch[2 * i], 0),
			    KMM_OK);
		BM_CHECK_EQ(kmm_guest_map(&kmm, id, GUEST_RAM_IPA + i * PAGE,
					  frames[i], PAGE, KMM_ATTR_RW_DATA),
			    KMM_OK);
	}
	BM_CHECK_EQ(kmm_guest_alloc_pages(&kmm, id, 0, 0, ro_frame), KMM_OK);
	BM_CHECK_EQ(kmm_guest_map(&kmm, id, GUEST_RO_IPA, *ro_frame, PAGE,
				  KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB)),
		    KMM_OK);
	return vmsa_of(as);
}

/* VTTBR_EL2 of guest @id: its own root table and its VMID, nothing else. */
static uint64_t check_vttbr(const struct kmm_vmsa *s2, kmm_owner_t id)
{
	uint64_t vttbr = kmm_vmsa_ttbr(s2);
	kmm_owner_t owner = KMM_OWNER_KERNEL;

	BM_CHECK_EQ(vttbr, ((uint64_t)id << VTTBR_VMID_SHIFT) | s2->root_pa);
	/* The root: two concatenated tables, aligned to their size. */
	BM_CHECK_EQ(s2->root_tables, 2);
	BM_CHECK_EQ(s2->root_pa & (2 * PAGE - 1), 0);
	BM_CHECK_EQ(kmm_pages_owner(&pages, s2->root_pa, &owner), KMM_OK);
	BM_CHECK_EQ(owner, id);
	BM_CHECK_EQ(kmm_pages_owner(&pages, s2->root_pa + PAGE, &owner),
		    KMM_OK);
	BM_CHECK_EQ(owner, id);
	return vttbr;
}

static void check_usage(kmm_owner_t id, uint64_t data_pages,
			uint64_t table_pages)
{
	struct kmm_guest_usage u;

	BM_CHECK_EQ(kmm_guest_usage(&kmm, id, &u), KMM_OK);
	BM_CHECK_EQ(u.pages, data_pages);
	BM_CHECK_EQ(u.table_pages, table_pages);
	BM_CHECK_EQ(u.va_bytes, 0);
	BM_CHECK_EQ(u.regions, 0);
	BM_CHECK_EQ(u.mpu_slots, 0);
	BM_CHECK_EQ(u.streams, 0);
}

/* Tears guest @id down through the guest module: it holds nothing after. */
static void destroy_guest(kmm_owner_t id)
{
	uint64_t used = 1;

	BM_CHECK_EQ(kmm_guest_destroy(&kmm, id), KMM_OK);
	BM_CHECK_EQ(kmm_guest_state(&kmm, id), KMM_GUEST_FREE);
	BM_CHECK(kmm_guest_s2(&kmm, id) == NULL);
	check_usage(id, 0, 0);
	BM_CHECK_EQ(kmm_pages_usage(&pages, id, &used), KMM_OK);
	BM_CHECK_EQ(used, 0);
	BM_CHECK_EQ(kmm_guest_destroy(&kmm, id), KMM_ENOENT);
}

static uint64_t run_guest(struct kmm_vmsa *s2)
{
	bm_write_sysreg(vtcr_el2, kmm_vmsa_tcr(s2));
	bm_write_sysreg(vttbr_el2, kmm_vmsa_ttbr(s2));
	bm_write_sysreg(hcr_el2, HCR_EL2_RW | HCR_EL2_VM);
	bm_write_sysreg(sctlr_el1, SCTLR_EL1_RES1);
	bm_isb();
	return bm_guest_enter((uintptr_t)guest_main, (uintptr_t)&job,
			      (uintptr_t)__guest_stack_top);
}

static void check_traps(void)
{
	BM_CHECK_EQ(job.hole_faulted, 1);
	BM_CHECK_EQ(job.hole.el, 2);
	BM_CHECK_EQ(job.hole.syndrome, ESR_S2_TRANS_L3_READ);
	BM_CHECK_EQ(job.hole.addr, GUEST_HOLE_IPA + 0x24);
	BM_CHECK_EQ(job.hole.ipa, GUEST_HOLE_IPA);
	BM_CHECK_EQ(job.hole.pc, (uintptr_t)bm_probe_read32_insn);
	BM_CHECK_EQ(job.ro_faulted, 1);
	BM_CHECK_EQ(job.ro.el, 2);
	BM_CHECK_EQ(job.ro.syndrome, ESR_S2_PERM_L3_WRITE);
	BM_CHECK_EQ(job.ro.addr, GUEST_RO_IPA + 0x8);
	BM_CHECK_EQ(job.ro.ipa, GUEST_RO_IPA);
	BM_CHECK_EQ(job.ro.pc, (uintptr_t)bm_probe_write32_insn);
}

int bm_main(void)
{
	struct kmm_port port;
	struct kmm_config kcfg = { 0 };
	struct kmm_vmsa *s2;
	kmm_paddr_t old[NFRAMES], fresh[NFRAMES], old_ro, fresh_ro, old_root;
	uint64_t old_vttbr, new_vttbr, tables;
	unsigned int i;

	BM_CHECK_EQ(bm_current_el(), 2);
	bm_port_init(&port, &stats);
	BM_CHECK_EQ(kmm_pages_init(&pages, &port, RAM_BASE, RAM_SIZE,
				   pages_meta, sizeof(pages_meta)),
		    KMM_OK);
	BM_CHECK((uintptr_t)__image_end <= POOL_BASE);
	BM_CHECK_EQ(kmm_pages_add(&pages, POOL_BASE,
				  RAM_BASE + RAM_SIZE - POOL_BASE),
		    KMM_OK);
	s2_pool.port = &port;
	s2_pool.pages = &pages;
	kcfg.port = &port;
	kcfg.pages = &pages;
	kcfg.s2_ops = &s2_ops;
	kcfg.s2_ctx = &s2_pool;
	BM_CHECK_EQ(kmm_init(&kmm, &kcfg), KMM_OK);

	s2 = build_guest(OWNER_G1, old, &old_ro);
	old_vttbr = check_vttbr(s2, OWNER_G1);
	old_root = s2->root_pa;
	tables = expected_tables();
	check_usage(OWNER_G1, NFRAMES + 1, tables);
	bm_printf("a53-el2: guest 1: VTCR_EL2=0x%llx VTTBR_EL2=0x%llx, "
		  "%llu table pages\n",
		  (unsigned long long)kmm_vmsa_tcr(s2),
		  (unsigned long long)old_vttbr, (unsigned long long)tables);
	job = (struct guest_job){ .write = 1 };
	BM_CHECK_EQ(run_guest(s2), 0x600d);
	BM_CHECK_EQ(bm_read_sysreg(vttbr_el2), old_vttbr);
	bm_printf("a53-el2: guest 1 outside its map: ESR_EL2=0x%llx "
		  "FAR_EL2=0x%llx IPA=0x%llx\n",
		  (unsigned long long)job.hole.syndrome,
		  (unsigned long long)job.hole.addr,
		  (unsigned long long)job.hole.ipa);
	BM_CHECK_EQ(job.nonzero, 0);
	BM_CHECK_EQ(job.mismatches, 0);
	check_traps();
	/* The guest's words are in its scattered frames. */
	for (i = 0; i < NFRAMES; i++)
		BM_CHECK_EQ(*(volatile uint32_t *)(old[i] + 8),
			    pattern(i * PAGE / 4 + 2));

	/*
	 * Unmap one page of guest 1's RAM while its translation is in the
	 * TLB (the guest just used it): QEMU caches stage 1+2 translations,
	 * so only the port's TLBI by IPA makes the next access trap.
	 */
	BM_CHECK_EQ(kmm_guest_unmap(&kmm, OWNER_G1, GUEST_RAM_IPA + 2 * PAGE,
				    PAGE),
		    KMM_OK);
	job = (struct guest_job){
		.probe_only = 1, .probe_ipa = GUEST_RAM_IPA + 2 * PAGE + 0x30
	};
	BM_CHECK_EQ(run_guest(s2), 0x600d);
	BM_CHECK_EQ(job.probe_faulted, 1);
	BM_CHECK_EQ(job.probe.syndrome, ESR_S2_TRANS_L3_READ);
	BM_CHECK_EQ(job.probe.addr, GUEST_RAM_IPA + 2 * PAGE + 0x30);
	BM_CHECK_EQ(job.probe.ipa, GUEST_RAM_IPA + 2 * PAGE);
	/* The frame is unmapped, still the guest's, and so are the tables. */
	check_usage(OWNER_G1, NFRAMES + 1, tables);

	/* Tear guest 1 down: its stage 2, its tables, its frames. */
	destroy_guest(OWNER_G1);

	s2 = build_guest(OWNER_G2, fresh, &fresh_ro);
	new_vttbr = check_vttbr(s2, OWNER_G2);
	check_usage(OWNER_G2, NFRAMES + 1, tables);
	BM_CHECK((new_vttbr >> VTTBR_VMID_SHIFT) !=
		 (old_vttbr >> VTTBR_VMID_SHIFT));
	bm_printf("a53-el2: guest 2: VTTBR_EL2=0x%llx\n",
		  (unsigned long long)new_vttbr);
	/*
	 * The test means something only if the dead guest's frames are handed
	 * out again: the allocator gives guest 2 the very same frames in the
	 * same order, so each lands at the IPA guest 1 wrote through, and its
	 * root table is guest 1's old root.
	 */
	for (i = 0; i < NFRAMES; i++)
		BM_CHECK_EQ(fresh[i], old[i]);
	BM_CHECK_EQ(fresh_ro, old_ro);
	BM_CHECK_EQ(s2->root_pa, old_root);
	job = (struct guest_job){ .write = 0 };
	BM_CHECK_EQ(run_guest(s2), 0x600d);
	BM_CHECK_EQ(bm_read_sysreg(vttbr_el2), new_vttbr);
	BM_CHECK_EQ(job.nonzero, 0);
	check_traps();
	destroy_guest(OWNER_G2);
	/* One TLBI by IPA for the unmap, one whole-VMID per teardown. */
	BM_CHECK_EQ(stats.tlbi_pages, 1);
	BM_CHECK_EQ(stats.tlbi_all, 2);
	bm_printf("a53-el2: PASS (%llu TLBI by IPA, %llu whole)\n",
		  (unsigned long long)stats.tlbi_pages,
		  (unsigned long long)stats.tlbi_all);
	return 0;
}
