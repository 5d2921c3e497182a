// SPDX-License-Identifier: BSD-2-Clause
/*
 * The Armv8-M fault handlers report syndromes. The MPU is programmed by
 * hand here (not by kmm: this image tests the runtime): region 0 covers
 * the image read-write, region 1 one 4 KiB window of SSRAM2 read-only, no
 * default map. An armed read outside every region and an armed write to
 * the read-only window must each take MemManage with CFSR = DACCVIOL |
 * MMARVALID and MMFAR = the address; then an unexpected write is reported
 * and ends the image with status 3 (the meson test matches the report).
 */
#include "bm.h"
#include "bm_armv8m.h"

#define WINDOW 0x38000000u
#define CFSR_DATA_VIOLATION (BM_CFSR_DACCVIOL | BM_CFSR_MMARVALID)

static void mpu_set(uint32_t slot, uint32_t rbar, uint32_t rlar)
{
	bm_mmio_write32(BM_MPU_RNR, slot);
	bm_mmio_write32(BM_MPU_RBAR, rbar);
	bm_mmio_write32(BM_MPU_RLAR, rlar);
}

int bm_main(void)
{
	uint32_t val = 0;

	/* MAIR0 Attr0: Normal, write-back non-transient, read/write alloc. */
	bm_mmio_write32(BM_MPU_MAIR0, 0xffu);
	/* AP 0b01: read-write at any privilege; EN in RLAR bit 0. */
	mpu_set(0, 0x10000000u | (1u << 1), 0x103fffe0u | 1u);
	/* AP 0b11: read-only at any privilege; XN. */
	mpu_set(1, WINDOW | (3u << 1) | 1u, (WINDOW + 0xfe0u) | 1u);
	bm_mmio_write32(BM_MPU_CTRL, BM_MPU_CTRL_ENABLE);
	bm_dsb_isb();

	BM_CHECK_FAULTS(bm_probe_read32(WINDOW + 0x1000u, &val));
	bm_printf("fault: outside: CFSR=0x%x MMFAR=0x%x PC=0x%x\n",
		  (unsigned int)bm_fault.syndrome, (unsigned int)bm_fault.addr,
		  (unsigned int)bm_fault.pc);
	BM_CHECK_EQ(bm_fault.el, 4); /* MemManage */
	BM_CHECK_EQ(bm_fault.syndrome, CFSR_DATA_VIOLATION);
	BM_CHECK_EQ(bm_fault.addr, WINDOW + 0x1000u);
	BM_CHECK_EQ(bm_fault.pc, (uintptr_t)bm_probe_read32_insn);
	/* The handler cleared the write-one-to-clear status. */
	BM_CHECK_EQ(bm_mmio_read32(BM_SCB_CFSR), 0);

	BM_CHECK_NO_FAULT(bm_probe_read32(WINDOW + 0x10u, &val));
	BM_CHECK_FAULTS(bm_probe_write32(WINDOW + 0x10u, 1));
	BM_CHECK_EQ(bm_fault.syndrome, CFSR_DATA_VIOLATION);
	BM_CHECK_EQ(bm_fault.addr, WINDOW + 0x10u);
	BM_CHECK_EQ(bm_fault.pc, (uintptr_t)bm_probe_write32_insn);

	bm_printf("fault: now an unexpected write to 0x%x\n", WINDOW + 0x20u);
	*(volatile uint32_t *)(uintptr_t)(WINDOW + 0x20u) = 2;
	bm_printf("fault: FAIL: the write did not fault\n");
	return 1;
}
