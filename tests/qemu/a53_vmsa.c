// SPDX-License-Identifier: BSD-2-Clause
/*
 * Cortex-A53 at EL1 (QEMU virt) runs on kmm's stage-1 translation tables.
 *
 * kmm's page allocator manages the RAM above the image; kmm builds the
 * EL1 tables (identity maps of code, read-only data, data and the UART,
 * blocks of the free RAM) and gives MAIR_EL1, TCR_EL1 and TTBR0_EL1; the
 * program turns the MMU on with them and then checks, with the MMU doing
 * every translation:
 * - kmm_vmap() of scattered physical pages gives contiguous VAs (from a
 *   vaspace window) that are written and read through the MMU and land in
 *   the right frames; kmm_phys_to_virt() finds them again;
 * - an unmapped access, a write to a read-only page and an instruction
 *   fetch from an execute-never page each fault with the exact ESR_EL1
 *   (level-3 translation / permission fault) and FAR_EL1;
 * - kmm_protect() of one page inside a live 2 MiB block splits the block
 *   (break-before-make on a table the MMU is using): every other byte of
 *   the block keeps its translation and contents, the page becomes
 *   read-only; kmm_vmsa_fold() makes it one block again;
 * - after kmm_vunmap() the stale translations are gone (the port's TLBI
 *   did its job: QEMU caches translations), the emptied tables are given
 *   back (the walk stops at level 1), and the VA range is reused by the
 *   next kmm_vmap() for other frames.
 */
#include "bm.h"
#include "bm_aarch64.h"
#include "bm_port.h"
#include "kmm/as.h"
#include "kmm/errors.h"
#include "kmm/pages.h"
#include "kmm/region.h"
#include "kmm/slab.h"
#include "kmm/vaspace.h"
#include "kmm/vmsa.h"
#include "sysreg.h"

#define PAGE 0x1000ul
#define BLOCK 0x200000ul
#define RAM_BASE 0x40000000ul
#define RAM_SIZE 0x8000000ul
/* Free RAM: from the 2 MiB boundary after the image (see link.ld). */
#define POOL_BASE 0x40400000ul
/* A 2 MiB block kept out of the allocator: the program's live data. */
#define LIVE_BLOCK 0x40600000ul
/* The vmap window (a vaspace), and fixed pages for the fault tests. */
#define VA_VMAP 0x8000000000ul
#define VA_VMAP_SIZE 0x100000ul
#define VA_RO 0x8100000000ul
#define VA_CODE (VA_RO + 2 * PAGE)
#define VA_HOLE (VA_RO + 4 * PAGE)
#define NSCATTER 4

/*
 * ESR_EL1 values: EC 0x25 (data abort, same level) or 0x21 (instruction
 * abort, same level), IL set; xFSC 0b000111 (translation fault, level 3)
 * or 0b001111 (permission fault, level 3); WnR (bit 6) for writes.
 */
#define ESR_DABT_TRANS_L1_READ 0x96000005u
#define ESR_DABT_TRANS_L3_READ 0x96000007u
#define ESR_DABT_PERM_L3_WRITE 0x9600004fu
#define ESR_IABT_PERM_L3 0x8600000fu

#define A64_RET 0xd65f03c0u

static uint64_t pages_meta[RAM_SIZE / PAGE];
static struct kmm_pages pages;
static struct kmm_vmsa vmsa;
static struct bm_port_stats stats;
static struct kmm_slab va_nodes, region_nodes;
static struct kmm_vaspace vaspace;
static struct kmm_regions regions;
static uint8_t va_node_mem[64 * 128] __attribute__((aligned(64)));
static uint8_t region_node_mem[32 * KMM_REGION_NODE_SIZE]
	__attribute__((aligned(KMM_REGION_NODE_ALIGN)));

static void check_data_fault(uintptr_t va, bool write, uint64_t esr)
{
	uint32_t val = 0;

	if (write)
		BM_CHECK_FAULTS(bm_probe_write32(va, 0xdeadbeefu));
	else
		BM_CHECK_FAULTS(bm_probe_read32(va, &val));
	BM_CHECK_EQ(bm_fault.el, 1);
	BM_CHECK_EQ(bm_fault.syndrome, esr);
	BM_CHECK_EQ(bm_fault.addr, va);
	BM_CHECK_EQ(bm_fault.pc, write ? (uintptr_t)bm_probe_write32_insn :
					 (uintptr_t)bm_probe_read32_insn);
}

