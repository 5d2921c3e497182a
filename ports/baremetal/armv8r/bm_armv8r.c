// SPDX-License-Identifier: BSD-2-Clause
/*
 * Armv8-R AArch32 runtime for QEMU mps3-an536: semihosting console and
 * exit, and the C side of the Hyp and EL1 vectors (start.S).
 */
#include "../bm.h"
#include "bm_armv8r.h"

/* The frame start.S saves. */
struct bm_regs {
	uint32_t ret; /* ELR_hyp or the EL1 return address. */
	uint32_t spsr;
	uint32_t r[13];
	uint32_t lr;
};

uint32_t bm_hyp_exception(struct bm_regs *regs, uint32_t vector);
void bm_el1_exception(struct bm_regs *regs, uint32_t vector);

/* A semihosting call: HLT #0xf000 in A32. */
uint32_t bm_semihost(uint32_t op, const void *arg)
{
	register uint32_t r0 __asm__("r0") = op;
	register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)arg;

	__asm__ volatile("hlt #0xf000" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

static const char *const vector_names[8] = {
	"reset",      "undefined", "HVC/SVC", "prefetch abort",
	"data abort", "Hyp trap",  "IRQ",     "FIQ",
};

static void record(uint64_t syndrome, uint64_t addr, uint64_t ipa, uint32_t pc,
		   uint32_t el)
{
	bm_fault.syndrome = syndrome;
	bm_fault.addr = addr;
	bm_fault.ipa = ipa;
	bm_fault.pc = pc;
	bm_fault.el = el;
	bm_fault.taken = 1;
	bm_fault.armed = 0;
}

/* Returns nonzero when an EL1 guest exits with HVC. */
uint32_t bm_hyp_exception(struct bm_regs *regs, uint32_t vector)
{
	uint32_t hsr = bm_cp15_read(4, c5, c2, 0);
	uint32_t hdfar = bm_cp15_read(4, c6, c0, 0);
	uint32_t hifar = bm_cp15_read(4, c6, c0, 2);
	uint32_t hpfar = bm_cp15_read(4, c6, c0, 4);
	uint32_t ec = BM_HSR_EC(hsr);
	bool instr = ec == BM_EC_IABT_HYP || ec == BM_EC_IABT_LOWER;

	if (vector == 5 && ec == BM_EC_HVC32)
		return 1;
	if (bm_fault.armed &&
	    (ec == BM_EC_DABT_HYP || ec == BM_EC_DABT_LOWER ||
	     ec == BM_EC_IABT_HYP || ec == BM_EC_IABT_LOWER)) {
		/* HPFAR[31:4] holds IPA[39:12]. */
		record(hsr, instr ? hifar : hdfar,
		       (uint64_t)(hpfar & ~0xfu) << 8, regs->ret, 2);
		regs->ret = (uint32_t)bm_fault.resume;
		return 0;
	}
	bm_printf("UNEXPECTED EXCEPTION in Hyp: %s HSR=0x%x HDFAR=0x%x "
		  "HIFAR=0x%x HPFAR=0x%x ELR_hyp=0x%x\n",
		  vector_names[vector & 7], (unsigned int)hsr,
		  (unsigned int)hdfar, (unsigned int)hifar, (unsigned int)hpfar,
		  (unsigned int)regs->ret);
	bm_exit(BM_EXIT_UNEXPECTED_FAULT);
}

void bm_el1_exception(struct bm_regs *regs, uint32_t vector)
{
	uint32_t dfsr = bm_cp15_read(0, c5, c0, 0);
	uint32_t ifsr = bm_cp15_read(0, c5, c0, 1);
	uint32_t dfar = bm_cp15_read(0, c6, c0, 0);
	uint32_t ifar = bm_cp15_read(0, c6, c0, 2);

	if (bm_fault.armed && (vector == 3 || vector == 4)) {
		if (vector == 3)
			record(ifsr, ifar, 0, regs->ret, 1);
		else
			record(dfsr, dfar, 0, regs->ret, 1);
		regs->ret = (uint32_t)bm_fault.resume;
		return;
	}
	bm_printf("UNEXPECTED EXCEPTION at EL1: %s DFSR=0x%x DFAR=0x%x "
		  "IFSR=0x%x IFAR=0x%x PC=0x%x\n",
		  vector_names[vector & 7], (unsigned int)dfsr,
		  (unsigned int)dfar, (unsigned int)ifsr, (unsigned int)ifar,
		  (unsigned int)regs->ret);
	bm_exit(BM_EXIT_UNEXPECTED_FAULT);
}
