// SPDX-License-Identifier: BSD-2-Clause
/*
 * Cortex-M33 (QEMU mps2-an505) enforces kmm's PMSA region set.
 *
 * kmm builds the set with its Armv8-M encoder (MPU_RBAR/MPU_RLAR) and
 * writes it through the bare-metal port; the MPU is then enabled with no
 * default map for privileged code, so everything the program touches must
 * be inside one of kmm's regions. The program checks that:
 * - the MPU registers hold exactly what kmm says it wrote;
 * - code and data inside the set work (the program keeps running);
 * - a read outside every region, a write to a read-only region and an
 *   instruction fetch from an execute-never region each take MemManage
 *   with the exact CFSR (DACCVIOL|MMARVALID = 0x82, IACCVIOL = 0x01) and,
 *   for data, MMFAR = the address;
 * - two adjacent regions with the same attributes are merged into one slot
 *   and behave as one: both halves work, the bytes around them fault;
 *   unmapping the middle splits them again and the middle faults;
 * - kmm_protect() turns a read-write page into a read-execute one that
 *   runs code.
 */
#include "bm.h"
#include "bm_armv8m.h"
#include "bm_port.h"
#include "kmm/as.h"
#include "kmm/errors.h"
#include "kmm/pmsa.h"

/* Test windows in ZBT SSRAM2 (secure alias). */
#define WIN_RW 0x38000000u
#define WIN_RO 0x38001000u
#define WIN_HOLE 0x38002000u
#define WIN_MERGE 0x38004000u
#define WIN_CODE 0x38008000u
#define PAGE 0x1000u

#define CFSR_DATA (BM_CFSR_DACCVIOL | BM_CFSR_MMARVALID)
#define CFSR_INSTR BM_CFSR_IACCVIOL
/* Thumb "bx lr". */
#define THUMB_BX_LR 0x4770u

static struct kmm_pmsa mpu;

static void check_hw_matches_kmm(void)
{
	unsigned int slot;
	unsigned int enabled = 0;

	for (slot = 0; slot < mpu.nslots; slot++) {
		bm_mmio_write32(BM_MPU_RNR, slot);
		BM_CHECK_EQ(bm_mmio_read32(BM_MPU_RLAR), mpu.hw[slot].rlar);
		/* The base register of a disabled slot means nothing. */
		if (mpu.hw[slot].rlar == 0)
			continue;
		BM_CHECK_EQ(bm_mmio_read32(BM_MPU_RBAR), mpu.hw[slot].rbar);
		enabled++;
	}
	BM_CHECK_EQ(enabled, mpu.nregions);
}

static void check_data_fault(uint32_t addr, bool write)
{
	uint32_t val = 0;

	if (write)
		BM_CHECK_FAULTS(bm_probe_write32(addr, 0xdeadbeefu));
	else
		BM_CHECK_FAULTS(bm_probe_read32(addr, &val));
	BM_CHECK_EQ(bm_fault.el, 4); /* MemManage */
	BM_CHECK_EQ(bm_fault.syndrome, CFSR_DATA);
	BM_CHECK_EQ(bm_fault.addr, addr);
	BM_CHECK_EQ(bm_fault.pc, write ? (uintptr_t)bm_probe_write32_insn :
					 (uintptr_t)bm_probe_read32_insn);
}

static void check_rw(uint32_t addr, uint32_t pattern)
{
	uint32_t val = 0;

	BM_CHECK_NO_FAULT(bm_probe_write32(addr, pattern));
	BM_CHECK_NO_FAULT(bm_probe_read32(addr, &val));
	BM_CHECK_EQ(val, pattern);
}

static void map_image(void)
{
	uintptr_t text = (uintptr_t)__text_start;
	uintptr_t data = (uintptr_t)__data_start;

	BM_CHECK_EQ(kmm_map(&mpu.as, text, text, (uintptr_t)__text_end - text,
			    KMM_ATTR_RX_CODE),
		    KMM_OK);
	BM_CHECK_EQ(kmm_map(&mpu.as, data, data, (uintptr_t)__data_end - data,
			    KMM_ATTR_RW_DATA),
		    KMM_OK);
	BM_CHECK_EQ(kmm_map(&mpu.as, WIN_RW, WIN_RW, PAGE, KMM_ATTR_RW_DATA),
		    KMM_OK);
	BM_CHECK_EQ(kmm_map(&mpu.as, WIN_RO, WIN_RO, PAGE,
			    KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB)),
		    KMM_OK);
}

static void test_merged_regions(void)
{
	int free_before = kmm_pmsa_free_slots(&mpu);

	BM_CHECK_EQ(kmm_map(&mpu.as, WIN_MERGE, WIN_MERGE, PAGE,
			    KMM_ATTR_RW_DATA),
		    KMM_OK);
	BM_CHECK_EQ(kmm_map(&mpu.as, WIN_MERGE + PAGE, WIN_MERGE + PAGE, PAGE,
			    KMM_ATTR_RW_DATA),
		    KMM_OK);
	/* Two maps, one slot: the second region was merged into the first. */
	BM_CHECK_EQ(kmm_pmsa_free_slots(&mpu), free_before - 1);
	check_hw_matches_kmm();
	check_rw(WIN_MERGE, 0x11111111u);
	check_rw(WIN_MERGE + PAGE - 4, 0x22222222u);
	check_rw(WIN_MERGE + PAGE, 0x33333333u);
	check_rw(WIN_MERGE + 2 * PAGE - 4, 0x44444444u);
	check_data_fault(WIN_MERGE - 4, false);
	check_data_fault(WIN_MERGE + 2 * PAGE, false);

	/* Unmapping 256 bytes in the middle splits the region in two. */
	BM_CHECK_EQ(kmm_unmap(&mpu.as, WIN_MERGE + PAGE - 128, 256), KMM_OK);
	BM_CHECK_EQ(kmm_pmsa_free_slots(&mpu), free_before - 2);
	check_hw_matches_kmm();
	check_data_fault(WIN_MERGE + PAGE - 128, false);
	check_data_fault(WIN_MERGE + PAGE + 124, true);
	check_rw(WIN_MERGE + PAGE - 132, 0x55555555u);
	check_rw(WIN_MERGE + PAGE + 128, 0x66666666u);

	BM_CHECK_EQ(kmm_unmap(&mpu.as, WIN_MERGE, 2 * PAGE), KMM_OK);
	BM_CHECK_EQ(kmm_pmsa_free_slots(&mpu), free_before);
	check_hw_matches_kmm();
	check_data_fault(WIN_MERGE, false);
}

