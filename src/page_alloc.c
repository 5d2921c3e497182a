// SPDX-License-Identifier: BSD-2-Clause
/*
 * Buddy allocator of physical frames with an owner on every allocated
 * block; see include/kmm/pages.h for the metadata layout.
 *
 * Invariants kept by every public function on return:
 *  - every frame of the span is in exactly one of: a hole (never added or
 *    reserved), a free block, an allocated block;
 *  - a block of order k starts at a frame number aligned to 2^k and lies
 *    inside the span; its head word says free/allocated, order, owner or
 *    dirty mark; the other words of the block are zero, except the second
 *    one of a block of order >= 1, which holds its list links;
 *  - a free block is on free_head[order], an allocated one on the list of
 *    its owner, and the counters match the lists;
 *  - no free block has a free buddy of the same order below the maximum
 *    order (buddies are merged as far as possible).
 *
 * Span indices (frame number - base_pfn) are what the lists store. Block
 * alignment is always computed on absolute frame numbers, so blocks are
 * aligned in PA however the span is placed.
 */
#include "kmm/pages.h"

#include "util.h"

#define PAGE_SHIFT KMM_CONFIG_PAGE_SHIFT
#define MAX_ORDER KMM_CONFIG_PAGES_MAX_ORDER
#define LINK_BITS KMM_PAGES_LINK_BITS
#define OWNER_BITS KMM_PAGES_OWNER_BITS

#define TAG_SHIFT 62
#define TAG_NONE 0u /* hole, reserved, inside a block, link word */
#define TAG_FREE0 1u /* free block of order 0 */
#define TAG_ALLOC0 2u /* allocated block of order 0 */
#define TAG_BIG 3u /* block of order >= 1 */

#define LINK_MASK (((uint64_t)1 << LINK_BITS) - 1)
#define LINKS_MASK (((uint64_t)1 << (2 * LINK_BITS)) - 1)
#define FREE0_DIRTY ((uint64_t)1 << 61)
#define ALLOC0_OWNER_SHIFT (TAG_SHIFT - OWNER_BITS)
#define BIG_ALLOC ((uint64_t)1 << 61)
#define BIG_DIRTY ((uint64_t)1 << 60)
#define BIG_OWNER_SHIFT 32
#define BIG_ORDER_MASK 0x1fu

/* Empty list head. Spans have at most 2^30 frames, so no index equals it. */
#define NIL UINT32_MAX

_Static_assert(2 * LINK_BITS + OWNER_BITS <= TAG_SHIFT, "order-0 owner and "
							"links must fit below "
							"the tag");
_Static_assert(2 * LINK_BITS <= 60, "free order-0 links must fit");
_Static_assert(MAX_ORDER <= BIG_ORDER_MASK, "order must fit its field");
_Static_assert(LINK_BITS <= 30, "list heads are 32-bit");

/* Scrubbing goes through the port in pieces a 32-bit size_t can hold. */
#define SCRUB_CHUNK_PAGES ((uint64_t)1 << (30 - PAGE_SHIFT))

static inline unsigned int tag_of(uint64_t w)
{
	return (unsigned int)(w >> TAG_SHIFT);
}

static inline uint64_t tag_bits(unsigned int tag)
{
	return (uint64_t)tag << TAG_SHIFT;
}

static inline bool is_head(const struct kmm_pages *p, uint64_t i)
{
	return tag_of(p->meta[i]) != TAG_NONE;
}

static inline unsigned int blk_order(const struct kmm_pages *p, uint64_t i)
{
	uint64_t w = p->meta[i];

	return tag_of(w) == TAG_BIG ? (unsigned int)(w & BIG_ORDER_MASK) : 0;
}

static inline bool blk_allocated(const struct kmm_pages *p, uint64_t i)
{
	uint64_t w = p->meta[i];

	return tag_of(w) == TAG_ALLOC0 ||
	       (tag_of(w) == TAG_BIG && (w & BIG_ALLOC));
}

static inline bool blk_free(const struct kmm_pages *p, uint64_t i)
{
	uint64_t w = p->meta[i];

	return tag_of(w) == TAG_FREE0 ||
	       (tag_of(w) == TAG_BIG && !(w & BIG_ALLOC));
}

static inline bool blk_dirty(const struct kmm_pages *p, uint64_t i)
{
	uint64_t w = p->meta[i];

	return tag_of(w) == TAG_BIG ? (w & BIG_DIRTY) != 0 :
				      (w & FREE0_DIRTY) != 0;
}

