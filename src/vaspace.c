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
 * Exactness of the search: for alignment 2^j granules (1 <= j <= CLASSES)
 * fit.max_aligned[j - 1] is the largest range starting on such a boundary
 * inside some extent of the subtree, so "subtree may fit" is "subtree
 * holds a fit" and the descent never backtracks. For other alignments the
 * cached values are upper bounds: the search stays exact but may
 * backtrack.
 */
#include "kmm/vaspace.h"

#include "util.h"

#define CLASSES KMM_VASPACE_ALIGN_CLASSES
#define UNITS_MAX UINT32_MAX

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

/* The fit of a missing child. */
static const struct kmm_vaspace_fit no_fit;

static inline uint32_t max_u32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

static inline uint32_t max3_u32(uint32_t a, uint32_t b, uint32_t c)
{
	return max_u32(max_u32(a, b), c);
}

/*
 * The extent's own aligned room per class, in granules saturated at
 * UNITS_MAX, for the classes with room; returns how many those are. The
 * room only shrinks as the alignment grows, so the classes with room come
 * first and the loop stops at the first class without.
 */
static unsigned int own_units(const vnode_t *n, uint32_t units[CLASSES])
{
	unsigned int shift = n->fit.granule_shift;
	uint64_t last = node_last(n);
	unsigned int j = 0;

	for (; j < CLASSES; j++) {
		uint64_t mask = ((uint64_t)2 << (shift + j)) - 1;
		uint64_t start = (n->base + mask) & ~mask;
		uint64_t room;

		/* start < base: the boundary would lie at or beyond 2^64. */
		if (start < n->base || start > last)
			break;
		room = (last - start + 1) >> shift;
		units[j] = room > UNITS_MAX ? UNITS_MAX : (uint32_t)room;
	}
	return j;
}

/*
 * Recomputes the fit of @n from its extent and its children's fits, in
 * place; returns true when it changed. Only the classes where one of the
 * three has room are computed: every class above is 0 in all of them.
 */
static bool update_fit(vnode_t *n)
{
	const struct kmm_vaspace_fit *l = n->rb.left ? &vnode(n->rb.left)->fit :
						       &no_fit;
	const struct kmm_vaspace_fit *r =
		n->rb.right ? &vnode(n->rb.right)->fit : &no_fit;
	struct kmm_vaspace_fit *f = &n->fit;
	uint64_t max =
		kmm_max_u64(n->size, kmm_max_u64(l->max_size, r->max_size));
	uint32_t units[CLASSES];
	unsigned int own = own_units(n, units);
	unsigned int top = max3_u32(own, l->classes, r->classes);
	uint32_t diff = max != f->max_size;
	unsigned int j = 0;

	f->max_size = max;
	for (; j < own; j++) {
		uint32_t v = max3_u32(units[j], l->max_aligned[j],
				      r->max_aligned[j]);

		diff |= v ^ f->max_aligned[j];
		f->max_aligned[j] = v;
	}
	for (; j < top; j++) {
		uint32_t v = max_u32(l->max_aligned[j], r->max_aligned[j]);

		diff |= v ^ f->max_aligned[j];
		f->max_aligned[j] = v;
	}
	for (; j < f->classes; j++) {
		diff |= f->max_aligned[j];
		f->max_aligned[j] = 0;
	}
	f->classes = (uint8_t)top;
	return diff != 0;
}

/*
 * The three tree callbacks, shaped like KMM_RB_AUGMENT_DEFINE's but for a
 * value that is a struct rather than a scalar.
 */
static void fit_propagate(struct kmm_rb_node *rb, struct kmm_rb_node *stop)
{
	while (rb != stop && update_fit(vnode(rb)))
		rb = kmm_rb_parent(rb);
}

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

/* ------------------------------------------------------------------ */
/* Tree helpers.                                                      */
/* ------------------------------------------------------------------ */

static int cmp_base(const void *key, const struct kmm_rb_node *rb)
{
	uint64_t k = *(const uint64_t *)key;
	uint64_t b = vnode(rb)->base;

	return k < b ? -1 : k > b;
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
	link_by_base(&vs->free_tree, n);
	n->fit.granule_shift = (uint8_t)vs->granule_shift;
	/* Unknown contents: have update_fit() clear every class. */
	n->fit.classes = CLASSES;
	update_fit(n);
	kmm_rb_insert(&vs->free_tree, &n->rb, &fit_aug);
}

/* After a change of @n's base or size that kept its place in the order. */
static void free_update(vnode_t *n)
{
	fit_propagate(&n->rb, NULL);
}

/* The node of @root with the greatest base <= @va whose range holds @va. */
static vnode_t *node_holding(const struct kmm_rb_root *root, uint64_t va)
{
	vnode_t *n = vnode(kmm_rb_floor(root, &va, cmp_base));

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
	unsigned int cls; /* 0: any granule; else 2^cls granules */
};

/*
 * May the subtree at @rb hold a fit? Exact when cls <= CLASSES and
 * need_units is not saturated, otherwise an upper bound.
 */
static bool subtree_may_fit(const struct kmm_rb_node *rb,
			    const struct fit_query *q)
{
	const struct kmm_vaspace_fit *f;

	if (rb == NULL)
		return false;
	f = &vnode(rb)->fit;
	if (f->max_size < q->need)
		return false;
	if (q->cls == 0)
		return true;
	if (q->cls > CLASSES)
		return f->max_aligned[CLASSES - 1] >= q->need_units;
	return f->max_aligned[q->cls - 1] >= q->need_units;
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

		f->size = start - f->base;
		free_update(f);
		t->base = last + 1;
		t->size = f_last - last;
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
	struct kmm_rb_node *p = kmm_rb_floor(&vs->free_tree, &base, cmp_base);
	struct kmm_rb_node *n = p ? kmm_rb_next(p) :
				    kmm_rb_first(&vs->free_tree);

	*prev = vnode(p);
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
		/* Unlink @next first so the tree is consistent throughout. */
		kmm_rb_erase(&vs->free_tree, &next->rb, &fit_aug);
		prev->size += size + next->size;
		free_update(prev);
		kmm_slab_free(vs->nodes, next);
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
	q.cls = kmm_log2_u64(align) - vs->granule_shift;
	units = q.need >> vs->granule_shift;
	q.need_units = units > UNITS_MAX ? UNITS_MAX : (uint32_t)units;
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
