// SPDX-License-Identifier: BSD-2-Clause
/*
 * Armv8-M start code for QEMU mps2-an505 (Cortex-M33, secure, privileged
 * thread mode on MSP): the vector table, reset, semihosting console and
 * exit, and the fault handlers that either complete an armed probe or
 * report the fault status registers and stop.
 */
#include "../bm.h"
#include "bm_armv8m.h"

void bm_reset(void);
void bm_fault_entry(void);
void bm_fault_handler(uint32_t *frame, uint32_t exc_return);

extern char __bss_start[], __bss_end[];

/* A semihosting call: BKPT #0xab on M-profile. */
uint32_t bm_semihost(uint32_t op, const void *arg)
{
	register uint32_t r0 __asm__("r0") = op;
	register uint32_t r1 __asm__("r1") = (uint32_t)(uintptr_t)arg;

	__asm__ volatile("bkpt #0xab" : "+r"(r0) : "r"(r1) : "memory");
	return r0;
}

static const char *const exception_names[8] = {
	"?",	     "?",	 "NMI",	       "HardFault",
	"MemManage", "BusFault", "UsageFault", "SecureFault",
};

void bm_fault_handler(uint32_t *frame, uint32_t exc_return)
{
	uint32_t ipsr;
	uint32_t cfsr = bm_mmio_read32(BM_SCB_CFSR);
	uint32_t mmfar = bm_mmio_read32(BM_SCB_MMFAR);
	uint32_t bfar = bm_mmio_read32(BM_SCB_BFAR);

	__asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
	ipsr &= 0x1ffu;
	if (bm_fault.armed && (ipsr == 4 || ipsr == 5)) {
		bm_fault.syndrome = cfsr;
		bm_fault.addr = ipsr == 4 ? mmfar : bfar;
		bm_fault.ipa = 0;
		bm_fault.pc = frame[6];
		bm_fault.el = ipsr;
		bm_fault.taken = 1;
		bm_fault.armed = 0;
		/* The status bits are write-one-to-clear. */
		bm_mmio_write32(BM_SCB_CFSR, cfsr);
		frame[6] = (uint32_t)bm_fault.resume & ~1u;
		return;
	}
	bm_printf("UNEXPECTED EXCEPTION %s (%u): CFSR=0x%x MMFAR=0x%x "
		  "BFAR=0x%x PC=0x%x EXC_RETURN=0x%x\n",
		  ipsr < 8 ? exception_names[ipsr] : "?", (unsigned int)ipsr,
		  (unsigned int)cfsr, (unsigned int)mmfar, (unsigned int)bfar,
		  (unsigned int)frame[6], (unsigned int)exc_return);
	bm_exit(BM_EXIT_UNEXPECTED_FAULT);
}

/* Hands the stacked frame (MSP or PSP, from EXC_RETURN.SPSEL) to C. */
__attribute__((naked)) void bm_fault_entry(void)
{
	__asm__ volatile("tst lr, #4\n\t"
			 "ite eq\n\t"
			 "mrseq r0, msp\n\t"
			 "mrsne r0, psp\n\t"
			 "mov r1, lr\n\t"
			 "b bm_fault_handler\n\t");
}

void bm_reset(void)
{
	char *p;

	for (p = __bss_start; p < __bss_end; p++)
		*(volatile char *)p = 0;
	/* MemManage, BusFault and UsageFault get their own handlers. */
	bm_mmio_write32(BM_SCB_SHCSR,
			bm_mmio_read32(BM_SCB_SHCSR) | BM_SHCSR_MEMFAULTENA |
				BM_SHCSR_BUSFAULTENA | BM_SHCSR_USGFAULTENA);
	bm_dsb_isb();
	bm_exit(bm_main());
}

__attribute__((section(".vectors"),
	       used)) static void (*const vectors[16])(void) = {
	(void (*)(void))__stack_top,
	bm_reset,
	bm_fault_entry, /* NMI */
	bm_fault_entry, /* HardFault */
	bm_fault_entry, /* MemManage */
	bm_fault_entry, /* BusFault */
	bm_fault_entry, /* UsageFault */
	bm_fault_entry, /* SecureFault */
	0,
	0,
	0,
	bm_fault_entry, /* SVCall */
	bm_fault_entry, /* DebugMonitor */
	0,
	bm_fault_entry, /* PendSV */
	bm_fault_entry, /* SysTick */
};