static inline kmm_owner_t blk_owner(const struct kmm_pages *p, uint64_t i)
{
	uint64_t w = p->meta[i];

	if (tag_of(w) == TAG_BIG)
		return (kmm_owner_t)((w >> BIG_OWNER_SHIFT) & 0xffffu);
	return (kmm_owner_t)((w >> ALLOC0_OWNER_SHIFT) &
			     (((uint64_t)1 << OWNER_BITS) - 1));
}

static inline uint64_t pages_of(unsigned int order)
{
	return (uint64_t)1 << order;
}

static inline kmm_paddr_t pa_of(const struct kmm_pages *p, uint64_t i)
{
	return (p->base_pfn + i) << PAGE_SHIFT;
}

/* ----------------------------------------------------------------------
 * Head words. Writing a head also clears the link word of a large block;
 * the list functions fill the links in afterwards.
 */

static void set_free_head(struct kmm_pages *p, uint64_t i, unsigned int order,
			  bool dirty)
{
	if (order == 0) {
		p->meta[i] = tag_bits(TAG_FREE0) | (dirty ? FREE0_DIRTY : 0);
		return;
	}
	p->meta[i] = tag_bits(TAG_BIG) | (dirty ? BIG_DIRTY : 0) | order;
	p->meta[i + 1] = 0;
}

static void set_alloc_head(struct kmm_pages *p, uint64_t i, unsigned int order,
			   kmm_owner_t owner)
{
	if (order == 0) {
		p->meta[i] = tag_bits(TAG_ALLOC0) |
			     ((uint64_t)owner << ALLOC0_OWNER_SHIFT);
		return;
	}
	p->meta[i] = tag_bits(TAG_BIG) | BIG_ALLOC |
		     ((uint64_t)owner << BIG_OWNER_SHIFT) | order;
	p->meta[i + 1] = 0;
}

static void clear_head(struct kmm_pages *p, uint64_t i, unsigned int order)
{
	p->meta[i] = 0;
	if (order)
		p->meta[i + 1] = 0;
}

/* ----------------------------------------------------------------------
 * Lists. Both kinds (free per order, allocated per owner) share the link
 * bits of a block: a block is on exactly one list. The first block's prev
 * and the last block's next point at the block itself.
 */

static inline uint64_t *link_word(struct kmm_pages *p, uint64_t i)
{
	return &p->meta[tag_of(p->meta[i]) == TAG_BIG ? i + 1 : i];
}

static inline uint64_t get_prev(const struct kmm_pages *p, uint64_t i)
{
	uint64_t j = tag_of(p->meta[i]) == TAG_BIG ? i + 1 : i;

	return (p->meta[j] >> LINK_BITS) & LINK_MASK;
}

static inline uint64_t get_next(const struct kmm_pages *p, uint64_t i)
{
	uint64_t j = tag_of(p->meta[i]) == TAG_BIG ? i + 1 : i;

	return p->meta[j] & LINK_MASK;
}

static void set_links(struct kmm_pages *p, uint64_t i, uint64_t prev,
		      uint64_t next)
{
	uint64_t *w = link_word(p, i);

	*w = (*w & ~LINKS_MASK) | (prev << LINK_BITS) | next;
}

static void set_prev(struct kmm_pages *p, uint64_t i, uint64_t prev)
{
	set_links(p, i, prev, get_next(p, i));
}

static void set_next(struct kmm_pages *p, uint64_t i, uint64_t next)
{
	set_links(p, i, get_prev(p, i), next);
}

static void list_push(struct kmm_pages *p, uint32_t *head, uint64_t i)
{
	if (*head == NIL) {
		set_links(p, i, i, i);
	} else {
		set_links(p, i, i, *head);
		set_prev(p, *head, i);
	}
	*head = (uint32_t)i;
}

static inline void list_del(struct kmm_pages *p, uint32_t *head, uint64_t i)
{
	uint64_t prev = get_prev(p, i);
	uint64_t next = get_next(p, i);
	bool first = prev == i;
	bool last = next == i;

	if (first)
		*head = last ? NIL : (uint32_t)next;
	else
		set_next(p, prev, last ? prev : next);
	if (!last)
		set_prev(p, next, first ? next : prev);
}

