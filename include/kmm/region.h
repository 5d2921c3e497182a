/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file region.h
 * @brief Dynamic regions (vmap, ioremap, shared-memory buffers) indexed by
 *        VA and by PA, with a fast phys_to_virt.
 *
 * A region is a VA range taken from a vaspace, mapped with one set of
 * attributes for one owner, and backed by physical runs: maximal sequences
 * of pages that are consecutive in both VA and PA. Two indexes are kept:
 *
 * - by VA: an intrusive red-black tree of regions (kmm_region_find(),
 *   kmm_virt_to_phys(), kmm_vunmap());
 * - by PA: a B+tree of runs keyed by their first PA. A leaf holds, for up to
 *   15 runs, the first PA, the last PA, the VA and the region, in four
 *   arrays, so a lookup reads no run or region object at all. An inner node
 *   holds up to 21 children with, for each, the highest last PA in its
 *   subtree: runs may overlap (one page mapped by two regions), and that
 *   value lets a lookup skip every subtree that cannot hold the address.
 *   Nodes are 512 bytes (8 cache lines), aligned to 64, and a lookup
 *   prefetches the whole child before it reads it. With a million regions
 *   of up to 16 runs the tree is 6 levels deep, against 23 for a binary
 *   tree.
 *
 * Aliases: when several runs contain a PA, kmm_phys_to_virt() returns the
 * VA through the run with the highest first PA at or below it; among runs
 * with the same first PA, the one inserted last (the youngest mapping).
 * kmm_phys_to_virt_owner() applies the same rule to one owner's runs.
 *
 * Memory: the caller hands over one slab of objects of at least
 * KMM_REGION_NODE_SIZE bytes aligned to KMM_REGION_NODE_ALIGN. A region
 * takes one object for itself and its first KMM_REGION_INLINE_RUNS runs,
 * one more per KMM_REGION_CHUNK_RUNS further runs, and the PA index takes
 * objects for its nodes. kmm_vmap() takes every object it may need (the
 * index's worst case for this insertion, computed from the leaves the new
 * runs fall into) before it maps anything and gives the unused ones back
 * before it returns. kmm_vunmap() and kmm_region_free_all() never
 * allocate. VA comes from a vaspace set up with a NULL port: the regions
 * serialise it under their own lock.
 *
 * Concurrency: every mutation (vmap, ioremap, vunmap, free_all, quota)
 * runs under the port lock of the address space. Lookups
 * (kmm_region_find(), kmm_virt_to_phys(), kmm_phys_to_virt(),
 * kmm_phys_to_virt_owner() and the cursor functions) take no lock and
 * write nothing shared; a cursor lookup writes only its own cursor, so
 * each thread uses its own. Any number of lookups may run at the same
 * time, but none while a mutation runs on the same regions. A caller whose lookups can
 * race with mutations holds its own reader lock around lookups, or the
 * port lock. Lock-free readers validated by a sequence count are not
 * provided: a reader could follow a node that a concurrent vunmap gives
 * back to the slab.
 */
#ifndef KMM_REGION_H
#define KMM_REGION_H

#include "kmm/as.h"
#include "kmm/rbtree.h"
#include "kmm/slab.h"
#include "kmm/types.h"
#include "kmm/vaspace.h"

/** Bytes of one metadata object (region, run chunk or PA index node). */
#define KMM_REGION_NODE_SIZE 512
/** Alignment of one metadata object (a cache line). */
#define KMM_REGION_NODE_ALIGN 64
/** Runs stored in a region's own object. */
#define KMM_REGION_INLINE_RUNS 26
/** Runs stored in each further object of a region. */
#define KMM_REGION_CHUNK_RUNS 31

/** What a region was made by (reported by kmm_region_find()). */
enum kmm_region_kind {
	KMM_REGION_VMAP = 1, /**< kmm_vmap(): a list of pages. */
	KMM_REGION_IOREMAP = 2, /**< kmm_ioremap(): one device range. */
	KMM_REGION_SHM = 3, /**< kmm_shm_register(): a shared buffer. */
};

