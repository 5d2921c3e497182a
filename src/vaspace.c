// SPDX-License-Identifier: BSD-2-Clause
/*
 * Address-range allocator: one augmented tree of ranges, each node owning
 * the free gap after it.
 *
 * Invariants kept by every public function on return:
 *  - windows[] are disjoint, non-adjacent and sorted; none is the whole
 *    2^64 space, so every size below fits in 64 bits;
 *  - the tree holds, in address order, each window's sentinel (end ==
 *    base == the window's base) followed by the window's ranges; a node
 *    whose base equals its sentinel's comes after the sentinel;
 *  - a node's gap runs from its end to the next node's base, or to the
 *    window's end for the last node of a window: every window byte is in
 *    exactly one range, one range's guard or one gap;
 *  - every node's room and shortfalls equal what fit_compute() computes;
 *  - owners[o].usage is the sum of the sizes of o's ranges, each of which
 *    is on owners[o].ranges.
 *
 * The cached fit of a subtree is M_j, for lane j, the largest room that
 * starts on a boundary of 2^j granules inside one gap of the subtree (in
 * granules; M_0 is the largest gap). M_0 is kept as @room, exact in 64
 * bits. Lanes 1 .. NEAR are kept as their shortfall M_0 - M_j, which is
 * below 2^j (the largest gap loses less than 2^j granules to its first
 * 2^j boundary), so each fits a byte and, with @room, shares the node's
 * first cache line with the links and the gap: a descent for an alignment
 * up to 2^NEAR granules reads one line per node, and those lanes are
 * exact for any size. The lanes above are kept as values in the second
 * line, saturated at FAR_SAT granules, so that a change of M_0 alone does
 * not touch that line. For alignment 2^j granules (j < LANES) and a need
 * below FAR_SAT, "the subtree may fit" is "the subtree holds a fit" and
 * the descent never backtracks; past the lanes, or for a larger need on
 * a far lane, the cached values are upper bounds: the search stays exact
 * but may backtrack.
 */
#include "kmm/vaspace.h"

#include "util.h"

#define LANES KMM_VASPACE_FIT_LANES
#define NEAR KMM_VASPACE_NEAR_LANES

typedef struct kmm_vaspace_node vnode_t;

static inline vnode_t *vnode(const struct kmm_rb_node *rb)
{
	return rb ? kmm_container_of(rb, vnode_t, rb) : NULL;
}

static inline bool owner_ok(kmm_owner_t owner)
{
	return owner < KMM_CONFIG_MAX_OWNERS;
}

/* A range never ends where it starts: size + guard is in (0, 2^64). */
static inline bool is_sentinel(const vnode_t *n)
{
	return n->end == n->base;
}

/* Bytes of range @n, without its guard. */
static inline uint64_t range_size(const struct kmm_vaspace *vs,
				  const vnode_t *n)
{
	return n->end - n->base - vs->guard;
}

/* ------------------------------------------------------------------ */
/* Augmentation: the fit of a subtree.                                */
/* ------------------------------------------------------------------ */

#define FAR (LANES - 1 - NEAR)
#define FAR_SAT ((uint64_t)KMM_VASPACE_FAR_SAT)

/*
 * A shortfall is below 2^(LANES - 1), so a source whose room is more than
 * FAR_BEHIND below the subtree's can never give the smallest one: its
 * distance is clamped there, which keeps all of it in 32 bits.
 */
#define FAR_BEHIND ((uint32_t)1 << LANES)

/*
 * A subtree's fit: its largest gap, the shortfall of lanes 1 .. NEAR and
 * M_j of the lanes above, saturated.
 */
struct fit {
	uint64_t room;
	uint32_t short_by[NEAR];
	uint32_t far[FAR];
};

static inline uint32_t sat_far(uint64_t v)
{
	return v > FAR_SAT ? (uint32_t)FAR_SAT : (uint32_t)v;
}

static inline uint64_t gap_room(uint64_t end, uint64_t gap, unsigned int shift,
				unsigned int j)
{
	uint64_t units = gap >> shift;
	uint64_t pad = ((0 - end) >> shift) & (((uint64_t)1 << j) - 1);

	return pad < units ? units - pad : 0;
}

/* Lane j of the gap [end, end + gap) as the node keeps it. */
static inline uint64_t gap_lane(uint64_t end, uint64_t gap, unsigned int shift,
				unsigned int j)
{
	uint64_t v = gap_room(end, gap, shift, j);

	return j > NEAR && v > FAR_SAT ? FAR_SAT : v;
}

