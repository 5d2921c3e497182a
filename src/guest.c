// SPDX-License-Identifier: BSD-2-Clause
/*
 * Owners: the owner table of struct kmm, guest creation with quotas pushed
 * into every module, guest-scoped allocation calls and the phased teardown
 * (see kmm/guest.h for the model).
 *
 * Invariants:
 * - owners[0] (the kernel) is ACTIVE and never changes state.
 * - A FREE guest id has quota zero in the page allocator, the vaspace and
 *   every address space's regions, no stage 2, and holds nothing.
 * - A DYING guest has quota zero everywhere as well, so no module hands it
 *   anything new while its teardown runs; what it holds only shrinks.
 * - owners[id].s2 is non-NULL only while the stage 2 exists (ACTIVE, or
 *   DYING before the S2 phase).
 * Every state change happens under the port lock.
 */
#include "kmm/guest.h"

#include "kmm/region.h"
#include "kmm/smmu.h"
#include "util.h"

static bool guest_id_ok(kmm_owner_t id)
{
	return id != KMM_OWNER_KERNEL && id < KMM_CONFIG_MAX_OWNERS;
}

static void lock(const struct kmm *k)
{
	kmm_port_lock(k->cfg.port);
}

static void unlock(const struct kmm *k)
{
	kmm_port_unlock(k->cfg.port);
}

/*
 * Sets the module quotas of @id; @q NULL means zero for every kind. Setting
 * a quota cannot fail for a valid owner, so this never half applies.
 */
static void push_quota(struct kmm *k, kmm_owner_t id,
		       const struct kmm_guest_quota *q)
{
	uint64_t pages = 0, va = 0;
	uint32_t regions = 0;

	if (q != NULL) {
		pages = q->pages + q->table_pages;
		if (pages < q->pages)
			pages = KMM_PAGES_NO_QUOTA;
		va = q->va_bytes;
		regions = q->regions;
	}
	(void)kmm_pages_set_quota(k->cfg.pages, id, pages);
	if (k->cfg.vs != NULL)
		(void)kmm_vaspace_set_quota(k->cfg.vs, id, va);
	for (unsigned int i = 0; i < k->cfg.nspaces; i++)
		(void)kmm_regions_set_quota(k->cfg.spaces[i], id, regions);
}

int kmm_init(struct kmm *k, const struct kmm_config *cfg)
{
	if (k == NULL || cfg == NULL || cfg->pages == NULL ||
	    cfg->nspaces > KMM_MAX_SPACES)
		return KMM_EINVAL;
	for (unsigned int i = 0; i < cfg->nspaces; i++)
		if (cfg->spaces[i] == NULL || cfg->spaces[i]->regions == NULL)
			return KMM_EINVAL;
	if (cfg->s2_ops != NULL &&
	    (cfg->s2_ops->create == NULL || cfg->s2_ops->usage == NULL))
		return KMM_EINVAL;
	if (cfg->smmu != NULL && cfg->smmu_release_all == NULL)
		return KMM_EINVAL;

	kmm_port_lock(cfg->port);
	for (kmm_owner_t id = 1; id < KMM_CONFIG_MAX_OWNERS; id++) {
		uint64_t pages = 0, va = 0;

		(void)kmm_pages_usage(cfg->pages, id, &pages);
		if (cfg->vs != NULL)
			(void)kmm_vaspace_usage(cfg->vs, id, &va);
		if (pages != 0 || va != 0) {
			kmm_port_unlock(cfg->port);
			return KMM_EBUSY;
		}
	}
	kmm_memzero(k, sizeof(*k));
	k->cfg = *cfg;
	k->owners[KMM_OWNER_KERNEL].state = KMM_GUEST_ACTIVE;
	for (kmm_owner_t id = 1; id < KMM_CONFIG_MAX_OWNERS; id++)
		push_quota(k, id, NULL);
	kmm_port_unlock(cfg->port);
	return KMM_OK;
}