static void free_insert(struct kmm_pages *p, uint64_t i, unsigned int order,
			bool dirty)
{
	set_free_head(p, i, order, dirty);
	list_push(p, &p->free_head[order], i);
	p->free_blocks[order]++;
}

static void free_remove(struct kmm_pages *p, uint64_t i, unsigned int order)
{
	list_del(p, &p->free_head[order], i);
	p->free_blocks[order]--;
	clear_head(p, i, order);
}

static void owner_insert(struct kmm_pages *p, uint64_t i, unsigned int order,
			 kmm_owner_t owner)
{
	struct kmm_pages_account *a = &p->owners[owner];

	set_alloc_head(p, i, order, owner);
	list_push(p, &a->head, i);
	a->pages += pages_of(order);
	a->blocks++;
}

static void owner_remove(struct kmm_pages *p, uint64_t i, unsigned int order,
			 kmm_owner_t owner)
{
	struct kmm_pages_account *a = &p->owners[owner];

	list_del(p, &a->head, i);
	a->pages -= pages_of(order);
	a->blocks--;
	clear_head(p, i, order);
}

/* ----------------------------------------------------------------------
 * Block operations.
 */

/*
 * Finds the head of the block that contains span index @i. The block of
 * order k that could contain @i starts at @i's frame number rounded down
 * to 2^k; the first head met going up is the only candidate, since blocks
 * do not overlap. Returns false for holes and reserved frames.
 */
static bool find_block(const struct kmm_pages *p, uint64_t i, uint64_t *head)
{
	uint64_t pfn = p->base_pfn + i;

	for (unsigned int k = 0; k <= MAX_ORDER; k++) {
		uint64_t h = pfn & ~(pages_of(k) - 1);

		if (h < p->base_pfn)
			return false;
		h -= p->base_pfn;
		if (is_head(p, h)) {
			if (blk_order(p, h) < k)
				return false;
			*head = h;
			return true;
		}
	}
	return false;
}

/*
 * Finds the first block that overlaps [@i, @hi). After a frame that no
 * block covers, the next frame is covered only if a block starts there.
 */
static bool next_block(const struct kmm_pages *p, uint64_t i, uint64_t hi,
		       uint64_t *head)
{
	if (find_block(p, i, head))
		return true;
	for (i++; i < hi; i++) {
		if (is_head(p, i)) {
			*head = i;
			return true;
		}
	}
	return false;
}

/*
 * Returns the free block at @i (order @order, head word already cleared)
 * to the free lists, merging it with free buddies as far as it goes.
 */
static void release(struct kmm_pages *p, uint64_t i, unsigned int order,
		    bool dirty)
{
	uint64_t pfn = p->base_pfn + i;

	while (order < MAX_ORDER) {
		uint64_t buddy = pfn ^ pages_of(order);
		uint64_t b = buddy - p->base_pfn;

		if (buddy < p->base_pfn || b >= p->span_pages)
			break;
		if (!blk_free(p, b) || blk_order(p, b) != order)
			break;
		dirty |= blk_dirty(p, b);
		free_remove(p, b, order);
		pfn &= ~pages_of(order);
		order++;
	}
	free_insert(p, pfn - p->base_pfn, order, dirty);
}

/* Splits the (unlisted) block at @i from order @from down to @to, giving
 * the upper halves back to the free lists; the caller keeps [i, i+2^to). */
static void split(struct kmm_pages *p, uint64_t i, unsigned int from,
		  unsigned int to, bool dirty)
{
	while (from > to) {
		from--;
		free_insert(p, i + pages_of(from), from, dirty);
	}
}

static void scrub(const struct kmm_pages *p, uint64_t i, uint64_t pages)
{
	while (pages) {
		uint64_t n = kmm_min_u64(pages, SCRUB_CHUNK_PAGES);

		kmm_port_scrub(p->port, pa_of(p, i), (size_t)(n << PAGE_SHIFT));
		i += n;
		pages -= n;
	}
}

/* What carve() does with the parts of a block inside the range. */
struct claim {
	bool allocate; /* true: give to @owner; false: withdraw */
	kmm_owner_t owner;
};

/*
 * Splits the unlisted free block at @i of order @order along [@lo, @hi):
 * parts outside go back to the free lists (their buddies hold claimed
 * frames, so they cannot merge), parts inside are claimed. Recursion depth
 * is bounded by the order (at most 31); only the two blocks that hold the
 * ends of the range are split.
 */
