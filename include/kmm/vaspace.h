/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file vaspace.h
 * @brief Address-range allocator: hands out ranges of a 64-bit space (VA,
 *        IPA, or PA in identity mode) from one or more windows, each range
 *        tagged with an owner.
 *
 * One augmented red-black tree keyed by address holds every range, and
 * each node also owns the free gap that follows its range (and guard) up
 * to the next range or the end of the window. Each window starts with a
 * sentinel node of size 0 that owns the gap at the window's start. Every
 * node caches, for its subtree, the largest gap and, for each alignment
 * class 2^j granules (1 <= j <= KMM_VASPACE_ALIGN_CLASSES), the largest
 * room that starts on such a boundary inside one gap (exact, but
 * saturated at KMM_VASPACE_FAR_SAT granules for j above
 * KMM_VASPACE_NEAR_LANES). With
 * those, kmm_vaspace_alloc() finds the lowest address that fits size and
 * alignment in one O(log n) descent: it enters a subtree only when the
 * subtree surely holds a fit. The result is exactly what a linear
 * lowest-address first-fit over the gaps would return. Alignments beyond
 * the classes are still served exactly, but then the cached values only
 * prune, and the search may look at more nodes.
 *
 * kmm_vaspace_free() and kmm_vaspace_find() descend the same tree by
 * address; a freed range's bytes, guard and gap join the gap of the node
 * before it. Each owner's ranges are also on a list, for
 * kmm_vaspace_free_all() in O(owned * log n).
 *
 * Guards: with @c guard_granules = g, every range is followed by g
 * granules that stay reserved with it and are never handed out, so an
 * overrun faults instead of hitting a neighbour. The guard must lie inside
 * the window like the range itself.
 *
 * Identity mode (MPU systems): on Armv8-R and Armv8-M the PMSA backend
 * cannot translate, so every mapping has VA == PA. A vaspace set up with
 * @c identity = true stands for the physical address space: its windows
 * are the physical ranges that may be mapped at run time (RAM and device
 * ranges), kmm_vaspace_alloc() is refused with KMM_ENOTSUP, and a caller
 * that maps [pa, pa + size) first claims exactly that range with
 * kmm_vaspace_claim(vs, pa, size, owner). The claim is what makes the
 * identity map safe: a second claim of any part of the range fails with
 * KMM_EEXIST, so two owners can never map the same physical bytes through
 * the dynamic-region path, and kmm_vaspace_find() tells which owner holds
 * an address. The PMSA backend then programs one MPU region for the
 * claimed range and, on unmap, the caller frees the claim. Guards make no
 * sense when VA == PA (they would forbid adjacent physical ranges), so
 * identity mode requires @c guard_granules = 0. An identity vaspace keeps
 * none of the cached per-alignment values (it never allocates), and a
 * build without a translating backend (KMM_CONFIG_TRANSLATION 0) has only
 * identity vaspaces and leaves that code out.
 *
 * Node memory: every range and every window takes one node from the slab
 * in @c nodes (objects of at least sizeof(struct kmm_vaspace_node) bytes,
 * aligned to _Alignof(struct kmm_vaspace_node); 64-byte aligned objects
 * keep all a descent reads of a node in one cache line). A call takes
 * every node it may need before it changes anything: alloc and claim need
 * exactly one, add_window one unless the window is adjacent to another,
 * free and free_all none. So KMM_ENOMEM always means nothing changed; the
 * caller adds memory to the slab and retries.
 *
 * Locking: with a port, every call runs under the port lock (the lock is
 * not taken recursively: do not call in with it held). With a NULL port
 * the caller serialises, e.g. a module that calls in under its own lock.
 * The slab is used under the same serialisation.
 */
#ifndef KMM_VASPACE_H
#define KMM_VASPACE_H

#include "kmm/port.h"
#include "kmm/rbtree.h"
#include "kmm/slab.h"
#include "kmm/types.h"

/** Number of disjoint windows one vaspace manages (adjacent ones merge). */
#define KMM_VASPACE_MAX_WINDOWS 8

/**
 * Alignment classes cached per node: 2^1 .. 2^19 granules (8 KiB .. 2 GiB
 * with a 4 KiB granule) are found in O(log n).
 */
#define KMM_VASPACE_ALIGN_CLASSES 19

/** Largest granule a vaspace accepts (keeps every class below 2^64). */
#define KMM_VASPACE_MAX_GRANULE ((uint64_t)1 << 32)

/**
 * Lanes of cached room per node: lane j for ranges that start on a
 * boundary of 2^j granules (lane 0: any granule).
 */
#define KMM_VASPACE_FIT_LANES (KMM_VASPACE_ALIGN_CLASSES + 1)

/**
 * Lanes 1 .. KMM_VASPACE_NEAR_LANES keep their shortfall in a byte, in
 * the node's first cache line (their shortfall is below 2^j <= 256).
 */
#define KMM_VASPACE_NEAR_LANES 8

