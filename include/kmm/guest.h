/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file guest.h
 * @brief Owners: the top context struct kmm, guest creation with per-kind
 *        quotas, guest-scoped allocation calls, usage reports and a
 *        preemptible teardown that gives everything back.
 *
 * A struct kmm ties together the contexts a kernel or hypervisor already
 * set up: the page allocator, the vaspace its dynamic regions take VA
 * from, the address spaces that carry dynamic regions (the kernel's own
 * map, an SHM window), an optional SMMU, and a table of owners. Owner 0 is
 * the kernel; it is always active and never created or destroyed. Owners
 * 1 .. KMM_CONFIG_MAX_OWNERS - 1 are guests, each FREE, ACTIVE or DYING.
 *
 * @par Quotas, one per kind of resource
 * kmm_init() sets every guest id's quota to zero in the page allocator,
 * the vaspace and every address space's regions, so an id that is not an
 * active guest can hold nothing, whoever calls the modules.
 * kmm_guest_create() pushes the guest's limits into each module:
 * - pages: kmm_pages_set_quota() with @c pages + @c table_pages, since the
 *   page allocator charges the guest for its stage-2 table pages too; the
 *   guest-scoped kmm_guest_alloc_pages() also holds the data frames alone
 *   to @c pages;
 * - table pages: handed to the stage-2 constructor, which bounds its
 *   backend with it (the VMSA backend's kmm_vmsa_config.max_table_pages
 *   refuses table allocations beyond it with KMM_EQUOTA);
 * - VA bytes: kmm_vaspace_set_quota();
 * - regions: kmm_regions_set_quota() in every address space;
 * - MPU slots: handed to the stage-2 constructor (kmm_pmsa_guest_init()
 *   takes it as the set's slot quota).
 *
 * @par The stage 2, without MMU-versus-MPU conditionals
 * The guest layer does not know which backend runs. The caller hands
 * kmm_init() a struct kmm_guest_s2_ops: a constructor that builds guest
 * @c id's stage 2 within its quota (VMSA: a stage-2 struct kmm_vmsa with
 * its own root and VMID; PMSA: a guest region set) and returns its struct
 * kmm_as, and a usage hook that reports table pages and MPU slots. The
 * teardown unmaps it with the generic kmm_as_destroy(): for VMSA that is
 * every entry cleared, one whole-VMID invalidation, then every table page
 * freed.
 *
 * @par Teardown
 * kmm_guest_destroy_step() moves a guest to DYING (its quotas drop to zero
 * at once, so every module refuses it new resources) and then does one
 * bounded phase of the teardown per call, in an order that is safe for DMA
 * and TLBs:
 * 1. SMMU: every stream ID it holds is set to abort and its VMID
 *    invalidated in the SMMU, so no device can reach its memory any more;
 * 2. regions: kmm_region_free_all() in each address space, one per call
 *    (each region is unmapped, TLB invalidation batched by the backend);
 * 3. stage 2: its own regions, then kmm_as_destroy();
 * 4. VA: kmm_vaspace_free_all();
 * 5. pages: kmm_pages_free_all(); the page allocator scrubs each frame
 *    before it hands it to anyone again.
 *
 * Each phase costs time proportional to what the guest holds of that kind
 * (every module keeps a list per owner), never to what others hold. A
 * phase is the unit of preemption: the modules offer no "free up to n"
 * call, so a guest holding a million blocks frees them in one step.
 *
 * @par Guest-scoped calls
 * kmm_guest_alloc_pages(), kmm_guest_vmap(), kmm_guest_shm_register(),
 * kmm_guest_ioremap() and kmm_guest_map() check under the port lock that
 * the guest is ACTIVE (KMM_EBUSY while DYING, KMM_ENOENT when FREE), and
 * that every frame a guest maps is its own: a frame inside the page
 * allocator's span must be held by the guest (else KMM_EPERM); frames
 * outside the span (normal-world memory, device ranges) are the caller's
 * policy. Callers that use the modules directly call kmm_guest_check()
 * first, under the port lock.
 *
 * @par Locking
 * Every context handed to kmm_init() must use the same port lock (the
 * same port, or a wrapper such as struct kmm_smmu_tlb_port that forwards
 * to it). Every function takes it; it is recursive (kmm/port.h).
 */
#ifndef KMM_GUEST_H
#define KMM_GUEST_H

