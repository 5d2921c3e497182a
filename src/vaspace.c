// SPDX-License-Identifier: BSD-2-Clause
/*
 * Address-range allocator over an augmented tree of free extents.
 *
 * Invariants kept by every public function on return:
 *  - windows[] are disjoint, non-adjacent and sorted; none is the whole
 *    2^64 space, so every size below fits in 64 bits;
 *  - free extents lie inside windows, are disjoint and never adjacent
 *    (a freed range merges with its neighbours);
 *  - every window byte is in exactly one free extent, one range or one
 *    range's guard;
 *  - every free node's fit equals what update_fit() computes for it;
 *  - owners[o].usage is the sum of the sizes of o's ranges, each of which
 *    is on owners[o].ranges.
 *
 * Exactness of the search: for alignment 2^j granules (j < LANES)
 * fit.max_room[j] is the largest range starting on such a boundary inside
 * some extent of the subtree (saturated at FIT_SAT granules), so for a
 * need of at most FIT_SAT granules "subtree may fit" is "subtree holds a
 * fit" and the descent never backtracks. For larger alignments or needs
 * the cached values are upper bounds: the search stays exact but may
 * backtrack.
 */
#include "kmm/vaspace.h"

#include "util.h"

#define CLASSES KMM_VASPACE_ALIGN_CLASSES

typedef struct kmm_vaspace_node vnode_t;

static inline vnode_t *vnode(const struct kmm_rb_node *rb)
{
	return rb ? kmm_container_of(rb, vnode_t, rb) : NULL;
}

static inline uint64_t node_last(const vnode_t *n)
{
	return n->base + (n->size - 1);
}

static inline bool owner_ok(kmm_owner_t owner)
{
	return owner < KMM_CONFIG_MAX_OWNERS;
}

/* ------------------------------------------------------------------ */
/* Augmentation: the fit of a free-tree subtree.                      */
/* ------------------------------------------------------------------ */

/*
 * Every room is saturated at FIT_SAT granules: a query for at most that
 * many is answered exactly, a larger one only prunes (see fit_query).
 * FIT_SAT + 2^LANES still fits in 32 bits, which keeps the arithmetic
 * below in 32 bits. Saturation also stops a change of a huge extent
 * (the untouched rest of a window, carved at every allocation) at the
 * extent itself.
 */
#define FIT_SAT KMM_VASPACE_FIT_SAT
#define LANES KMM_VASPACE_FIT_LANES
#define HUGE_UNITS ((uint64_t)FIT_SAT + ((uint64_t)1 << LANES))

/* The fit of a missing child. */
static const struct kmm_vaspace_fit no_fit;

static inline uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static inline uint32_t min_u32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

static inline uint32_t max3_u32(uint32_t a, uint32_t b, uint32_t c)
{
	return max_u32(max_u32(a, b), c);
}

/* Lowest set bit of a non-zero lane mask (32-bit: no libgcc call). */
static inline unsigned int lane_low(uint32_t mask)
{
	return (unsigned int)__builtin_ctz(mask);
}

/* Highest set bit of a non-zero lane mask. */
static inline unsigned int lane_high(uint32_t mask)
{
	return 31u - (unsigned int)__builtin_clz(mask);
}

static inline const struct kmm_vaspace_fit *fit_of(const struct kmm_rb_node *rb)
{
	return rb ? &vnode(rb)->fit : &no_fit;
}

/*
 * The extent of @n in granules: @size of them, @lead the low bits of the
 * distance from its base up to 2^64. The first boundary of 2^j granules
 * lies (lead & (2^j - 1)) granules into the extent; it is inside iff that
 * is below the size, and a boundary inside is never at or past 2^64.
 */
struct own_extent {
	uint64_t size;
	uint32_t lead;
};

static inline struct own_extent own_extent(const vnode_t *n)
{
	unsigned int shift = n->fit.granule_shift;

	return (struct own_extent){ .size = n->size >> shift,
				    .lead = (uint32_t)(0 -
						       (n->base >> shift)) };
}