int kmm_guest_create(struct kmm *k, kmm_owner_t id,
		     const struct kmm_guest_quota *quota, struct kmm_as **s2)
{
	struct kmm_guest *g;
	struct kmm_as *as = NULL;
	int ret = KMM_OK;

	if (k == NULL || quota == NULL || !guest_id_ok(id))
		return KMM_EINVAL;
	lock(k);
	g = &k->owners[id];
	if (g->state != KMM_GUEST_FREE) {
		ret = g->state == KMM_GUEST_ACTIVE ? KMM_EEXIST : KMM_EBUSY;
		goto out;
	}
	/* Quotas first: the stage-2 root is charged within them. */
	push_quota(k, id, quota);
	if (k->cfg.s2_ops != NULL) {
		ret = k->cfg.s2_ops->create(k->cfg.s2_ctx, id, quota, &as);
		if (ret == KMM_OK && as == NULL)
			ret = KMM_EINVAL;
		if (ret) {
			push_quota(k, id, NULL);
			goto out;
		}
	}
	g->quota = *quota;
	g->s2 = as;
	g->phase = KMM_GUEST_PHASE_STREAMS;
	g->space = 0;
	g->state = KMM_GUEST_ACTIVE;
	if (s2 != NULL)
		*s2 = as;
out:
	unlock(k);
	return ret;
}

/* Blocks on @id's page list, read from the allocator's per-owner account. */
static uint64_t blocks_of(const struct kmm *k, kmm_owner_t id)
{
	return k->cfg.pages->owners[id].blocks;
}

/* One phase of the teardown; returns 0 when it finished its phase. */
static int teardown_phase(struct kmm *k, kmm_owner_t id)
{
	struct kmm_guest *g = &k->owners[id];
	int ret = KMM_OK;

	switch (g->phase) {
	case KMM_GUEST_PHASE_STREAMS:
		/* Devices first: once their STEs abort, no DMA can reach a
		 * page we are about to unmap or free. */
		if (k->cfg.smmu != NULL) {
			ret = k->cfg.smmu_release_all(k->cfg.smmu, id);
			if (ret < 0)
				return ret;
			k->stats.streams += (uint64_t)ret;
		}
		break;
	case KMM_GUEST_PHASE_REGIONS:
		if (g->space < k->cfg.nspaces) {
			ret = kmm_region_free_all(k->cfg.spaces[g->space], id);
			if (ret < 0)
				return ret;
			k->stats.regions += (uint64_t)ret;
			g->space++;
			/* Stay in this phase until every space is done. */
			if (g->space < k->cfg.nspaces)
				return KMM_EBUSY;
		}
		break;
	case KMM_GUEST_PHASE_S2:
		if (g->s2 != NULL) {
			if (g->s2->regions != NULL) {
				ret = kmm_region_free_all(g->s2, id);
				if (ret < 0)
					return ret;
				k->stats.regions += (uint64_t)ret;
			}
			/* Every entry cleared, one whole-VMID invalidation,
			 * then the table pages go back (charged to @id). */
			ret = kmm_as_destroy(g->s2);
			if (ret < 0)
				return ret;
			g->s2 = NULL;
		}
		break;
	case KMM_GUEST_PHASE_VA:
		if (k->cfg.vs != NULL) {
			struct kmm_vaspace_node *n;

			for (n = k->cfg.vs->owners[id].ranges; n != NULL;
			     n = n->used.next)
				k->stats.va_ranges++;
			ret = kmm_vaspace_free_all(k->cfg.vs, id);
			if (ret < 0)
				return ret;
		}
		break;
	case KMM_GUEST_PHASE_PAGES:
		k->stats.blocks += blocks_of(k, id);
		ret = kmm_pages_free_all(k->cfg.pages, id);
		if (ret < 0)
			return ret;
		break;
	default:
		break;
	}
	g->phase++;
	return KMM_OK;
}

