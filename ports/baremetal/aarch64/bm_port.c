// SPDX-License-Identifier: BSD-2-Clause
/*
 * AArch64 kmm_port for a bare-metal kernel at EL1 or EL2 (see bm_port.h).
 *
 * TLB maintenance follows the port contract of kmm/port.h: every TLBI is
 * preceded by DSB ISHST (the invalid descriptor kmm just wrote must be
 * visible to the walkers before the invalidation), and tlb_sync is
 * DSB ISH; ISB. Stage-2 invalidation by IPA also drops the combined
 * stage 1+2 entries with TLBI VMALLE1IS, as the Arm ARM requires after
 * changing a stage-2 entry. TLBIs by IPA or for EL1 act on the VMID in
 * VTTBR_EL2; the port switches it to the context's VMID around them when
 * it runs at EL2.
 */
#include "bm_port.h"

#include "../bm.h"
#include "sysreg.h"

#define PAGE_SHIFT 12
#define VTTBR_VMID_SHIFT 48
#define VTTBR_VMID_MASK (0xffull << VTTBR_VMID_SHIFT)

static struct bm_port_stats *stats_of(void *cookie)
{
	return cookie;
}

static void tlbi_prepare(void)
{
	__asm__ volatile("dsb ishst" ::: "memory");
}

/*
 * At EL2, makes the VMID of @ctx current for a stage-2 or EL1 TLBI and
 * returns the VTTBR_EL2 value to restore; at EL1 does nothing.
 */
static uint64_t vmid_enter(const struct kmm_tlb_ctx *ctx)
{
	uint64_t old;
	uint64_t want;

	if (bm_current_el() != 2 || ctx->regime != KMM_REGIME_STAGE2)
		return 0;
	old = bm_read_sysreg(vttbr_el2);
	want = (old & ~VTTBR_VMID_MASK) |
	       ((uint64_t)(ctx->id & 0xff) << VTTBR_VMID_SHIFT);
	if (want != old) {
		bm_write_sysreg(vttbr_el2, want);
		bm_isb();
	}
	return old;
}

static void vmid_leave(const struct kmm_tlb_ctx *ctx, uint64_t old)
{
	if (bm_current_el() != 2 || ctx->regime != KMM_REGIME_STAGE2)
		return;
	if (bm_read_sysreg(vttbr_el2) != old) {
		bm_write_sysreg(vttbr_el2, old);
		bm_isb();
	}
}

static void port_tlb_flush_all(void *cookie, const struct kmm_tlb_ctx *ctx)
{
	struct bm_port_stats *st = stats_of(cookie);
	uint64_t saved;

	tlbi_prepare();
	switch (ctx->regime) {
	case KMM_REGIME_EL2:
		__asm__ volatile("tlbi alle2is" ::: "memory");
		break;
	case KMM_REGIME_STAGE2:
		saved = vmid_enter(ctx);
		__asm__ volatile("tlbi vmalls12e1is" ::: "memory");
		__asm__ volatile("dsb ish" ::: "memory");
		vmid_leave(ctx, saved);
		break;
	default:
		/*
		 * Global entries carry no ASID, so TLBI ASIDE1IS would keep
		 * them: drop the whole EL1&0 regime of this VMID.
		 */
		__asm__ volatile("tlbi vmalle1is" ::: "memory");
		break;
	}
	if (st)
		st->tlbi_all++;
}

static void tlbi_one(const struct kmm_tlb_ctx *ctx, kmm_vaddr_t va,
		     bool leaf_only)
{
	uint64_t arg = (va >> PAGE_SHIFT) & 0xfffffffffffull;

	switch (ctx->regime) {
	case KMM_REGIME_EL2:
		if (leaf_only)
			__asm__ volatile("tlbi vale2is, %0" ::"r"(arg)
					 : "memory");
		else
			__asm__ volatile("tlbi vae2is, %0" ::"r"(arg)
					 : "memory");
		break;
	case KMM_REGIME_STAGE2:
		/* arg is IPA[51:12]. */
		if (leaf_only)
			__asm__ volatile("tlbi ipas2le1is, %0" ::"r"(arg)
					 : "memory");
		else
			__asm__ volatile("tlbi ipas2e1is, %0" ::"r"(arg)
					 : "memory");
		break;
	default:
		arg |= (uint64_t)ctx->id << 48;
		if (leaf_only)
			__asm__ volatile("tlbi vale1is, %0" ::"r"(arg)
					 : "memory");
		else
			__asm__ volatile("tlbi vae1is, %0" ::"r"(arg)
					 : "memory");
		break;
	}
}

