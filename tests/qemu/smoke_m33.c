// SPDX-License-Identifier: BSD-2-Clause
/*
 * Smoke test of the Armv8-M bare-metal runtime on QEMU mps2-an505
 * (Cortex-M33): the image runs privileged in the secure state, prints
 * through semihosting and finds the 16-region MPU the tests rely on.
 */
#include "bm.h"
#include "bm_armv8m.h"

int bm_main(void)
{
	uint32_t control;
	uint32_t mpu_type = bm_mmio_read32(BM_MPU_TYPE);

	__asm__ volatile("mrs %0, control" : "=r"(control));
	bm_printf("smoke: Cortex-M33, image 0x%x-0x%x, MPU_TYPE 0x%x\n",
		  (unsigned int)(uintptr_t)__image_start,
		  (unsigned int)(uintptr_t)__image_end, (unsigned int)mpu_type);
	/* Privileged thread mode (CONTROL.nPRIV clear) on MSP. */
	BM_CHECK_EQ(control & 3u, 0);
	BM_CHECK_EQ((mpu_type >> 8) & 0xffu, 16);
	BM_CHECK_EQ((uintptr_t)__image_start, 0x10000000u);
	bm_printf("smoke: PASS\n");
	return 0;
}