static void carve(struct kmm_pages *p, uint64_t i, unsigned int order,
		  uint64_t lo, uint64_t hi, bool dirty, const struct claim *c)
{
	uint64_t end = i + pages_of(order);

	if (end <= lo || i >= hi) {
		free_insert(p, i, order, dirty);
		return;
	}
	if (i >= lo && end <= hi) {
		if (c->allocate)
			owner_insert(p, i, order, c->owner);
		/* Withdrawn memory may go to firmware or a carve-out user:
		 * it leaves as clean as allocated memory does. */
		if (dirty)
			scrub(p, i, pages_of(order));
		return;
	}
	order--;
	carve(p, i, order, lo, hi, dirty, c);
	carve(p, i + pages_of(order), order, lo, hi, dirty, c);
}

/* ----------------------------------------------------------------------
 * Argument checks.
 */

static bool owner_ok(kmm_owner_t owner)
{
	return owner < KMM_CONFIG_MAX_OWNERS;
}

/* Checks a span and returns its frame count, or a negative KMM_E*. */
static int64_t span_pages(kmm_paddr_t base, uint64_t size)
{
	uint64_t n;

	if (size == 0)
		return KMM_EINVAL;
	if (!kmm_is_aligned(base, KMM_PAGE_SIZE) ||
	    !kmm_is_aligned(size, KMM_PAGE_SIZE))
		return KMM_EALIGN;
	if (kmm_range_wraps(base, size) ||
	    base + (size - 1) >= ((uint64_t)1 << KMM_PAGES_PA_BITS))
		return KMM_ERANGE;
	n = size >> PAGE_SHIFT;
	if (n > KMM_PAGES_MAX_SPAN_PAGES)
		return KMM_ERANGE;
	return (int64_t)n;
}

/* Converts a PA range inside the span into span indices [*lo, *hi). The
 * span checks come first: a range they refuse lies outside the span too. */
static int range_idx(const struct kmm_pages *p, kmm_paddr_t base, uint64_t size,
		     uint64_t *lo, uint64_t *hi)
{
	int64_t n = span_pages(base, size);
	uint64_t pfn = base >> PAGE_SHIFT;

	if (n < 0)
		return (int)n;
	if (pfn < p->base_pfn || pfn - p->base_pfn >= p->span_pages ||
	    (uint64_t)n > p->span_pages - (pfn - p->base_pfn))
		return KMM_ERANGE;
	*lo = pfn - p->base_pfn;
	*hi = *lo + (uint64_t)n;
	return 0;
}

static bool quota_allows(const struct kmm_pages_account *a, uint64_t pages)
{
	return a->pages <= a->quota && pages <= a->quota - a->pages;
}

/* ----------------------------------------------------------------------
 * Public API.
 */

size_t kmm_pages_meta_size(kmm_paddr_t span_base, uint64_t span_size)
{
	int64_t n = span_pages(span_base, span_size);

	if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(uint64_t))
		return 0;
	return (size_t)n * sizeof(uint64_t);
}

int kmm_pages_init(struct kmm_pages *p, const struct kmm_port *port,
		   kmm_paddr_t span_base, uint64_t span_size, void *meta,
		   size_t meta_size)
{
	int64_t n;

	if (p == NULL || port == NULL || meta == NULL)
		return KMM_EINVAL;
	n = span_pages(span_base, span_size);
	if (n < 0)
		return (int)n;
	if (!kmm_is_aligned((uintptr_t)meta, sizeof(uint64_t)))
		return KMM_EALIGN;
	if ((uint64_t)n > SIZE_MAX / sizeof(uint64_t) ||
	    meta_size < (size_t)n * sizeof(uint64_t))
		return KMM_ENOMEM;

	kmm_memzero(p, sizeof(*p));
	p->port = port;
	p->meta = meta;
	p->base_pfn = span_base >> PAGE_SHIFT;
	p->span_pages = (uint64_t)n;
	for (unsigned int k = 0; k <= MAX_ORDER; k++)
		p->free_head[k] = NIL;
	for (size_t o = 0; o < KMM_CONFIG_MAX_OWNERS; o++) {
		p->owners[o].quota = KMM_PAGES_NO_QUOTA;
		p->owners[o].head = NIL;
	}
	kmm_memzero(meta, (size_t)n * sizeof(uint64_t));
	return 0;
}

