// SPDX-License-Identifier: BSD-2-Clause
/*
 * Smoke test of the AArch64 bare-metal runtime on QEMU virt (Cortex-A53):
 * the image starts at the expected exception level, prints through the
 * PL011, formats numbers, and at EL2 runs a function at EL1 that comes back
 * through HVC with its result. Exits 0.
 */
#include "bm.h"
#include "bm_aarch64.h"
#include "sysreg.h"

#define GUEST_RESULT 0x5eed0042u

static void guest_entry(uint64_t arg)
{
	uint64_t el = bm_read_sysreg(CurrentEL) >> 2;

	bm_guest_hvc_exit(arg + el);
}

int bm_main(void)
{
	bm_printf("smoke: Cortex-A53 at EL%u, image 0x%lx-0x%lx\n",
		  bm_current_el(), (unsigned long)__image_start,
		  (unsigned long)__image_end);
	BM_CHECK_EQ(bm_current_el(), BM_EXPECT_EL);
	BM_CHECK_EQ((uintptr_t)__image_start, 0x40200000u);
	BM_CHECK_EQ((uintptr_t)bm_vectors & 0x7ffu, 0);
	if (bm_current_el() == 2) {
		uint64_t r = bm_guest_enter((uintptr_t)guest_entry,
					    GUEST_RESULT - 1,
					    (uintptr_t)__guest_stack_top);

		/* The guest ran at EL1 and added its level to the argument. */
		BM_CHECK_EQ(r, GUEST_RESULT);
		bm_printf("smoke: EL1 guest returned 0x%llx through HVC\n",
			  (unsigned long long)r);
	}
	bm_printf("smoke: PASS\n");
	return 0;
}
