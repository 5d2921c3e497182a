// SPDX-License-Identifier: BSD-2-Clause
/*
 * AArch64 runtime for QEMU virt: PL011 console, semihosting exit and the
 * C side of the exception vectors (start.S).
 */
#include "../bm.h"
#include "bm_aarch64.h"
#include "sysreg.h"

#define PL011_DR 0x000u
#define PL011_FR 0x018u
#define PL011_FR_TXFF (1u << 5)

/* Semihosting (Arm IHI 0078): SYS_EXIT with an exit status block. */
#define SEMIHOST_SYS_EXIT 0x18u
#define SEMIHOST_APPLICATION_EXIT 0x20026u

void bm_putc(char c)
{
	volatile uint32_t *uart = (volatile uint32_t *)BM_VIRT_UART_BASE;

	if (c == '\n')
		bm_putc('\r');
	while (uart[PL011_FR / 4] & PL011_FR_TXFF)
		;
	uart[PL011_DR / 4] = (uint32_t)(unsigned char)c;
}

void bm_exit(int status)
{
	uint64_t block[2] = { SEMIHOST_APPLICATION_EXIT, (uint64_t)status };
	register uint64_t x0 __asm__("x0") = SEMIHOST_SYS_EXIT;
	register uint64_t x1 __asm__("x1") = (uint64_t)(uintptr_t)block;

	for (;;)
		__asm__ volatile("hlt #0xf000" ::"r"(x0), "r"(x1) : "memory");
}

static const char *const vector_names[16] = {
	"sync (SP_EL0)", "IRQ (SP_EL0)", "FIQ (SP_EL0)", "SError (SP_EL0)",
	"sync",		 "IRQ",		 "FIQ",		 "SError",
	"lower sync",	 "lower IRQ",	 "lower FIQ",	 "lower SError",
	"lower32 sync",	 "lower32 IRQ",	 "lower32 FIQ",	 "lower32 SError",
};

/* Reads the syndrome registers of the level the exception was taken to. */
static void read_syndrome(struct bm_fault *f)
{
	f->el = bm_current_el();
	if (f->el == 2) {
		f->syndrome = bm_read_sysreg(esr_el2);
		f->addr = bm_read_sysreg(far_el2);
		/* HPFAR_EL2.FIPA holds IPA[47:12] in bits [39:4]. */
		f->ipa = (bm_read_sysreg(hpfar_el2) & 0xffffffffff0ull) << 8;
	} else {
		f->syndrome = bm_read_sysreg(esr_el1);
		f->addr = bm_read_sysreg(far_el1);
		f->ipa = 0;
	}
}

/* Called by start.S; returns nonzero when a guest exits with HVC. */
uint64_t bm_exception(struct bm_regs *regs, uint64_t vector);

uint64_t bm_exception(struct bm_regs *regs, uint64_t vector)
{
	struct bm_fault seen = { 0 };
	uint64_t ec;

	read_syndrome(&seen);
	seen.pc = regs->elr;
	ec = BM_ESR_EC(seen.syndrome);
	if (vector == 8 && ec == BM_EC_HVC64)
		return 1;
	if ((vector == 4 || vector == 8) && bm_fault.armed &&
	    (ec == BM_EC_DABT_CUR || ec == BM_EC_DABT_LOWER ||
	     ec == BM_EC_IABT_CUR || ec == BM_EC_IABT_LOWER)) {
		bm_fault.syndrome = seen.syndrome;
		bm_fault.addr = seen.addr;
		bm_fault.ipa = seen.ipa;
		bm_fault.pc = seen.pc;
		bm_fault.el = seen.el;
		bm_fault.taken = 1;
		bm_fault.armed = 0;
		regs->elr = bm_fault.resume;
		return 0;
	}
	bm_printf("UNEXPECTED EXCEPTION at EL%u: %s ESR_EL%u=0x%llx "
		  "FAR_EL%u=0x%llx ELR_EL%u=0x%llx",
		  (unsigned int)seen.el, vector_names[vector & 15],
		  (unsigned int)seen.el, (unsigned long long)seen.syndrome,
		  (unsigned int)seen.el, (unsigned long long)seen.addr,
		  (unsigned int)seen.el, (unsigned long long)seen.pc);
	if (seen.el == 2)
		bm_printf(" HPFAR_IPA=0x%llx", (unsigned long long)seen.ipa);
	bm_printf("\n");
	bm_exit(BM_EXIT_UNEXPECTED_FAULT);
}