#include "kmm/as.h"
#include "kmm/errors.h"
#include "kmm/pages.h"
#include "kmm/port.h"
#include "kmm/types.h"
#include "kmm/vaspace.h"

struct kmm_smmu;

/** Address spaces with dynamic regions one struct kmm can tear down. */
#define KMM_MAX_SPACES 4

/** States of an owner id. */
enum kmm_guest_state {
	KMM_GUEST_FREE = 0, /**< Not a guest; holds nothing. */
	KMM_GUEST_ACTIVE = 1, /**< Created; may allocate within its quota. */
	KMM_GUEST_DYING = 2, /**< Being torn down; allocations: KMM_EBUSY. */
};

/** Per-kind limits of one guest. */
struct kmm_guest_quota {
	uint64_t pages; /**< Frames of memory, table pages not counted. */
	uint64_t table_pages; /**< Frames of stage-2 translation tables. */
	uint64_t va_bytes; /**< Bytes of the struct kmm's vaspace. */
	uint32_t regions; /**< Dynamic regions, in each address space. */
	uint32_t mpu_slots; /**< MPU slots of its stage-2 region set. */
};

/** What one owner holds, as reported by kmm_guest_usage(). */
struct kmm_guest_usage {
	uint64_t pages; /**< Frames held, table pages not counted. */
	uint64_t table_pages; /**< Frames of its stage-2 tables. */
	uint64_t va_bytes; /**< Bytes of VA ranges in the vaspace. */
	uint32_t regions; /**< Dynamic regions, all address spaces. */
	uint32_t mpu_slots; /**< MPU regions of its stage-2 region set. */
	uint32_t streams; /**< SMMU stream IDs held. */
};

/**
 * How a guest's stage 2 is built and measured: the one place that knows
 * which backend runs. Both hooks are called with the port lock held.
 */
struct kmm_guest_s2_ops {
	/**
	 * Builds the stage 2 of guest @p id within @p quota (table pages,
	 * MPU slots), owned by @p id, and returns its address space in
	 * *@p s2. Called after the guest's page quota is in place, so that
	 * a root table is charged to the guest. On error it leaves nothing
	 * behind and its code is returned by kmm_guest_create().
	 */
	int (*create)(void *ctx, kmm_owner_t id,
		      const struct kmm_guest_quota *quota, struct kmm_as **s2);
	/**
	 * Reports the frames of translation tables and the MPU regions
	 * @p s2 holds now.
	 */
	void (*usage)(void *ctx, const struct kmm_as *s2, uint64_t *table_pages,
		      uint32_t *mpu_slots);
};

/** What kmm_init() ties together; read once. */
struct kmm_config {
	/** Environment callbacks; the lock every context shares. */
	const struct kmm_port *port;
	/** The page allocator. Required. */
	struct kmm_pages *pages;
	/** The vaspace dynamic regions take VA from, or NULL. */
	struct kmm_vaspace *vs;
	/** Address spaces with dynamic regions (kmm_regions_init() done). */
	struct kmm_as *spaces[KMM_MAX_SPACES];
	/** Entries used in @c spaces. */
	unsigned int nspaces;
	/** The SMMU whose stream IDs guests hold, or NULL. */
	struct kmm_smmu *smmu;
	/**
	 * kmm_smmu_release_all() when @c smmu is set. Passed by the caller
	 * (the SMMU code is built with the VMSA backend only), so that
	 * guest.c links in every build.
	 */
	int (*smmu_release_all)(struct kmm_smmu *smmu, kmm_owner_t owner);
	/** Stage-2 constructor and usage hook; NULL: guests have none. */
	const struct kmm_guest_s2_ops *s2_ops;
	/** First argument of the @c s2_ops hooks. */
	void *s2_ctx;
};

/** Teardown phases of a DYING guest, in order. */
enum kmm_guest_phase {
	KMM_GUEST_PHASE_STREAMS = 0, /**< SMMU streams to abort. */
	KMM_GUEST_PHASE_REGIONS = 1, /**< Regions, one address space a step. */
	KMM_GUEST_PHASE_S2 = 2, /**< The stage 2. */
	KMM_GUEST_PHASE_VA = 3, /**< VA ranges. */
	KMM_GUEST_PHASE_PAGES = 4, /**< Pages. */
	KMM_GUEST_PHASE_DONE = 5, /**< Nothing left: the id becomes FREE. */
};