/** Lanes above KMM_VASPACE_NEAR_LANES, kept in 32 bits each. */
#define KMM_VASPACE_FAR_LANES \
	(KMM_VASPACE_FIT_LANES - 1 - KMM_VASPACE_NEAR_LANES)

/**
 * The far lanes saturate at this many granules (16 TiB with a 4 KiB
 * granule): a request up to it is found in O(log n), a larger one with a
 * far alignment still exactly, but with those lanes only pruning.
 */
#define KMM_VASPACE_FAR_SAT UINT32_MAX

/**
 * One node: a range, or a window's sentinel (@c end == @c base), with the
 * free gap after it. Private to vaspace.c; public only so that callers
 * can size the node slab. The first 64 bytes are all a descent reads.
 */
struct kmm_vaspace_node {
	struct kmm_rb_node rb; /**< Link in the tree, by base. */
	kmm_vaddr_t base; /**< First address of the range. */
	/**
	 * First address after the range and its guard, where the gap
	 * starts (0 if that is 2^64); @c base for a sentinel.
	 */
	kmm_vaddr_t end;
	/** Free bytes from @c end to the next node or the window's end. */
	uint64_t gap;
	/** Subtree: the largest gap, in granules. */
	uint64_t room;
	/**
	 * Subtree, lanes j = 1 .. KMM_VASPACE_NEAR_LANES at [j - 1]: @c room
	 * minus the largest room (granules) that starts on a boundary of
	 * 2^j granules inside one gap.
	 */
	uint8_t near_short[KMM_VASPACE_NEAR_LANES];
	/**
	 * Subtree, lanes j above KMM_VASPACE_NEAR_LANES at
	 * [j - 1 - NEAR_LANES]: the largest room (granules) that starts on a
	 * boundary of 2^j granules inside one gap, saturated at
	 * KMM_VASPACE_FAR_SAT. Kept as values, so that a change of @c room
	 * leaves this second cache line alone.
	 */
	uint32_t far_room[KMM_VASPACE_FAR_LANES];
	/** Owner of the range; KMM_OWNER_NONE for a sentinel. */
	kmm_owner_t owner;
	/** log2 of the granule (the tree's callbacks see only nodes). */
	uint8_t granule_shift;
	/** The owner's list of ranges (ranges only). */
	struct {
		/** Previous range of the same owner, or NULL. */
		struct kmm_vaspace_node *prev;
		/** Next range of the same owner, or NULL. */
		struct kmm_vaspace_node *next;
	} used;
};

/** One window of the space: [base, last], inclusive. */
struct kmm_vaspace_window {
	kmm_vaddr_t base; /**< First address. */
	kmm_vaddr_t last; /**< Last address (may be 2^64 - 1). */
};

/** Per-owner accounting. */
struct kmm_vaspace_owner {
	struct kmm_vaspace_node *ranges; /**< The owner's ranges, a list. */
	uint64_t usage; /**< Bytes held (guards not counted). */
	uint64_t quota; /**< Most bytes the owner may hold. */
};

/** How a vaspace is set up; read once by kmm_vaspace_init(). */
struct kmm_vaspace_config {
	/** Unit of every address, size and alignment (power of two). */
	uint64_t granule;
	/** Guard granules reserved after every range (0: none). */
	unsigned int guard_granules;
	/** Identity mode (VA == PA, claims only); see the file comment. */
	bool identity;
	/** Where nodes come from; must outlive the vaspace. */
	struct kmm_slab *nodes;
	/** Environment callbacks (lock), or NULL; must outlive the vaspace. */
	const struct kmm_port *port;
};

/** A range allocator. Fields are private to vaspace.c. */
struct kmm_vaspace {
	const struct kmm_port *port; /**< Lock, or NULL. */
	struct kmm_slab *nodes; /**< Node memory. */
	uint64_t granule; /**< Unit of addresses and sizes. */
	unsigned int granule_shift; /**< log2(granule). */
	uint64_t guard; /**< Guard bytes after each range. */
	bool identity; /**< Claims only (VA == PA). */
	/** Ranges and window sentinels by address, augmented. */
	struct kmm_rb_root tree;
	unsigned int nr_windows; /**< Windows in use. */
	/** Disjoint, non-adjacent windows sorted by address. */
	struct kmm_vaspace_window windows[KMM_VASPACE_MAX_WINDOWS];
	/** Accounting per owner id. */
	struct kmm_vaspace_owner owners[KMM_CONFIG_MAX_OWNERS];
};

/**
 * Sets up an empty vaspace (no window yet; add some with
 * kmm_vaspace_add_window()). Every owner starts with usage 0 and no quota
 * limit.
 * @param vs  the vaspace to initialise.
 * @param cfg its configuration.
 * @return 0; KMM_EINVAL (NULL argument or slab, granule not a power of
 *         two or above KMM_VASPACE_MAX_GRANULE, slab objects too small or
 *         too weakly aligned for a node, guard in identity mode),
 *         KMM_ENOTSUP (not identity mode in a build without translation,
 *         KMM_CONFIG_TRANSLATION 0).
 */
int kmm_vaspace_init(struct kmm_vaspace *vs,
		     const struct kmm_vaspace_config *cfg);