/* Room of @e from its first boundary of 2^j granules, saturated. */
static inline uint32_t own_room(struct own_extent e, unsigned int j)
{
	uint32_t pad = e.lead & (((uint32_t)1 << j) - 1);

	if (e.size >= HUGE_UNITS)
		return FIT_SAT; /* room > FIT_SAT in every lane */
	if (pad >= e.size)
		return 0;
	return min_u32((uint32_t)e.size - pad, FIT_SAT);
}

/*
 * The extent's own room per lane for the lanes with room; returns how
 * many those are. A lane's boundary is never below the previous lane's,
 * so the lanes with room come first (lane 0 always has room).
 */
static unsigned int own_rooms(const vnode_t *n, uint32_t room[LANES])
{
	struct own_extent e = own_extent(n);
	unsigned int j = 0;

	if (e.size >= HUGE_UNITS) {
		for (; j < LANES; j++)
			room[j] = FIT_SAT;
		return LANES;
	}
	for (; j < LANES; j++) {
		uint32_t pad = e.lead & (((uint32_t)1 << j) - 1);

		if (pad >= e.size)
			break;
		room[j] = min_u32((uint32_t)e.size - pad, FIT_SAT);
	}
	return j;
}

/*
 * Recomputes the fit of @n from its extent and its children's fits, in
 * place; returns the mask of lanes that changed. Only the lanes where
 * one of the three has room are computed: every lane above is 0 in all
 * of them.
 */
static uint32_t update_fit(vnode_t *n)
{
	const struct kmm_vaspace_fit *l = fit_of(n->rb.left);
	const struct kmm_vaspace_fit *r = fit_of(n->rb.right);
	struct kmm_vaspace_fit *f = &n->fit;
	uint32_t room[LANES];
	unsigned int own = own_rooms(n, room);
	unsigned int top = max3_u32(own, l->lanes, r->lanes);
	uint32_t changed = 0;
	unsigned int j = 0;

	for (; j < own; j++) {
		uint32_t v = max3_u32(room[j], l->max_room[j], r->max_room[j]);

		changed |= (uint32_t)(v != f->max_room[j]) << j;
		f->max_room[j] = v;
	}
	for (; j < top; j++) {
		uint32_t v = max_u32(l->max_room[j], r->max_room[j]);

		changed |= (uint32_t)(v != f->max_room[j]) << j;
		f->max_room[j] = v;
	}
	for (; j < f->lanes; j++) {
		changed |= (uint32_t)(f->max_room[j] != 0) << j;
		f->max_room[j] = 0;
	}
	f->lanes = (uint8_t)top;
	return changed;
}

/*
 * Carries a change of @child's fit up to, not including, @stop (NULL:
 * the root): @mask holds the lanes that changed and @old what they were.
 * At the parent a lane can only change if the child's new value exceeds
 * the parent's, or if the child's old value was the parent's (the child
 * held the maximum, so the parent looks at its own extent and its other
 * child again). A lane that did not change at a node drops out, and the
 * walk ends when none is left: the cost per node is the number of lanes
 * still changing, not the number of lanes.
 */
static void fit_carry(vnode_t *child, struct kmm_rb_node *stop, uint32_t mask,
		      uint32_t old[LANES])
{
	struct kmm_rb_node *prb;

	while (mask != 0 && (prb = kmm_rb_parent(&child->rb)) != stop) {
		vnode_t *p = vnode(prb);
		struct kmm_vaspace_fit *pf = &p->fit;
		const struct kmm_vaspace_fit *cf = &child->fit;
		uint32_t next = 0, zero = 0;

		do {
			unsigned int j = lane_low(mask);
			uint32_t was = pf->max_room[j], v = cf->max_room[j];

			mask &= mask - 1;
			if (v < was) {
				const struct kmm_rb_node *sib;

				if (old[j] != was)
					continue; /* the maximum is elsewhere */
				sib = prb->left == &child->rb ? prb->right :
								prb->left;
				v = max3_u32(own_room(own_extent(p), j), v,
					     fit_of(sib)->max_room[j]);
				if (v == was)
					continue;
				zero |= (uint32_t)(v == 0) << j;
			} else if (v == was) {
				continue;
			}
			pf->max_room[j] = v;
			old[j] = was;
			next |= (uint32_t)1 << j;
		} while (mask != 0);
		/* The lanes with room stay a prefix: find its new end. */
		if (zero != 0)
			pf->lanes = (uint8_t)lane_low(zero);
		else if (next >> pf->lanes != 0)
			pf->lanes = (uint8_t)(lane_high(next) + 1);
		mask = next;
		child = p;
	}
}

