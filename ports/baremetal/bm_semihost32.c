// SPDX-License-Identifier: BSD-2-Clause
/*
 * Console and exit of the 32-bit targets (Armv8-M, Armv8-R AArch32)
 * through semihosting (Arm IHI 0078); each target supplies the trap that
 * makes the call, bm_semihost().
 */
#include "bm.h"

#define SEMIHOST_SYS_WRITEC 0x03u
#define SEMIHOST_SYS_EXIT_EXTENDED 0x20u
#define SEMIHOST_APPLICATION_EXIT 0x20026u

void bm_putc(char c)
{
	bm_semihost(SEMIHOST_SYS_WRITEC, &c);
}

void bm_exit(int status)
{
	uint32_t block[2] = { SEMIHOST_APPLICATION_EXIT, (uint32_t)status };

	for (;;)
		bm_semihost(SEMIHOST_SYS_EXIT_EXTENDED, block);
}
