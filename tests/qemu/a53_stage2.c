// SPDX-License-Identifier: BSD-2-Clause
/*
 * Cortex-A53 at EL2 (QEMU virt, virtualization=on) runs guests on kmm's
 * stage-2 tables.
 *
 * kmm builds guest 1's stage 2 (VMID 1): the image's code and data at
 * their own IPAs (the guest shares the program's code and its fault
 * record), four scattered frames owned by the guest as its RAM at IPA
 * 0x80000000, and one read-only frame. kmm gives VTCR_EL2 and VTTBR_EL2;
 * the guest runs at EL1 with its stage 1 off, so its addresses are IPAs.
 * The program checks that:
 * - the guest writes and reads its RAM, and the data lands in its frames;
 * - a page unmapped while the guest's translation of it is cached traps
 *   on the next access (the port's TLBI by IPA removed it);
 * - an access outside its IPA map traps to EL2 with the exact ESR_EL2
 *   (data abort from a lower level, level-3 translation fault, valid
 *   syndrome), FAR_EL2 and HPFAR_EL2 holding the IPA; a write to its
 *   read-only frame traps as a level-3 permission fault;
 * - after the guest is torn down (kmm_as_destroy of its stage 2 and
 *   kmm_pages_free_all of everything it owned: this emulates the guest
 *   module's kmm_guest_destroy until that lands) a new guest (VMID 2) that
 *   gets the same frames at the same IPAs reads zeros where the old one
 *   wrote: kmm scrubbed them before handing them out again.
 */
#include "bm.h"
#include "bm_aarch64.h"
#include "bm_port.h"
#include "kmm/as.h"
#include "kmm/errors.h"
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

static uint64_t pages_meta[RAM_SIZE / PAGE];
static struct kmm_pages pages;
static struct bm_port_stats stats;
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

static void map_ipa(struct kmm_vmsa *s2, uintptr_t ipa, kmm_paddr_t pa,
		    size_t size, kmm_attr_t attr)
{
	BM_CHECK_EQ(kmm_map(&s2->as, ipa, pa, size, attr), KMM_OK);
}

