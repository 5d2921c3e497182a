/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * AArch64 start code for QEMU virt (Cortex-A53), entered at EL1 or, with
 * virtualization=on, at EL2: stack, vectors for the current level, BSS,
 * then bm_main(); its return value becomes QEMU's exit status.
 */
#include "../bm_fault.h"

	.section .text.boot, "ax"
	.global _start
_start:
	msr	daifset, #0xf
	ldr	x0, =__stack_top
	mov	sp, x0
	adr	x0, bm_vectors
	mrs	x1, CurrentEL
	cmp	x1, #(2 << 2)
	b.ne	1f
	msr	vbar_el2, x0
	/* EL1 and EL0 run AArch64; no traps of EL1 system registers. */
	mov	x1, #(1 << 31)
	msr	hcr_el2, x1
	msr	vbar_el1, x0
	b	2f
1:	msr	vbar_el1, x0
	/* No FP/SIMD traps: the compiler may use them in bm code. */
2:	mov	x1, #(3 << 20)
	msr	cpacr_el1, x1
	isb
	ldr	x0, =__bss_start
	ldr	x1, =__bss_end
3:	cmp	x0, x1
	b.hs	4f
	str	xzr, [x0], #8
	b	3b
4:	bl	bm_main
	b	bm_exit
	.ltorg

