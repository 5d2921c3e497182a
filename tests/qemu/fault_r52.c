// SPDX-License-Identifier: BSD-2-Clause
/*
 * The Armv8-R AArch32 exception handlers report syndromes: with HSCTLR.A
 * set, an unaligned load in Hyp mode takes a data abort to Hyp with
 * HSR = EC 0x25 | IL | FSC 0x21 (alignment; QEMU leaves ISV clear for an
 * abort taken from Hyp to Hyp) and HDFAR = the address; the same in an EL1 guest with SCTLR.A set gives
 * DFSR = 0x221 (long-descriptor format, alignment fault) and DFAR. Then
 * an unexpected one is reported and ends the image with status 3 (the
 * meson test matches the report).
 */
#include "bm.h"
#include "bm_armv8r.h"

#define SCTLR_A (1u << 1)
#define HSR_ALIGNMENT_READ 0x96000021u
#define DFSR_ALIGNMENT_READ 0x221u

static uint8_t guest_stack[4096] __attribute__((aligned(64)));
static uint32_t buffer[16];

static void guest_entry(uint32_t addr)
{
	uint32_t val = 0;

	bm_cp15_write(0, c1, c0, 0, bm_cp15_read(0, c1, c0, 0) | SCTLR_A);
	bm_dsb_isb();
	bm_guest_hvc_exit(bm_probe_read32(addr, &val));
}

int bm_main(void)
{
	uintptr_t addr = (uintptr_t)buffer + 1;
	uint32_t val = 0;

	bm_cp15_write(4, c1, c0, 0, bm_cp15_read(4, c1, c0, 0) | SCTLR_A);
	bm_dsb_isb();
	BM_CHECK_FAULTS(bm_probe_read32(addr, &val));
	bm_printf("fault: Hyp HSR=0x%x HDFAR=0x%x PC=0x%x\n",
		  (unsigned int)bm_fault.syndrome, (unsigned int)bm_fault.addr,
		  (unsigned int)bm_fault.pc);
	BM_CHECK_EQ(bm_fault.el, 2);
	BM_CHECK_EQ(bm_fault.syndrome, HSR_ALIGNMENT_READ);
	BM_CHECK_EQ(bm_fault.addr, addr);
	BM_CHECK_EQ(bm_fault.pc, (uintptr_t)bm_probe_read32_insn);

	BM_CHECK_EQ(
		bm_guest_enter((uintptr_t)guest_entry, addr + 4,
			       (uintptr_t)guest_stack + sizeof(guest_stack)),
		1);
	bm_printf("fault: EL1 DFSR=0x%x DFAR=0x%x PC=0x%x\n",
		  (unsigned int)bm_fault.syndrome, (unsigned int)bm_fault.addr,
		  (unsigned int)bm_fault.pc);
	BM_CHECK_EQ(bm_fault.el, 1);
	BM_CHECK_EQ(bm_fault.syndrome, DFSR_ALIGNMENT_READ);
	BM_CHECK_EQ(bm_fault.addr, addr + 4);
	BM_CHECK_EQ(bm_fault.pc, (uintptr_t)bm_probe_read32_insn);

	bm_printf("fault: now an unexpected fault at 0x20000009\n");
	__asm__ volatile("ldr %0, [%1]" : "=r"(val) : "r"(0x20000009u));
	bm_printf("fault: FAIL: the unaligned load did not fault\n");
	return 1;
}