struct kmm_region;
struct kmm_region_pa_node;

/** Per-owner bookkeeping. */
struct kmm_regions_owner {
	struct kmm_region *head; /**< The owner's regions, a list. */
	uint32_t count; /**< Regions the owner holds. */
	uint32_t quota; /**< Most regions the owner may hold. */
};

/** The dynamic regions of one address space. Fields are private. */
struct kmm_regions {
	struct kmm_as *as; /**< The address space the regions map into. */
	struct kmm_vaspace *vs; /**< Where VA (or claimed PA) comes from. */
	struct kmm_slab *nodes; /**< Metadata objects. */
	bool identity; /**< The backend maps VA == PA only. */
	uint64_t granule; /**< Unit of VA and PA (the backend's granule). */
	struct kmm_rb_root by_va; /**< Regions by VA. */
	struct kmm_region_pa_node *pa_root; /**< Root of the PA B+tree. */
	unsigned int pa_height; /**< Levels of the PA tree, 0 when empty. */
	size_t nr_regions; /**< Regions mapped. */
	size_t nr_runs; /**< Runs in the PA index. */
	size_t nr_pa_nodes; /**< Objects held by the PA index. */
	/** Bumped by every mutation; invalidates lookup cursors. */
	uint64_t generation;
	/** Accounting per owner id. */
	struct kmm_regions_owner owners[KMM_CONFIG_MAX_OWNERS];
};

/** What kmm_region_find() reports about a region. */
struct kmm_region_info {
	kmm_vaddr_t va; /**< First VA. */
	uint64_t size; /**< Bytes. */
	kmm_attr_t attr; /**< Attributes it was mapped with. */
	kmm_owner_t owner; /**< Owner. */
	enum kmm_region_kind kind; /**< What created it. */
	size_t nr_runs; /**< Physical runs that back it. */
};

/**
 * A caller-owned lookup cursor for runs of lookups with locality (the
 * pages of one buffer, one after the other). Zero it (or call
 * kmm_p2v_cursor_init()) before first use; it holds no reference, and any
 * mutation of the regions makes it fall back to a full lookup.
 *
 * It caches the bounds of the run it last hit and of the run that follows
 * it in the same region (in VA order, so the next pages of the buffer), so
 * that walking a buffer reads nothing but the cursor and the regions'
 * generation until the buffer ends.
 */
struct kmm_p2v_cursor {
	kmm_paddr_t first; /**< First PA of the cached run. */
	/** Bytes of the run; 0 in an empty cursor, which matches no PA. */
	uint64_t size;
	kmm_vaddr_t va; /**< VA of @c first. */
	/** First PA of the run after it (the same run when there is none). */
	kmm_paddr_t next_first;
	uint64_t next_size; /**< Bytes of that run. */
	kmm_vaddr_t next_va; /**< VA of @c next_first. */
	/** Address space it was filled through (its regions stay for good). */
	const struct kmm_as *as;
	const struct kmm_regions *regions; /**< That space's regions. */
	uint64_t generation; /**< Their generation at that time. */
	const struct kmm_region *region; /**< Region of the cached run. */
	/** Index of the cached run in its region. */
	size_t run;
	const void *chunk; /**< Run storage that holds entry @c run. */
};

/**
 * Sets up empty regions for @p as and links them to it (as->regions).
 * @param r     the regions to initialise.
 * @param as    the address space; its backend decides whether VA == PA.
 * @param vs    the VA allocator, set up with a NULL port; in identity mode
 *              when the backend only maps VA == PA. Must outlive @p r.
 * @param nodes slab of objects of at least KMM_REGION_NODE_SIZE bytes,
 *              aligned to KMM_REGION_NODE_ALIGN. Must outlive @p r.
 * On an identity address space the regions keep no PA index: the VA tree
 * answers PA lookups, as VA == PA. A build without a translating backend
 * (KMM_CONFIG_TRANSLATION 0) has no PA index at all.
 * @return 0; KMM_EINVAL (NULL argument, slab objects too small or
 *         misaligned, a vaspace with a port, or identity modes that
 *         disagree), KMM_ENOTSUP (@p as translates but the build has no
 *         PA index), KMM_EEXIST (@p as already has regions).
 */