/* Gives [@lo, @hi), which no block may touch yet, to the free lists. */
static int add_range(struct kmm_pages *p, uint64_t lo, uint64_t hi)
{
	uint64_t h;

	if (next_block(p, lo, hi, &h))
		return KMM_EEXIST;
	/* Largest aligned blocks first; each merges with free neighbours. */
	for (uint64_t i = lo; i < hi;) {
		uint64_t pfn = p->base_pfn + i;
		unsigned int k = kmm_log2_u64(hi - i);

		/* log2 of the lowest set bit: the alignment of @pfn (no ctz,
		 * which needs libgcc on 32-bit targets). */
		if (pfn && kmm_log2_u64(pfn & (~pfn + 1)) < k)
			k = kmm_log2_u64(pfn & (~pfn + 1));
		if (k > MAX_ORDER)
			k = MAX_ORDER;
		release(p, i, k, false);
		i += pages_of(k);
	}
	p->managed_pages += hi - lo;
	p->free_pages += hi - lo;
	return 0;
}

/*
 * Takes the range [@lo, @hi) out of the free lists, for @c->owner when
 * @c->allocate (every frame must be free: a hole is KMM_ENOENT, an
 * allocated frame KMM_EEXIST, then the quota is checked) or else as
 * reserved memory (holes are skipped, an allocated frame is KMM_EBUSY).
 * Called under the lock; checks everything before it changes anything.
 */
static int claim_range(struct kmm_pages *p, uint64_t lo, uint64_t hi,
		       const struct claim *c)
{
	uint64_t h, taken = 0;

	for (uint64_t i = lo; i < hi; i = h + pages_of(blk_order(p, h))) {
		bool found = next_block(p, i, hi, &h);

		if (c->allocate && (!found || h > i))
			return KMM_ENOENT;
		if (!found)
			break;
		if (blk_allocated(p, h))
			return c->allocate ? KMM_EEXIST : KMM_EBUSY;
	}
	if (c->allocate && !quota_allows(&p->owners[c->owner], hi - lo))
		return KMM_EQUOTA;
	for (uint64_t i = lo; i < hi && next_block(p, i, hi, &h);) {
		unsigned int k = blk_order(p, h);
		bool dirty = blk_dirty(p, h);
		uint64_t end = h + pages_of(k);

		taken += kmm_min_u64(end, hi) - kmm_max_u64(h, lo);
		free_remove(p, h, k);
		carve(p, h, k, lo, hi, dirty, c);
		i = end;
	}
	if (!c->allocate)
		p->managed_pages -= taken;
	p->free_pages -= taken;
	return 0;
}

/* Finds a free block of order >= @order whose first 2^order frames end at
 * or below frame @limit_pfn; smallest order first. */
static bool find_free(const struct kmm_pages *p, unsigned int order,
		      uint64_t limit_pfn, uint64_t *found, unsigned int *forder)
{
	for (unsigned int k = order; k <= MAX_ORDER; k++) {
		uint64_t i = p->free_head[k];

		if (i == NIL)
			continue;
		for (;;) {
			uint64_t pfn = p->base_pfn + i;

			if (pfn < limit_pfn &&
			    limit_pfn - pfn >= pages_of(order)) {
				*found = i;
				*forder = k;
				return true;
			}
			if (get_next(p, i) == i)
				break;
			i = get_next(p, i);
		}
	}
	return false;
}

static int alloc_common(struct kmm_pages *p, unsigned int order,
			kmm_owner_t owner, unsigned int flags,
			uint64_t limit_pfn, kmm_paddr_t *out)
{
	uint64_t i;
	unsigned int k;
	bool dirty;
	int ret = 0;

	if (p == NULL || out == NULL || order > MAX_ORDER || !owner_ok(owner) ||
	    (flags & ~KMM_PAGES_FLAGS_MASK))
		return KMM_EINVAL;

	kmm_port_lock(p->port);
	if (!quota_allows(&p->owners[owner], pages_of(order))) {
		ret = KMM_EQUOTA;
	} else if (!find_free(p, order, limit_pfn, &i, &k)) {
		ret = KMM_ENOMEM;
	} else {
		dirty = blk_dirty(p, i);
		free_remove(p, i, k);
		split(p, i, k, order, dirty);
		owner_insert(p, i, order, owner);
		p->free_pages -= pages_of(order);
		if (dirty || (flags & KMM_PAGES_ZERO))
			scrub(p, i, pages_of(order));
		*out = pa_of(p, i);
	}
	kmm_port_unlock(p->port);
	return ret;
}

