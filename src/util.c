// SPDX-License-Identifier: BSD-2-Clause
/* Internal helpers: the port lock, scrubbing through the port and a minimal
 * formatter. */
#include <stdarg.h>

#include "util.h"

void kmm_port_lock(const struct kmm_port *port)
{
	if (port && port->lock)
		port->lock(port->cookie);
}

void kmm_port_unlock(const struct kmm_port *port)
{
	if (port && port->unlock)
		port->unlock(port->cookie);
}

void kmm_port_scrub(const struct kmm_port *port, kmm_paddr_t pa, size_t size)
{
	void *p;

	if (port == NULL || size == 0)
		return;
	if (port->scrub) {
		port->scrub(port->cookie, pa, size);
		return;
	}
	p = kmm_port_pa_to_ptr(port, pa);
	if (p)
		kmm_memzero(p, size);
}

#if KMM_CONFIG_DIAGNOSTICS
struct fmt_out {
	char *buf;
	size_t cap;
	size_t len;
};

static void put(struct fmt_out *o, char c)
{
	if (o->len + 1 < o->cap)
		o->buf[o->len] = c;
	o->len++;
}

/*
 * Divides @v by a small @base bit by bit: a 32-bit target (Armv8-M,
 * AArch32) would otherwise need the compiler runtime's 64-bit division
 * (__aeabi_uldivmod), which a freestanding kernel may not link.
 */
static uint64_t div_small(uint64_t v, unsigned int base, unsigned int *rem)
{
	uint64_t q = 0;
	unsigned int r = 0;
	int i;

	for (i = 63; i >= 0; i--) {
		r = (r << 1) | (unsigned int)((v >> i) & 1);
		q <<= 1;
		if (r >= base) {
			r -= base;
			q |= 1;
		}
	}
	*rem = r;
	return q;
}

static void put_u64(struct fmt_out *o, uint64_t v, unsigned int base)
{
	static const char digits[] = "0123456789abcdef";
	char tmp[20];
	unsigned int rem;
	int n = 0;

	do {
		v = div_small(v, base, &rem);
		tmp[n++] = digits[rem];
	} while (v);
	while (n)
		put(o, tmp[--n]);
}

static size_t vfmt(char *buf, size_t cap, const char *fmt, va_list ap)
{
	struct fmt_out o = { buf, cap, 0 };

	for (const char *f = fmt; *f; f++) {
		if (*f != '%' || f[1] == '\0') {
			put(&o, *f);
			continue;
		}
		switch (*++f) {
		case 's':
			for (const char *s = va_arg(ap, const char *); *s; s++)
				put(&o, *s);
			break;
		case 'x':
			put(&o, '0');
			put(&o, 'x');
			put_u64(&o, va_arg(ap, uint64_t), 16);
			break;
		case 'u':
			put_u64(&o, va_arg(ap, uint64_t), 10);
			break;
		default:
			put(&o, *f);
			break;
		}
	}
	if (cap)
		buf[o.len < cap ? o.len : cap - 1] = '\0';
	return o.len < cap ? o.len : (cap ? cap - 1 : 0);
}

size_t kmm_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	n = vfmt(buf, cap, fmt, ap);
	va_end(ap);
	return n;
}

void kmm_log(const struct kmm_port *port, const char *fmt, ...)
{
	char line[160];
	va_list ap;

	if (port == NULL || port->log == NULL)
		return;
	va_start(ap, fmt);
	vfmt(line, sizeof(line), fmt, ap);
	va_end(ap);
	port->log(port->cookie, line);
}
#endif /* KMM_CONFIG_DIAGNOSTICS */