static void map_identity(uintptr_t start, uintptr_t end, kmm_attr_t attr)
{
	BM_CHECK_EQ(kmm_map(&vmsa.as, start, start, end - start, attr), KMM_OK);
}

/* Dynamic regions: VAs from a 1 MiB vaspace window at VA_VMAP. */
static void setup_regions(void)
{
	struct kmm_vaspace_config vcfg = {
		.granule = PAGE,
		.nodes = &va_nodes,
	};

	BM_CHECK_EQ(kmm_slab_init(&va_nodes, sizeof(struct kmm_vaspace_node),
				  _Alignof(struct kmm_vaspace_node)),
		    KMM_OK);
	BM_CHECK_EQ(kmm_slab_add_memory(&va_nodes, va_node_mem,
					sizeof(va_node_mem)),
		    KMM_OK);
	BM_CHECK_EQ(kmm_slab_init(&region_nodes, KMM_REGION_NODE_SIZE,
				  KMM_REGION_NODE_ALIGN),
		    KMM_OK);
	BM_CHECK_EQ(kmm_slab_add_memory(&region_nodes, region_node_mem,
					sizeof(region_node_mem)),
		    KMM_OK);
	BM_CHECK_EQ(kmm_vaspace_init(&vaspace, &vcfg), KMM_OK);
	BM_CHECK_EQ(kmm_vaspace_add_window(&vaspace, VA_VMAP, VA_VMAP_SIZE),
		    KMM_OK);
	BM_CHECK_EQ(kmm_regions_init(&regions, &vmsa.as, &vaspace,
				     &region_nodes),
		    KMM_OK);
}

static void build_tables(struct kmm_port *port)
{
	struct kmm_vmsa_config cfg;
	uintptr_t image_end = ((uintptr_t)__image_end + PAGE - 1) & ~(PAGE - 1);

	BM_CHECK(image_end <= POOL_BASE);
	BM_CHECK_EQ(kmm_pages_init(&pages, port, RAM_BASE, RAM_SIZE, pages_meta,
				   sizeof(pages_meta)),
		    KMM_OK);
	BM_CHECK_EQ(kmm_pages_add(&pages, POOL_BASE, LIVE_BLOCK - POOL_BASE),
		    KMM_OK);
	BM_CHECK_EQ(kmm_pages_add(&pages, LIVE_BLOCK + BLOCK,
				  RAM_BASE + RAM_SIZE - LIVE_BLOCK - BLOCK),
		    KMM_OK);

	BM_CHECK_EQ(kmm_vmsa_config_init(&cfg, KMM_REGIME_EL1), KMM_OK);
	cfg.oa_bits = 40; /* ID_AA64MMFR0_EL1.PARange of the A53 */
	cfg.id = 1; /* ASID */
	/* Tables are written with the MMU off: clean them, walk uncached. */
	cfg.flags |= KMM_VMSA_NONCOHERENT_WALK;
	BM_CHECK_EQ(kmm_vmsa_init(&vmsa, &cfg, port, &pages, KMM_OWNER_KERNEL,
				  0),
		    KMM_OK);

	setup_regions();
	map_identity((uintptr_t)__text_start, (uintptr_t)__text_end,
		     KMM_ATTR_RX_CODE);
	map_identity((uintptr_t)__rodata_start, (uintptr_t)__rodata_end,
		     KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB));
	map_identity((uintptr_t)__data_start, image_end, KMM_ATTR_RW_DATA);
	map_identity(POOL_BASE, LIVE_BLOCK, KMM_ATTR_RW_DATA);
	map_identity(LIVE_BLOCK + BLOCK, RAM_BASE + RAM_SIZE, KMM_ATTR_RW_DATA);
	map_identity(BM_VIRT_UART_BASE, BM_VIRT_UART_BASE + BM_VIRT_UART_SIZE,
		     KMM_ATTR_RW_DEVICE);
	/* W^X: a writable, executable mapping is refused. */
	BM_CHECK_EQ(kmm_map(&vmsa.as, VA_RO, POOL_BASE, PAGE,
			    KMM_ATTR_RW_DATA | KMM_ATTR_X),
		    KMM_EPERM);
}