/**
 * Adds the window [@p base, @p base + @p size) to the free space. A window
 * may end exactly at 2^64. A window adjacent to another merges with it
 * into one; the windows together may not cover the whole 2^64 space.
 * @return 0; KMM_EINVAL (NULL @p vs, zero size), KMM_EALIGN (base or size
 *         not a multiple of the granule), KMM_ERANGE (the window wraps past
 *         2^64 or would complete the whole space), KMM_EEXIST (it
 *         overlaps a window), KMM_ENOSPC (no window
 *         slot left), KMM_ENOMEM (no node).
 */
int kmm_vaspace_add_window(struct kmm_vaspace *vs, kmm_vaddr_t base,
			   uint64_t size);

/**
 * Allocates @p size bytes at the lowest address that is a multiple of
 * @p align and has room for the range and its guard. O(log n) for
 * alignments up to 2^KMM_VASPACE_ALIGN_CLASSES granules.
 * @param vs    the vaspace.
 * @param size  bytes, a non-zero multiple of the granule.
 * @param align a power of two, a multiple of the granule.
 * @param owner the owner id, below KMM_CONFIG_MAX_OWNERS.
 * @param va    out: the address of the range.
 * @return 0; KMM_EINVAL (NULL argument, zero size, @p align not a power of
 *         two, bad owner), KMM_EALIGN (@p size or @p align not a multiple
 *         of the granule), KMM_ENOTSUP (identity mode), KMM_EQUOTA (the
 *         owner's quota would be exceeded), KMM_ENOSPC (no free range
 *         fits), KMM_ENOMEM (no node).
 */
int kmm_vaspace_alloc(struct kmm_vaspace *vs, uint64_t size, uint64_t align,
		      kmm_owner_t owner, kmm_vaddr_t *va);

/**
 * Takes exactly [@p va, @p va + @p size) (and the guard after it) for
 * @p owner. In identity mode this is how a physical range is reserved.
 * @return 0; KMM_EINVAL (NULL @p vs, zero size, bad owner), KMM_EALIGN,
 *         KMM_ERANGE (the range or its guard wraps or leaves the windows),
 *         KMM_EEXIST (some part of the range or its guard is taken),
 *         KMM_EQUOTA, KMM_ENOMEM (no node).
 */
int kmm_vaspace_claim(struct kmm_vaspace *vs, kmm_vaddr_t va, uint64_t size,
		      kmm_owner_t owner);

/**
 * Gives back the range [@p va, @p va + @p size), which must be exactly
 * one range allocated or claimed by @p owner, together with its guard.
 * Needs no node: the bytes join the gap before them.
 * @return 0; KMM_EINVAL (NULL @p vs, zero size, bad owner, or @p va and
 *         @p size cover only part of a range or more than one),
 *         KMM_EALIGN, KMM_ERANGE (wraps or leaves the windows), KMM_ENOENT
 *         (no range starts at @p va: never allocated or already freed),
 *         KMM_EPERM (the range belongs to another owner).
 */
int kmm_vaspace_free(struct kmm_vaspace *vs, kmm_vaddr_t va, uint64_t size,
		     kmm_owner_t owner);

/**
 * Finds the range holding @p va (guards excluded).
 * @param vs    the vaspace.
 * @param va    any address.
 * @param base  out: first address of the range, or NULL.
 * @param size  out: size of the range, or NULL.
 * @param owner out: owner of the range, or NULL.
 * @return 0; KMM_EINVAL (NULL @p vs), KMM_ENOENT (no range holds @p va).
 */
int kmm_vaspace_find(const struct kmm_vaspace *vs, kmm_vaddr_t va,
		     kmm_vaddr_t *base, uint64_t *size, kmm_owner_t *owner);

/**
 * Frees every range of @p owner, in O(owned * log n).
 * @return 0; KMM_EINVAL (NULL @p vs, bad owner).
 */
int kmm_vaspace_free_all(struct kmm_vaspace *vs, kmm_owner_t owner);

/**
 * Limits the bytes @p owner may hold to @p max_bytes (UINT64_MAX: no
 * limit). A limit below the current usage is allowed: it only refuses
 * new ranges until the owner is below it again.
 * @return 0; KMM_EINVAL (NULL @p vs, bad owner).
 */
int kmm_vaspace_set_quota(struct kmm_vaspace *vs, kmm_owner_t owner,
			  uint64_t max_bytes);

/**
 * Reports the bytes @p owner holds (sum of range sizes, guards excluded).
 * @return 0; KMM_EINVAL (NULL argument, bad owner).
 */
int kmm_vaspace_usage(const struct kmm_vaspace *vs, kmm_owner_t owner,
		      uint64_t *bytes);

/**
 * Gives every node of @p vs back to its slab and forgets every window and
 * range; @p vs must be set up again with kmm_vaspace_init() before use.
 * @return 0; KMM_EINVAL (NULL @p vs).
 */
int kmm_vaspace_destroy(struct kmm_vaspace *vs);

#endif /* KMM_VASPACE_H */
