/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The bare-metal runtime kmm's QEMU test images run on: console output,
 * exit status through semihosting, checks that stop the program with a
 * clear message, and fault probes that let a program provoke an abort and
 * read back the syndrome the core reported.
 *
 * Each target directory (aarch64/, armv8m/, armv8r/) supplies the start
 * code and the exception vectors; aarch64/ also its console, exit and
 * probes, which the 32-bit targets share (bm_semihost32.c, probes32.S,
 * with a per-target bm_semihost()). This header and bm_common.c are
 * shared by all. A program defines bm_main().
 */
#ifndef KMM_BM_H
#define KMM_BM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of an image, seen as QEMU's exit status. */
#define BM_EXIT_PASS 0
#define BM_EXIT_CHECK_FAILED 1
/* An exception nobody expected: the handler printed the syndrome. */
#define BM_EXIT_UNEXPECTED_FAULT 3

/*
 * What the last armed probe saw. The layout is fixed (assembly stores into
 * it, see BM_FAULT_* in bm_fault.h); every field is 64 bits wide on every
 * target so that one set of offsets serves all of them.
 */
struct bm_fault {
	uint64_t armed; /* Nonzero while a probe waits for a fault. */
	uint64_t taken; /* Set by the handler when the fault came. */
	uint64_t resume; /* Where the handler returns to. */
	uint64_t syndrome; /* ESR_ELx, HSR, DFSR/IFSR or CFSR. */
	uint64_t addr; /* FAR_ELx, HDFAR/HIFAR, DFAR/IFAR or MMFAR. */
	uint64_t ipa; /* Stage-2 faults: the faulting IPA (from HPFAR). */
	uint64_t pc; /* Address of the faulting instruction. */
	uint64_t el; /* Exception level (or mode) the fault was taken to. */
};

/* The one fault record; the exception handlers fill it. */
extern struct bm_fault bm_fault;

/* Entry point of a test program, called at the boot exception level. */
int bm_main(void);

/* Target hooks. */
void bm_putc(char c);
__attribute__((noreturn)) void bm_exit(int status);
/*
 * 32-bit targets: one semihosting call, the trap their bm_putc() and
 * bm_exit() (bm_semihost32.c) make.
 */
uint32_t bm_semihost(uint32_t op, const void *arg);

/* The kmm_port log callback of every target: "kmm: <line>" on the console. */
void bm_port_log(void *cookie, const char *line);

/*
 * Probes: each performs one access with the fault record armed and returns
 * true when the access aborted (bm_fault then holds the syndrome) or false
 * when it completed.
 */
bool bm_probe_read32(uintptr_t addr, uint32_t *val);
bool bm_probe_write32(uintptr_t addr, uint32_t val);
/* The access instructions of the two probes: the faulting PC they report. */
extern const char bm_probe_read32_insn[];
extern const char bm_probe_write32_insn[];
/* Branches to @addr, which must hold a return instruction if it runs. */
bool bm_probe_exec(uintptr_t addr);

/* Console. */
void bm_puts(const char *s);
/* %s %c %d %u %x with the l and ll length modifiers, and %%. */
void bm_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Checks: a failed check prints where and why, then exits with status 1. */
__attribute__((noreturn)) void bm_check_failed(const char *file, int line,
					       const char *what);
void bm_check_eq(const char *file, int line, const char *a_text,
		 const char *b_text, uint64_t a, uint64_t b);

#define BM_CHECK(cond)                                              \
	do {                                                        \
		if (!(cond))                                        \
			bm_check_failed(__FILE__, __LINE__, #cond); \
	} while (0)

#define BM_CHECK_EQ(a, b) \
	bm_check_eq(__FILE__, __LINE__, #a, #b, (uint64_t)(a), (uint64_t)(b))

/* Arms nothing: a probe that must fault but did not, or vice versa. */
#define BM_CHECK_FAULTS(probe) BM_CHECK((probe) == true)
#define BM_CHECK_NO_FAULT(probe) BM_CHECK((probe) == false)

#endif /* KMM_BM_H */