static inline uint32_t behind(uint64_t top, uint64_t room)
{
	uint64_t d = top - room;

	return d > FAR_BEHIND ? FAR_BEHIND : (uint32_t)d;
}

/* Merges child @c's stored fit into @f, whose room is final. */
static void merge_child(struct fit *f, const vnode_t *c)
{
	uint32_t d = behind(f->room, c->room);

	for (unsigned int j = 0; j < NEAR; j++) {
		uint32_t v = d + c->near_short[j];

		f->short_by[j] = v < f->short_by[j] ? v : f->short_by[j];
	}
	for (unsigned int k = 0; k < FAR; k++)
		f->far[k] = c->far_room[k] > f->far[k] ? c->far_room[k] :
							 f->far[k];
}

/*
 * The fit of @n's subtree from its gap and its children's stored fits.
 * With M the subtree's largest gap, the shortfall of lane j is the least,
 * over the gap and the children, of (M - their room) + their shortfall.
 * The gap's own shortfall is its padding to the first boundary of 2^j
 * granules, at most the whole gap: (lead & (2^j - 1)) capped at its size,
 * @lead being the granules from the gap's start up to 2^64.
 */
static void fit_compute(const vnode_t *n, struct fit *f)
{
	const vnode_t *l = vnode(n->rb.left), *r = vnode(n->rb.right);
	unsigned int shift = n->granule_shift;
	uint64_t units = n->gap >> shift;
	uint32_t lead = (uint32_t)((0 - n->end) >> shift);
	uint32_t cap = units > FAR_BEHIND ? FAR_BEHIND : (uint32_t)units;
	uint32_t d;

	f->room = units;
	if (l && l->room > f->room)
		f->room = l->room;
	if (r && r->room > f->room)
		f->room = r->room;
	d = behind(f->room, units);
	for (unsigned int j = 0; j < NEAR; j++) {
		uint32_t pad = lead & (((uint32_t)2 << j) - 1);

		f->short_by[j] = d + (pad < cap ? pad : cap);
	}
	for (unsigned int k = 0; k < FAR; k++)
		f->far[k] =
			(uint32_t)gap_lane(n->end, n->gap, shift, k + 1 + NEAR);
	if (l)
		merge_child(f, l);
	if (r)
		merge_child(f, r);
}

/*
 * Stores @f as @n's fit; returns the mask of lanes whose M_j changed and
 * leaves in @old what every M_j was.
 */
static uint32_t fit_store(vnode_t *n, const struct fit *f, uint64_t old[LANES])
{
	uint64_t was = n->room, room = f->room;
	uint32_t mask = (uint32_t)(was != room);
	unsigned int j = 0;

	old[0] = was;
	n->room = room;
	for (; j < NEAR; j++) {
		old[j + 1] = was - n->near_short[j];
		mask |= (uint32_t)(old[j + 1] != room - f->short_by[j])
			<< (j + 1);
		n->near_short[j] = (uint8_t)f->short_by[j];
	}
	for (unsigned int k = 0; k < FAR; k++) {
		j = k + 1 + NEAR;
		old[j] = n->far_room[k];
		mask |= (uint32_t)(n->far_room[k] != f->far[k]) << j;
		n->far_room[k] = f->far[k];
	}
	return mask;
}

/* M_j of the subtree at @n (see the file comment). */
static inline uint64_t lane_room(const vnode_t *n, unsigned int j)
{
	if (j == 0)
		return n->room;
	if (j <= NEAR)
		return n->room - n->near_short[j - 1];
	return n->far_room[j - 1 - NEAR];
}

/*
 * Sets M_j = @m[j] for the lanes in @lanes, keeping every other M_j: if
 * the room moves, every shortfall moves with it (modulo the field's width,
 * which is exact because the result fits).
 */
static void fit_apply(vnode_t *n, uint32_t lanes, const uint64_t m[LANES])
{
	uint64_t room = (lanes & 1) ? m[0] : n->room;
	uint64_t rise = room - n->room;
	unsigned int j;

	if (rise != 0) {
		for (j = 0; j < NEAR; j++)
			n->near_short[j] = (uint8_t)(n->near_short[j] + rise);
		n->room = room;
	}
	for (lanes &= ~(uint32_t)1; lanes != 0; lanes &= lanes - 1) {
		j = (unsigned int)__builtin_ctz(lanes);
		if (j <= NEAR)
			n->near_short[j - 1] = (uint8_t)(room - m[j]);
		else
			n->far_room[j - 1 - NEAR] = sat_far(m[j]);
	}
}