static void test_execute(void)
{
	volatile uint16_t *code = (volatile uint16_t *)(WIN_RW + 0x100u);

	/* An instruction in a read-write (execute-never) region. */
	*code = THUMB_BX_LR;
	BM_CHECK_FAULTS(bm_probe_exec((uintptr_t)code | 1u));
	BM_CHECK_EQ(bm_fault.syndrome, CFSR_INSTR);
	BM_CHECK_EQ(bm_fault.pc, (uintptr_t)code);

	/* Written while RW, then made RX with kmm_protect: it runs. */
	BM_CHECK_EQ(kmm_map(&mpu.as, WIN_CODE, WIN_CODE, PAGE,
			    KMM_ATTR_RW_DATA),
		    KMM_OK);
	*(volatile uint16_t *)WIN_CODE = THUMB_BX_LR;
	BM_CHECK_EQ(kmm_protect(&mpu.as, WIN_CODE, PAGE, KMM_ATTR_RX_CODE),
		    KMM_OK);
	check_hw_matches_kmm();
	BM_CHECK_NO_FAULT(bm_probe_exec(WIN_CODE | 1u));
	check_data_fault(WIN_CODE, true);
	/* Read-write-execute is refused (W^X), and nothing changes. */
	BM_CHECK_EQ(kmm_protect(&mpu.as, WIN_CODE, PAGE,
				KMM_ATTR_RW_DATA | KMM_ATTR_X),
		    KMM_EPERM);
	check_hw_matches_kmm();
	BM_CHECK_EQ(kmm_unmap(&mpu.as, WIN_CODE, PAGE), KMM_OK);
}

int bm_main(void)
{
	struct kmm_port port;
	struct bm_port_stats stats = { 0 };
	struct kmm_pmsa_config cfg = {
		.arch = KMM_PMSA_ARMV8M,
		.hyp_slots = (bm_mmio_read32(BM_MPU_TYPE) >> 8) & 0xffu,
	};
	struct kmm_as_caps caps;
	int writes;

	bm_port_init(&port, &stats);
	BM_CHECK_EQ(cfg.hyp_slots, 16);
	BM_CHECK_EQ(kmm_pmsa_init(&mpu, &port, &cfg), KMM_OK);
	BM_CHECK_EQ(kmm_as_caps(&mpu.as, &caps), KMM_OK);
	BM_CHECK(caps.flags & KMM_CAP_IDENTITY_ONLY);
	BM_CHECK_EQ(caps.granule, 32);

	map_image();
	/* kmm refuses what the MPU cannot do, before touching anything. */
	BM_CHECK_EQ(kmm_map(&mpu.as, WIN_HOLE, WIN_HOLE + PAGE, PAGE,
			    KMM_ATTR_RW_DATA),
		    KMM_ENOTSUP);
	BM_CHECK_EQ(kmm_map(&mpu.as, WIN_HOLE + 16, WIN_HOLE + 16, PAGE,
			    KMM_ATTR_RW_DATA),
		    KMM_EALIGN);

	bm_mmio_write32(BM_MPU_MAIR0, (uint32_t)kmm_pmsa_mair(KMM_PMSA_ARMV8M));
	bm_mmio_write32(BM_MPU_MAIR1,
			(uint32_t)(kmm_pmsa_mair(KMM_PMSA_ARMV8M) >> 32));
	writes = kmm_pmsa_load(&mpu);
	BM_CHECK_EQ(writes, 16);
	BM_CHECK_EQ(stats.mpu_writes, 16);
	check_hw_matches_kmm();
	/* No default map: only kmm's regions are accessible from here on. */
	bm_mmio_write32(BM_MPU_CTRL, BM_MPU_CTRL_ENABLE);
	bm_dsb_isb();
	bm_printf("m33: MPU on with %u kmm regions\n",
		  (unsigned int)mpu.nregions);

	check_rw(WIN_RW, 0xa5a5a5a5u);
	check_rw(WIN_RW + PAGE - 4, 0x5a5a5a5au);
	check_data_fault(WIN_RW + PAGE + PAGE * 2, false); /* the hole */
	check_data_fault(WIN_RW - 4, false);
	check_data_fault(WIN_RO, true);
	check_data_fault(WIN_RO + PAGE - 4, true);
	{
		uint32_t val = 1;

		BM_CHECK_NO_FAULT(bm_probe_read32(WIN_RO, &val));
	}
	bm_printf("m33: inside, outside and read-only checked\n");

	test_merged_regions();
	bm_printf("m33: merged regions checked\n");
	test_execute();
	bm_printf("m33: execute-never and kmm_protect checked\n");
	bm_printf("m33: PASS (%u slot writes)\n",
		  (unsigned int)stats.mpu_writes);
	return 0;
}