int kmm_pages_alloc(struct kmm_pages *p, unsigned int order, kmm_owner_t owner,
		    unsigned int flags, kmm_paddr_t *out)
{
	return alloc_common(p, order, owner, flags, UINT64_MAX, out);
}

int kmm_pages_alloc_below(struct kmm_pages *p, unsigned int order,
			  kmm_owner_t owner, unsigned int flags,
			  kmm_paddr_t limit, kmm_paddr_t *out)
{
	return alloc_common(p, order, owner, flags, limit >> PAGE_SHIFT, out);
}

/* Gives the allocated block at @i back: off its owner's list, merged. */
static void free_block(struct kmm_pages *p, uint64_t i, kmm_owner_t owner)
{
	unsigned int k = blk_order(p, i);

	owner_remove(p, i, k, owner);
	p->free_pages += pages_of(k);
	release(p, i, k, true);
}

/*
 * Checks that span index @i heads a block of @owner; returns its order, or
 * the KMM_E* code of the first rule broken (KMM_EINVAL when @i lies inside
 * the block).
 */
static inline int owned_block(const struct kmm_pages *p, uint64_t i,
			      kmm_owner_t owner)
{
	uint64_t h;

	if (!find_block(p, i, &h) || blk_free(p, h))
		return KMM_ENOENT;
	if (blk_owner(p, h) != owner)
		return KMM_EPERM;
	if (h != i)
		return KMM_EINVAL;
	return (int)blk_order(p, h);
}

int kmm_pages_free(struct kmm_pages *p, kmm_paddr_t pa, unsigned int order,
		   kmm_owner_t owner)
{
	uint64_t lo = 0, hi; /* = 0: as in range_call() */
	int ret;

	if (p == NULL || order > MAX_ORDER || !owner_ok(owner))
		return KMM_EINVAL;
	ret = range_idx(p, pa, KMM_PAGE_SIZE, &lo, &hi);
	if (ret)
		return ret;
	if (!kmm_is_aligned(p->base_pfn + lo, pages_of(order)))
		return KMM_EALIGN;

	kmm_port_lock(p->port);
	ret = owned_block(p, lo, owner);
	if (ret >= 0 && (unsigned int)ret != order)
		ret = KMM_EINVAL;
	if (ret >= 0) {
		free_block(p, lo, owner);
		ret = 0;
	}
	kmm_port_unlock(p->port);
	return ret;
}

/*
 * Frees the blocks of @owner that tile [@lo, @hi) exactly. Called under the
 * lock; checks every block before it frees any.
 */
static int free_blocks(struct kmm_pages *p, uint64_t lo, uint64_t hi,
		       kmm_owner_t owner)
{
	for (uint64_t i = lo; i < hi; i += pages_of(blk_order(p, i))) {
		int ret = owned_block(p, i, owner);

		if (ret < 0)
			return ret;
		if (pages_of((unsigned int)ret) > hi - i)
			return KMM_EINVAL;
	}
	/* Blocks after the one being freed are still allocated, so merging
	 * never reaches them and their heads stay where the check saw them. */
	for (uint64_t i = lo; i < hi;) {
		uint64_t next = i + pages_of(blk_order(p, i));

		free_block(p, i, owner);
		i = next;
	}
	return 0;
}

/* What range_call() does with a checked range, under the lock. */
enum range_op {
	RANGE_ADD, /* kmm_pages_add() */
	RANGE_RESERVE, /* kmm_pages_reserve() */
	RANGE_ALLOC, /* kmm_pages_alloc_range() */
	RANGE_FREE, /* kmm_pages_free_range() */
};

/*
 * The range calls: checks the context, the owner and the range, then runs
 * @op under the lock.
 */
static int range_call(struct kmm_pages *p, kmm_paddr_t base, uint64_t size,
		      enum range_op op, kmm_owner_t owner)
{
	const struct claim c = { .allocate = op == RANGE_ALLOC,
				 .owner = owner };
	/* range_idx() sets them; = 0 for -Wmaybe-uninitialized. */
	uint64_t lo = 0, hi = 0;
	int ret;

	if (p == NULL || !owner_ok(owner))
		return KMM_EINVAL;
	ret = range_idx(p, base, size, &lo, &hi);
	if (ret)
		return ret;