/** One entry of the owner table. */
struct kmm_guest {
	uint8_t state; /**< enum kmm_guest_state. */
	uint8_t phase; /**< DYING: the next enum kmm_guest_phase. */
	uint8_t space; /**< DYING, REGIONS phase: next address space. */
	struct kmm_guest_quota quota; /**< Limits set at creation. */
	struct kmm_as *s2; /**< Its stage 2, or NULL. */
};

/** Work done by teardowns, for tests and benchmarks. */
struct kmm_guest_stats {
	uint64_t steps; /**< kmm_guest_destroy_step() calls that did work. */
	uint64_t regions; /**< Regions removed. */
	uint64_t blocks; /**< Page blocks freed (table pages not counted). */
	uint64_t streams; /**< Stream IDs set to abort. */
	uint64_t va_ranges; /**< VA ranges freed directly (not via regions). */
};

/** The top context. Fields are private to guest.c. */
struct kmm {
	struct kmm_config cfg; /**< What kmm_init() was given. */
	/** The owner table; entry 0 (the kernel) is always ACTIVE. */
	struct kmm_guest owners[KMM_CONFIG_MAX_OWNERS];
	struct kmm_guest_stats stats; /**< Teardown work, cumulative. */
};

/**
 * Sets up @p k over the contexts in @p cfg and sets the quota of every
 * guest id (1 .. KMM_CONFIG_MAX_OWNERS - 1) to zero in each of them. The
 * kernel (owner 0) keeps its limits.
 * @return 0; KMM_EINVAL (NULL @p k, @p cfg or @p cfg->pages, more than
 *         KMM_MAX_SPACES spaces, a NULL space or one without regions,
 *         @c s2_ops without both hooks, @c smmu without
 *         @c smmu_release_all), KMM_EBUSY (a guest id already
 *         holds pages, VA or regions in one of the contexts; nothing was
 *         changed).
 */
int kmm_init(struct kmm *k, const struct kmm_config *cfg);

/**
 * Creates guest @p id with @p quota and its stage 2 (when the config has
 * @c s2_ops). All or nothing: on error the id is FREE and every quota is
 * back at zero.
 * @param k     the context.
 * @param id    1 .. KMM_CONFIG_MAX_OWNERS - 1.
 * @param quota per-kind limits (copied).
 * @param s2    out: the guest's stage 2, or NULL when not wanted.
 * @return 0; KMM_EINVAL (NULL @p k or @p quota, @p id is the kernel or out
 *         of range), KMM_EEXIST (@p id is ACTIVE), KMM_EBUSY (@p id is
 *         DYING), or the code of the stage-2 constructor.
 */
int kmm_guest_create(struct kmm *k, kmm_owner_t id,
		     const struct kmm_guest_quota *quota, struct kmm_as **s2);

/**
 * Does one bounded phase of the teardown of guest @p id (see the file
 * comment), moving an ACTIVE guest to DYING first.
 * @return 0 when the guest is gone (FREE, holding nothing); KMM_EBUSY while
 *         work remains (call again, e.g. after a preemption point);
 *         KMM_EINVAL (NULL @p k, @p id is the kernel or out of range),
 *         KMM_ENOENT (@p id is FREE); a module's code if one failed (the
 *         guest stays DYING at that phase).
 */
int kmm_guest_destroy_step(struct kmm *k, kmm_owner_t id);

/**
 * Tears guest @p id down completely: kmm_guest_destroy_step() until it
 * returns something other than KMM_EBUSY.
 * @return as kmm_guest_destroy_step(), never KMM_EBUSY.
 */
int kmm_guest_destroy(struct kmm *k, kmm_owner_t id);

/**
 * kmm_guest_destroy() asked for by owner @p caller: only the kernel, or
 * the guest itself, may end a guest.
 * @return as kmm_guest_destroy(); KMM_EPERM when @p caller is another
 *         guest (nothing changed); KMM_EINVAL also for a bad @p caller.
 */
int kmm_guest_destroy_by(struct kmm *k, kmm_owner_t caller, kmm_owner_t id);

/**
 * Tells whether @p id may get new resources now. Callers that use the
 * modules directly for a guest call it under the port lock.
 * @return 0 (the kernel, or an ACTIVE guest); KMM_EINVAL (NULL @p k, id
 *         out of range), KMM_ENOENT (FREE), KMM_EBUSY (DYING).
 */