int kmm_guest_destroy_step(struct kmm *k, kmm_owner_t id)
{
	struct kmm_guest *g;
	int ret;

	if (k == NULL || !guest_id_ok(id))
		return KMM_EINVAL;
	lock(k);
	g = &k->owners[id];
	if (g->state == KMM_GUEST_FREE) {
		unlock(k);
		return KMM_ENOENT;
	}
	if (g->state == KMM_GUEST_ACTIVE) {
		/* From now on every module refuses @id anything new. */
		push_quota(k, id, NULL);
		g->state = KMM_GUEST_DYING;
		g->phase = KMM_GUEST_PHASE_STREAMS;
		g->space = 0;
	}
	k->stats.steps++;
	ret = teardown_phase(k, id);
	if (ret == KMM_OK && g->phase < KMM_GUEST_PHASE_DONE)
		ret = KMM_EBUSY;
	if (ret == KMM_OK) {
		kmm_memzero(g, sizeof(*g));
		g->state = KMM_GUEST_FREE;
	}
	unlock(k);
	return ret;
}

int kmm_guest_destroy(struct kmm *k, kmm_owner_t id)
{
	int ret;

	do {
		ret = kmm_guest_destroy_step(k, id);
	} while (ret == KMM_EBUSY);
	return ret;
}

int kmm_guest_destroy_by(struct kmm *k, kmm_owner_t caller, kmm_owner_t id)
{
	if (k == NULL || caller >= KMM_CONFIG_MAX_OWNERS || !guest_id_ok(id))
		return KMM_EINVAL;
	if (caller != KMM_OWNER_KERNEL && caller != id)
		return KMM_EPERM;
	return kmm_guest_destroy(k, id);
}

static int check_locked(const struct kmm *k, kmm_owner_t id)
{
	switch (k->owners[id].state) {
	case KMM_GUEST_ACTIVE:
		return KMM_OK;
	case KMM_GUEST_DYING:
		return KMM_EBUSY;
	default:
		return KMM_ENOENT;
	}
}

/* Checks a guest id and takes the lock; on error the lock is not held. */
static int enter(const struct kmm *k, kmm_owner_t id)
{
	int ret;

	if (k == NULL || !guest_id_ok(id))
		return KMM_EINVAL;
	lock(k);
	ret = check_locked(k, id);
	if (ret)
		unlock(k);
	return ret;
}

int kmm_guest_check(const struct kmm *k, kmm_owner_t id)
{
	int ret;

	/* The kernel is always active. */
	if (k != NULL && id == KMM_OWNER_KERNEL)
		return KMM_OK;
	ret = enter(k, id);
	if (ret == KMM_OK)
		unlock(k);
	return ret;
}

int kmm_guest_state(const struct kmm *k, kmm_owner_t id)
{
	if (k == NULL || id >= KMM_CONFIG_MAX_OWNERS)
		return KMM_EINVAL;
	return k->owners[id].state;
}

struct kmm_as *kmm_guest_s2(const struct kmm *k, kmm_owner_t id)
{
	struct kmm_as *as;

	if (k == NULL || id >= KMM_CONFIG_MAX_OWNERS)
		return NULL;
	lock(k);
	as = k->owners[id].s2;
	unlock(k);
	return as;
}

static uint32_t streams_of(const struct kmm_smmu *smmu, kmm_owner_t id)
{
	uint32_t n = 0;

	if (smmu == NULL)
		return 0;
	for (uint32_t s = smmu->owners[id].head; s != KMM_SMMU_NIL;
	     s = smmu->streams[s].next)
		n++;
	return n;
}

/* What the stage 2 of @g holds; leaves the outputs alone without one. */
static void s2_usage(const struct kmm *k, const struct kmm_guest *g,
		     uint64_t *tables, uint32_t *slots)
{
	if (g->s2 != NULL && k->cfg.s2_ops != NULL)
		k->cfg.s2_ops->usage(k->cfg.s2_ctx, g->s2, tables, slots);
}

int kmm_guest_usage(const struct kmm *k, kmm_owner_t id,
		    struct kmm_guest_usage *usage)
{
	const struct kmm_guest *g;
	uint64_t pages = 0;

