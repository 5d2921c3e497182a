// SPDX-License-Identifier: BSD-2-Clause
/*
 * The host port is what every other test trusts to tell what kmm asked of
 * the hardware: its recorder, arena and lock are specified here.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "host_port.h"

Test(host_port, arena_maps_exactly_its_pa_window)
{
	struct kmm_host h;

	cr_assert_eq(kmm_host_init(&h, 0x80000000ull, 0x10000, 0), 0);
	cr_assert_eq(kmm_host_ptr(&h, 0x80000000ull), h.arena);
	cr_assert_eq(kmm_host_ptr(&h, 0x8000ffffull), h.arena + 0xffff);
	cr_assert_null(kmm_host_ptr(&h, 0x7fffffffull));
	cr_assert_null(kmm_host_ptr(&h, 0x80010000ull));
	cr_assert_eq(h.port.pa_to_ptr(h.port.cookie, 0x80001000ull),
		     h.arena + 0x1000);
	kmm_host_fini(&h);
}

Test(host_port, records_calls_in_order_with_their_arguments)
{
	struct kmm_host h;
	const struct kmm_tlb_ctx ctx = { .regime = KMM_REGIME_STAGE2, .id = 7 };
	const uint64_t cmd[2] = { 0x46, 0 };

	cr_assert_eq(kmm_host_init(&h, 0, 0x1000, 8), 0);
	h.port.tlb_add_page(h.port.cookie, &ctx, 0x5000, 0x1000, true);
	h.seq = 3;
	h.port.tlb_sync(h.port.cookie, &ctx);
	h.port.mpu_write(h.port.cookie, 1, 4, 0x1002, 0x1fc1);
	h.port.smmu_cmd(h.port.cookie, cmd);
	cr_assert_eq(h.events_len, 4);
	cr_assert_eq(h.events[0].kind, KMM_HOST_EV_TLB_ADD_PAGE);
	cr_assert_eq(h.events[0].addr, 0x5000);
	cr_assert_eq(h.events[0].granule, 0x1000);
	cr_assert_eq(h.events[0].arg0, 1);
	cr_assert_eq(h.events[0].ctx.id, 7);
	cr_assert_eq(h.events[0].seq, 0);
	cr_assert_eq(h.events[1].kind, KMM_HOST_EV_TLB_SYNC);
	cr_assert_eq(h.events[1].seq, 3);
	cr_assert_eq(h.events[2].kind, KMM_HOST_EV_MPU_WRITE);
	cr_assert_eq(h.events[2].addr, 4);
	cr_assert_eq(h.events[2].granule, 1);
	cr_assert_eq(h.events[2].arg0, 0x1002);
	cr_assert_eq(h.events[2].arg1, 0x1fc1);
	cr_assert_eq(h.events[3].arg0, 0x46);
	cr_assert_eq(kmm_host_count(&h, KMM_HOST_EV_TLB_SYNC), 1);
	kmm_host_clear_events(&h);
	cr_assert_eq(h.events_len, 0);
	cr_assert_eq(kmm_host_count(&h, KMM_HOST_EV_TLB_SYNC), 0);
	kmm_host_fini(&h);
}

Test(host_port, overflow_is_counted_not_written)
{
	struct kmm_host h;
	const struct kmm_tlb_ctx ctx = { 0 };

	cr_assert_eq(kmm_host_init(&h, 0, 0, 2), 0);
	for (int i = 0; i < 5; i++)
		h.port.tlb_flush_all(h.port.cookie, &ctx);
	cr_assert_eq(h.events_len, 5);
	cr_assert_eq(kmm_host_count(&h, KMM_HOST_EV_TLB_FLUSH_ALL), 2);
	kmm_host_fini(&h);
}

Test(host_port, scrub_zeroes_the_arena_and_lock_nests)
{
	struct kmm_host h;

	cr_assert_eq(kmm_host_init(&h, 0x1000, 0x3000, 4), 0);
	memset(h.arena, 0x5a, 0x3000);
	h.port.scrub(h.port.cookie, 0x2000, 0x1000);
	cr_assert_eq(h.arena[0xfff], 0x5a);
	cr_assert_eq(h.arena[0x1000], 0);
	cr_assert_eq(h.arena[0x1fff], 0);
	cr_assert_eq(h.arena[0x2000], 0x5a);
	h.port.lock(h.port.cookie);
	h.port.lock(h.port.cookie);
	cr_assert_eq(h.lock_depth, 2);
	h.port.unlock(h.port.cookie);
	h.port.unlock(h.port.cookie);
	cr_assert_eq(h.lock_depth, 0);
	kmm_host_fini(&h);
}