static void mmu_on(void)
{
	bm_write_sysreg(mair_el1, kmm_vmsa_mair(&vmsa));
	bm_write_sysreg(tcr_el1, kmm_vmsa_tcr(&vmsa));
	bm_write_sysreg(ttbr0_el1, kmm_vmsa_ttbr(&vmsa));
	bm_isb();
	__asm__ volatile("tlbi vmalle1\n\tdsb nsh\n\tisb" ::: "memory");
	bm_write_sysreg(sctlr_el1, bm_read_sysreg(sctlr_el1) | BM_SCTLR_M |
					   BM_SCTLR_C | BM_SCTLR_I);
	bm_isb();
}

static uint32_t pattern(unsigned int page, unsigned int word)
{
	return 0xa5000000u | (page << 16) | word;
}

static kmm_vaddr_t test_vmap(const kmm_paddr_t *frames, unsigned int n)
{
	kmm_vaddr_t base, va;
	kmm_paddr_t got;
	size_t leaf;
	unsigned int i, w;

	BM_CHECK_EQ(kmm_vmap(&vmsa.as, frames, n, KMM_ATTR_RW_DATA,
			     KMM_OWNER_KERNEL, &base),
		    KMM_OK);
	BM_CHECK(base >= VA_VMAP && base + n * PAGE <= VA_VMAP + VA_VMAP_SIZE);
	for (i = 0; i < n; i++) {
		volatile uint32_t *p = (volatile uint32_t *)(base + i * PAGE);

		for (w = 0; w < PAGE / 4; w += 64)
			p[w] = pattern(i, w);
		BM_CHECK_EQ(kmm_query(&vmsa.as, base + i * PAGE + 12, &got,
				      NULL, &leaf),
			    KMM_OK);
		BM_CHECK_EQ(got, frames[i] + 12);
		BM_CHECK_EQ(leaf, PAGE);
		BM_CHECK_EQ(kmm_phys_to_virt(&vmsa.as, frames[i] + 20, &va),
			    KMM_OK);
		BM_CHECK_EQ(va, base + i * PAGE + 20);
	}
	/* The data is in the scattered frames (read through the identity). */
	for (i = 0; i < n; i++) {
		volatile uint32_t *pa = (volatile uint32_t *)frames[i];

		for (w = 0; w < PAGE / 4; w += 64)
			BM_CHECK_EQ(pa[w], pattern(i, w));
	}
	return base;
}

static void test_faults(void)
{
	kmm_paddr_t ro_frame, code_frame;
	uint32_t val = 0;

	BM_CHECK_EQ(kmm_pages_alloc(&pages, 0, KMM_OWNER_KERNEL, KMM_PAGES_ZERO,
				    &ro_frame),
		    KMM_OK);
	*(volatile uint32_t *)ro_frame = 0x0123abcdu;
	BM_CHECK_EQ(kmm_map(&vmsa.as, VA_RO, ro_frame, PAGE,
			    KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB)),
		    KMM_OK);
	BM_CHECK_NO_FAULT(bm_probe_read32(VA_RO, &val));
	BM_CHECK_EQ(val, 0x0123abcdu);
	check_data_fault(VA_RO + 0x40, true, ESR_DABT_PERM_L3_WRITE);
	/* Next to it: same level-3 table, no entry. */
	check_data_fault(VA_HOLE, false, ESR_DABT_TRANS_L3_READ);

	/* A return instruction in a read-write, hence execute-never, page. */
	BM_CHECK_EQ(kmm_pages_alloc(&pages, 0, KMM_OWNER_KERNEL, KMM_PAGES_ZERO,
				    &code_frame),
		    KMM_OK);
	BM_CHECK_EQ(kmm_map(&vmsa.as, VA_CODE, code_frame, PAGE,
			    KMM_ATTR_RW_DATA),
		    KMM_OK);
	*(volatile uint32_t *)(VA_CODE + 0x80) = A64_RET;
	*(volatile uint32_t *)(VA_CODE + 0x84) = A64_RET;
	/* Instructions written as data: clean to PoU, invalidate I-cache. */
	__asm__ volatile("dc cvau, %0\n\tdsb ish\n\tic ivau, %0\n\t"
			 "dsb ish\n\tisb" ::"r"(VA_CODE + 0x80)
			 : "memory");
	BM_CHECK_FAULTS(bm_probe_exec(VA_CODE + 0x80));
	BM_CHECK_EQ(bm_fault.syndrome, ESR_IABT_PERM_L3);
	BM_CHECK_EQ(bm_fault.addr, VA_CODE + 0x80);
	BM_CHECK_EQ(bm_fault.pc, VA_CODE + 0x80);
	/* kmm_protect makes it read-execute: now it runs, and is not writable. */
	BM_CHECK_EQ(kmm_protect(&vmsa.as, VA_CODE, PAGE, KMM_ATTR_RX_CODE),
		    KMM_OK);
	BM_CHECK_NO_FAULT(bm_probe_exec(VA_CODE + 0x80));
	check_data_fault(VA_CODE + 0x80, true, ESR_DABT_PERM_L3_WRITE);
}