/* Stage-1 entries of the guest may cache a stage-2 result: drop them. */
static void stage2_finish(const struct kmm_tlb_ctx *ctx)
{
	if (ctx->regime != KMM_REGIME_STAGE2)
		return;
	__asm__ volatile("dsb ish\n\ttlbi vmalle1is" ::: "memory");
}

static void port_tlb_flush_range(void *cookie, const struct kmm_tlb_ctx *ctx,
				 kmm_vaddr_t va, size_t size, size_t granule,
				 bool leaf_only)
{
	struct bm_port_stats *st = stats_of(cookie);
	uint64_t saved;
	kmm_vaddr_t end = va + size;

	if (granule < ((size_t)1 << PAGE_SHIFT))
		granule = (size_t)1 << PAGE_SHIFT;
	tlbi_prepare();
	saved = vmid_enter(ctx);
	for (; va < end; va += granule) {
		tlbi_one(ctx, va, leaf_only);
		if (st)
			st->tlbi_pages++;
	}
	stage2_finish(ctx);
	__asm__ volatile("dsb ish" ::: "memory");
	vmid_leave(ctx, saved);
}

static void port_tlb_add_page(void *cookie, const struct kmm_tlb_ctx *ctx,
			      kmm_vaddr_t va, size_t granule, bool leaf_only)
{
	struct bm_port_stats *st = stats_of(cookie);
	uint64_t saved;

	(void)granule;
	tlbi_prepare();
	saved = vmid_enter(ctx);
	tlbi_one(ctx, va, leaf_only);
	stage2_finish(ctx);
	/* Complete it before the VMID changes back; tlb_sync adds the ISB. */
	__asm__ volatile("dsb ish" ::: "memory");
	vmid_leave(ctx, saved);
	if (st)
		st->tlbi_pages++;
}

static void port_tlb_sync(void *cookie, const struct kmm_tlb_ctx *ctx)
{
	struct bm_port_stats *st = stats_of(cookie);

	(void)ctx;
	__asm__ volatile("dsb ish\n\tisb" ::: "memory");
	if (st)
		st->syncs++;
}

static size_t dcache_line(void)
{
	/* CTR_EL0.DminLine: log2 of the smallest line in words. */
	return (size_t)4 << ((bm_read_sysreg(ctr_el0) >> 16) & 0xf);
}

void bm_dcache_clean_inval(const void *ptr, size_t size)
{
	size_t line = dcache_line();
	uintptr_t p = (uintptr_t)ptr & ~(uintptr_t)(line - 1);
	uintptr_t end = (uintptr_t)ptr + size;

	for (; p < end; p += line)
		__asm__ volatile("dc civac, %0" ::"r"(p) : "memory");
	__asm__ volatile("dsb ish" ::: "memory");
}

/*
 * Clean and invalidate rather than clean only: tables are written both
 * with the MMU off (non-cacheable) and on, and a walker with cacheable
 * walk attributes must never find a stale line.
 */
static void port_clean_range(void *cookie, const void *ptr, size_t size)
{
	struct bm_port_stats *st = stats_of(cookie);

	bm_dcache_clean_inval(ptr, size);
	if (st)
		st->cleaned_bytes += size;
}

/* RAM is mapped VA == PA, so a physical address is its own pointer. */
static void *port_pa_to_ptr(void *cookie, kmm_paddr_t pa)
{
	(void)cookie;
	return (void *)(uintptr_t)pa;
}

void bm_port_init(struct kmm_port *port, struct bm_port_stats *stats)
{
	*port = (struct kmm_port){
		.cookie = stats,
		.tlb_flush_all = port_tlb_flush_all,
		.tlb_flush_range = port_tlb_flush_range,
		.tlb_add_page = port_tlb_add_page,
		.tlb_sync = port_tlb_sync,
		.clean_range = port_clean_range,
		.pa_to_ptr = port_pa_to_ptr,
		.log = bm_port_log,
	};
}