/*
 * Recomputes the fit of @rb, then carries what changed up to, not
 * including, @stop (NULL: the root). Every node between keeps a correct
 * value for what its subtree was before the change below it.
 */
static void fit_propagate(struct kmm_rb_node *rb, struct kmm_rb_node *stop)
{
	uint32_t old[LANES];
	vnode_t *n;

	if (rb == stop)
		return;
	n = vnode(rb);
	kmm_memcpy(old, n->fit.max_room, sizeof(old));
	fit_carry(n, stop, update_fit(n), old);
}

/*
 * After a change of @n's extent that kept its place in the order:
 * recomputes @n's fit and carries what changed up to the root.
 */
static void free_update(vnode_t *n)
{
	fit_propagate(&n->rb, NULL);
}

/* The other two tree callbacks. */
static void fit_copy(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	vnode(to)->fit = vnode(from)->fit;
}

static void fit_rotate(struct kmm_rb_node *old_top, struct kmm_rb_node *new_top)
{
	vnode(new_top)->fit = vnode(old_top)->fit;
	update_fit(vnode(old_top));
}

static const struct kmm_rb_augment fit_aug = {
	.propagate = fit_propagate,
	.copy = fit_copy,
	.rotate = fit_rotate,
};

/* Nothing to propagate: free_insert() carried the new leaf up already. */
static void fit_carried(struct kmm_rb_node *rb, struct kmm_rb_node *stop)
{
	(void)rb;
	(void)stop;
}

/* For kmm_rb_insert() of a leaf whose fit was carried up. */
static const struct kmm_rb_augment fit_aug_linked = {
	.propagate = fit_carried,
	.copy = fit_copy,
	.rotate = fit_rotate,
};

/* ------------------------------------------------------------------ */
/* Tree helpers.                                                      */
/* ------------------------------------------------------------------ */

/* The node of @root with the greatest base <= @va, or NULL. */
static vnode_t *floor_by_base(const struct kmm_rb_root *root, uint64_t va)
{
	struct kmm_rb_node *rb = root->node, *best = NULL;

	while (rb) {
		if (va < vnode(rb)->base) {
			rb = rb->left;
		} else {
			best = rb;
			rb = rb->right;
		}
	}
	return vnode(best);
}

/* Links @n into @root by base; the caller sets up any augmented value. */
static void link_by_base(struct kmm_rb_root *root, vnode_t *n)
{
	struct kmm_rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		link = n->base < vnode(parent)->base ? &parent->left :
						       &parent->right;
	}
	kmm_rb_link(&n->rb, parent, link);
}

static void free_insert(struct kmm_vaspace *vs, vnode_t *n)
{
	uint32_t none[LANES] = { 0 };

	link_by_base(&vs->free_tree, n);
	n->fit.granule_shift = (uint8_t)vs->granule_shift;
	/* Unknown contents: have update_fit() clear every lane. */
	n->fit.lanes = LANES;
	update_fit(n);
	/* The ancestors saw no room from the new leaf: carry all of it. */
	fit_carry(n, NULL, ((uint32_t)1 << n->fit.lanes) - 1, none);
	kmm_rb_insert(&vs->free_tree, &n->rb, &fit_aug_linked);
}
/* The node of @root with the greatest base <= @va whose range holds @va. */
static vnode_t *node_holding(const struct kmm_rb_root *root, uint64_t va)
{
	vnode_t *n = floor_by_base(root, va);

	return n && va <= node_last(n) ? n : NULL;
}

/* True when [base, last] lies inside one window. */
static bool in_window(const struct kmm_vaspace *vs, uint64_t base,
		      uint64_t last)
{
	for (unsigned int i = 0; i < vs->nr_windows; i++)
		if (vs->windows[i].base <= base && last <= vs->windows[i].last)
			return true;
	return false;
}