/* Builds a guest's stage 2; its RAM frames come from the allocator. */
static void build_guest(struct kmm_vmsa *s2, struct kmm_port *port,
			kmm_owner_t owner, kmm_paddr_t *frames,
			kmm_paddr_t *ro_frame)
{
	struct kmm_vmsa_config cfg;
	kmm_paddr_t scratch[2 * NFRAMES];
	unsigned int i;

	BM_CHECK_EQ(kmm_vmsa_config_init(&cfg, KMM_REGIME_STAGE2), KMM_OK);
	cfg.va_bits = 40; /* IPA size */
	cfg.oa_bits = 40; /* ID_AA64MMFR0_EL1.PARange of the A53 */
	cfg.id = owner; /* VMID */
	cfg.flags |= KMM_VMSA_NONCOHERENT_WALK;
	BM_CHECK_EQ(kmm_vmsa_init(s2, &cfg, port, &pages, owner, 0), KMM_OK);

	map_ipa(s2, (uintptr_t)__text_start, (uintptr_t)__text_start,
		(uintptr_t)__text_end - (uintptr_t)__text_start,
		KMM_ATTR_RX_CODE);
	map_ipa(s2, (uintptr_t)__rodata_start, (uintptr_t)__rodata_start,
		(uintptr_t)__rodata_end - (uintptr_t)__rodata_start,
		KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB));
	map_ipa(s2, (uintptr_t)__data_start, (uintptr_t)__data_start,
		(uintptr_t)__data_end - (uintptr_t)__data_start,
		KMM_ATTR_RW_DATA);

	/* Every other frame of eight for the guest: scattered. */
	for (i = 0; i < 2 * NFRAMES; i++)
		BM_CHECK_EQ(kmm_pages_alloc(&pages, 0, owner, 0, &scratch[i]),
			    KMM_OK);
	for (i = 0; i < NFRAMES; i++) {
		frames[i] = scratch[2 * i + 1];
		BM_CHECK_EQ(kmm_pages_free(&pages, scratch[2 * i], 0, owner),
			    KMM_OK);
		map_ipa(s2, GUEST_RAM_IPA + i * PAGE, frames[i], PAGE,
			KMM_ATTR_RW_DATA);
	}
	BM_CHECK_EQ(kmm_pages_alloc(&pages, 0, owner, 0, ro_frame), KMM_OK);
	map_ipa(s2, GUEST_RO_IPA, *ro_frame, PAGE,
		KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB));
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
	struct kmm_vmsa s2;
	kmm_paddr_t old[NFRAMES], fresh[NFRAMES], old_ro, fresh_ro;
	uint64_t used;
	unsigned int i, j, reused = 0;

	BM_CHECK_EQ(bm_current_el(), 2);
	bm_port_init(&port, &stats);
	BM_CHECK_EQ(kmm_pages_init(&pages, &port, RAM_BASE, RAM_SIZE,
				   pages_meta, sizeof(pages_meta)),
		    KMM_OK);
	BM_CHECK((uintptr_t)__image_end <= POOL_BASE);
	BM_CHECK_EQ(kmm_pages_add(&pages, POOL_BASE,
				  RAM_BASE + RAM_SIZE - POOL_BASE),
		    KMM_OK);

	build_guest(&s2, &port, OWNER_G1, old, &old_ro);
	bm_printf("a53-el2: guest 1: VTCR_EL2=0x%llx VTTBR_EL2=0x%llx\n",
		  (unsigned long long)kmm_vmsa_tcr(&s2),
		  (unsigned long long)kmm_vmsa_ttbr(&s2));
	job = (struct guest_job){ .write = 1 };
	BM_CHECK_EQ(run_guest(&s2), 0x600d);
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
	BM_CHECK_EQ(kmm_unmap(&s2.as, GUEST_RAM_IPA + 2 * PAGE, PAGE), KMM_OK);
	job = (struct guest_job){
		.probe_only = 1, .probe_ipa = GUEST_RAM_IPA + 2 * PAGE + 0x30
	};
	BM_CHECK_EQ(run_guest(&s2), 0x600d);
	BM_CHECK_EQ(job.probe_faulted, 1);
	BM_CHECK_EQ(job.probe.syndrome, ESR_S2_TRANS_L3_READ);
	BM_CHECK_EQ(job.probe.addr, GUEST_RAM_IPA + 2 * PAGE + 0x30);
	BM_CHECK_EQ(job.probe.ipa, GUEST_RAM_IPA + 2 * PAGE);

	/* Tear guest 1 down: its stage 2, its tables, its frames. */
	BM_CHECK_EQ(kmm_as_destroy(&s2.as), KMM_OK);
	BM_CHECK_EQ(kmm_pages_free_all(&pages, OWNER_G1), KMM_OK);
	BM_CHECK_EQ(kmm_pages_usage(&pages, OWNER_G1, &used), KMM_OK);
	BM_CHECK_EQ(used, 0);

	build_guest(&s2, &port, OWNER_G2, fresh, &fresh_ro);
	for (i = 0; i < NFRAMES; i++)
		for (j = 0; j < NFRAMES; j++)
			reused += fresh[i] == old[j];
	bm_printf("a53-el2: guest 2 got %u of guest 1's %u frames\n", reused,
		  (unsigned int)NFRAMES);
	/* The test means something only if frames were handed out again. */
	BM_CHECK(reused > 0);
	job = (struct guest_job){ .write = 0 };
	BM_CHECK_EQ(run_guest(&s2), 0x600d);
	BM_CHECK_EQ(job.nonzero, 0);
	check_traps();
	BM_CHECK_EQ(kmm_as_destroy(&s2.as), KMM_OK);
	BM_CHECK_EQ(kmm_pages_free_all(&pages, OWNER_G2), KMM_OK);
	bm_printf("a53-el2: PASS (%llu TLBI by IPA, %llu whole)\n",
		  (unsigned long long)stats.tlbi_pages,
		  (unsigned long long)stats.tlbi_all);
	return 0;
}
