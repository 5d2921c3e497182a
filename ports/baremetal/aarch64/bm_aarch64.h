/* SPDX-License-Identifier: BSD-2-Clause */
/* AArch64 (QEMU virt) specifics of the bare-metal runtime. */
#ifndef KMM_BM_AARCH64_H
#define KMM_BM_AARCH64_H

#include <stdint.h>

/* QEMU virt board. */
#define BM_VIRT_UART_BASE 0x09000000ul
#define BM_VIRT_UART_SIZE 0x1000ul

/* The frame start.S saves on every exception. */
struct bm_regs {
	uint64_t x[31]; /* x0..x30 */
	uint64_t elr; /* Return address; a handler may change it. */
	uint64_t spsr;
	uint64_t pad;
};

/* Image layout from link.ld. */
extern char __image_start[], __image_end[];
extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];
extern char __stack_top[], __guest_stack_top[];
extern char __ram_start[], __ram_end[];
extern char bm_vectors[];

/*
 * Runs @entry at EL1 (from EL2) with x0 = @arg on the stack @sp_el1 until
 * it calls bm_guest_hvc_exit(); returns the value it passed there.
 */
uint64_t bm_guest_enter(uintptr_t entry, uint64_t arg, uintptr_t sp_el1);
/* Ends a guest run started by bm_guest_enter(), returning @result. */
__attribute__((noreturn)) void bm_guest_hvc_exit(uint64_t result);

#endif /* KMM_BM_AARCH64_H */
