/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Internal helpers shared by the core and the backends: alignment and
 * range arithmetic, port wrappers that tolerate NULL callbacks, freestanding
 * memory helpers and a tiny formatter for log lines. Not installed.
 */
#ifndef KMM_UTIL_H
#define KMM_UTIL_H

#include "kmm/errors.h"
#include "kmm/port.h"
#include "kmm/types.h"

#define KMM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline bool kmm_is_pow2(uint64_t x)
{
	return x != 0 && (x & (x - 1)) == 0;
}

/* @a must be a power of two. */
static inline bool kmm_is_aligned(uint64_t x, uint64_t a)
{
	return (x & (a - 1)) == 0;
}

static inline uint64_t kmm_align_down(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

/* Rounds up; the caller checks for wrap (x + a - 1 < x) where it matters. */
static inline uint64_t kmm_align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* True when [base, base + size) wraps past 2^64 (size 0 never wraps). */
static inline bool kmm_range_wraps(uint64_t base, uint64_t size)
{
	return size != 0 && base + (size - 1) < base;
}

/* True when [a, a + as) and [b, b + bs) share a byte; sizes non-zero. */
static inline bool kmm_ranges_overlap(uint64_t a, uint64_t as, uint64_t b,
				      uint64_t bs)
{
	return a <= b + (bs - 1) && b <= a + (as - 1);
}

static inline uint64_t kmm_min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static inline uint64_t kmm_max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/* Index of the lowest set bit; @x must be non-zero. */
static inline unsigned int kmm_ctz64(uint64_t x)
{
	return (unsigned int)__builtin_ctzll(x);
}

/* floor(log2(x)); @x must be non-zero. */
static inline unsigned int kmm_log2_u64(uint64_t x)
{
	return 63u - (unsigned int)__builtin_clzll(x);
}

/* Freestanding memory helpers (the compiler may emit memset/memcpy). */
static inline void kmm_memzero(void *p, size_t n)
{
	__builtin_memset(p, 0, n);
}

static inline void kmm_memcpy(void *d, const void *s, size_t n)
{
	__builtin_memcpy(d, s, n);
}

static inline int kmm_memcmp(const void *a, const void *b, size_t n)
{
	return __builtin_memcmp(a, b, n);
}

/*
 * Port wrappers: a NULL port or callback means "nothing to do". The lock
 * pair is out of line (util.c): one copy for the whole library.
 */
void kmm_port_lock(const struct kmm_port *port);
void kmm_port_unlock(const struct kmm_port *port);

static inline void *kmm_port_pa_to_ptr(const struct kmm_port *port,
				       kmm_paddr_t pa)
{
	return port && port->pa_to_ptr ? port->pa_to_ptr(port->cookie, pa) :
					 NULL;
}

/* Zeroes a physical range through the port's scrub hook, else pa_to_ptr. */
void kmm_port_scrub(const struct kmm_port *port, kmm_paddr_t pa, size_t size);

#if KMM_CONFIG_DIAGNOSTICS
/*
 * Formats into @buf (always NUL-terminated, truncated to @cap) from @fmt,
 * which understands only: %s (string), %x (uint64_t, hex with 0x),
 * %u (uint64_t, decimal) and %%. Returns the length written.
 */
size_t kmm_fmt(char *buf, size_t cap, const char *fmt, ...);

/* Formats one line like kmm_fmt() and hands it to the port's log hook. */
void kmm_log(const struct kmm_port *port, const char *fmt, ...);
#else
/* Without diagnostics nothing logs: the calls (in dead dump code) vanish. */
static inline void kmm_log(const struct kmm_port *port, const char *fmt, ...)
{
	(void)port;
	(void)fmt;
}
#endif

#endif /* KMM_UTIL_H */
