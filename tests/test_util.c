// SPDX-License-Identifier: BSD-2-Clause
/* Internal helpers: range arithmetic, the log formatter and scrubbing. */
#include <criterion/criterion.h>
#include <string.h>

#include "host_port.h"
#include "util.h"

Test(util, range_wrap_and_overlap_at_the_top_of_the_space)
{
	cr_assert(!kmm_range_wraps(0, 0));
	cr_assert(!kmm_range_wraps(UINT64_MAX, 1));
	cr_assert(kmm_range_wraps(UINT64_MAX, 2));
	cr_assert(!kmm_range_wraps(0xfffffffffffff000ull, 0x1000));
	cr_assert(kmm_range_wraps(0xfffffffffffff000ull, 0x1001));
	cr_assert(kmm_ranges_overlap(0x1000, 0x1000, 0x1fff, 1));
	cr_assert(!kmm_ranges_overlap(0x1000, 0x1000, 0x2000, 1));
	cr_assert(kmm_ranges_overlap(0xfffffffffffff000ull, 0x1000, UINT64_MAX,
				     1));
}

Test(util, alignment_helpers)
{
	cr_assert(kmm_is_pow2(1));
	cr_assert(!kmm_is_pow2(0));
	cr_assert(!kmm_is_pow2(0x3000));
	cr_assert_eq(kmm_align_up(0x1001, 0x1000), 0x2000);
	cr_assert_eq(kmm_align_down(0x1fff, 0x1000), 0x1000);
	cr_assert_eq(kmm_log2_u64(0x40000000), 30);
	cr_assert_eq(kmm_ctz64(0x200000), 21);
}

Test(util, fmt_knows_s_x_u_and_truncates)
{
	char buf[64];

	cr_assert_eq(kmm_fmt(buf, sizeof(buf), "%s at %x size %u%%", "page",
			     (uint64_t)0x4000, (uint64_t)4096),
		     25);
	cr_assert_str_eq(buf, "page at 0x4000 size 4096%");
	cr_assert_eq(kmm_fmt(buf, 6, "%u", (uint64_t)1234567), 5);
	cr_assert_str_eq(buf, "12345");
	kmm_fmt(buf, sizeof(buf), "%x", (uint64_t)0);
	cr_assert_str_eq(buf, "0x0");
}

static char logged[128];

static void capture(void *cookie, const char *line)
{
	(void)cookie;
	strncpy(logged, line, sizeof(logged) - 1);
}

Test(util, log_formats_one_line_through_the_port)
{
	struct kmm_port port = { .log = capture };

	kmm_log(&port, "slot %u: %x", (uint64_t)3, (uint64_t)0xabc);
	cr_assert_str_eq(logged, "slot 3: 0xabc");
	kmm_log(NULL, "ignored");
	cr_assert_str_eq(logged, "slot 3: 0xabc");
}

Test(util, scrub_zeroes_through_the_hook_or_pa_to_ptr)
{
	struct kmm_host h;
	struct kmm_port no_hook;
	uint8_t *p;

	cr_assert_eq(kmm_host_init(&h, 0x80000000ull, 0x4000, 16), 0);
	p = kmm_host_ptr(&h, 0x80001000ull);
	memset(p, 0xaa, 0x2000);
	kmm_port_scrub(&h.port, 0x80001000ull, 0x1000);
	cr_assert_eq(p[0], 0);
	cr_assert_eq(p[0xfff], 0);
	cr_assert_eq(p[0x1000], 0xaa);
	cr_assert_eq(kmm_host_count(&h, KMM_HOST_EV_SCRUB), 1);
	no_hook = h.port;
	no_hook.scrub = NULL;
	kmm_port_scrub(&no_hook, 0x80002000ull, 0x1000);
	cr_assert_eq(p[0x1000], 0);
	cr_assert_eq(kmm_host_count(&h, KMM_HOST_EV_SCRUB), 1);
	kmm_host_fini(&h);
}