	if (k == NULL || usage == NULL || id >= KMM_CONFIG_MAX_OWNERS)
		return KMM_EINVAL;
	lock(k);
	g = &k->owners[id];
	kmm_memzero(usage, sizeof(*usage));
	s2_usage(k, g, &usage->table_pages, &usage->mpu_slots);
	(void)kmm_pages_usage(k->cfg.pages, id, &pages);
	usage->pages = pages - kmm_min_u64(pages, usage->table_pages);
	if (k->cfg.vs != NULL)
		(void)kmm_vaspace_usage(k->cfg.vs, id, &usage->va_bytes);
	for (unsigned int i = 0; i < k->cfg.nspaces; i++)
		usage->regions += k->cfg.spaces[i]->regions->owners[id].count;
	if (g->s2 != NULL && g->s2->regions != NULL)
		usage->regions += g->s2->regions->owners[id].count;
	usage->streams = streams_of(k->cfg.smmu, id);
	unlock(k);
	return KMM_OK;
}

/* ---------------------------------------------------------------------
 * Guest-scoped calls.
 */

/* Frames of the guest's stage-2 tables (0 without a stage 2). */
static uint64_t s2_tables(const struct kmm *k, kmm_owner_t id)
{
	uint64_t tables = 0;
	uint32_t slots = 0;

	s2_usage(k, &k->owners[id], &tables, &slots);
	return tables;
}

int kmm_guest_alloc_pages(struct kmm *k, kmm_owner_t id, unsigned int order,
			  unsigned int flags, kmm_paddr_t *pa)
{
	uint64_t held = 0, data;
	int ret;

	if (pa == NULL || order > KMM_CONFIG_PAGES_MAX_ORDER)
		return KMM_EINVAL;
	ret = enter(k, id);
	if (ret)
		return ret;
	(void)kmm_pages_usage(k->cfg.pages, id, &held);
	data = held - kmm_min_u64(held, s2_tables(k, id));
	if ((uint64_t)1 << order > k->owners[id].quota.pages ||
	    data > k->owners[id].quota.pages - ((uint64_t)1 << order))
		ret = KMM_EQUOTA;
	else
		ret = kmm_pages_alloc(k->cfg.pages, order, id, flags, pa);
	unlock(k);
	return ret;
}

int kmm_guest_free_pages(struct kmm *k, kmm_owner_t id, kmm_paddr_t pa,
			 unsigned int order)
{
	if (k == NULL || !guest_id_ok(id))
		return KMM_EINVAL;
	return kmm_pages_free(k->cfg.pages, pa, order, id);
}

/*
 * Checks that every frame of [pa, pa + size) the page allocator manages
 * is held by @id. Frames outside its span are the caller's policy.
 */
static int frames_owned(const struct kmm *k, kmm_owner_t id, kmm_paddr_t pa,
			uint64_t size)
{
	const struct kmm_pages *p = k->cfg.pages;
	kmm_paddr_t lo = p->base_pfn << KMM_CONFIG_PAGE_SHIFT;
	kmm_paddr_t hi = lo + (p->span_pages << KMM_CONFIG_PAGE_SHIFT);
	kmm_paddr_t a, end;

	if (size == 0 || kmm_range_wraps(pa, size))
		return KMM_EINVAL;
	/* Only the part inside the span is looked at, frame by frame. */
	a = kmm_max_u64(kmm_align_down(pa, KMM_PAGE_SIZE), lo);
	end = kmm_min_u64(pa + (size - 1), hi - 1);
	for (; a <= end; a += KMM_PAGE_SIZE) {
		kmm_owner_t o;

		if (kmm_pages_owner(p, a, &o) != KMM_OK || o != id)
			return KMM_EPERM;
	}
	return KMM_OK;
}

static int space_of(const struct kmm *k, unsigned int space, struct kmm_as **as)
{
	if (space >= k->cfg.nspaces)
		return KMM_EINVAL;
	*as = k->cfg.spaces[space];
	return KMM_OK;
}