int kmm_guest_check(const struct kmm *k, kmm_owner_t id);

/**
 * Reports the state of owner @p id (enum kmm_guest_state), or KMM_EINVAL.
 */
int kmm_guest_state(const struct kmm *k, kmm_owner_t id);

/**
 * Reports what owner @p id holds in every module of @p k, whatever its
 * state.
 * @return 0; KMM_EINVAL (NULL argument, id out of range).
 */
int kmm_guest_usage(const struct kmm *k, kmm_owner_t id,
		    struct kmm_guest_usage *usage);

/**
 * Returns the stage 2 of guest @p id, or NULL (FREE, no stage 2, bad id).
 */
struct kmm_as *kmm_guest_s2(const struct kmm *k, kmm_owner_t id);

/**
 * Allocates 2^@p order frames for guest @p id, within its @c pages quota
 * (table pages not counted).
 * @return 0; KMM_EINVAL, KMM_ENOENT, KMM_EBUSY (as kmm_guest_check()),
 *         KMM_EQUOTA, KMM_ENOMEM (as kmm_pages_alloc()).
 */
int kmm_guest_alloc_pages(struct kmm *k, kmm_owner_t id, unsigned int order,
			  unsigned int flags, kmm_paddr_t *pa);

/**
 * Frees the block at @p pa that guest @p id holds (any state: a DYING
 * guest may give back).
 * @return as kmm_pages_free(): KMM_EPERM when another owner holds it.
 */
int kmm_guest_free_pages(struct kmm *k, kmm_owner_t id, kmm_paddr_t pa,
			 unsigned int order);

/**
 * kmm_vmap() into address space @c spaces[@p space] for guest @p id, after
 * checking that the guest is ACTIVE and that every page is its own (or
 * outside the page allocator's span).
 * @return 0; KMM_EINVAL (also a bad @p space), KMM_ENOENT, KMM_EBUSY,
 *         KMM_EPERM (a page of the span it does not hold); then the codes
 *         of kmm_vmap().
 */
int kmm_guest_vmap(struct kmm *k, kmm_owner_t id, unsigned int space,
		   const kmm_paddr_t *pages, size_t n, kmm_attr_t attr,
		   kmm_vaddr_t *va);

/**
 * kmm_shm_register() with the checks of kmm_guest_vmap().
 * @return as kmm_guest_vmap().
 */
int kmm_guest_shm_register(struct kmm *k, kmm_owner_t id, unsigned int space,
			   const kmm_paddr_t *pages, size_t n, kmm_vaddr_t *va);

/**
 * kmm_ioremap() with the checks of kmm_guest_vmap() for the range.
 * @return as kmm_guest_vmap().
 */
int kmm_guest_ioremap(struct kmm *k, kmm_owner_t id, unsigned int space,
		      kmm_paddr_t pa, size_t size, kmm_attr_t attr,
		      kmm_vaddr_t *va);

/**
 * kmm_vunmap() of guest @p id's region at @p va in @c spaces[@p space].
 * @return as kmm_vunmap(); KMM_EINVAL also for a bad @p space.
 */
int kmm_guest_vunmap(struct kmm *k, kmm_owner_t id, unsigned int space,
		     kmm_vaddr_t va);

/**
 * Maps [@p ipa, @p ipa + @p size) to [@p pa, @p pa + @p size) in guest
 * @p id's stage 2 (kmm_map()), after checking that the guest is ACTIVE
 * and that every frame of the range is its own or outside the span.
 * @return 0; KMM_EINVAL (no stage 2, zero size, wrapping range),
 *         KMM_ENOENT, KMM_EBUSY, KMM_EPERM; then the codes of kmm_map()
 *         (KMM_EQUOTA when the table pages would exceed the quota).
 */
int kmm_guest_map(struct kmm *k, kmm_owner_t id, kmm_vaddr_t ipa,
		  kmm_paddr_t pa, size_t size, kmm_attr_t attr);

/**
 * Unmaps [@p ipa, @p ipa + @p size) from guest @p id's stage 2.
 * @return as kmm_unmap(); KMM_EINVAL also when @p id has no stage 2,
 *         KMM_ENOENT when it is FREE.
 */
int kmm_guest_unmap(struct kmm *k, kmm_owner_t id, kmm_vaddr_t ipa,
		    size_t size);

#endif /* KMM_GUEST_H */
