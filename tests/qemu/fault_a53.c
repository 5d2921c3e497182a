// SPDX-License-Identifier: BSD-2-Clause
/*
 * The AArch64 exception handlers report syndromes: with SCTLR_ELx.A set an
 * unaligned load takes an alignment fault (the whole image is built with
 * -mstrict-align, so only the probes are unaligned). An armed probe must see ESR_ELx = EC 0x25 (data abort, same
 * level), IL, DFSC 0x21 and FAR = the address; then an unexpected fault
 * must be reported with its ESR and FAR and end the image with status 3
 * (the meson test matches that report).
 */
#include "bm.h"
#include "bm_aarch64.h"
#include "sysreg.h"

/*
 * ESR: EC 0x25 (data abort, same level) | IL | DFSC 0x21 (alignment
 * fault). At EL2 the syndrome is valid as well: ISV, SAS 2 (word) and
 * SRT 11 (the probe loads into w11).
 */
#define ESR_ALIGNMENT_READ_EL1 0x96000021u
#define ESR_ALIGNMENT_READ_EL2 0x978b0021u

int bm_main(void)
{
	uintptr_t addr = (uintptr_t)__data_start + 0x101;
	uint32_t val = 0;

	if (bm_current_el() == 2)
		bm_write_sysreg(sctlr_el2,
				bm_read_sysreg(sctlr_el2) | BM_SCTLR_A);
	else
		bm_write_sysreg(sctlr_el1,
				bm_read_sysreg(sctlr_el1) | BM_SCTLR_A);
	bm_isb();

	BM_CHECK_FAULTS(bm_probe_read32(addr, &val));
	bm_printf("fault: EL%u ESR=0x%llx FAR=0x%llx PC=0x%llx\n",
		  (unsigned int)bm_fault.el,
		  (unsigned long long)bm_fault.syndrome,
		  (unsigned long long)bm_fault.addr,
		  (unsigned long long)bm_fault.pc);
	BM_CHECK_EQ(bm_fault.el, BM_EXPECT_EL);
	BM_CHECK_EQ(bm_fault.syndrome, BM_EXPECT_EL == 2 ?
					       ESR_ALIGNMENT_READ_EL2 :
					       ESR_ALIGNMENT_READ_EL1);
	BM_CHECK_EQ(bm_fault.addr, addr);
	BM_CHECK_EQ(bm_fault.pc, (uintptr_t)bm_probe_read32_insn);
	BM_CHECK_EQ(val, 0);

	/* An aligned load through the same probe does not fault. */
	BM_CHECK_NO_FAULT(bm_probe_read32(addr - 1, &val));

	bm_printf("fault: now an unexpected fault at 0x40000001\n");
	__asm__ volatile("ldr %w0, [%1]" : "=r"(val) : "r"(0x40000001ul));
	bm_printf("fault: FAIL: the unaligned load did not fault\n");
	return 1;
}