static int pages_owned(const struct kmm *k, kmm_owner_t id,
		       const kmm_paddr_t *pages, size_t n)
{
	if (pages == NULL || n == 0)
		return KMM_EINVAL;
	for (size_t i = 0; i < n; i++) {
		int ret = frames_owned(k, id, pages[i], KMM_PAGE_SIZE);

		if (ret)
			return ret;
	}
	return KMM_OK;
}

/* The mapping guest_call() makes. */
enum guest_op {
	GUEST_VMAP, /* kmm_vmap() of a page list */
	GUEST_SHM, /* kmm_shm_register() of a page list */
	GUEST_IOREMAP, /* kmm_ioremap() of @pa[0], @n bytes */
};

/*
 * The guest-scoped mapping calls: enter (the guest is alive), check the
 * space and that every frame is the guest's, then map. @pa and @n are a
 * page list and its length, or for GUEST_IOREMAP a base and a byte size.
 */
static int guest_call(struct kmm *k, kmm_owner_t id, unsigned int space,
		      const kmm_paddr_t *pa, size_t n, kmm_attr_t attr,
		      enum guest_op op, kmm_vaddr_t *va)
{
	struct kmm_as *as;
	int ret = enter(k, id);

	if (ret)
		return ret;
	ret = space_of(k, space, &as);
	if (!ret)
		ret = op == GUEST_IOREMAP ? frames_owned(k, id, *pa, n) :
					    pages_owned(k, id, pa, n);
	if (!ret && op == GUEST_VMAP)
		ret = kmm_vmap(as, pa, n, attr, id, va);
	else if (!ret && op == GUEST_SHM)
		ret = kmm_shm_register(as, pa, n, id, va);
	else if (!ret)
		ret = kmm_ioremap(as, *pa, n, attr, id, va);
	unlock(k);
	return ret;
}

int kmm_guest_vmap(struct kmm *k, kmm_owner_t id, unsigned int space,
		   const kmm_paddr_t *pages, size_t n, kmm_attr_t attr,
		   kmm_vaddr_t *va)
{
	return guest_call(k, id, space, pages, n, attr, GUEST_VMAP, va);
}

int kmm_guest_shm_register(struct kmm *k, kmm_owner_t id, unsigned int space,
			   const kmm_paddr_t *pages, size_t n, kmm_vaddr_t *va)
{
	return guest_call(k, id, space, pages, n, 0, GUEST_SHM, va);
}

int kmm_guest_ioremap(struct kmm *k, kmm_owner_t id, unsigned int space,
		      kmm_paddr_t pa, size_t size, kmm_attr_t attr,
		      kmm_vaddr_t *va)
{
	return guest_call(k, id, space, &pa, size, attr, GUEST_IOREMAP, va);
}

int kmm_guest_vunmap(struct kmm *k, kmm_owner_t id, unsigned int space,
		     kmm_vaddr_t va)
{
	struct kmm_as *as;

	if (k == NULL || !guest_id_ok(id) || space_of(k, space, &as))
		return KMM_EINVAL;
	return kmm_vunmap(as, va, id);
}

int kmm_guest_map(struct kmm *k, kmm_owner_t id, kmm_vaddr_t ipa,
		  kmm_paddr_t pa, size_t size, kmm_attr_t attr)
{
	int ret = enter(k, id);

	if (ret)
		return ret;
	if (k->owners[id].s2 == NULL)
		ret = KMM_EINVAL;
	if (!ret)
		ret = frames_owned(k, id, pa, size);
	if (!ret)
		ret = kmm_map(k->owners[id].s2, ipa, pa, size, attr);
	unlock(k);
	return ret;
}

int kmm_guest_unmap(struct kmm *k, kmm_owner_t id, kmm_vaddr_t ipa, size_t size)
{
	struct kmm_as *s2;
	int ret;

	if (k == NULL || !guest_id_ok(id))
		return KMM_EINVAL;
	lock(k);
	s2 = k->owners[id].s2;
	if (k->owners[id].state == KMM_GUEST_FREE)
		ret = KMM_ENOENT;
	else if (s2 == NULL)
		ret = KMM_EINVAL;
	else
		ret = kmm_unmap(s2, ipa, size);
	unlock(k);
	return ret;
}