/* ------------------------------------------------------------------ */
/* The search.                                                        */
/* ------------------------------------------------------------------ */

struct fit_query {
	uint64_t need; /* range plus guard, bytes */
	uint64_t align; /* bytes, a power of two >= granule */
	uint32_t need_units; /* need in granules, saturated */
	unsigned int lane; /* log2(align in granules), at most LANES - 1 */
};

/*
 * May the subtree at @rb hold a fit? Exact when the alignment has its
 * own lane and need_units is not saturated, otherwise an upper bound.
 */
static inline bool subtree_may_fit(const struct kmm_rb_node *rb,
				   const struct fit_query *q)
{
	return rb != NULL && vnode(rb)->fit.max_room[q->lane] >= q->need_units;
}

static bool extent_fits(const vnode_t *n, const struct fit_query *q,
			uint64_t *at)
{
	uint64_t start = kmm_align_up(n->base, q->align);
	uint64_t last = node_last(n);

	if (start < n->base || start > last || last - start < q->need - 1)
		return false;
	*at = start;
	return true;
}

/* The nearest ancestor of @rb that has @rb in its left subtree. */
static struct kmm_rb_node *up_from_left(struct kmm_rb_node *rb)
{
	struct kmm_rb_node *p;

	while ((p = kmm_rb_parent(rb)) != NULL && p->right == rb)
		rb = p;
	return p;
}

/*
 * Finds the free extent holding the lowest fit for @q, in address order:
 * a subtree is entered only if it may hold a fit, everything before the
 * current node has been ruled out.
 */