/* M_j of @n's gap alone. */

static inline uint64_t own_room(const vnode_t *n, unsigned int j)
{
	return gap_lane(n->end, n->gap, n->granule_shift, j);
}

static inline uint64_t max3_u64(uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t m = a > b ? a : b;

	return m > c ? m : c;
}

/*
 * Carries a change of @child's fit up to, not including, @stop (NULL:
 * the root): @mask holds the lanes whose M_j changed and @old what they
 * were. At the parent a lane can only change if the child's new value
 * exceeds the parent's, or if the child's old value was the parent's (the
 * child held the maximum, so the parent looks at its own gap and its
 * other child again). A lane that did not change at a node drops out,
 * and the walk ends when none is left: a growing gap never reads a
 * sibling, and the cost per node is the number of lanes still changing.
 */
static void fit_carry(vnode_t *child, struct kmm_rb_node *stop, uint32_t mask,
		      uint64_t old[LANES])
{
	struct kmm_rb_node *prb;
	uint64_t m[LANES];

	while (mask != 0 && (prb = kmm_rb_parent(&child->rb)) != stop) {
		vnode_t *p = vnode(prb);
		uint32_t next = 0;

		do {
			unsigned int j = (unsigned int)__builtin_ctz(mask);
			uint64_t was = lane_room(p, j), v = lane_room(child, j);

			mask &= mask - 1;
			if (v < was) {
				const struct kmm_rb_node *sib;

				if (old[j] != was)
					continue; /* the maximum is elsewhere */
				sib = prb->left == &child->rb ? prb->right :
								prb->left;
				v = max3_u64(own_room(p, j), v,
					     sib ? lane_room(vnode(sib), j) :
						   0);
				if (v == was)
					continue;
			} else if (v == was) {
				continue;
			}
			m[j] = v;
			old[j] = was;
			next |= (uint32_t)1 << j;
		} while (mask != 0);
		if (next != 0)
			fit_apply(p, next, m);
		mask = next;
		child = p;
	}
}

/*
 * Recomputes the fit of @rb, then carries what changed up to, not
 * including, @stop (NULL: the root).
 */
static void fit_update(struct kmm_rb_node *rb, struct kmm_rb_node *stop)
{
	uint64_t old[LANES];
	struct fit f;
	vnode_t *n;

	if (rb == stop)
		return;
	n = vnode(rb);
	fit_compute(n, &f);
	fit_carry(n, stop, fit_store(n, &f, old), old);
}

/*
 * After @n's gap changed from [old_end, old_end + old_gap) to its current
 * one, with its children unchanged: updates @n's fit lane by lane and
 * carries what changed up to the root. A lane looks at the children only
 * if the gap shrank in it and held the maximum.
 */
static void gap_changed(vnode_t *n, uint64_t old_end, uint64_t old_gap)
{
	const vnode_t *l = vnode(n->rb.left), *r = vnode(n->rb.right);
	uint64_t m[LANES], old[LANES];
	uint32_t mask = 0;

	for (unsigned int j = 0; j < LANES; j++) {
		uint64_t o = gap_lane(old_end, old_gap, n->granule_shift, j);
		uint64_t v = own_room(n, j), was;

		if (o == v) {
			if (v == 0)
				break; /* no room here nor in any lane above */
			continue;
		}
		was = lane_room(n, j);
		if (v < was) {
			if (o != was)
				continue; /* the maximum is elsewhere */
			v = max3_u64(v, l ? lane_room(l, j) : 0,
				     r ? lane_room(r, j) : 0);
		}
		if (v == was)
			continue;
		m[j] = v;
		old[j] = was;
		mask |= (uint32_t)1 << j;
	}
	if (mask != 0) {
		fit_apply(n, mask, m);
		fit_carry(n, NULL, mask, old);
	}
}

static void fit_copy(struct kmm_rb_node *from, struct kmm_rb_node *to)
{
	const vnode_t *f = vnode(from);
	vnode_t *t = vnode(to);

	t->room = f->room;
	kmm_memcpy(t->near_short, f->near_short, sizeof(t->near_short));
	kmm_memcpy(t->far_room, f->far_room, sizeof(t->far_room));
}

static void fit_rotate(struct kmm_rb_node *old_top, struct kmm_rb_node *new_top)
{
	uint64_t old[LANES];
	struct fit f;

	fit_copy(old_top, new_top);
	fit_compute(vnode(old_top), &f);
	fit_store(vnode(old_top), &f, old);
}