	kmm_port_lock(p->port);
	if (op == RANGE_ADD)
		ret = add_range(p, lo, hi);
	else if (op == RANGE_FREE)
		ret = free_blocks(p, lo, hi, owner);
	else
		ret = claim_range(p, lo, hi, &c);
	kmm_port_unlock(p->port);
	return ret;
}

int kmm_pages_add(struct kmm_pages *p, kmm_paddr_t base, uint64_t size)
{
	return range_call(p, base, size, RANGE_ADD, KMM_OWNER_KERNEL);
}

int kmm_pages_reserve(struct kmm_pages *p, kmm_paddr_t base, uint64_t size)
{
	return range_call(p, base, size, RANGE_RESERVE, KMM_OWNER_KERNEL);
}

int kmm_pages_alloc_range(struct kmm_pages *p, kmm_paddr_t base, uint64_t size,
			  kmm_owner_t owner)
{
	return range_call(p, base, size, RANGE_ALLOC, owner);
}

int kmm_pages_free_range(struct kmm_pages *p, kmm_paddr_t base, uint64_t size,
			 kmm_owner_t owner)
{
	return range_call(p, base, size, RANGE_FREE, owner);
}

int kmm_pages_owner(const struct kmm_pages *p, kmm_paddr_t pa,
		    kmm_owner_t *owner)
{
	uint64_t pfn, h;
	int ret = KMM_ENOENT;

	if (p == NULL || owner == NULL)
		return KMM_EINVAL;
	pfn = pa >> PAGE_SHIFT;
	if (pfn < p->base_pfn || pfn - p->base_pfn >= p->span_pages)
		return KMM_ERANGE;

	kmm_port_lock(p->port);
	if (find_block(p, pfn - p->base_pfn, &h) && blk_allocated(p, h)) {
		*owner = blk_owner(p, h);
		ret = 0;
	}
	kmm_port_unlock(p->port);
	return ret;
}

/* What owner_call() does for a checked owner, under the lock. */
enum owner_op {
	OWNER_FREE_ALL, /* kmm_pages_free_all() */
	OWNER_SET_QUOTA, /* kmm_pages_set_quota() from *@val */
	OWNER_USAGE, /* kmm_pages_usage() into *@val */
};

/* Out of line: inlined, each caller would get its own copy back. */
__attribute__((noinline)) static int owner_call(struct kmm_pages *p,
						kmm_owner_t owner,
						enum owner_op op, uint64_t *val)
{
	struct kmm_pages_account *a;

	if (p == NULL || val == NULL || !owner_ok(owner))
		return KMM_EINVAL;
	a = &p->owners[owner];
	kmm_port_lock(p->port);
	if (op == OWNER_SET_QUOTA)
		a->quota = *val;
	else if (op == OWNER_USAGE)
		*val = a->pages;
	else
		while (a->head != NIL)
			free_block(p, a->head, owner);
	kmm_port_unlock(p->port);
	return 0;
}

int kmm_pages_free_all(struct kmm_pages *p, kmm_owner_t owner)
{
	uint64_t unused;

	return owner_call(p, owner, OWNER_FREE_ALL, &unused);
}

int kmm_pages_set_quota(struct kmm_pages *p, kmm_owner_t owner,
			uint64_t max_pages)
{
	return owner_call(p, owner, OWNER_SET_QUOTA, &max_pages);
}

int kmm_pages_usage(const struct kmm_pages *p, kmm_owner_t owner,
		    uint64_t *pages)
{
	/* Only OWNER_FREE_ALL and OWNER_SET_QUOTA write to @p. */
	return owner_call((struct kmm_pages *)p, owner, OWNER_USAGE, pages);
}

int kmm_pages_stats(const struct kmm_pages *p, struct kmm_pages_stats *st)
{
	if (p == NULL || st == NULL)
		return KMM_EINVAL;

	kmm_port_lock(p->port);
	kmm_memzero(st, sizeof(*st));
	st->span_pages = p->span_pages;
	st->managed_pages = p->managed_pages;
	st->free_pages = p->free_pages;
	st->allocated_pages = p->managed_pages - p->free_pages;
	st->largest_free_order = -1;
	for (unsigned int k = 0; k <= MAX_ORDER; k++) {
		st->free_blocks[k] = p->free_blocks[k];
		if (p->free_blocks[k]) {
			st->largest_free_order = (int)k;
			st->largest_free_bytes = (uint64_t)KMM_PAGE_SIZE << k;
		}
	}
	kmm_port_unlock(p->port);
	return 0;
}

