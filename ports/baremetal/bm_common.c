// SPDX-License-Identifier: BSD-2-Clause
/*
 * Target-independent part of the bare-metal runtime: the string functions
 * a compiler (and libkmm) may call, console formatting and checks.
 */
#include <stdarg.h>

#include "bm.h"
#include "bm_fault.h"

_Static_assert(offsetof(struct bm_fault, armed) == BM_FAULT_ARMED, "layout");
_Static_assert(offsetof(struct bm_fault, taken) == BM_FAULT_TAKEN, "layout");
_Static_assert(offsetof(struct bm_fault, resume) == BM_FAULT_RESUME, "layout");
_Static_assert(offsetof(struct bm_fault, syndrome) == BM_FAULT_SYNDROME,
	       "layout");
_Static_assert(offsetof(struct bm_fault, addr) == BM_FAULT_ADDR, "layout");
_Static_assert(offsetof(struct bm_fault, ipa) == BM_FAULT_IPA, "layout");
_Static_assert(offsetof(struct bm_fault, pc) == BM_FAULT_PC, "layout");
_Static_assert(offsetof(struct bm_fault, el) == BM_FAULT_EL, "layout");

struct bm_fault bm_fault;

/*
 * The string functions are written byte by byte on purpose: they run with
 * the MMU off (Device memory, where unaligned or DC ZVA accesses fault) and
 * must not be turned back into calls to themselves.
 */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *
memcpy(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *
memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else {
		while (n--)
			d[n] = s[n];
	}
	return dst;
}

__attribute__((optimize("no-tree-loop-distribute-patterns"))) void *
memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a;
	const unsigned char *y = b;

	for (; n; n--, x++, y++) {
		if (*x != *y)
			return *x < *y ? -1 : 1;
	}
	return 0;
}

void bm_puts(const char *s)
{
	while (*s)
		bm_putc(*s++);
}

static void put_unsigned(unsigned long long v, unsigned int base)
{
	char digits[24];
	unsigned int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	while (n)
		bm_putc(digits[--n]);
}

void bm_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		unsigned int longs = 0;
		unsigned long long v;

		if (*fmt != '%') {
			bm_putc(*fmt);
			continue;
		}
		fmt++;
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			bm_puts(va_arg(ap, const char *));
			break;
		case 'c':
			bm_putc((char)va_arg(ap, int));
			break;
		case 'd': {
			long long s = longs >= 2 ? va_arg(ap, long long) :
				      longs	 ? va_arg(ap, long) :
						   va_arg(ap, int);

			if (s < 0) {
				bm_putc('-');
				v = 0ull - (unsigned long long)s;
			} else {
				v = (unsigned long long)s;
			}
			put_unsigned(v, 10);
			break;
		}
		case 'u':
		case 'x':
			v = longs >= 2 ? va_arg(ap, unsigned long long) :
			    longs      ? va_arg(ap, unsigned long) :
					 va_arg(ap, unsigned int);
			put_unsigned(v, *fmt == 'x' ? 16 : 10);
			break;
		case '%':
			bm_putc('%');
			break;
		default:
			bm_putc('?');
			break;
		}
		if (!*fmt)
			break;
	}
	va_end(ap);
}

void bm_check_failed(const char *file, int line, const char *what)
{
	bm_printf("FAIL %s:%d: %s\n", file, line, what);
	bm_exit(BM_EXIT_CHECK_FAILED);
}

void bm_check_eq(const char *file, int line, const char *a_text,
		 const char *b_text, uint64_t a, uint64_t b)
{
	if (a == b)
		return;
	bm_printf("FAIL %s:%d: %s == %s: 0x%llx != 0x%llx\n", file, line,
		  a_text, b_text, (unsigned long long)a, (unsigned long long)b);
	bm_exit(BM_EXIT_CHECK_FAILED);
}

void bm_port_log(void *cookie, const char *line)
{
	(void)cookie;
	bm_printf("kmm: %s\n", line);
}