static const struct kmm_rb_augment fit_aug = {
	.propagate = fit_update,
	.copy = fit_copy,
	.rotate = fit_rotate,
};

/*
 * Whether @vs keeps the fit (the lanes) that kmm_vaspace_alloc() searches.
 * An identity vaspace only claims, so it keeps none; a build without
 * translation (KMM_CONFIG_TRANSLATION 0) has identity vaspaces only and
 * leaves the fit code out.
 */
static bool fitted(const struct kmm_vaspace *vs)
{
	return KMM_CONFIG_TRANSLATION && !vs->identity;
}

/* The augmentation for an erase from @vs. */
static const struct kmm_rb_augment *fit_of(const struct kmm_vaspace *vs)
{
	return fitted(vs) ? &fit_aug : NULL;
}

/* gap_changed() where @vs keeps a fit. */
static void gap_moved(const struct kmm_vaspace *vs, vnode_t *n,
		      uint64_t old_end, uint64_t old_gap)
{
	if (fitted(vs))
		gap_changed(n, old_end, old_gap);
}

/* ------------------------------------------------------------------ */
/* Tree helpers.                                                      */
/* ------------------------------------------------------------------ */

/*
 * The last node in address order with base <= @va, or NULL. Not
 * kmm_rb_floor(): among equal bases (a window's sentinel and the range at
 * the window's base) this needs the last one, and it runs on every free.
 */
