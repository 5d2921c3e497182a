/* SPDX-License-Identifier: BSD-2-Clause */
/* Armv8-R AArch32 (Cortex-R52 on QEMU mps3-an536) specifics. */
#ifndef KMM_BM_ARMV8R_H
#define KMM_BM_ARMV8R_H

#include <stdint.h>

/* CP15 accessors: bm_cp15_read(opc1, CRn, CRm, opc2). */
#define bm_cp15_read(op1, crn, crm, op2)                                  \
	({                                                                \
		uint32_t v_;                                              \
		__asm__ volatile("mrc p15, " #op1 ", %0, " #crn ", " #crm \
				 ", " #op2                                \
				 : "=r"(v_));                             \
		v_;                                                       \
	})

#define bm_cp15_write(op1, crn, crm, op2, v)                      \
	__asm__ volatile("mcr p15, " #op1 ", %0, " #crn ", " #crm \
			 ", " #op2 ::"r"((uint32_t)(v))           \
			 : "memory")

static inline void bm_dsb_isb(void)
{
	__asm__ volatile("dsb sy\n\tisb" ::: "memory");
}

/* HSR / DFSR fields. */
#define BM_HSR_EC(hsr) (((hsr) >> 26) & 0x3fu)
#define BM_EC_HVC32 0x12u
#define BM_EC_IABT_LOWER 0x20u
#define BM_EC_IABT_HYP 0x21u
#define BM_EC_DABT_LOWER 0x24u
#define BM_EC_DABT_HYP 0x25u

/* Modes. */
#define BM_MODE_SVC 0x13u
#define BM_MODE_ABT 0x17u
#define BM_MODE_UND 0x1bu
#define BM_MODE_HYP 0x1au

/* Image layout from link.ld. */
extern char __image_start[], __image_end[];
extern char __text_start[], __text_end[];
extern char __data_start[], __data_end[];
extern char __stack_top[];
extern char __ram_start[], __ram_end[];

/*
 * Runs @entry in SVC mode (EL1) with r0 = @arg on the stack @sp_svc (the
 * EL1 abort and undefined modes get the 1 KiB below it) until it calls
 * bm_guest_hvc_exit(); returns the value passed there. Called in Hyp mode.
 */
uint32_t bm_guest_enter(uintptr_t entry, uint32_t arg, uintptr_t sp_svc);
/* Ends a guest run started by bm_guest_enter(), returning @result. */
__attribute__((noreturn)) void bm_guest_hvc_exit(uint32_t result);

#endif /* KMM_BM_ARMV8R_H */