/*
 * Exception vectors, shared by EL1 and EL2. Every entry saves the general
 * registers, ELR and SPSR in a frame of struct bm_regs on the stack and
 * calls bm_exception(frame, vector index); a nonzero return from a lower
 * level's synchronous exception means "the guest has exited": control goes
 * back to whoever called bm_guest_enter().
 */
	.macro	ventry	index
	.balign	128
	sub	sp, sp, #(34 * 8)
	stp	x0, x1, [sp, #(0 * 8)]
	mov	x0, #\index
	b	bm_vector_common
	.endm

	.section .text.vectors, "ax"
	.balign	2048
	.global	bm_vectors
bm_vectors:
	ventry	0	/* current EL, SP_EL0: sync */
	ventry	1
	ventry	2
	ventry	3
	ventry	4	/* current EL, SP_ELx: sync */
	ventry	5
	ventry	6
	ventry	7
	ventry	8	/* lower EL, AArch64: sync */
	ventry	9
	ventry	10
	ventry	11
	ventry	12	/* lower EL, AArch32 */
	ventry	13
	ventry	14
	ventry	15

bm_vector_common:
	stp	x2, x3, [sp, #(2 * 8)]
	stp	x4, x5, [sp, #(4 * 8)]
	stp	x6, x7, [sp, #(6 * 8)]
	stp	x8, x9, [sp, #(8 * 8)]
	stp	x10, x11, [sp, #(10 * 8)]
	stp	x12, x13, [sp, #(12 * 8)]
	stp	x14, x15, [sp, #(14 * 8)]
	stp	x16, x17, [sp, #(16 * 8)]
	stp	x18, x19, [sp, #(18 * 8)]
	stp	x20, x21, [sp, #(20 * 8)]
	stp	x22, x23, [sp, #(22 * 8)]
	stp	x24, x25, [sp, #(24 * 8)]
	stp	x26, x27, [sp, #(26 * 8)]
	stp	x28, x29, [sp, #(28 * 8)]
	mrs	x2, CurrentEL
	cmp	x2, #(2 << 2)
	b.eq	1f
	mrs	x3, elr_el1
	mrs	x4, spsr_el1
	b	2f
1:	mrs	x3, elr_el2
	mrs	x4, spsr_el2
2:	stp	x30, x3, [sp, #(30 * 8)]
	str	x4, [sp, #(32 * 8)]
	mov	x1, x0
	mov	x0, sp
	bl	bm_exception
	cbnz	x0, bm_guest_exit
	ldp	x30, x3, [sp, #(30 * 8)]
	ldr	x4, [sp, #(32 * 8)]
	mrs	x2, CurrentEL
	cmp	x2, #(2 << 2)
	b.eq	1f
	msr	elr_el1, x3
	msr	spsr_el1, x4
	b	2f
1:	msr	elr_el2, x3
	msr	spsr_el2, x4
2:	ldp	x0, x1, [sp, #(0 * 8)]
	ldp	x2, x3, [sp, #(2 * 8)]
	ldp	x4, x5, [sp, #(4 * 8)]
	ldp	x6, x7, [sp, #(6 * 8)]
	ldp	x8, x9, [sp, #(8 * 8)]
	ldp	x10, x11, [sp, #(10 * 8)]
	ldp	x12, x13, [sp, #(12 * 8)]
	ldp	x14, x15, [sp, #(14 * 8)]
	ldp	x16, x17, [sp, #(16 * 8)]
	ldp	x18, x19, [sp, #(18 * 8)]
	ldp	x20, x21, [sp, #(20 * 8)]
	ldp	x22, x23, [sp, #(22 * 8)]
	ldp	x24, x25, [sp, #(24 * 8)]
	ldp	x26, x27, [sp, #(26 * 8)]
	ldp	x28, x29, [sp, #(28 * 8)]
	add	sp, sp, #(34 * 8)
	eret

/*
 * uint64_t bm_guest_enter(uintptr_t entry, uint64_t arg, uintptr_t sp_el1)
 * Runs @entry at EL1h (interrupts masked) with x0 = @arg and SP = @sp_el1
 * until the guest issues HVC; returns the guest's x0 at that HVC. Called
 * at EL2 only. The callee-saved registers and SP live in bm_host_ctx
 * meanwhile.
 */
	.text
	.global	bm_guest_enter
bm_guest_enter:
	ldr	x9, =bm_host_ctx
	stp	x19, x20, [x9, #(0 * 8)]
	stp	x21, x22, [x9, #(2 * 8)]
	stp	x23, x24, [x9, #(4 * 8)]
	stp	x25, x26, [x9, #(6 * 8)]
	stp	x27, x28, [x9, #(8 * 8)]
	stp	x29, x30, [x9, #(10 * 8)]
	mov	x10, sp
	str	x10, [x9, #(12 * 8)]
	msr	elr_el2, x0
	mov	x10, #0x3c5		/* EL1h, D, A, I, F masked */
	msr	spsr_el2, x10
	msr	sp_el1, x2
	mov	x0, x1
	mov	x1, xzr
	mov	x2, xzr
	mov	x9, xzr
	mov	x10, xzr
	isb
	eret

/* The guest's HVC: x0 of the frame is its result. */
bm_guest_exit:
	ldr	x0, [sp, #(0 * 8)]
	ldr	x9, =bm_host_ctx
	ldp	x19, x20, [x9, #(0 * 8)]
	ldp	x21, x22, [x9, #(2 * 8)]
	ldp	x23, x24, [x9, #(4 * 8)]
	ldp	x25, x26, [x9, #(6 * 8)]
	ldp	x27, x28, [x9, #(8 * 8)]
	ldp	x29, x30, [x9, #(10 * 8)]
	ldr	x10, [x9, #(12 * 8)]
	mov	sp, x10
	ret

/* A guest's way out: hvc #0 with its result in x0. */
	.global	bm_guest_hvc_exit
bm_guest_hvc_exit:
	hvc	#0
1:	b	1b

/*
 * Probes. Each arms bm_fault with the address of its resume point, makes
 * one access and disarms; the handler of an armed fault records the
 * syndrome and returns to the resume point instead of the faulting
 * instruction.
 */
	.macro	arm_probe resume
	ldr	x9, =bm_fault
	adr	x10, \resume
	str	x10, [x9, #BM_FAULT_RESUME]
	str	xzr, [x9, #BM_FAULT_TAKEN]
	mov	x10, #1
	str	x10, [x9, #BM_FAULT_ARMED]
	dsb	sy
	isb
	.endm

	.macro	disarm_probe
	ldr	x9, =bm_fault
	str	xzr, [x9, #BM_FAULT_ARMED]
	ldr	x0, [x9, #BM_FAULT_TAKEN]
	cmp	x0, #0
	cset	x0, ne
	.endm

	/* bool bm_probe_read32(uintptr_t addr, uint32_t *val) */
	.global	bm_probe_read32
bm_probe_read32:
	arm_probe 1f
	.global	bm_probe_read32_insn
bm_probe_read32_insn:
	ldr	w11, [x0]
	str	w11, [x1]
1:	disarm_probe
	ret

	/* bool bm_probe_write32(uintptr_t addr, uint32_t val) */
	.global	bm_probe_write32
bm_probe_write32:
	arm_probe 1f
	.global	bm_probe_write32_insn
bm_probe_write32_insn:
	str	w1, [x0]
	dsb	sy
1:	disarm_probe
	ret

	/* bool bm_probe_exec(uintptr_t addr) */
	.global	bm_probe_exec
bm_probe_exec:
	stp	x29, x30, [sp, #-16]!
	arm_probe 1f
	blr	x0
1:	disarm_probe
	ldp	x29, x30, [sp], #16
	ret
	.ltorg

	.bss
	.balign	16
	.global	bm_host_ctx
bm_host_ctx:
	.space	14 * 8
