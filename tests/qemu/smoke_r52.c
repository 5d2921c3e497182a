// SPDX-License-Identifier: BSD-2-Clause
/*
 * Smoke test of the Armv8-R AArch32 bare-metal runtime on QEMU
 * mps3-an536 (Cortex-R52): the image starts in Hyp mode, prints through
 * semihosting, finds the EL1 and EL2 MPUs, and runs a function in SVC mode
 * (EL1) that comes back through HVC with its result.
 */
#include "bm.h"
#include "bm_armv8r.h"

#define GUEST_RESULT 0x5eed0042u

static void guest_entry(uint32_t arg)
{
	uint32_t cpsr;

	__asm__ volatile("mrs %0, cpsr" : "=r"(cpsr));
	bm_guest_hvc_exit(arg + ((cpsr & 0x1fu) == BM_MODE_SVC));
}

static uint8_t guest_stack[4096] __attribute__((aligned(64)));

int bm_main(void)
{
	uint32_t cpsr;
	uint32_t mpuir = bm_cp15_read(0, c0, c0, 4);
	uint32_t hmpuir = bm_cp15_read(4, c0, c0, 4);
	uint32_t r;

	__asm__ volatile("mrs %0, cpsr" : "=r"(cpsr));
	bm_printf("smoke: Cortex-R52, mode 0x%x, MPUIR 0x%x, HMPUIR 0x%x\n",
		  (unsigned int)(cpsr & 0x1fu), (unsigned int)mpuir,
		  (unsigned int)hmpuir);
	BM_CHECK_EQ(cpsr & 0x1fu, BM_MODE_HYP);
	BM_CHECK_EQ((mpuir >> 8) & 0xffu, 16);
	BM_CHECK_EQ(hmpuir & 0xffu, 16);
	r = bm_guest_enter((uintptr_t)guest_entry, GUEST_RESULT - 1,
			   (uintptr_t)guest_stack + sizeof(guest_stack));
	BM_CHECK_EQ(r, GUEST_RESULT);
	bm_printf("smoke: EL1 guest returned 0x%x through HVC\n",
		  (unsigned int)r);
	bm_printf("smoke: PASS\n");
	return 0;
}
