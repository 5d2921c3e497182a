/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Probes (see bm.h) of the 32-bit targets, Armv8-M (T32) and Armv8-R
 * AArch32 (A32): arm bm_fault with the resume address, make one access,
 * disarm. The fault handler resumes an armed probe at its resume point
 * with bm_fault filled in. One source for both instruction sets: the
 * flag-setting moves and the IT are valid in either (an IT assembles to
 * nothing in A32), and resume points are word aligned as T32 adr needs.
 */
#include "bm_fault.h"

	.syntax	unified
#ifdef __thumb__
	.thumb
#else
	.arm
#endif
	.text

	.macro	probe_func name
	.global	\name
	.type	\name, %function
#ifdef __thumb__
	.thumb_func
#endif
\name:
	.endm

	.macro	arm_probe resume
	ldr	r2, =bm_fault
	adr	r3, \resume
	str	r3, [r2, #BM_FAULT_RESUME]
	movs	r3, #0
	str	r3, [r2, #BM_FAULT_TAKEN]
	movs	r3, #1
	str	r3, [r2, #BM_FAULT_ARMED]
	dsb	sy
	isb
	.endm

	.macro	disarm_probe
	ldr	r2, =bm_fault
	movs	r3, #0
	str	r3, [r2, #BM_FAULT_ARMED]
	ldr	r0, [r2, #BM_FAULT_TAKEN]
	cmp	r0, #0
	it	ne
	movne	r0, #1
	.endm

	/* bool bm_probe_read32(uintptr_t addr, uint32_t *val) */
	probe_func bm_probe_read32
	arm_probe 1f
	.global	bm_probe_read32_insn
bm_probe_read32_insn:
	ldr	r3, [r0]
	str	r3, [r1]
	.balign	4
1:	disarm_probe
	bx	lr
	.ltorg

	/* bool bm_probe_write32(uintptr_t addr, uint32_t val) */
	probe_func bm_probe_write32
	arm_probe 1f
	.global	bm_probe_write32_insn
bm_probe_write32_insn:
	str	r1, [r0]
	dsb	sy
	.balign	4
1:	disarm_probe
	bx	lr
	.ltorg

	/* bool bm_probe_exec(uintptr_t addr); T32 code needs bit 0 set. */
	probe_func bm_probe_exec
	push	{r4, lr}
	arm_probe 1f
	blx	r0
	.balign	4
1:	disarm_probe
	pop	{r4, pc}
	.ltorg