static void fill_live_block(void)
{
	volatile uint32_t *p = (volatile uint32_t *)LIVE_BLOCK;
	size_t i;

	for (i = 0; i < BLOCK / 4; i += 16)
		p[i] = (uint32_t)(LIVE_BLOCK + i * 4) ^ 0x5a5a5a5au;
}

static void check_live_block(void)
{
	volatile uint32_t *p = (volatile uint32_t *)LIVE_BLOCK;
	size_t i;

	for (i = 0; i < BLOCK / 4; i += 16) {
		if (p[i] != ((uint32_t)(LIVE_BLOCK + i * 4) ^ 0x5a5a5a5au))
			BM_CHECK_EQ(p[i], (uint32_t)(LIVE_BLOCK + i * 4) ^
						  0x5a5a5a5au);
	}
}

static void test_split_live_block(void)
{
	uintptr_t ro_page = LIVE_BLOCK + 0x80000;
	kmm_paddr_t pa;
	kmm_attr_t attr;
	size_t leaf;
	uint64_t tlbi_before = stats.tlbi_pages + stats.tlbi_all;

	map_identity(LIVE_BLOCK, LIVE_BLOCK + BLOCK, KMM_ATTR_RW_DATA);
	BM_CHECK_EQ(kmm_query(&vmsa.as, LIVE_BLOCK + 0x1234, &pa, NULL, &leaf),
		    KMM_OK);
	BM_CHECK_EQ(pa, LIVE_BLOCK + 0x1234);
	BM_CHECK_EQ(leaf, BLOCK);
	fill_live_block();

	/*
	 * Write the page right before: its read-write translation is now
	 * in the TLB, and only the port's TLBI can remove it.
	 */
	*(volatile uint32_t *)(ro_page + 0x10) = (uint32_t)(ro_page + 0x10) ^
						 0x5a5a5a5au;
	BM_CHECK_EQ(kmm_protect(&vmsa.as, ro_page, PAGE,
				KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB)),
		    KMM_OK);
	/* The block was invalidated and its TLB entry removed. */
	BM_CHECK(stats.tlbi_pages + stats.tlbi_all > tlbi_before);
	BM_CHECK_EQ(kmm_query(&vmsa.as, LIVE_BLOCK, NULL, &attr, &leaf),
		    KMM_OK);
	BM_CHECK_EQ(leaf, PAGE);
	BM_CHECK_EQ(attr, KMM_ATTR_RW_DATA);
	check_live_block();
	check_data_fault(ro_page + 0x10, true, ESR_DABT_PERM_L3_WRITE);
	check_data_fault(ro_page + PAGE - 4, true, ESR_DABT_PERM_L3_WRITE);
	*(volatile uint32_t *)(ro_page - 4) = 1;
	*(volatile uint32_t *)(ro_page + PAGE) = 2;
	BM_CHECK_EQ(*(volatile uint32_t *)(ro_page - 4), 1);
	BM_CHECK_EQ(*(volatile uint32_t *)(ro_page + PAGE), 2);

	/* Back to read-write, then folded back into one 2 MiB block. */
	BM_CHECK_EQ(kmm_protect(&vmsa.as, ro_page, PAGE, KMM_ATTR_RW_DATA),
		    KMM_OK);
	fill_live_block();
	BM_CHECK_NO_FAULT(bm_probe_write32(ro_page + 0x10, 3));
	BM_CHECK_EQ(kmm_vmsa_fold(&vmsa, LIVE_BLOCK, BLOCK), 1);
	BM_CHECK_EQ(kmm_query(&vmsa.as, ro_page, &pa, NULL, &leaf), KMM_OK);
	BM_CHECK_EQ(leaf, BLOCK);
	BM_CHECK_EQ(pa, ro_page);
	BM_CHECK_EQ(*(volatile uint32_t *)(ro_page + 0x10), 3);
	*(volatile uint32_t *)(ro_page + 0x10) = (uint32_t)(ro_page + 0x10) ^
						 0x5a5a5a5au;
	check_live_block();
}