/* ----------------------------------------------------------------------
 * Consistency check.
 */

/* Walks one list: every member must satisfy @is_member, links must be
 * mutual, and the length must be @expect. Returns the pages it holds, or
 * UINT64_MAX when something is wrong. */
static uint64_t check_list(const struct kmm_pages *p, uint32_t head,
			   uint64_t expect, bool free, kmm_owner_t owner,
			   unsigned int order)
{
	uint64_t n = 0, pages = 0, prev, i = head;

	if (head == NIL)
		return expect == 0 ? 0 : UINT64_MAX;
	if (i >= p->span_pages || get_prev(p, i) != i)
		return UINT64_MAX;
	for (prev = i;; prev = i, i = get_next(p, i)) {
		if (i >= p->span_pages || ++n > expect || !is_head(p, i))
			return UINT64_MAX;
		if (i != prev && get_prev(p, i) != prev)
			return UINT64_MAX;
		if (free ? !blk_free(p, i) || blk_order(p, i) != order :
			   !blk_allocated(p, i) || blk_owner(p, i) != owner)
			return UINT64_MAX;
		pages += pages_of(blk_order(p, i));
		if (get_next(p, i) == i)
			break;
	}
	return n == expect ? pages : UINT64_MAX;
}

/* Checks one block headed at @i; returns false when it is malformed. */
static bool check_head(const struct kmm_pages *p, uint64_t i, uint64_t *nfree,
		       uint64_t *nalloc)
{
	unsigned int k = blk_order(p, i);
	uint64_t pfn = p->base_pfn + i, n = pages_of(k);

	if (k > MAX_ORDER || !kmm_is_aligned(pfn, n) || n > p->span_pages - i)
		return false;
	if (tag_of(p->meta[i]) == TAG_BIG && k == 0)
		return false;
	for (uint64_t j = 1; j < n; j++) {
		uint64_t w = p->meta[i + j];

		if (j == 1 ? tag_of(w) != TAG_NONE || (w & ~LINKS_MASK) : w)
			return false;
	}
	if (blk_allocated(p, i)) {
		*nalloc += n;
		return owner_ok(blk_owner(p, i)) &&
		       (tag_of(p->meta[i]) != TAG_BIG ||
			!(p->meta[i] & BIG_DIRTY));
	}
	*nfree += n;
	if (k < MAX_ORDER) {
		uint64_t buddy = pfn ^ n;

		if (buddy >= p->base_pfn &&
		    buddy - p->base_pfn < p->span_pages &&
		    blk_free(p, buddy - p->base_pfn) &&
		    blk_order(p, buddy - p->base_pfn) == k)
			return false;
	}
	return true;
}

int kmm_pages_check(const struct kmm_pages *p)
{
	uint64_t nfree = 0, nalloc = 0, owned = 0;
	int ret = KMM_EBADDATA;

	if (p == NULL)
		return KMM_EINVAL;
	if (!KMM_CONFIG_DIAGNOSTICS)
		return KMM_ENOTSUP;

	kmm_port_lock(p->port);
	for (uint64_t i = 0; i < p->span_pages;) {
		if (!is_head(p, i)) {
			if (p->meta[i])
				goto out;
			i++;
			continue;
		}
		if (!check_head(p, i, &nfree, &nalloc))
			goto out;
		i += pages_of(blk_order(p, i));
	}
	if (nfree != p->free_pages || nfree + nalloc != p->managed_pages)
		goto out;
	for (unsigned int k = 0; k <= MAX_ORDER; k++) {
		uint64_t pages = check_list(p, p->free_head[k],
					    p->free_blocks[k], true, 0, k);

		if (pages != p->free_blocks[k] << k)
			goto out;
	}
	for (size_t o = 0; o < KMM_CONFIG_MAX_OWNERS; o++) {
		const struct kmm_pages_account *a = &p->owners[o];
		uint64_t pages = check_list(p, a->head, a->blocks, false,
					    (kmm_owner_t)o, 0);

		if (pages != a->pages)
			goto out;
		owned += pages;
	}
	if (owned == nalloc)
		ret = 0;
out:
	kmm_port_unlock(p->port);
	return ret;
}