int kmm_regions_init(struct kmm_regions *r, struct kmm_as *as,
		     struct kmm_vaspace *vs, struct kmm_slab *nodes);

/**
 * Limits the number of regions @p owner may hold (UINT32_MAX: no limit).
 * A limit below the current count only refuses new regions.
 * @return 0; KMM_EINVAL (NULL or region-less @p as, bad owner).
 */
int kmm_regions_set_quota(struct kmm_as *as, kmm_owner_t owner,
			  uint32_t max_regions);

/**
 * Maps @p n pages at consecutive VAs in one new region. Pages whose PAs
 * follow each other are joined into one run. On a backend that maps only
 * VA == PA, the pages must form one run and the region's VA is its PA.
 * @param as    the address space (with regions).
 * @param pages PAs of the pages, each aligned to the backend's granule;
 *              the same page may appear more than once.
 * @param n     number of pages, non-zero.
 * @param attr  attributes for the whole region.
 * @param owner the owner of the region.
 * @param va    out: the first VA of the region.
 * @return 0; KMM_EINVAL (NULL argument, n == 0, bad owner, bad
 *         attributes, regions not set up), KMM_EALIGN (a misaligned page),
 *         KMM_ERANGE (the size overflows), KMM_ENOTSUP (scattered pages on
 *         an identity backend, or attributes the backend cannot give),
 *         KMM_EPERM (W+X), KMM_EQUOTA (region quota or VA quota),
 *         KMM_ENOSPC (no VA), KMM_EEXIST (identity: the PA range is taken),
 *         KMM_ENOMEM (no metadata object or table page). On error nothing
 *         changed: no VA, no mapping, no object is left behind.
 */
int kmm_vmap(struct kmm_as *as, const kmm_paddr_t *pages, size_t n,
	     kmm_attr_t attr, kmm_owner_t owner, kmm_vaddr_t *va);

/**
 * Maps the device range [@p pa, @p pa + @p size) in one new region
 * (va == pa on an identity backend). Same rules and codes as kmm_vmap();
 * KMM_EALIGN when @p pa or @p size is not a multiple of the granule,
 * KMM_ERANGE when the range wraps.
 */
int kmm_ioremap(struct kmm_as *as, kmm_paddr_t pa, size_t size, kmm_attr_t attr,
		kmm_owner_t owner, kmm_vaddr_t *va);

/**
 * Registers a shared-memory buffer handed over by another world as a list
 * of pages (OP-TEE's dynamic SHM): kmm_vmap() with read-write, normal
 * cacheable, non-secure attributes, recorded as KMM_REGION_SHM so that
 * kmm_region_find() tells it apart. Returns as kmm_vmap().
 */
int kmm_shm_register(struct kmm_as *as, const kmm_paddr_t *pages, size_t n,
		     kmm_owner_t owner, kmm_vaddr_t *va);

/**
 * Unmaps and forgets the region that starts at @p va. Never allocates.
 * @return 0; KMM_EINVAL (NULL or region-less @p as, bad owner),
 *         KMM_ENOENT (no region starts at @p va), KMM_EPERM (the region
 *         belongs to another owner).
 */
int kmm_vunmap(struct kmm_as *as, kmm_vaddr_t va, kmm_owner_t owner);

/**
 * Removes every region of @p owner, in time proportional to what it holds.
 * @return the number of regions removed (>= 0); KMM_EINVAL (NULL or
 *         region-less @p as, bad owner).
 */
int kmm_region_free_all(struct kmm_as *as, kmm_owner_t owner);

/**
 * Describes the region that contains @p va.
 * @return 0; KMM_EINVAL (NULL argument, no regions), KMM_ENOENT.
 */
int kmm_region_find(const struct kmm_as *as, kmm_vaddr_t va,
		    struct kmm_region_info *info);