static vnode_t *floor_by_base(const struct kmm_vaspace *vs, uint64_t va)
{
	struct kmm_rb_node *rb = vs->tree.node, *best = NULL;

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

/* The last node before address @va, or NULL. */
static vnode_t *last_below(const struct kmm_vaspace *vs, uint64_t va)
{
	return va == 0 ? NULL : floor_by_base(vs, va - 1);
}

/* Nothing to propagate: link_after() has carried the new leaf up. */
static void fit_carried(struct kmm_rb_node *rb, struct kmm_rb_node *stop)
{
	(void)rb;
	(void)stop;
}

/* For kmm_rb_insert() of a leaf whose fit was carried up already. */
static const struct kmm_rb_augment fit_aug_linked = {
	.propagate = fit_carried,
	.copy = fit_copy,
	.rotate = fit_rotate,
};

/*
 * Links @n, whose gap is set, right after @prev in address order (first
 * if @prev is NULL), carries its fit up and rebalances.
 */
static void link_after(struct kmm_vaspace *vs, vnode_t *prev, vnode_t *n)
{
	struct kmm_rb_node *parent = NULL, **link = &vs->tree.node;
	uint64_t none[LANES];
	uint32_t mask = 0;
	struct fit f;

	if (prev != NULL && prev->rb.right == NULL) {
		parent = &prev->rb;
		link = &parent->right;
	} else {
		if (prev != NULL)
			link = &prev->rb.right;
		while (*link) {
			parent = *link;
			link = &parent->left;
		}
	}
	kmm_rb_link(&n->rb, parent, link);
	n->granule_shift = (uint8_t)vs->granule_shift;
	if (!fitted(vs)) {
		kmm_rb_insert(&vs->tree, &n->rb, NULL);
		return;
	}
	fit_compute(n, &f);
	fit_store(n, &f, none);
	/* The ancestors saw nothing of @n: all its lanes with room grew. */
	for (unsigned int j = 0; j < LANES; j++) {
		mask |= (uint32_t)(lane_room(n, j) != 0) << j;
		none[j] = 0;
	}
	fit_carry(n, NULL, mask, none);
	kmm_rb_insert(&vs->tree, &n->rb, &fit_aug_linked);
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
	uint64_t need_units; /* need in granules */
	unsigned int lane; /* log2(align in granules), at most LANES - 1 */
};

/*
 * May the subtree at @rb hold a fit? Exact when the alignment has its
 * own lane, otherwise an upper bound.
 */
static inline bool subtree_may_fit(const struct kmm_rb_node *rb,
				   const struct fit_query *q)
{
	const vnode_t *n = vnode(rb);
	uint64_t v;

	if (n == NULL)
		return false;
	v = lane_room(n, q->lane);
	if (v >= q->need_units)
		return true;
	/* A saturated far lane only says "at least": ask the room. */
	return q->lane > NEAR && v == FAR_SAT && n->room >= q->need_units;
}

/* Does @q fit in @n's gap? Then *@at is the lowest place. */
static bool gap_fits(const vnode_t *n, const struct fit_query *q, uint64_t *at)
{
	uint64_t start;

	if (n->gap < q->need)
		return false;
	start = kmm_align_up(n->end, q->align);
	if (start < n->end || start - n->end > n->gap - q->need)
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
 * Finds the node whose gap holds the lowest fit for @q, in address order:
 * a subtree is entered only if it may hold a fit, everything before the
 * current node has been ruled out.
 */
static vnode_t *lowest_fit(const struct kmm_vaspace *vs,
			   const struct fit_query *q, uint64_t *at)
{
	struct kmm_rb_node *rb = vs->tree.node;

	if (!subtree_may_fit(rb, q))
		return NULL;
	for (;;) {
		while (subtree_may_fit(rb->left, q))
			rb = rb->left;
		/* Visit @rb, then its right subtree, else climb. */
		for (;;) {
			if (gap_fits(vnode(rb), q, at))
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

static void owner_link(struct kmm_vaspace *vs, vnode_t *r, uint64_t size)
{
	struct kmm_vaspace_owner *o = &vs->owners[r->owner];

	r->used.prev = NULL;
	r->used.next = o->ranges;
	if (o->ranges)
		o->ranges->used.prev = r;
	o->ranges = r;
	o->usage += size;
}

static void owner_unlink(struct kmm_vaspace *vs, vnode_t *r, uint64_t size)
{
	struct kmm_vaspace_owner *o = &vs->owners[r->owner];

	if (r->used.prev)
		r->used.prev->used.next = r->used.next;
	else
		o->ranges = r->used.next;
	if (r->used.next)
		r->used.next->used.prev = r->used.prev;
	o->usage -= size;
}

static bool over_quota(const struct kmm_vaspace *vs, kmm_owner_t owner,
		       uint64_t size)
{
	const struct kmm_vaspace_owner *o = &vs->owners[owner];

	return o->usage > o->quota || size > o->quota - o->usage;
}

/*
 * Takes [at, at + size + guard) out of the gap of @g for @owner; takes
 * its node first, so KMM_ENOMEM changes nothing.
 */
static int take(struct kmm_vaspace *vs, vnode_t *g, uint64_t at, uint64_t size,
		kmm_owner_t owner)
{
	uint64_t need = size + vs->guard, old_gap = g->gap;
	vnode_t *r = kmm_slab_alloc(vs->nodes);

	if (r == NULL)
		return KMM_ENOMEM;
	r->base = at;
	r->end = at + need;
	r->gap = old_gap - (at - g->end) - need;
	r->owner = owner;
	link_after(vs, g, r);
	g->gap = at - g->end;
	gap_moved(vs, g, g->end, old_gap);
	owner_link(vs, r, range_size(vs, r));
	return KMM_OK;
}

/*
 * Gives back range @r and its guard: they and @r's gap join the gap of
 * the node before, which exists (the window's sentinel at least).
 */
static void give_back(struct kmm_vaspace *vs, vnode_t *r)
{
	vnode_t *p = vnode(kmm_rb_prev(&r->rb));
	uint64_t old_gap = p->gap;

	owner_unlink(vs, r, range_size(vs, r));
	p->gap += (r->end - r->base) + r->gap;
	gap_moved(vs, p, p->end, old_gap);
	kmm_rb_erase(&vs->tree, &r->rb, fit_of(vs));
	kmm_slab_free(vs->nodes, r);
}

/* The range holding @va, or NULL. */
static vnode_t *range_holding(const struct kmm_vaspace *vs, uint64_t va)
{
	vnode_t *n = floor_by_base(vs, va);

	if (n == NULL || is_sentinel(n) || va - n->base >= range_size(vs, n))
		return NULL;
	return n;
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
	if (!KMM_CONFIG_TRANSLATION && !cfg->identity)
		return KMM_ENOTSUP;
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

/* A window's sentinel: the first node at or after its @base. */
static vnode_t *sentinel_of(const struct kmm_vaspace *vs, uint64_t base)
{
	vnode_t *p = last_below(vs, base);

	return vnode(p ? kmm_rb_next(&p->rb) : kmm_rb_first(&vs->tree));
}

/*
 * Joins [base, last] to the windows. Next to a window below, the bytes
 * join the gap of that window's last node; next to a window above, that
 * window's sentinel moves down to @base, or, with a window on both
 * sides, leaves and gives its gap to the lower window's last node. Only a
 * window with no neighbour takes a node, for its sentinel.
 */
static int add_window_locked(struct kmm_vaspace *vs, uint64_t base,
			     uint64_t last)
{
	int lo = window_below(vs, base), hi = window_above(vs, last);
	uint64_t whole_base = lo >= 0 ? vs->windows[lo].base : base;
	uint64_t whole_last = hi >= 0 ? vs->windows[hi].last : last;
	uint64_t size = last - base + 1, old_end, old_gap;
	vnode_t *s, *t;

	for (unsigned int i = 0; i < vs->nr_windows; i++)
		if (vs->windows[i].base <= last && base <= vs->windows[i].last)
			return KMM_EEXIST;
	if (whole_base == 0 && whole_last == UINT64_MAX)
		return KMM_ERANGE;
	if (lo < 0 && hi < 0) {
		if (vs->nr_windows == KMM_VASPACE_MAX_WINDOWS)
			return KMM_ENOSPC;
		s = kmm_slab_alloc(vs->nodes);
		if (s == NULL)
			return KMM_ENOMEM;
		s->base = base;
		s->end = base;
		s->gap = size;
		s->owner = KMM_OWNER_NONE;
		s->used.prev = NULL;
		s->used.next = NULL;
		link_after(vs, last_below(vs, base), s);
		window_insert(vs, base, last);
		return KMM_OK;
	}
	s = hi >= 0 ? sentinel_of(vs, vs->windows[hi].base) : NULL;
	if (lo < 0) {
		old_end = s->end;
		old_gap = s->gap;
		s->base = base;
		s->end = base;
		s->gap += size;
		gap_moved(vs, s, old_end, old_gap);
		vs->windows[hi].base = base;
		return KMM_OK;
	}
	t = floor_by_base(vs, vs->windows[lo].last);
	old_gap = t->gap;
	vs->windows[lo].last = last;
	if (s != NULL) {
		size += s->gap;
		vs->windows[lo].last = vs->windows[hi].last;
		kmm_rb_erase(&vs->tree, &s->rb, fit_of(vs));
		kmm_slab_free(vs->nodes, s);
		window_remove(vs, (unsigned int)hi);
	}
	t->gap = old_gap + size;
	gap_moved(vs, t, t->end, old_gap);
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
	int ret;

	if (vs == NULL || va == NULL || size == 0 || !kmm_is_pow2(align) ||
	    !owner_ok(owner))
		return KMM_EINVAL;
	if (!kmm_is_aligned(size, vs->granule) || align < vs->granule)
		return KMM_EALIGN;
	if (!fitted(vs))
		return KMM_ENOTSUP;
	if (size > UINT64_MAX - vs->guard)
		return KMM_ENOSPC;
	q.need = size + vs->guard;
	q.align = align;
	q.lane = kmm_log2_u64(align) - vs->granule_shift;
	if (q.lane >= LANES)
		q.lane = LANES - 1;
	q.need_units = q.need >> vs->granule_shift;
	kmm_port_lock(vs->port);
	ret = alloc_locked(vs, &q, size, owner, va);
	kmm_port_unlock(vs->port);
	return ret;
}

static int claim_locked(struct kmm_vaspace *vs, uint64_t va, uint64_t size,
			uint64_t last, kmm_owner_t owner)
{
	vnode_t *g;

	if (!in_window(vs, va, last))
		return KMM_ERANGE;
	/* The window's sentinel is at or below @va: @g exists. */
	g = floor_by_base(vs, va);
	if (g->gap == 0 || va < g->end || last - g->end >= g->gap)
		return KMM_EEXIST;
	if (over_quota(vs, owner, size))
		return KMM_EQUOTA;
	return take(vs, g, va, size, owner);
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
	r = range_holding(vs, va);
	if (r == NULL)
		return KMM_ENOENT;
	if (r->owner != owner)
		return KMM_EPERM;
	if (r->base != va || range_size(vs, r) != size)
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
	r = range_holding(vs, va);
	if (r) {
		if (base)
			*base = r->base;
		if (size)
			*size = range_size(vs, r);
		if (owner)
			*owner = r->owner;
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
	drain(&vs->tree, vs->nodes);
	vs->nr_windows = 0;
	for (unsigned int i = 0; i < KMM_CONFIG_MAX_OWNERS; i++) {
		vs->owners[i].ranges = NULL;
		vs->owners[i].usage = 0;
	}
	kmm_port_unlock(vs->port);
	return KMM_OK;
}
