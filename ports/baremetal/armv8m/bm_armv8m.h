/* SPDX-License-Identifier: BSD-2-Clause */
/* Armv8-M (Cortex-M33 on QEMU mps2-an505) specifics of the runtime. */
#ifndef KMM_BM_ARMV8M_H
#define KMM_BM_ARMV8M_H

#include <stdint.h>

/* System Control Block and MPU registers (Armv8-M ARM, B3.5 and D1). */
#define BM_SCB_SHCSR 0xe000ed24u
#define BM_SCB_CFSR 0xe000ed28u
#define BM_SCB_MMFAR 0xe000ed34u
#define BM_SCB_BFAR 0xe000ed38u
#define BM_MPU_TYPE 0xe000ed90u
#define BM_MPU_CTRL 0xe000ed94u
#define BM_MPU_RNR 0xe000ed98u
#define BM_MPU_RBAR 0xe000ed9cu
#define BM_MPU_RLAR 0xe000eda0u
#define BM_MPU_MAIR0 0xe000edc0u
#define BM_MPU_MAIR1 0xe000edc4u

#define BM_SHCSR_MEMFAULTENA (1u << 16)
#define BM_SHCSR_BUSFAULTENA (1u << 17)
#define BM_SHCSR_USGFAULTENA (1u << 18)

/* CFSR.MMFSR bits. */
#define BM_CFSR_IACCVIOL (1u << 0)
#define BM_CFSR_DACCVIOL (1u << 1)
#define BM_CFSR_MMARVALID (1u << 7)

#define BM_MPU_CTRL_ENABLE (1u << 0)
#define BM_MPU_CTRL_HFNMIENA (1u << 1)
#define BM_MPU_CTRL_PRIVDEFENA (1u << 2)

static inline uint32_t bm_mmio_read32(uint32_t addr)
{
	return *(volatile uint32_t *)(uintptr_t)addr;
}

static inline void bm_mmio_write32(uint32_t addr, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)addr = v;
}

static inline void bm_dsb_isb(void)
{
	__asm__ volatile("dsb sy\n\tisb" ::: "memory");
}

/* Image layout from link.ld. */
extern char __image_start[], __image_end[];
extern char __text_start[], __text_end[];
extern char __data_start[], __data_end[];
extern char __stack_top[];
extern char __ram_start[], __ram_end[];

#endif /* KMM_BM_ARMV8M_H */
