/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Armv8-R AArch32 start code for QEMU mps3-an536 (Cortex-R52), entered in
 * Hyp mode: stack, Hyp and EL1 vector bases, BSS, bm_main(). The Hyp
 * vectors serve the hypervisor's own aborts and the traps from EL1 (HVC,
 * stage-2 faults); the EL1 vectors serve a guest's own aborts. All A32.
 */
#include "../bm_fault.h"

	.syntax	unified
	.arm
	.section .text.boot, "ax"
	.global	_start
_start:
	cpsid	aif
	ldr	sp, =__stack_top
	ldr	r0, =bm_hyp_vectors
	mcr	p15, 4, r0, c12, c0, 0		/* HVBAR */
	ldr	r0, =bm_el1_vectors
	mcr	p15, 0, r0, c12, c0, 0		/* VBAR */
	isb
	ldr	r0, =__bss_start
	ldr	r1, =__bss_end
	mov	r2, #0
1:	cmp	r0, r1
	strlo	r2, [r0], #4
	blo	1b
	bl	bm_main
	b	bm_exit
	.ltorg

	.text
	.balign	32
	.global	bm_hyp_vectors
bm_hyp_vectors:
	b	.			/* reset */
	b	hyp_undef		/* undefined instruction in Hyp */
	b	hyp_hvc			/* HVC from Hyp */
	b	hyp_pabt		/* prefetch abort in Hyp */
	b	hyp_dabt		/* data abort in Hyp */
	b	hyp_trap		/* trap from EL1: HVC, stage-2 aborts */
	b	hyp_irq
	b	hyp_fiq

	.macro	hyp_entry index
	push	{r0-r12, lr}
	mrs	r0, ELR_hyp
	mrs	r1, SPSR_hyp
	push	{r0, r1}
	mov	r0, sp
	mov	r1, #\index
	b	hyp_common
	.endm

hyp_undef:	hyp_entry 1
hyp_hvc:	hyp_entry 2
hyp_pabt:	hyp_entry 3
hyp_dabt:	hyp_entry 4
hyp_trap:	hyp_entry 5
hyp_irq:	hyp_entry 6
hyp_fiq:	hyp_entry 7

/* Frame: elr, spsr, r0..r12, lr (struct bm_regs in bm_armv8r.c). */
hyp_common:
	bl	bm_hyp_exception
	cmp	r0, #0
	bne	bm_guest_exit
	pop	{r0, r1}
	msr	ELR_hyp, r0
	msr	SPSR_hyp, r1
	pop	{r0-r12, lr}
	eret

/*
 * uint32_t bm_guest_enter(uintptr_t entry, uint32_t arg, uintptr_t sp_svc)
 */
	.global	bm_guest_enter
bm_guest_enter:
	ldr	r12, =bm_host_ctx
	stmia	r12, {r4-r11}
	str	sp, [r12, #(8 * 4)]
	str	lr, [r12, #(9 * 4)]
	msr	ELR_hyp, r0
	mov	r3, #(0x1c0 | 0x13)	/* SVC, A I F masked, A32 */
	msr	SPSR_hyp, r3
	msr	SP_svc, r2
	sub	r2, r2, #0x400
	msr	SP_abt, r2
	msr	SP_und, r2
	mov	r0, r1
	eret

/* The guest's HVC: r0 of the frame is its result. */
bm_guest_exit:
	ldr	r0, [sp, #8]
	ldr	r12, =bm_host_ctx
	ldmia	r12, {r4-r11}
	ldr	sp, [r12, #(8 * 4)]
	ldr	lr, [r12, #(9 * 4)]
	bx	lr

	.global	bm_guest_hvc_exit
bm_guest_hvc_exit:
	hvc	#0
	b	.

/* EL1 vectors: the guest's own exceptions, handled in its abort mode. */
	.balign	32
	.global	bm_el1_vectors
bm_el1_vectors:
	b	.			/* reset */
	b	el1_undef
	b	el1_svc
	b	el1_pabt
	b	el1_dabt
	b	.			/* unused */
	b	el1_irq
	b	el1_fiq

	.macro	el1_entry index, lr_adjust
	sub	lr, lr, #\lr_adjust
	push	{r0-r12, lr}
	mov	r0, lr
	mrs	r1, SPSR
	push	{r0, r1}
	mov	r0, sp
	mov	r1, #\index
	b	el1_common
	.endm

el1_undef:	el1_entry 1, 4
el1_svc:	el1_entry 2, 0
el1_pabt:	el1_entry 3, 4
el1_dabt:	el1_entry 4, 8
el1_irq:	el1_entry 6, 4
el1_fiq:	el1_entry 7, 4

/* Frame: return address, spsr, r0..r12, lr; returns through the frame. */
el1_common:
	bl	bm_el1_exception
	pop	{r0, r1}
	msr	SPSR_cxsf, r1
	str	r0, [sp, #(13 * 4)]
	pop	{r0-r12, lr}
	movs	pc, lr

/* The probes (bm.h) are in ../probes32.S, shared with Armv8-M. */

	.bss
	.balign	8
	.global	bm_host_ctx
bm_host_ctx:
	.space	10 * 4