/**
 * Translates a VA inside a region to its PA.
 * @return 0; KMM_EINVAL (NULL argument, no regions), KMM_ENOENT (no
 *         region contains @p va).
 */
int kmm_virt_to_phys(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa);

/**
 * Translates any PA inside any run of any region to a VA; for a PA that
 * several regions map, see the alias rule in the file comment.
 * @return 0; KMM_EINVAL (NULL argument, no regions), KMM_ENOENT (no
 *         region maps @p pa).
 */
int kmm_phys_to_virt(const struct kmm_as *as, kmm_paddr_t pa, kmm_vaddr_t *va);

/**
 * As kmm_phys_to_virt(), but only through regions of @p owner.
 * @return 0; KMM_EINVAL (also a bad owner), KMM_ENOENT.
 */
int kmm_phys_to_virt_owner(const struct kmm_as *as, kmm_paddr_t pa,
			   kmm_owner_t owner, kmm_vaddr_t *va);

/** Empties @p cur so that its next use does a full lookup. */
void kmm_p2v_cursor_init(struct kmm_p2v_cursor *cur);

/**
 * The out-of-line part of kmm_phys_to_virt_cursor(): moves the cursor on
 * to the next run of the region when @p pa lies there, otherwise does a
 * full lookup, and refills @p cur. Same arguments and return codes as
 * kmm_phys_to_virt_cursor().
 */
int kmm_phys_to_virt_cursor_slow(const struct kmm_as *as,
				 struct kmm_p2v_cursor *cur, kmm_paddr_t pa,
				 kmm_vaddr_t *va);

/**
 * For kmm_phys_to_virt_cursor() only, on a cursor it found valid for its
 * regions: makes the run after the cached one the cached run and loads
 * the run after that from the region's run table. Does nothing to a NULL
 * or empty cursor. It does not check the regions' generation: the caller
 * has.
 */
void kmm_p2v_cursor_step(struct kmm_p2v_cursor *cur);

/**
 * As kmm_phys_to_virt(), first trying the run @p cur last hit and the run
 * after it in the same region, then falling back to the index and
 * remembering the run found. Resolving the pages of one buffer in order
 * costs a few nanoseconds per page: the common case (same run as last
 * time) is inline, two compares on the cursor after checking that it
 * was filled through @p as and that its regions did not change; moving on to
 * the next run of the buffer is checked inline too and takes one short
 * call (kmm_p2v_cursor_step()) that reads only the cursor and the
 * region's run table. For a PA that several regions map, the
 * cached run answers as long as it contains the PA, so the VA may differ
 * from the alias rule of kmm_phys_to_virt(); it always maps @p pa.
 * @param as  the address space.
 * @param cur the caller's cursor (one per thread of lookups).
 * @param pa  the physical address to translate.
 * @param va  out: its virtual address.
 * @return as kmm_phys_to_virt(); KMM_EINVAL also for a NULL @p cur.
 */
static inline int kmm_phys_to_virt_cursor(const struct kmm_as *as,
					  struct kmm_p2v_cursor *cur,
					  kmm_paddr_t pa, kmm_vaddr_t *va)
{
	uint64_t off;

	if (cur == NULL || va == NULL)
		return kmm_phys_to_virt_cursor_slow(as, cur, pa, va);
	/* Only a cursor that holds a run (size != 0) matches; it was filled
	 * through a non-NULL @as, so its regions are not NULL either. */
	off = pa - cur->first;
	if (off < cur->size && cur->as == as &&
	    cur->generation == cur->regions->generation) {
		*va = cur->va + off;
		return 0;
	}
	off = pa - cur->next_first;
	if (off < cur->next_size && cur->as == as &&
	    cur->generation == cur->regions->generation) {
		kmm_p2v_cursor_step(cur);
		*va = cur->va + off;
		return 0;
	}
	return kmm_phys_to_virt_cursor_slow(as, cur, pa, va);
}

#endif /* KMM_REGION_H */
