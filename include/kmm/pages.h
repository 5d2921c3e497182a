/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file pages.h
 * @brief Physical page allocator: a buddy allocator of KMM_PAGE_SIZE frames
 *        in which every allocated block carries its owner.
 *
 * One allocator manages one PA span [span_base, span_base + span_size).
 * The span may have holes: memory becomes allocatable only when a bank is
 * added with kmm_pages_add(), and kmm_pages_reserve() withdraws ranges
 * (firmware, the kernel image, carve-outs) for good. Blocks have orders
 * 0..KMM_CONFIG_PAGES_MAX_ORDER and are naturally aligned in PA: a block
 * of order k starts at a multiple of KMM_PAGE_SIZE << k, whatever the
 * alignment of the span.
 *
 * @par Metadata: 8 bytes per frame, nothing else
 * The caller hands over a buffer of kmm_pages_meta_size() bytes: one
 * 64-bit word per frame of the span. Free blocks are kept on one doubly
 * linked list per order and allocated blocks on one doubly linked list per
 * owner; the links are frame indices (relative to the span) stored in the
 * words themselves. The top two bits of a word say what it is:
 *
 * | bits 63:62 | meaning | bits 61:0 |
 * |---|---|---|
 * | 00 | not the head of a block: a hole, a reserved frame, the inside of a block, or the second frame of a block of order >= 1 (then bits 2L-1:0 hold that block's list links) | 0 or links |
 * | 01 | head of a free block of order 0 | bit 61 dirty, bits 2L-1:L prev, L-1:0 next |
 * | 10 | head of an allocated block of order 0 | owner in the top W bits, bits 2L-1:L prev, L-1:0 next |
 * | 11 | head of a block of order >= 1 | bit 61 allocated, bit 60 dirty, bits 47:32 owner, bits 4:0 order |
 *
 * where W = KMM_PAGES_OWNER_BITS and L = KMM_PAGES_LINK_BITS. A block of
 * order >= 1 spans two frames or more, so its links go into the word of
 * its second frame; a block of order 0 has one word, which must hold the
 * links and the owner together. That fixes the largest span: L is the
 * widest link that fits next to the owner, (62 - W) / 2 bits, at most 30,
 * and a span holds at most KMM_PAGES_MAX_SPAN_PAGES = 2^L frames
 * (with the default 64 owners: 2^28 frames, 1 TiB of 4 KiB pages; with
 * 65535 owners: 2^23 frames, 32 GiB). Larger machines use one allocator
 * per span. Lists end by pointing at themselves, so no index is spent on
 * a "nil" value. The words of holes and of frames inside blocks are zero.
 *
 * The per-owner accounting (usage, quota, list head) and the per-order
 * list heads and counters are fixed-size arrays inside struct kmm_pages.
 *
 * @par Cost
 * kmm_pages_alloc() and kmm_pages_free() touch O(KMM_CONFIG_PAGES_MAX_ORDER)
 * words: one list pop or remove per order split or merged.
 * kmm_pages_owner() looks at no more than one word per order.
 * kmm_pages_free_all() is O(blocks the owner holds x orders).
 * kmm_pages_alloc_below() walks the free lists and is O(free blocks) in the
 * worst case; kmm_pages_add(), kmm_pages_reserve(), kmm_pages_alloc_range()
 * and kmm_pages_free_range() are linear in the range they cover.
 * kmm_pages_init() zeroes the whole metadata buffer.
 *
 * @par Scrubbing
 * A freed block is marked dirty and goes back to the free lists at once;
 * it is zeroed through the port's scrub hook (kmm_port_scrub()) when it is
 * next handed out, to any owner, before the allocating call returns.
 * Buddies merge whatever their state; a merged block is dirty when either
 * half was, and splitting hands the mark to both halves, so a dirty frame
 * can never reach an owner unscrubbed. Memory added with kmm_pages_add()
 * is trusted to hold nothing of any owner and is handed out as it is;
 * ask for KMM_PAGES_ZERO when the contents matter.
 *
 * @par Locking
 * Every function takes the port lock around its work; the caller must not
 * hold it. The scrub hook is called with the lock held.
 *
 * @par Errors
 * Functions return 0 or a negative KMM_E* code; a call that fails changes
 * nothing.
 */
#ifndef KMM_PAGES_H
#define KMM_PAGES_H

#include "kmm/port.h"
#include "kmm/types.h"

/** Bits an owner id needs in the word of an order-0 block. */
#define KMM_PAGES_OWNER_BITS                   \
	(KMM_CONFIG_MAX_OWNERS <= 2	? 1 :  \
	 KMM_CONFIG_MAX_OWNERS <= 4	? 2 :  \
	 KMM_CONFIG_MAX_OWNERS <= 16	? 4 :  \
	 KMM_CONFIG_MAX_OWNERS <= 64	? 6 :  \
	 KMM_CONFIG_MAX_OWNERS <= 256	? 8 :  \
	 KMM_CONFIG_MAX_OWNERS <= 1024	? 10 : \
	 KMM_CONFIG_MAX_OWNERS <= 4096	? 12 : \
	 KMM_CONFIG_MAX_OWNERS <= 16384 ? 14 : \
					  16)

/** Width of a list link (a frame index) in the metadata words. */
#define KMM_PAGES_LINK_BITS                        \
	((62 - KMM_PAGES_OWNER_BITS) / 2 < 30 ?    \
		 (62 - KMM_PAGES_OWNER_BITS) / 2 : \
		 30)

/** Largest number of frames one allocator's span may cover. */
#define KMM_PAGES_MAX_SPAN_PAGES ((uint64_t)1 << KMM_PAGES_LINK_BITS)

/** Highest physical address bit supported: spans end at or below 2^52. */
#define KMM_PAGES_PA_BITS 52

/** Number of buddy orders, 0..KMM_CONFIG_PAGES_MAX_ORDER. */
#define KMM_PAGES_ORDERS (KMM_CONFIG_PAGES_MAX_ORDER + 1)

/** Allocation flag: the block is zeroed before it is returned. */
#define KMM_PAGES_ZERO (1u << 0)

/** Every flag kmm_pages_alloc() accepts. */
#define KMM_PAGES_FLAGS_MASK (KMM_PAGES_ZERO)

/** kmm_pages_set_quota() value meaning "no limit". */
#define KMM_PAGES_NO_QUOTA UINT64_MAX

/** Per-owner accounting, one entry per owner id in struct kmm_pages. */
struct kmm_pages_account {
	uint64_t pages; /**< Frames the owner holds now. */
	uint64_t quota; /**< Most frames it may hold (KMM_PAGES_NO_QUOTA). */
	uint64_t blocks; /**< Blocks on its list. */
	uint32_t head; /**< First block of its list (span index) or UINT32_MAX. */
};

/**
 * A page allocator. The caller allocates it (statically, on the stack, in
 * its own context) and initialises it with kmm_pages_init(); every field
 * is private to page_alloc.c and documented here for the reader.
 */
struct kmm_pages {
	const struct kmm_port *port; /**< Lock and scrub hooks. */
	uint64_t *meta; /**< One word per frame of the span (caller's). */
	uint64_t base_pfn; /**< First frame number of the span (PA >> shift). */
	uint64_t span_pages; /**< Frames in the span. */
	uint64_t managed_pages; /**< Frames added and not reserved. */
	uint64_t free_pages; /**< Frames in free blocks. */
	/** First free block of each order (span index) or UINT32_MAX. */
	uint32_t free_head[KMM_PAGES_ORDERS];
	/** Number of free blocks of each order. */
	uint64_t free_blocks[KMM_PAGES_ORDERS];
	/** Usage, quota and block list of every owner id. */
	struct kmm_pages_account owners[KMM_CONFIG_MAX_OWNERS];
};

/** A snapshot of an allocator, filled by kmm_pages_stats(). */
struct kmm_pages_stats {
	uint64_t span_pages; /**< Frames in the span, holes included. */
	uint64_t managed_pages; /**< Frames added and not reserved. */
	uint64_t free_pages; /**< Frames in free blocks. */
	uint64_t allocated_pages; /**< Frames held by owners. */
	/** Free blocks of each order (free frames: blocks << order). */
	uint64_t free_blocks[KMM_PAGES_ORDERS];
	/** Order of the largest free block, or -1 when nothing is free. */
	int largest_free_order;
	/** Size in bytes of the largest free block, 0 when nothing is free. */
	uint64_t largest_free_bytes;
};

/**
 * Returns the size of the metadata buffer kmm_pages_init() needs for the
 * span [@p span_base, @p span_base + @p span_size): 8 bytes per frame.
 * @return the size in bytes, or 0 when the span is not valid (zero size,
 *         not page aligned, wrapping, ending above 2^52 or larger than
 *         KMM_PAGES_MAX_SPAN_PAGES frames).
 */
size_t kmm_pages_meta_size(kmm_paddr_t span_base, uint64_t span_size);

/**
 * Initialises @p p over an empty span: no memory is free until banks are
 * added with kmm_pages_add(). Every owner starts without a quota.
 * @param p         the allocator to initialise.
 * @param port      environment callbacks (lock, scrub); must outlive @p p.
 * @param span_base first PA of the span, page aligned.
 * @param span_size bytes in the span, page aligned.
 * @param meta      metadata buffer, 8-byte aligned; owned by @p p until it
 *                  is no longer used. Its contents are overwritten.
 * @param meta_size bytes in @p meta, at least kmm_pages_meta_size().
 * @return 0; KMM_EINVAL (NULL argument, zero size), KMM_EALIGN (span or
 *         @p meta misaligned), KMM_ERANGE (span wraps, ends above 2^52 or
 *         has more than KMM_PAGES_MAX_SPAN_PAGES frames), KMM_ENOMEM
 *         (@p meta_size too small).
 */
int kmm_pages_init(struct kmm_pages *p, const struct kmm_port *port,
		   kmm_paddr_t span_base, uint64_t span_size, void *meta,
		   size_t meta_size);

/**
 * Adds the bank [@p base, @p base + @p size) to the free memory, merging
 * it with free neighbours.
 * @return 0; KMM_EINVAL (NULL @p p, zero size), KMM_EALIGN, KMM_ERANGE
 *         (outside the span), KMM_EEXIST (part of the range was added
 *         before and not reserved since).
 */
int kmm_pages_add(struct kmm_pages *p, kmm_paddr_t base, uint64_t size);

/**
 * Withdraws every free frame of [@p base, @p base + @p size) for good;
 * frames of the range that were never added (or already reserved) are
 * left as they are, so overlapping reservations are fine. Withdrawn frames
 * that an owner freed are scrubbed first.
 * @return 0; KMM_EINVAL, KMM_EALIGN, KMM_ERANGE, KMM_EBUSY (a frame of the
 *         range is allocated; nothing was withdrawn).
 */
int kmm_pages_reserve(struct kmm_pages *p, kmm_paddr_t base, uint64_t size);

/**
 * Allocates a block of 2^@p order frames, aligned to its size, for
 * @p owner. O(orders).
 * @param p     the allocator.
 * @param order 0..KMM_CONFIG_PAGES_MAX_ORDER.
 * @param owner the owner charged and recorded.
 * @param flags KMM_PAGES_ZERO or 0.
 * @param out   out: the block's PA.
 * @return 0; KMM_EINVAL (NULL argument, bad order, owner or flags),
 *         KMM_EQUOTA (the owner's quota would be exceeded), KMM_ENOMEM
 *         (no free block large enough).
 */
int kmm_pages_alloc(struct kmm_pages *p, unsigned int order, kmm_owner_t owner,
		    unsigned int flags, kmm_paddr_t *out);

/**
 * Like kmm_pages_alloc(), but the whole block lies below @p limit
 * (e.g. 1 << 32 for a 32-bit DMA master): *@p out + size <= @p limit.
 * Walks the free lists: O(free blocks) in the worst case.
 * @return as kmm_pages_alloc(); KMM_ENOMEM also when no free block below
 *         @p limit is large enough.
 */
int kmm_pages_alloc_below(struct kmm_pages *p, unsigned int order,
			  kmm_owner_t owner, unsigned int flags,
			  kmm_paddr_t limit, kmm_paddr_t *out);

/**
 * Claims the exact range [@p base, @p base + @p size) for @p owner (static
 * guest memory, carve-outs). The range is recorded as the fewest naturally
 * aligned blocks that tile it; free it with kmm_pages_free_range() (or
 * block by block with kmm_pages_free()).
 * @return 0; KMM_EINVAL, KMM_EALIGN, KMM_ERANGE (outside the span),
 *         KMM_ENOENT (part of the range is a hole or reserved),
 *         KMM_EEXIST (part of it is allocated), KMM_EQUOTA.
 */
int kmm_pages_alloc_range(struct kmm_pages *p, kmm_paddr_t base, uint64_t size,
			  kmm_owner_t owner);

/**
 * Frees the block of 2^@p order frames at @p pa that @p owner holds; it
 * merges with its free buddies and is scrubbed before it is handed out
 * again. O(orders).
 * @return 0; KMM_EINVAL (NULL @p p, bad order or owner, @p pa is inside a
 *         block or heads a block of another order), KMM_EALIGN,
 *         KMM_ERANGE (outside the span), KMM_ENOENT (not allocated: double
 *         free, hole), KMM_EPERM (another owner holds it).
 */
int kmm_pages_free(struct kmm_pages *p, kmm_paddr_t pa, unsigned int order,
		   kmm_owner_t owner);

/**
 * Frees every block in [@p base, @p base + @p size), which must be tiled
 * exactly by blocks @p owner holds (as kmm_pages_alloc_range() left it,
 * or any run of adjacent blocks).
 * @return 0; KMM_EINVAL (a block crosses an end of the range), KMM_EALIGN,
 *         KMM_ERANGE, KMM_ENOENT (a frame of the range is not allocated),
 *         KMM_EPERM (another owner holds a block of the range).
 */
int kmm_pages_free_range(struct kmm_pages *p, kmm_paddr_t base, uint64_t size,
			 kmm_owner_t owner);

/**
 * Finds the owner of the allocated block containing @p pa (any alignment).
 * O(orders).
 * @return 0; KMM_EINVAL (NULL argument), KMM_ERANGE (outside the span),
 *         KMM_ENOENT (the frame is free, reserved or a hole).
 */
int kmm_pages_owner(const struct kmm_pages *p, kmm_paddr_t pa,
		    kmm_owner_t *owner);

/**
 * Frees every block @p owner holds, in time proportional to the number of
 * its blocks. Each is scrubbed before anyone gets it again.
 * @return 0; KMM_EINVAL (NULL @p p or bad owner).
 */
int kmm_pages_free_all(struct kmm_pages *p, kmm_owner_t owner);

/**
 * Limits @p owner to @p max_pages frames; KMM_PAGES_NO_QUOTA lifts the
 * limit. A limit below the current usage is accepted: allocations fail
 * with KMM_EQUOTA until enough is freed.
 * @return 0; KMM_EINVAL (NULL @p p or bad owner).
 */
int kmm_pages_set_quota(struct kmm_pages *p, kmm_owner_t owner,
			uint64_t max_pages);

/**
 * Reports how many frames @p owner holds.
 * @return 0; KMM_EINVAL (NULL argument or bad owner).
 */
int kmm_pages_usage(const struct kmm_pages *p, kmm_owner_t owner,
		    uint64_t *pages);

/**
 * Fills @p st with the free frames per order, the largest free block and
 * the totals. O(orders).
 * @return 0; KMM_EINVAL (NULL argument).
 */
int kmm_pages_stats(const struct kmm_pages *p, struct kmm_pages_stats *st);

/**
 * Checks every invariant of @p p: list links, counters, buddies merged as
 * far as possible, owners valid. O(span); meant for debugging and tests.
 * @return 0; KMM_EINVAL (NULL @p p); KMM_EBADDATA (corrupt state);
 *         KMM_ENOTSUP when the build leaves diagnostics out
 *         (KMM_CONFIG_DIAGNOSTICS 0).
 */
int kmm_pages_check(const struct kmm_pages *p);

#endif /* KMM_PAGES_H */