static void test_vunmap_and_reuse(kmm_vaddr_t base, const kmm_paddr_t *frames,
				  const kmm_paddr_t *spare)
{
	kmm_vaddr_t again, va;
	unsigned int i;
	uint32_t val = 0;

	/* Load the translations into the TLB right before they go. */
	for (i = 0; i < NSCATTER; i++)
		BM_CHECK_NO_FAULT(bm_probe_read32(base + i * PAGE, &val));
	BM_CHECK_EQ(kmm_vunmap(&vmsa.as, base, KMM_OWNER_KERNEL), KMM_OK);
	/*
	 * QEMU caches translations: only a real TLBI makes these fault.
	 * kmm gave back the level-2 and level-3 tables that only the window
	 * used, so the walk now stops at level 1.
	 */
	for (i = 0; i < NSCATTER; i++)
		check_data_fault(base + i * PAGE, false,
				 ESR_DABT_TRANS_L1_READ);
	BM_CHECK_EQ(kmm_vunmap(&vmsa.as, base, KMM_OWNER_KERNEL), KMM_ENOENT);
	BM_CHECK_EQ(kmm_phys_to_virt(&vmsa.as, frames[0], &va), KMM_ENOENT);

	/* The next vmap reuses the VAs for other frames. */
	for (i = 0; i < NSCATTER; i++)
		*(volatile uint32_t *)spare[i] = 0xfeed0000u + i;
	BM_CHECK_EQ(kmm_vmap(&vmsa.as, spare, NSCATTER, KMM_ATTR_RW_DATA,
			     KMM_OWNER_KERNEL, &again),
		    KMM_OK);
	BM_CHECK_EQ(again, base);
	for (i = 0; i < NSCATTER; i++) {
		BM_CHECK_NO_FAULT(bm_probe_read32(again + i * PAGE, &val));
		BM_CHECK_EQ(val, 0xfeed0000u + i);
		BM_CHECK_EQ(kmm_pages_free(&pages, frames[i], 0,
					   KMM_OWNER_KERNEL),
			    KMM_OK);
	}
	BM_CHECK_EQ(kmm_vunmap(&vmsa.as, again, KMM_OWNER_KERNEL), KMM_OK);
}

int bm_main(void)
{
	struct kmm_port port;
	kmm_paddr_t all[2 * NSCATTER];
	kmm_paddr_t frames[NSCATTER];
	kmm_paddr_t spare[NSCATTER];
	kmm_vaddr_t base;
	unsigned int i;

	bm_port_init(&port, &stats);
	build_tables(&port);
	/* Every other frame of eight: physically scattered. */
	for (i = 0; i < 2 * NSCATTER; i++)
		BM_CHECK_EQ(kmm_pages_alloc(&pages, 0, KMM_OWNER_KERNEL, 0,
					    &all[i]),
			    KMM_OK);
	for (i = 0; i < NSCATTER; i++) {
		frames[i] = all[2 * i + 1];
		spare[i] = all[2 * i];
	}
	BM_CHECK(frames[1] != frames[0] + PAGE);

	mmu_on();
	bm_printf("a53: MMU on: TCR_EL1=0x%llx MAIR_EL1=0x%llx "
		  "TTBR0_EL1=0x%llx, %llu table pages\n",
		  (unsigned long long)kmm_vmsa_tcr(&vmsa),
		  (unsigned long long)kmm_vmsa_mair(&vmsa),
		  (unsigned long long)kmm_vmsa_ttbr(&vmsa),
		  (unsigned long long)vmsa.tables);
	BM_CHECK(bm_read_sysreg(sctlr_el1) & BM_SCTLR_M);
	BM_CHECK(stats.cleaned_bytes > 0);

	base = test_vmap(frames, NSCATTER);
	bm_printf("a53: kmm_vmap of scattered frames at 0x%llx checked\n",
		  (unsigned long long)base);
	test_faults();
	bm_printf("a53: unmapped, read-only and execute-never faults "
		  "checked\n");
	test_split_live_block();
	bm_printf("a53: live 2 MiB block split, protected and folded\n");
	test_vunmap_and_reuse(base, frames, spare);
	bm_printf("a53: vunmap and reuse checked\n");
	bm_printf("a53: PASS (%llu TLBI by VA, %llu whole, %llu syncs)\n",
		  (unsigned long long)stats.tlbi_pages,
		  (unsigned long long)stats.tlbi_all,
		  (unsigned long long)stats.syncs);
	return 0;
}
