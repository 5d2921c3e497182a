/* SPDX-License-Identifier: BSD-2-Clause */
/* System register and barrier helpers for the AArch64 bare-metal port. */
#ifndef KMM_BM_AARCH64_SYSREG_H
#define KMM_BM_AARCH64_SYSREG_H

#include <stdint.h>

#define bm_read_sysreg(reg)                                   \
	({                                                    \
		uint64_t v_;                                  \
		__asm__ volatile("mrs %0, " #reg : "=r"(v_)); \
		v_;                                           \
	})

#define bm_write_sysreg(reg, v) \
	__asm__ volatile("msr " #reg ", %0" ::"r"((uint64_t)(v)) : "memory")

static inline void bm_isb(void)
{
	__asm__ volatile("isb" ::: "memory");
}

static inline void bm_dsb_sy(void)
{
	__asm__ volatile("dsb sy" ::: "memory");
}

static inline unsigned int bm_current_el(void)
{
	return (unsigned int)(bm_read_sysreg(CurrentEL) >> 2) & 3u;
}

/* ESR_ELx fields (Arm ARM D17.2.37). */
#define BM_ESR_EC(esr) (((esr) >> 26) & 0x3fu)
#define BM_EC_UNKNOWN 0x00u
#define BM_EC_HVC64 0x16u
#define BM_EC_IABT_LOWER 0x20u
#define BM_EC_IABT_CUR 0x21u
#define BM_EC_DABT_LOWER 0x24u
#define BM_EC_DABT_CUR 0x25u
#define BM_EC_BRK64 0x3cu

/* SCTLR_ELx bits. */
#define BM_SCTLR_M (1ull << 0)
#define BM_SCTLR_A (1ull << 1)
#define BM_SCTLR_C (1ull << 2)
#define BM_SCTLR_I (1ull << 12)
#define BM_SCTLR_WXN (1ull << 19)

#endif /* KMM_BM_AARCH64_SYSREG_H */