static vnode_t *lowest_fit(const struct kmm_vaspace *vs,
			   const struct fit_query *q, uint64_t *at)
{
	struct kmm_rb_node *rb = vs->free_tree.node;

	if (!subtree_may_fit(rb, q))
		return NULL;
	for (;;) {
		while (subtree_may_fit(rb->left, q))
			rb = rb->left;
		/* Visit @rb, then its right subtree, else climb. */
		for (;;) {
			if (extent_fits(vnode(rb), q, at))
				return vnode(rb);
			if (subtree_may_fit(rb->right, q)) {
				rb = rb->right;
				break;
			}
			rb = up_from_left(rb);
			if (rb == NULL)
				return NULL;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Taking and giving back ranges.                                     */
/* ------------------------------------------------------------------ */

/* Nodes carve() needs from the slab to cut [start, start+need) from @f. */
static size_t carve_nodes(const vnode_t *f, uint64_t start, uint64_t need)
{
	bool head = start > f->base;
	bool tail = start + (need - 1) < node_last(f);

	if (head && tail)
		return 2; /* one more extent and the range */
	return head || tail ? 1 : 0; /* the range; or @f becomes it */
}

/*
 * Cuts [start, start + need) out of free extent @f and returns the node
 * for the range: @spare[0] or, if nothing of @f is left, @f itself.
 */
static vnode_t *carve(struct kmm_vaspace *vs, vnode_t *f, uint64_t start,
		      uint64_t need, vnode_t **spare)
{
	uint64_t last = start + (need - 1);
	uint64_t f_last = node_last(f);
	bool head = start > f->base;
	bool tail = last < f_last;

	if (head && tail) {
		vnode_t *t = spare[1];

		/*
		 * @f keeps the larger piece, so that the new node carries the
		 * smaller change up the tree: carving a window's untouched
		 * rest leaves it huge and its saturated fit unchanged.
		 */
		if (start - f->base > f_last - last) {
			f->size = start - f->base;
			t->base = last + 1;
			t->size = f_last - last;
		} else {
			t->base = f->base;
			t->size = start - f->base;
			f->base = last + 1;
			f->size = f_last - last;
		}
		free_update(f);
		free_insert(vs, t);
		return spare[0];
	}
	if (head) {
		f->size = start - f->base;
		free_update(f);
		return spare[0];
	}
	if (tail) {
		f->base = last + 1;
		f->size = f_last - last;
		free_update(f);
		return spare[0];
	}
	kmm_rb_erase(&vs->free_tree, &f->rb, &fit_aug);
	return f;
}

/* The free extents around the non-free [base, last]: adjacent or NULL. */
static void free_neighbours(const struct kmm_vaspace *vs, uint64_t base,
			    uint64_t last, vnode_t **prev, vnode_t **next)
{
	vnode_t *p = floor_by_base(&vs->free_tree, base);
	struct kmm_rb_node *n = p ? kmm_rb_next(&p->rb) :
				    kmm_rb_first(&vs->free_tree);

	*prev = p;
	*next = vnode(n);
	/* Adjacent means no gap, and never across the 2^64 wrap. */
	if (*prev &&
	    (node_last(*prev) == UINT64_MAX || node_last(*prev) + 1 != base))
		*prev = NULL;
	if (*next && (last == UINT64_MAX || last + 1 != (*next)->base))
		*next = NULL;
}

/*
 * Makes the non-free [base, base + size) free, merging with adjacent
 * extents. @spare becomes the new extent if there is nothing to merge
 * with, else it goes back to the slab (NULL only when a merge is sure).
 */
static void release(struct kmm_vaspace *vs, uint64_t base, uint64_t size,
		    vnode_t *spare)
{
	vnode_t *prev, *next;

	free_neighbours(vs, base, base + (size - 1), &prev, &next);
	if (prev && next) {
		/*
		 * The larger neighbour absorbs the rest and the smaller one
		 * leaves, unlinked first so the tree is consistent throughout.
		 */
		if (prev->size >= next->size) {
			kmm_rb_erase(&vs->free_tree, &next->rb, &fit_aug);
			prev->size += size + next->size;
			free_update(prev);
			kmm_slab_free(vs->nodes, next);
		} else {
			kmm_rb_erase(&vs->free_tree, &prev->rb, &fit_aug);
			next->size += size + prev->size;
			next->base = prev->base;
			free_update(next);
			kmm_slab_free(vs->nodes, prev);
		}
	} else if (prev) {
		prev->size += size;
		free_update(prev);
	} else if (next) {
		next->base = base;
		next->size += size;
		free_update(next);
	} else {
		spare->base = base;
		spare->size = size;
		free_insert(vs, spare);
		return;
	}
	kmm_slab_free(vs->nodes, spare);
}

static void owner_link(struct kmm_vaspace *vs, vnode_t *r)
{
	struct kmm_vaspace_owner *o = &vs->owners[r->used.owner];

	r->used.prev = NULL;
	r->used.next = o->ranges;
	if (o->ranges)
		o->ranges->used.prev = r;
	o->ranges = r;
	o->usage += r->size;
}

static void owner_unlink(struct kmm_vaspace *vs, vnode_t *r)
{
	struct kmm_vaspace_owner *o = &vs->owners[r->used.owner];

	if (r->used.prev)
		r->used.prev->used.next = r->used.next;
	else
		o->ranges = r->used.next;
	if (r->used.next)
		r->used.next->used.prev = r->used.prev;
	o->usage -= r->size;
}

static bool over_quota(const struct kmm_vaspace *vs, kmm_owner_t owner,
		       uint64_t size)
{
	const struct kmm_vaspace_owner *o = &vs->owners[owner];

	return o->usage > o->quota || size > o->quota - o->usage;
}

/*
 * Takes [start, start + size + guard) out of free extent @f for @owner;
 * takes the nodes it needs first, so KMM_ENOMEM changes nothing.
 */
static int take(struct kmm_vaspace *vs, vnode_t *f, uint64_t start,
		uint64_t size, kmm_owner_t owner)
{
	void *objs[2] = { NULL, NULL };
	size_t n = carve_nodes(f, start, size + vs->guard);
	vnode_t *spare[2];
	vnode_t *r;

	if (kmm_slab_alloc_n(vs->nodes, objs, n))
		return KMM_ENOMEM;
	spare[0] = objs[0];
	spare[1] = objs[1];
	r = carve(vs, f, start, size + vs->guard, spare);
	r->base = start;
	r->size = size;
	r->used.owner = owner;
	link_by_base(&vs->used_tree, r);
	kmm_rb_insert(&vs->used_tree, &r->rb, NULL);
	owner_link(vs, r);
	return KMM_OK;
}

/* Gives back range @r and its guard; needs no node. */
static void give_back(struct kmm_vaspace *vs, vnode_t *r)
{
	kmm_rb_erase(&vs->used_tree, &r->rb, NULL);
	owner_unlink(vs, r);
	release(vs, r->base, r->size + vs->guard, r);
}

/* ------------------------------------------------------------------ */
/* Public API.                                                        */
/* ------------------------------------------------------------------ */

int kmm_vaspace_init(struct kmm_vaspace *vs,
		     const struct kmm_vaspace_config *cfg)
{
	if (vs == NULL || cfg == NULL || cfg->nodes == NULL)
		return KMM_EINVAL;
	if (!kmm_is_pow2(cfg->granule) ||
	    cfg->granule > KMM_VASPACE_MAX_GRANULE)
		return KMM_EINVAL;
	if (kmm_slab_obj_size(cfg->nodes) < sizeof(vnode_t) ||
	    cfg->nodes->obj_align < _Alignof(vnode_t))
		return KMM_EINVAL;
	if (cfg->identity && cfg->guard_granules != 0)
		return KMM_EINVAL;
	kmm_memzero(vs, sizeof(*vs));
	vs->port = cfg->port;
	vs->nodes = cfg->nodes;
	vs->granule = cfg->granule;
	vs->granule_shift = kmm_log2_u64(cfg->granule);
	/* Both factors are at most 2^32: no overflow. */
	vs->guard = (uint64_t)cfg->guard_granules * cfg->granule;
	vs->identity = cfg->identity;
	for (unsigned int i = 0; i < KMM_CONFIG_MAX_OWNERS; i++)
		vs->owners[i].quota = UINT64_MAX;
	return KMM_OK;
}

/* Index of the window adjacent below @base, or -1. */
static int window_below(const struct kmm_vaspace *vs, uint64_t base)
{
	for (unsigned int i = 0; i < vs->nr_windows; i++)
		if (vs->windows[i].last != UINT64_MAX &&
		    vs->windows[i].last + 1 == base)
			return (int)i;
	return -1;
}

/* Index of the window adjacent above @last, or -1. */
static int window_above(const struct kmm_vaspace *vs, uint64_t last)
{
	for (unsigned int i = 0; i < vs->nr_windows; i++)
		if (last != UINT64_MAX && last + 1 == vs->windows[i].base)
			return (int)i;
	return -1;
}

static void window_remove(struct kmm_vaspace *vs, unsigned int i)
{
	for (; i + 1 < vs->nr_windows; i++)
		vs->windows[i] = vs->windows[i + 1];
	vs->nr_windows--;
}

static void window_insert(struct kmm_vaspace *vs, uint64_t base, uint64_t last)
{
	unsigned int i = vs->nr_windows;

	for (; i > 0 && vs->windows[i - 1].base > base; i--)
		vs->windows[i] = vs->windows[i - 1];
	vs->windows[i].base = base;
	vs->windows[i].last = last;
	vs->nr_windows++;
}

static int add_window_locked(struct kmm_vaspace *vs, uint64_t base,
			     uint64_t last)
{
	int lo = window_below(vs, base), hi = window_above(vs, last);
	uint64_t whole_base = lo >= 0 ? vs->windows[lo].base : base;
	uint64_t whole_last = hi >= 0 ? vs->windows[hi].last : last;
	vnode_t *prev, *next, *spare = NULL;

	for (unsigned int i = 0; i < vs->nr_windows; i++)
		if (vs->windows[i].base <= last && base <= vs->windows[i].last)
			return KMM_EEXIST;
	if (whole_base == 0 && whole_last == UINT64_MAX)
		return KMM_ERANGE;
	if (lo < 0 && hi < 0 && vs->nr_windows == KMM_VASPACE_MAX_WINDOWS)
		return KMM_ENOSPC;
	free_neighbours(vs, base, last, &prev, &next);
	if (prev == NULL && next == NULL) {
		spare = kmm_slab_alloc(vs->nodes);
		if (spare == NULL)
			return KMM_ENOMEM;
	}
	if (lo >= 0 && hi >= 0) {
		vs->windows[lo].last = vs->windows[hi].last;
		window_remove(vs, (unsigned int)hi);
	} else if (lo >= 0) {
		vs->windows[lo].last = last;
	} else if (hi >= 0) {
		vs->windows[hi].base = base;
	} else {
		window_insert(vs, base, last);
	}
	release(vs, base, last - base + 1, spare);
	return KMM_OK;
}

int kmm_vaspace_add_window(struct kmm_vaspace *vs, kmm_vaddr_t base,
			   uint64_t size)
{
	int ret;

	if (vs == NULL || size == 0)
		return KMM_EINVAL;
	if (!kmm_is_aligned(base, vs->granule) ||
	    !kmm_is_aligned(size, vs->granule))
		return KMM_EALIGN;
	if (kmm_range_wraps(base, size))
		return KMM_ERANGE;
	kmm_port_lock(vs->port);
	ret = add_window_locked(vs, base, base + (size - 1));
	kmm_port_unlock(vs->port);
	return ret;
}

static int alloc_locked(struct kmm_vaspace *vs, const struct fit_query *q,
			uint64_t size, kmm_owner_t owner, kmm_vaddr_t *va)
{
	uint64_t at = 0;
	vnode_t *f;
	int ret;

	if (over_quota(vs, owner, size))
		return KMM_EQUOTA;
	f = lowest_fit(vs, q, &at);
	if (f == NULL)
		return KMM_ENOSPC;
	ret = take(vs, f, at, size, owner);
	if (ret == KMM_OK)
		*va = at;
	return ret;
}

int kmm_vaspace_alloc(struct kmm_vaspace *vs, uint64_t size, uint64_t align,
		      kmm_owner_t owner, kmm_vaddr_t *va)
{
	struct fit_query q;
	uint64_t units;
	int ret;

	if (vs == NULL || va == NULL || size == 0 || !kmm_is_pow2(align) ||
	    !owner_ok(owner))
		return KMM_EINVAL;
	if (!kmm_is_aligned(size, vs->granule) || align < vs->granule)
		return KMM_EALIGN;
	if (vs->identity)
		return KMM_ENOTSUP;
	if (size > UINT64_MAX - vs->guard)
		return KMM_ENOSPC;
	q.need = size + vs->guard;
	q.align = align;
	q.lane = kmm_log2_u64(align) - vs->granule_shift;
	if (q.lane >= LANES)
		q.lane = LANES - 1;
	units = q.need >> vs->granule_shift;
	q.need_units = units > FIT_SAT ? FIT_SAT : (uint32_t)units;
	kmm_port_lock(vs->port);
	ret = alloc_locked(vs, &q, size, owner, va);
	kmm_port_unlock(vs->port);
	return ret;
}

static int claim_locked(struct kmm_vaspace *vs, uint64_t va, uint64_t size,
			uint64_t last, kmm_owner_t owner)
{
	vnode_t *f;

	if (!in_window(vs, va, last))
		return KMM_ERANGE;
	f = node_holding(&vs->free_tree, va);
	if (f == NULL || node_last(f) < last)
		return KMM_EEXIST;
	if (over_quota(vs, owner, size))
		return KMM_EQUOTA;
	return take(vs, f, va, size, owner);
}

int kmm_vaspace_claim(struct kmm_vaspace *vs, kmm_vaddr_t va, uint64_t size,
		      kmm_owner_t owner)
{
	int ret;

	if (vs == NULL || size == 0 || !owner_ok(owner))
		return KMM_EINVAL;
	if (!kmm_is_aligned(va, vs->granule) ||
	    !kmm_is_aligned(size, vs->granule))
		return KMM_EALIGN;
	if (size > UINT64_MAX - vs->guard ||
	    kmm_range_wraps(va, size + vs->guard))
		return KMM_ERANGE;
	kmm_port_lock(vs->port);
	ret = claim_locked(vs, va, size, va + (size + vs->guard - 1), owner);
	kmm_port_unlock(vs->port);
	return ret;
}

static int free_locked(struct kmm_vaspace *vs, uint64_t va, uint64_t size,
		       kmm_owner_t owner)
{
	vnode_t *r;

	if (!in_window(vs, va, va + (size - 1)))
		return KMM_ERANGE;
	r = node_holding(&vs->used_tree, va);
	if (r == NULL)
		return KMM_ENOENT;
	if (r->used.owner != owner)
		return KMM_EPERM;
	if (r->base != va || r->size != size)
		return KMM_EINVAL;
	give_back(vs, r);
	return KMM_OK;
}

int kmm_vaspace_free(struct kmm_vaspace *vs, kmm_vaddr_t va, uint64_t size,
		     kmm_owner_t owner)
{
	int ret;

	if (vs == NULL || size == 0 || !owner_ok(owner))
		return KMM_EINVAL;
	if (!kmm_is_aligned(va, vs->granule) ||
	    !kmm_is_aligned(size, vs->granule))
		return KMM_EALIGN;
	if (kmm_range_wraps(va, size))
		return KMM_ERANGE;
	kmm_port_lock(vs->port);
	ret = free_locked(vs, va, size, owner);
	kmm_port_unlock(vs->port);
	return ret;
}

int kmm_vaspace_find(const struct kmm_vaspace *vs, kmm_vaddr_t va,
		     kmm_vaddr_t *base, uint64_t *size, kmm_owner_t *owner)
{
	const vnode_t *r;

	if (vs == NULL)
		return KMM_EINVAL;
	kmm_port_lock(vs->port);
	r = node_holding(&vs->used_tree, va);
	if (r) {
		if (base)
			*base = r->base;
		if (size)
			*size = r->size;
		if (owner)
			*owner = r->used.owner;
	}
	kmm_port_unlock(vs->port);
	return r ? KMM_OK : KMM_ENOENT;
}

int kmm_vaspace_free_all(struct kmm_vaspace *vs, kmm_owner_t owner)
{
	if (vs == NULL || !owner_ok(owner))
		return KMM_EINVAL;
	kmm_port_lock(vs->port);
	while (vs->owners[owner].ranges)
		give_back(vs, vs->owners[owner].ranges);
	kmm_port_unlock(vs->port);
	return KMM_OK;
}

int kmm_vaspace_set_quota(struct kmm_vaspace *vs, kmm_owner_t owner,
			  uint64_t max_bytes)
{
	if (vs == NULL || !owner_ok(owner))
		return KMM_EINVAL;
	kmm_port_lock(vs->port);
	vs->owners[owner].quota = max_bytes;
	kmm_port_unlock(vs->port);
	return KMM_OK;
}

int kmm_vaspace_usage(const struct kmm_vaspace *vs, kmm_owner_t owner,
		      uint64_t *bytes)
{
	if (vs == NULL || bytes == NULL || !owner_ok(owner))
		return KMM_EINVAL;
	kmm_port_lock(vs->port);
	*bytes = vs->owners[owner].usage;
	kmm_port_unlock(vs->port);
	return KMM_OK;
}

/* Empties @root, giving every node back to @slab. */
static void drain(struct kmm_rb_root *root, struct kmm_slab *slab)
{
	struct kmm_rb_node *rb;

	while ((rb = kmm_rb_first(root)) != NULL) {
		kmm_rb_erase(root, rb, NULL);
		kmm_slab_free(slab, vnode(rb));
	}
}

int kmm_vaspace_destroy(struct kmm_vaspace *vs)
{
	if (vs == NULL)
		return KMM_EINVAL;
	kmm_port_lock(vs->port);
	drain(&vs->free_tree, vs->nodes);
	drain(&vs->used_tree, vs->nodes);
	vs->nr_windows = 0;
	for (unsigned int i = 0; i < KMM_CONFIG_MAX_OWNERS; i++) {
		vs->owners[i].ranges = NULL;
		vs->owners[i].usage = 0;
	}
	kmm_port_unlock(vs->port);
	return KMM_OK;
}
