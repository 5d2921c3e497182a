// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the address-range allocator: named cases for each rule
 * (lowest fit, alignment, guards, the top of the 64-bit space, claims,
 * owners, quotas, identity mode, running out of nodes) and a randomized
 * test that compares every allocation with a linear lowest-address
 * first-fit over the same free extents and checks every invariant (tree
 * shape, augmented values recomputed from scratch, exact tiling of the
 * windows, owner accounting, node accounting) after every operation.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmm/errors.h"
#include "kmm/vaspace.h"

#define G 0x1000ull /* the granule of most cases */
#define GIB (1ull << 30)
#define TOP (UINT64_MAX - G + 1) /* last granule of the space */

typedef struct kmm_vaspace_node vnode_t;

static vnode_t *vn(const struct kmm_rb_node *rb)
{
	return rb ? kmm_container_of(rb, vnode_t, rb) : NULL;
}

/* ------------------------------------------------------------------ */
/* A port whose lock checks that calls neither nest nor leak it.      */
/* ------------------------------------------------------------------ */

struct lock_count {
	int depth;
	unsigned long taken;
};

static void count_lock(void *cookie)
{
	struct lock_count *c = cookie;

	cr_assert_eq(c->depth, 0, "lock taken twice");
	c->depth++;
	c->taken++;
}

static void count_unlock(void *cookie)
{
	struct lock_count *c = cookie;

	cr_assert_eq(c->depth, 1, "unlock without lock");
	c->depth--;
}

/* ------------------------------------------------------------------ */
/* Fixture.                                                           */
/* ------------------------------------------------------------------ */

struct fix {
	struct kmm_vaspace vs;
	struct kmm_slab slab;
	void *mem;
	struct lock_count lc;
	struct kmm_port port;
};

static void fix_init_cfg(struct fix *f, size_t nodes, uint64_t granule,
			 unsigned int guard, bool identity)
{
	struct kmm_vaspace_config cfg = {
		.granule = granule,
		.guard_granules = guard,
		.identity = identity,
		.nodes = &f->slab,
		.port = &f->port,
	};

	memset(f, 0, sizeof(*f));
	f->port.cookie = &f->lc;
	f->port.lock = count_lock;
	f->port.unlock = count_unlock;
	cr_assert_eq(
		kmm_slab_init(&f->slab, sizeof(vnode_t), _Alignof(vnode_t)), 0);
	if (nodes) {
		f->mem = aligned_alloc(64, nodes * sizeof(vnode_t));
		cr_assert_not_null(f->mem);
		cr_assert_eq(kmm_slab_add_memory(&f->slab, f->mem,
						 nodes * sizeof(vnode_t)),
			     0);
		cr_assert_eq(kmm_slab_available(&f->slab), nodes);
	}
	cr_assert_eq(kmm_vaspace_init(&f->vs, &cfg), 0);
}

static void fix_init(struct fix *f, unsigned int guard)
{
	fix_init_cfg(f, 256, G, guard, false);
}

static void fix_fini(struct fix *f)
{
	cr_assert_eq(f->lc.depth, 0);
	free(f->mem);
}

/* ------------------------------------------------------------------ */
/* Invariant checks, written independently of vaspace.c.             */
/* ------------------------------------------------------------------ */

static uint64_t last_of(uint64_t base, uint64_t size)
{
	return base + (size - 1);
}

/* Bytes from the first @align boundary in [base, last] to its end. */
static uint64_t ref_room(uint64_t base, uint64_t last, uint64_t align)
{
	/* Smallest multiple of align >= base, computed without wrapping. */
	uint64_t rem = base % align;
	uint64_t start;

	if (rem == 0)
		start = base;
	else if (align - rem > UINT64_MAX - base)
		return 0;
	else
		start = base + (align - rem);
	return start > last ? 0 : last - start + 1;
}

/* The fit of @n's gap alone, lane by lane, in granules. */
static void ref_own_fit(const vnode_t *n, unsigned int shift, uint64_t *fit)
{
	for (unsigned int j = 0; j < KMM_VASPACE_FIT_LANES; j++)
		fit[j] = n->gap == 0 ? 0 :
				       ref_room(n->end, last_of(n->end, n->gap),
						1ull << (shift + j)) >>
					       shift;
}

/*
 * Checks the subtree at @rb (parent links, colours, order, augmented
 * values) and returns its black height; @fit gets the subtree's fit
 * recomputed from scratch.
 */
static int check_node(const struct kmm_rb_node *rb,
		      const struct kmm_rb_node *parent, unsigned int shift,
		      uint64_t *fit, size_t *count)
{
	uint64_t lf[KMM_VASPACE_FIT_LANES], rf[KMM_VASPACE_FIT_LANES];
	const vnode_t *n = vn(rb);
	int lh, rh;

	memset(fit, 0, KMM_VASPACE_FIT_LANES * sizeof(*fit));
	if (rb == NULL)
		return 1;
	cr_assert_eq(kmm_rb_parent(rb), parent, "parent link broken");
	if (kmm_rb_is_red(rb)) {
		cr_assert(!kmm_rb_is_red(rb->left), "red-red");
		cr_assert(!kmm_rb_is_red(rb->right), "red-red");
	}
	/* Equal bases: a window's sentinel and a range at its base. */
	if (rb->left)
		cr_assert_leq(vn(rb->left)->base, n->base, "order");
	if (rb->right)
		cr_assert_geq(vn(rb->right)->base, n->base, "order");
	(*count)++;
	lh = check_node(rb->left, rb, shift, lf, count);
	rh = check_node(rb->right, rb, shift, rf, count);
	cr_assert_eq(lh, rh, "black heights differ");
	cr_assert_eq(n->granule_shift, shift);
	ref_own_fit(n, shift, fit);
	for (int j = 0; j < KMM_VASPACE_FIT_LANES; j++) {
		if (lf[j] > fit[j])
			fit[j] = lf[j];
		if (rf[j] > fit[j])
			fit[j] = rf[j];
	}
	cr_assert_eq(n->room, fit[0], "stale room at %llx",
		     (unsigned long long)n->base);
	for (unsigned int j = 1; j <= KMM_VASPACE_NEAR_LANES; j++)
		cr_assert_eq(n->near_short[j - 1], fit[0] - fit[j],
			     "stale lane %u at %llx", j,
			     (unsigned long long)n->base);
	for (unsigned int j = KMM_VASPACE_NEAR_LANES + 1;
	     j < KMM_VASPACE_FIT_LANES; j++)
		cr_assert_eq(n->far_room[j - 1 - KMM_VASPACE_NEAR_LANES],
			     fit[j] > KMM_VASPACE_FAR_SAT ?
				     KMM_VASPACE_FAR_SAT :
				     fit[j],
			     "stale lane %u at %llx", j,
			     (unsigned long long)n->base);
	return lh + (kmm_rb_is_red(rb) ? 0 : 1);
}

struct piece {
	uint64_t base, last;
};

static bool is_sentinel(const vnode_t *n)
{
	return n->end == n->base;
}

/* The free extents (every non-empty gap) in address order; their count. */
static size_t free_extents(const struct kmm_vaspace *vs, struct piece *p,
			   size_t max)
{
	size_t np = 0;

	for (const struct kmm_rb_node *rb = kmm_rb_first(&vs->tree); rb;
	     rb = kmm_rb_next(rb)) {
		const vnode_t *n = vn(rb);

		if (n->gap == 0)
			continue;
		if (np < max)
			p[np] = (struct piece){ n->end,
						last_of(n->end, n->gap) };
		np++;
	}
	return np;
}

/* Asserts that [base, base + size) is the only free extent. */
static void assert_only_free(const struct kmm_vaspace *vs, uint64_t base,
			     uint64_t size)
{
	struct piece p;

	cr_assert_eq(free_extents(vs, &p, 1), 1, "not one free extent");
	cr_assert_eq(p.base, base);
	cr_assert_eq(p.last, last_of(base, size));
}

/* Checks every invariant of @vs; returns the number of ranges. */
static size_t check_vs(const struct kmm_vaspace *vs)
{
	uint64_t fit[KMM_VASPACE_FIT_LANES];
	size_t nodes = 0, nused = 0, nsentinels = 0;
	uint64_t usage[KMM_CONFIG_MAX_OWNERS] = { 0 };
	const struct kmm_rb_node *rb;
	const struct kmm_vaspace_window *w = NULL;
	uint64_t next = 0;

	cr_assert(!kmm_rb_is_red(vs->tree.node));
	check_node(vs->tree.node, NULL, vs->granule_shift, fit, &nodes);
	cr_assert_eq(nodes + kmm_slab_available(vs->nodes), vs->nodes->total,
		     "nodes leaked or doubled");

	/*
	 * In address order: each window's sentinel, then its ranges, every
	 * node's gap reaching exactly to the next node or the window's end.
	 */
	for (rb = kmm_rb_first(&vs->tree); rb; rb = kmm_rb_next(rb)) {
		const vnode_t *n = vn(rb);
		const vnode_t *after = vn(kmm_rb_next(rb));

		cr_assert_eq(n->base % vs->granule, 0);
		cr_assert_eq(n->end % vs->granule, 0);
		cr_assert_eq(n->gap % vs->granule, 0);
		if (is_sentinel(n)) {
			cr_assert_lt(nsentinels, vs->nr_windows,
				     "more sentinels than windows");
			w = &vs->windows[nsentinels++];
			cr_assert_eq(n->base, w->base, "sentinel not at base");
			cr_assert_eq(n->owner, KMM_OWNER_NONE);
		} else {
			uint64_t size = n->end - n->base - vs->guard;

			cr_assert_not_null(w, "range before any sentinel");
			cr_assert_eq(n->base, next, "gap or overlap at %llx",
				     (unsigned long long)n->base);
			cr_assert_neq(size, 0);
			cr_assert_leq(size, UINT64_MAX - vs->guard);
			cr_assert_geq(last_of(n->base, size + vs->guard),
				      n->base, "range wraps");
			cr_assert_lt(n->owner, KMM_CONFIG_MAX_OWNERS);
			usage[n->owner] += size;
			nused++;
		}
		if (n->gap)
			cr_assert_leq(last_of(n->end, n->gap), w->last,
				      "gap leaves the window");
		next = n->end + n->gap;
		if (after == NULL || is_sentinel(after))
			cr_assert_eq(next - 1, w->last,
				     "window %llx does not end with a gap",
				     (unsigned long long)w->base);
	}
	cr_assert_eq(nsentinels, vs->nr_windows, "a window has no sentinel");

	/* Windows sorted, disjoint, not adjacent. */
	for (unsigned int i = 1; i < vs->nr_windows; i++)
		cr_assert_lt(vs->windows[i - 1].last + 1, vs->windows[i].base);

	/* Owner accounting: usage and the lists agree with the tree. */
	for (unsigned int o = 0; o < KMM_CONFIG_MAX_OWNERS; o++) {
		size_t listed = 0;
		const vnode_t *prevr = NULL;

		cr_assert_eq(vs->owners[o].usage, usage[o], "usage of %u", o);
		for (const vnode_t *r = vs->owners[o].ranges; r;
		     r = r->used.next) {
			cr_assert_eq(r->owner, o);
			cr_assert_eq(r->used.prev, prevr);
			prevr = r;
			listed++;
		}
		(void)listed;
	}
	return nused;
}

/*
 * A snapshot of the observable state, to prove that a failed call
 * changed nothing.
 */
struct snap {
	size_t n;
	uint64_t v[4096];
};

static void snap_take(const struct fix *f, struct snap *s)
{
	const struct kmm_vaspace *vs = &f->vs;
	const struct kmm_rb_node *rb;

	s->n = 0;
	memset(s->v, 0, sizeof(s->v));
	for (rb = kmm_rb_first(&vs->tree); rb; rb = kmm_rb_next(rb)) {
		s->v[s->n++] = vn(rb)->base;
		s->v[s->n++] = vn(rb)->end;
		s->v[s->n++] = vn(rb)->gap;
		s->v[s->n++] = vn(rb)->owner;
	}
	for (unsigned int o = 0; o < KMM_CONFIG_MAX_OWNERS; o++) {
		s->v[s->n++] = vs->owners[o].usage;
		s->v[s->n++] = vs->owners[o].quota;
	}
	for (unsigned int i = 0; i < vs->nr_windows; i++) {
		s->v[s->n++] = vs->windows[i].base;
		s->v[s->n++] = vs->windows[i].last;
	}
	s->v[s->n++] = kmm_slab_available(vs->nodes);
	cr_assert_lt(s->n, 4096);
}

#define assert_unchanged(f, before)                                   \
	do {                                                          \
		struct snap after_;                                   \
		snap_take((f), &after_);                              \
		cr_assert_eq((before)->n, after_.n, "state changed"); \
		cr_assert_arr_eq((before)->v, after_.v,               \
				 sizeof(uint64_t) * after_.n,         \
				 "state changed");                    \
	} while (0)

/* ------------------------------------------------------------------ */
/* Named cases.                                                       */
/* ------------------------------------------------------------------ */

Test(vaspace, init_rejects_bad_configurations)
{
	struct kmm_vaspace *vs = malloc(sizeof(*vs));
	struct kmm_slab slab, small;
	struct kmm_vaspace_config cfg = { .granule = G, .nodes = &slab };

	cr_assert_eq(kmm_slab_init(&slab, sizeof(vnode_t), _Alignof(vnode_t)),
		     0);
	cr_assert_eq(kmm_slab_init(&small, sizeof(vnode_t) - 8, 8), 0);
	cr_assert_eq(kmm_vaspace_init(NULL, &cfg), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_init(vs, NULL), KMM_EINVAL);
	cfg.nodes = NULL;
	cr_assert_eq(kmm_vaspace_init(vs, &cfg), KMM_EINVAL);
	cfg.nodes = &small;
	cr_assert_eq(kmm_vaspace_init(vs, &cfg), KMM_EINVAL);
	cfg.nodes = &slab;
	cfg.granule = 0;
	cr_assert_eq(kmm_vaspace_init(vs, &cfg), KMM_EINVAL);
	cfg.granule = 0x3000;
	cr_assert_eq(kmm_vaspace_init(vs, &cfg), KMM_EINVAL);
	cfg.granule = KMM_VASPACE_MAX_GRANULE << 1;
	cr_assert_eq(kmm_vaspace_init(vs, &cfg), KMM_EINVAL);
	cfg.granule = G;
	cfg.identity = true;
	cfg.guard_granules = 1;
	cr_assert_eq(kmm_vaspace_init(vs, &cfg), KMM_EINVAL);
	cfg.guard_granules = 0;
	cr_assert_eq(kmm_vaspace_init(vs, &cfg), 0);
	cr_assert(vs->identity);
	cr_assert_eq(vs->owners[3].quota, UINT64_MAX);
	free(vs);
}

Test(vaspace, add_window_rejects_bad_windows_and_changes_nothing)
{
	struct fix f;
	struct snap s;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_add_window(NULL, 0, G), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0, 0), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x800, G), KMM_EALIGN);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0, 0x1800), KMM_EALIGN);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, TOP, 2 * G), KMM_ERANGE);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x1ff000, 2 * G),
		     KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0xff000, 2 * G), KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0, 0x400000), KMM_EEXIST);
	assert_unchanged(&f, &s);
	fix_fini(&f);
}

Test(vaspace, adjacent_windows_merge_into_one_free_extent)
{
	struct fix f;
	kmm_vaddr_t va;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x10000, 0x4000), 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x18000, 0x4000), 0);
	cr_assert_eq(f.vs.nr_windows, 2);
	/* The gap [0x14000, 0x18000) joins both. */
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x14000, 0x4000), 0);
	cr_assert_eq(f.vs.nr_windows, 1);
	cr_assert_eq(f.vs.windows[0].base, 0x10000);
	cr_assert_eq(f.vs.windows[0].last, 0x1bfff);
	check_vs(&f.vs);
	assert_only_free(&f.vs, 0x10000, 0xc000);
	/* One window, one sentinel: the node of the joined window is back. */
	cr_assert_null(f.vs.tree.node->left);
	cr_assert_null(f.vs.tree.node->right);
	cr_assert_eq(kmm_slab_available(&f.slab), 256 - 1);
	/* The whole 48 KiB is now one range. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 0xc000, G, 0, &va), 0);
	cr_assert_eq(va, 0x10000);
	fix_fini(&f);
}

Test(vaspace, window_slots_run_out_with_enospc)
{
	struct fix f;

	fix_init(&f, 0);
	for (int i = 0; i < KMM_VASPACE_MAX_WINDOWS; i++)
		cr_assert_eq(kmm_vaspace_add_window(&f.vs,
						    (uint64_t)i * 0x10000, G),
			     0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, G), KMM_ENOSPC);
	/* An adjacent window needs no slot. */
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, G, G), 0);
	cr_assert_eq(f.vs.nr_windows, KMM_VASPACE_MAX_WINDOWS);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, windows_may_not_cover_the_whole_space)
{
	struct fix f;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0, 1ull << 63), 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 1ull << 63, 1ull << 63),
		     KMM_ERANGE);
	cr_assert_eq(
		kmm_vaspace_add_window(&f.vs, 1ull << 63, (1ull << 63) - G), 0);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, alloc_returns_lowest_address_first)
{
	struct fix f;
	kmm_vaddr_t a, b, c;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x40000000, 0x100000), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, &a), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 2 * G, G, 0, &b), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, &c), 0);
	cr_assert_eq(a, 0x40000000);
	cr_assert_eq(b, 0x40001000);
	cr_assert_eq(c, 0x40003000);
	/* A freed hole is reused by the next request that fits it. */
	cr_assert_eq(kmm_vaspace_free(&f.vs, b, 2 * G, 0), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, &b), 0);
	cr_assert_eq(b, 0x40001000);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, alloc_respects_alignment_after_fragmentation)
{
	struct fix f;
	kmm_vaddr_t va[16], got;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x1000, 0x3f000), 0);
	for (int i = 0; i < 16; i++) {
		cr_assert_eq(kmm_vaspace_alloc(&f.vs, 2 * G, G, 1, &va[i]), 0);
		cr_assert_eq(va[i], 0x1000 + (uint64_t)i * 0x2000);
	}
	/* Holes of 8 KiB at 0x1000, 0x5000, 0x9000, ...: none 8K-aligned. */
	for (int i = 0; i < 16; i += 2)
		cr_assert_eq(kmm_vaspace_free(&f.vs, va[i], 2 * G, 1), 0);
	/* One 4 KiB page aligned to 8 KiB: 0x2000 in the first hole. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 2 * G, 1, &got), 0);
	cr_assert_eq(got, 0x2000);
	/* 8 KiB aligned to 8 KiB fits no hole: after the last range. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 2 * G, 2 * G, 1, &got), 0);
	cr_assert_eq(got, 0x22000);
	/*
	 * 4 KiB aligned to 16 KiB: no 2-page hole [odd page, +2) and not
	 * [0x1000, 0x2000) or [0x21000, 0x22000) holds a 16 KiB boundary
	 * with a page after it; the first one is 0x24000.
	 */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 4 * G, 1, &got), 0);
	cr_assert_eq(got, 0x24000);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, alloc_aligns_to_one_gib_and_beyond_the_cached_classes)
{
	struct fix f;
	kmm_vaddr_t got;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x1000,
					    (1ull << 42) - 0x1000),
		     0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, GIB, 0, &got), 0);
	cr_assert_eq(got, GIB);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, GIB, 0, &got), 0);
	cr_assert_eq(got, 2 * GIB);
	/* 2^40 is beyond the 2^31 cached classes: still exact. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 16 * G, 1ull << 40, 0, &got), 0);
	cr_assert_eq(got, 1ull << 40);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 1ull << 41, 0, &got), 0);
	cr_assert_eq(got, 1ull << 41);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 1ull << 42, 0, &got),
		     KMM_ENOSPC);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, alloc_stays_exact_for_sizes_beyond_the_saturated_lanes)
{
	struct fix f;
	kmm_vaddr_t got;
	uint64_t hole = (1ull << 46) + (1ull << 29);

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, GIB, (1ull << 52) - GIB), 0);
	/* A hole of 2^46 + 2^29 bytes starting one page past 1 GiB. */
	cr_assert_eq(kmm_vaspace_claim(&f.vs, GIB, G, 0), 0);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, GIB + G + hole, G, 0), 0);
	check_vs(&f.vs);
	/*
	 * 2^46 bytes aligned to 1 GiB: the hole is large enough but not
	 * from its first 1 GiB boundary; both gaps' 1 GiB lanes are
	 * saturated, so only the search's exact check can tell.
	 */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 1ull << 46, GIB, 1, &got), 0);
	cr_assert_eq(got, (1ull << 46) + 2 * GIB);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 1ull << 45, GIB, 1, &got), 0);
	cr_assert_eq(got, 2 * GIB);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, alloc_rejects_bad_input_with_specific_codes)
{
	struct fix f;
	struct snap s;
	kmm_vaddr_t va = 0x1234;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_alloc(NULL, G, G, 0, &va), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 0, G, 0, &va), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 0, 0, &va), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 3 * G, 0, &va), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, KMM_CONFIG_MAX_OWNERS, &va),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, KMM_OWNER_NONE, &va),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 0x800, G, 0, &va), KMM_EALIGN);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 0x800, 0, &va), KMM_EALIGN);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, UINT64_MAX - G + 1, G, 0, &va),
		     KMM_ENOSPC);
	cr_assert_eq(va, 0x1234, "out value written on failure");
	assert_unchanged(&f, &s);
	fix_fini(&f);
}

Test(vaspace, exhaustion_fails_with_enospc_and_changes_nothing)
{
	struct fix f;
	struct snap s;
	kmm_vaddr_t va;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 8 * G), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 9 * G, G, 0, &va), KMM_ENOSPC);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 3 * G, G, 0, &va), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 5 * G, G, 0, &va), 0);
	cr_assert_eq(free_extents(&f.vs, NULL, 0), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, &va), KMM_ENOSPC);
	assert_unchanged(&f, &s);
	cr_assert_eq(kmm_vaspace_free(&f.vs, 0x100000, 3 * G, 0), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 4 * G, G, 0, &va), KMM_ENOSPC);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 3 * G, G, 0, &va), 0);
	cr_assert_eq(va, 0x100000);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, guards_keep_a_gap_after_each_range)
{
	struct fix f;
	kmm_vaddr_t a, b, base;
	uint64_t size;

	fix_init(&f, 2);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 16 * G), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 3 * G, G, 0, &a), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, &b), 0);
	cr_assert_eq(a, 0x100000);
	cr_assert_eq(b, 0x105000, "the range must start after a's guard");
	/* The guard belongs to no range and cannot be claimed. */
	cr_assert_eq(kmm_vaspace_find(&f.vs, 0x103000, &base, &size, NULL),
		     KMM_ENOENT);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x104000, G, 0), KMM_EEXIST);
	/* Usage counts the range only. */
	cr_assert_eq(kmm_vaspace_usage(&f.vs, 0, &size), 0);
	cr_assert_eq(size, 4 * G);
	/* 16 pages: 5 + 3 used, 8 left; 6 + 2 guard fit, 7 + 2 do not. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 7 * G, G, 0, &a), KMM_ENOSPC);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 6 * G, G, 0, &a), 0);
	cr_assert_eq(a, 0x108000);
	cr_assert_eq(free_extents(&f.vs, NULL, 0), 0);
	/* Freeing gives the guard back too: all merges into one extent. */
	cr_assert_eq(kmm_vaspace_free_all(&f.vs, 0), 0);
	assert_only_free(&f.vs, 0x100000, 16 * G);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, window_at_the_top_of_the_space_is_usable_to_its_last_byte)
{
	struct fix f;
	kmm_vaddr_t va, base;
	uint64_t size;

	fix_init(&f, 1);
	/* [2^64 - 64 KiB, 2^64) and [0, 64 KiB) must not merge by wrap. */
	cr_assert_eq(
		kmm_vaspace_add_window(&f.vs, UINT64_MAX - 0xffff, 0x10000), 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0, 0x10000), 0);
	cr_assert_eq(f.vs.nr_windows, 2);
	/* Alignment past the top wraps: only address 0 qualifies. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 1ull << 63, 0, &va), 0);
	cr_assert_eq(va, 0);
	cr_assert_eq(kmm_vaspace_free(&f.vs, 0, G, 0), 0);
	/* Fill the low window, then the top one up to its very end. */
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0, 15 * G, 0), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 8 * G, 8 * G, 2, &va), 0);
	cr_assert_eq(va, UINT64_MAX - 0xffff);
	/* 6 pages and the guard: the guard is the last page of the space. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 7 * G, G, 2, &va), KMM_ENOSPC);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 6 * G, G, 2, &va), 0);
	cr_assert_eq(va, UINT64_MAX - 0x6fff);
	cr_assert_eq(free_extents(&f.vs, NULL, 0), 0);
	cr_assert_eq(
		kmm_vaspace_find(&f.vs, UINT64_MAX - G, &base, &size, NULL), 0);
	cr_assert_eq(base, UINT64_MAX - 0x6fff);
	cr_assert_eq(size, 6 * G);
	cr_assert_eq(kmm_vaspace_find(&f.vs, UINT64_MAX, NULL, NULL, NULL),
		     KMM_ENOENT, "the top page is the guard");
	/* Ranges that wrap past 2^64 are refused. */
	cr_assert_eq(kmm_vaspace_claim(&f.vs, TOP, 2 * G, 0), KMM_ERANGE);
	cr_assert_eq(kmm_vaspace_free(&f.vs, TOP, 2 * G, 2), KMM_ERANGE);
	/* Freeing at the top merges but never with address 0. */
	cr_assert_eq(kmm_vaspace_free(&f.vs, UINT64_MAX - 0x6fff, 6 * G, 2), 0);
	cr_assert_eq(kmm_vaspace_free(&f.vs, 0, 15 * G, 0), 0);
	cr_assert_eq(kmm_vaspace_free(&f.vs, UINT64_MAX - 0xffff, 8 * G, 2), 0);
	check_vs(&f.vs);
	cr_assert_eq(free_extents(&f.vs, NULL, 0), 2);
	fix_fini(&f);
}

Test(vaspace, claim_over_a_taken_range_fails_with_eexist)
{
	struct fix f;
	struct snap s;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x110000, 4 * G, 3), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x110000, 4 * G, 3), KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x10f000, 2 * G, 3), KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x113000, 2 * G, 4), KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x100000, 0x20000, 4),
		     KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0xff000, 2 * G, 4), KMM_ERANGE);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x1ff000, 2 * G, 4), KMM_ERANGE);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x100800, G, 4), KMM_EALIGN);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x100000, 0, 4), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x100000, G,
				       KMM_CONFIG_MAX_OWNERS),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_claim(NULL, 0x100000, G, 0), KMM_EINVAL);
	assert_unchanged(&f, &s);
	/* Right next to it is fine, and splits the extent in three. */
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x114000, G, 4), 0);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x108000, G, 4), 0);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, free_by_the_wrong_owner_fails_with_eperm)
{
	struct fix f;
	struct snap s;
	kmm_vaddr_t va;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 4 * G, G, 5, &va), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 4 * G, 6), KMM_EPERM);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 4 * G, 0), KMM_EPERM);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va + G, G, 6), KMM_EPERM);
	assert_unchanged(&f, &s);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 4 * G, 5), 0);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, partial_and_double_frees_are_refused)
{
	struct fix f;
	struct snap s;
	kmm_vaddr_t va, vb;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 4 * G, G, 1, &va), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 4 * G, G, 1, &vb), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 2 * G, 1), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va + G, 3 * G, 1), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 8 * G, 1), KMM_EINVAL,
		     "two ranges at once");
	cr_assert_eq(kmm_vaspace_free(&f.vs, vb + 4 * G, G, 1), KMM_ENOENT);
	cr_assert_eq(kmm_vaspace_free(&f.vs, 0x1000, G, 1), KMM_ERANGE);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 0, 1), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va + 1, G, 1), KMM_EALIGN);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, G + 1, 1), KMM_EALIGN);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, G, KMM_CONFIG_MAX_OWNERS),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_free(NULL, va, G, 1), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_free(&f.vs, TOP, 2 * G, 1), KMM_ERANGE);
	assert_unchanged(&f, &s);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 4 * G, 1), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, 4 * G, 1), KMM_ENOENT);
	assert_unchanged(&f, &s);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, free_merges_with_both_neighbours)
{
	struct fix f;
	kmm_vaddr_t v[3];

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 4 * G), 0);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, &v[i]), 0);
	cr_assert_eq(kmm_vaspace_free(&f.vs, v[0], G, 0), 0);
	cr_assert_eq(kmm_vaspace_free(&f.vs, v[2], G, 0), 0);
	check_vs(&f.vs);
	/* Free [0x100000] and [0x102000, 0x104000) around v[1]. */
	cr_assert_eq(free_extents(&f.vs, NULL, 0), 2);
	/* Nodes: the window's sentinel and v[1]. */
	cr_assert_eq(kmm_slab_available(&f.slab), 256 - 2);
	cr_assert_eq(kmm_vaspace_free(&f.vs, v[1], G, 0), 0);
	cr_assert_eq(kmm_slab_available(&f.slab), 256 - 1);
	assert_only_free(&f.vs, 0x100000, 4 * G);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, find_returns_the_range_holding_an_address)
{
	struct fix f;
	kmm_vaddr_t va, base = 0;
	uint64_t size = 0;
	kmm_owner_t owner = 0;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 2, &va), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 3 * G, G, 7, &va), 0);
	cr_assert_eq(kmm_vaspace_find(&f.vs, va + 3 * G - 1, &base, &size,
				      &owner),
		     0);
	cr_assert_eq(base, va);
	cr_assert_eq(size, 3 * G);
	cr_assert_eq(owner, 7);
	cr_assert_eq(kmm_vaspace_find(&f.vs, va + 3 * G, &base, NULL, NULL),
		     KMM_ENOENT);
	cr_assert_eq(kmm_vaspace_find(&f.vs, 0, NULL, NULL, NULL), KMM_ENOENT);
	cr_assert_eq(kmm_vaspace_find(NULL, va, NULL, NULL, NULL), KMM_EINVAL);
	fix_fini(&f);
}

Test(vaspace, free_all_releases_every_range_of_one_owner_only)
{
	struct fix f;
	kmm_vaddr_t va;
	uint64_t used;

	fix_init(&f, 1);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	for (int i = 0; i < 30; i++)
		cr_assert_eq(kmm_vaspace_alloc(&f.vs, (uint64_t)(1 + i % 3) * G,
					       G, (kmm_owner_t)(1 + i % 3),
					       &va),
			     0);
	cr_assert_eq(kmm_vaspace_usage(&f.vs, 2, &used), 0);
	cr_assert_eq(used, 10 * 2 * G);
	cr_assert_eq(kmm_vaspace_free_all(&f.vs, 2), 0);
	cr_assert_eq(kmm_vaspace_usage(&f.vs, 2, &used), 0);
	cr_assert_eq(used, 0);
	cr_assert_null(f.vs.owners[2].ranges);
	cr_assert_eq(kmm_vaspace_usage(&f.vs, 3, &used), 0);
	cr_assert_eq(used, 10 * 3 * G);
	cr_assert_eq(check_vs(&f.vs), 20);
	cr_assert_eq(kmm_vaspace_free_all(&f.vs, 9), 0, "nothing to free");
	cr_assert_eq(kmm_vaspace_free_all(&f.vs, KMM_CONFIG_MAX_OWNERS),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_free_all(NULL, 1), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_free_all(&f.vs, 1), 0);
	cr_assert_eq(kmm_vaspace_free_all(&f.vs, 3), 0);
	cr_assert_eq(check_vs(&f.vs), 0);
	assert_only_free(&f.vs, 0x100000, 0x100000);
	fix_fini(&f);
}

Test(vaspace, quota_refuses_ranges_beyond_it_with_equota)
{
	struct fix f;
	struct snap s;
	kmm_vaddr_t va;
	uint64_t used;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	cr_assert_eq(kmm_vaspace_set_quota(&f.vs, 4, 3 * G), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 2 * G, G, 4, &va), 0);
	snap_take(&f, &s);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 2 * G, G, 4, &va), KMM_EQUOTA);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x180000, 2 * G, 4), KMM_EQUOTA);
	assert_unchanged(&f, &s);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 4, &va), 0);
	/* Lowering below usage is allowed and blocks new ranges. */
	cr_assert_eq(kmm_vaspace_set_quota(&f.vs, 4, G), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 4, &va), KMM_EQUOTA);
	cr_assert_eq(kmm_vaspace_usage(&f.vs, 4, &used), 0);
	cr_assert_eq(used, 3 * G);
	/* Other owners are not limited. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 16 * G, G, 5, &va), 0);
	cr_assert_eq(kmm_vaspace_set_quota(NULL, 4, G), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_set_quota(&f.vs, KMM_CONFIG_MAX_OWNERS, G),
		     KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_usage(&f.vs, 4, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_usage(NULL, 4, &used), KMM_EINVAL);
	cr_assert_eq(kmm_vaspace_usage(&f.vs, KMM_OWNER_NONE, &used),
		     KMM_EINVAL);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, running_out_of_nodes_fails_with_enomem_and_changes_nothing)
{
	struct fix f;
	struct snap s;
	kmm_vaddr_t va = 0;

	fix_init_cfg(&f, 2, G, 0, false);
	/* A window takes one node, its sentinel. */
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 16 * G), 0);
	cr_assert_eq(kmm_slab_available(&f.slab), 1);
	/* A range takes one node wherever it lies. */
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x104000, G, 0), 0);
	cr_assert_eq(kmm_slab_available(&f.slab), 0);
	snap_take(&f, &s);
	/* Every further range or lone window needs a node: ENOMEM. */
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 0, &va), KMM_ENOMEM);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 4 * G, G, 0, &va), KMM_ENOMEM);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x10a000, G, 0), KMM_ENOMEM);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x200000, G), KMM_ENOMEM);
	assert_unchanged(&f, &s);
	cr_assert_eq(va, 0, "out value written on failure");
	check_vs(&f.vs);
	/* A window adjacent to another joins it: no node needed. */
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x110000, G), 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0xff000, G), 0);
	cr_assert_eq(f.vs.nr_windows, 1);
	check_vs(&f.vs);
	/* Freeing never needs a node, and gives the range's back. */
	cr_assert_eq(kmm_vaspace_free(&f.vs, 0x104000, G, 0), 0);
	cr_assert_eq(kmm_slab_available(&f.slab), 1);
	assert_only_free(&f.vs, 0xff000, 18 * G);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 4 * G, G, 0, &va), 0);
	cr_assert_eq(va, 0xff000);
	cr_assert_eq(kmm_slab_available(&f.slab), 0);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, identity_mode_allows_claims_only)
{
	struct fix f;
	kmm_vaddr_t va = 0;
	kmm_owner_t owner;

	fix_init_cfg(&f, 64, 64, 0, true);
	/* The window is the PA space that may be mapped, 64-byte MPU
	 * granule. */
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x80000000, 0x10000000), 0);
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, 0x1000, 0x1000, 1, &va),
		     KMM_ENOTSUP);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x80001040, 0x1c0, 1), 0);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x80001000, 0x80, 2), KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x80001000, 0x40, 2), 0);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x80001200, 0x40, 2), 0);
	cr_assert_eq(kmm_vaspace_find(&f.vs, 0x800011ff, &va, NULL, &owner), 0);
	cr_assert_eq(va, 0x80001040);
	cr_assert_eq(owner, 1);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, 0x80001020, 0x40, 2), KMM_EALIGN);
	check_vs(&f.vs);
	fix_fini(&f);
}

Test(vaspace, destroy_gives_every_node_back)
{
	struct fix f;
	kmm_vaddr_t va;

	fix_init(&f, 1);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x400000, 0x100000), 0);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, 4 * G, 1, &va), 0);
	cr_assert_lt(kmm_slab_available(&f.slab), 256 - 20);
	cr_assert_eq(kmm_vaspace_destroy(&f.vs), 0);
	cr_assert_eq(kmm_slab_available(&f.slab), 256);
	cr_assert_eq(f.vs.nr_windows, 0);
	cr_assert_eq(kmm_vaspace_destroy(NULL), KMM_EINVAL);
	fix_fini(&f);
}

Test(vaspace, every_call_takes_and_releases_the_port_lock)
{
	struct fix f;
	kmm_vaddr_t va;
	uint64_t used;
	unsigned long before;

	fix_init(&f, 0);
	cr_assert_eq(kmm_vaspace_add_window(&f.vs, 0x100000, 0x100000), 0);
	before = f.lc.taken;
	cr_assert_eq(kmm_vaspace_alloc(&f.vs, G, G, 1, &va), 0);
	cr_assert_eq(kmm_vaspace_find(&f.vs, va, NULL, NULL, NULL), 0);
	cr_assert_eq(kmm_vaspace_usage(&f.vs, 1, &used), 0);
	cr_assert_eq(kmm_vaspace_claim(&f.vs, va, G, 1), KMM_EEXIST);
	cr_assert_eq(kmm_vaspace_free(&f.vs, va, G, 1), 0);
	cr_assert_eq(f.lc.taken - before, 5);
	cr_assert_eq(f.lc.depth, 0);
	fix_fini(&f);
}

/* ------------------------------------------------------------------ */
/* Randomized test against a linear first-fit.                        */
/* ------------------------------------------------------------------ */

static uint64_t rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The lowest fit by a linear walk over the free extents, or false. */
static bool linear_first_fit(const struct kmm_vaspace *vs, uint64_t need,
			     uint64_t align, uint64_t *at)
{
	for (const struct kmm_rb_node *rb = kmm_rb_first(&vs->tree); rb;
	     rb = kmm_rb_next(rb)) {
		const vnode_t *n = vn(rb);
		uint64_t last = last_of(n->end, n->gap);

		if (n->gap && ref_room(n->end, last, align) >= need) {
			*at = last - ref_room(n->end, last, align) + 1;
			return true;
		}
	}
	return false;
}

/* Is [va, va + need) inside one free extent? (linear) */
static bool linear_is_free(const struct kmm_vaspace *vs, uint64_t va,
			   uint64_t need)
{
	for (const struct kmm_rb_node *rb = kmm_rb_first(&vs->tree); rb;
	     rb = kmm_rb_next(rb)) {
		const vnode_t *n = vn(rb);

		if (n->gap && n->end <= va &&
		    last_of(va, need) <= last_of(n->end, n->gap))
			return true;
	}
	return false;
}

struct live {
	uint64_t va, size;
	kmm_owner_t owner;
};

static const struct kmm_vaspace_window rand_windows[] = {
	{ 0, 0x1fffff }, /* address 0: aligned to everything */
	{ GIB - 0x800000, GIB + 0x7fffff }, /* across a 1 GiB boundary */
	{ (1ull << 40) - 0x400000, (1ull << 40) + 0x3fffff },
	{ UINT64_MAX - 0xffffff, UINT64_MAX }, /* the top 16 MiB */
};

static void random_run(uint64_t seed, unsigned int guard, int steps)
{
	struct fix f;
	struct live *live = calloc(4096, sizeof(*live));
	size_t nlive = 0;
	uint64_t quota[8];
	unsigned long fits = 0, misses = 0, claims = 0;
	size_t max_live = 0;

	fix_init_cfg(&f, 8192, G, guard, false);
	for (size_t i = 0; i < sizeof(rand_windows) / sizeof(rand_windows[0]);
	     i++)
		cr_assert_eq(kmm_vaspace_add_window(
				     &f.vs, rand_windows[i].base,
				     rand_windows[i].last -
					     rand_windows[i].base + 1),
			     0);
	for (int o = 0; o < 8; o++)
		quota[o] = UINT64_MAX;
	for (int step = 0; step < steps; step++) {
		uint64_t r = rnd(&seed) % 1000;
		kmm_owner_t owner = (kmm_owner_t)(rnd(&seed) % 8);
		uint64_t used;

		cr_assert_eq(kmm_vaspace_usage(&f.vs, owner, &used), 0);
		if (r < 550 && nlive < 4096) {
			/* Mostly small, sometimes large; alignments up to
			 * 2^22 granules, beyond the cached classes. */
			uint64_t pages = rnd(&seed) % 32 ? 8 : 200;
			uint64_t size = (1 + rnd(&seed) % pages) * G;
			uint64_t shifts = rnd(&seed) % 4 ? 6 : 23;
			uint64_t align = G << (rnd(&seed) % shifts);
			uint64_t want = 0, got = 0;
			bool fits_ref = linear_first_fit(
				&f.vs, size + guard * G, align, &want);
			int ret = kmm_vaspace_alloc(&f.vs, size, align, owner,
						    &got);

			if (used + size > quota[owner]) {
				cr_assert_eq(ret, KMM_EQUOTA);
			} else if (!fits_ref) {
				cr_assert_eq(ret, KMM_ENOSPC,
					     "step %d: got %llx", step,
					     (unsigned long long)got);
				misses++;
			} else {
				cr_assert_eq(ret, 0, "step %d", step);
				cr_assert_eq(got, want,
					     "step %d: size %llx align %llx: "
					     "got %llx, first fit %llx",
					     step, (unsigned long long)size,
					     (unsigned long long)align,
					     (unsigned long long)got,
					     (unsigned long long)want);
				live[nlive++] =
					(struct live){ got, size, owner };
				fits++;
			}
		} else if (r < 840 && nlive) {
			size_t i = rnd(&seed) % nlive;

			cr_assert_eq(kmm_vaspace_free(&f.vs, live[i].va,
						      live[i].size,
						      live[i].owner),
				     0);
			live[i] = live[--nlive];
		} else if (r < 920 && nlive < 4096) {
			/* Claim near a window edge or anywhere inside. */
			const struct kmm_vaspace_window *w =
				&rand_windows[rnd(&seed) % 4];
			uint64_t span = w->last - w->base + 1;
			uint64_t size = (1 + rnd(&seed) % 8) * G;
			uint64_t va = w->base + (rnd(&seed) % (span / G)) * G;
			uint64_t need = size + guard * G;
			int ret, want;

			if (last_of(va, need) < va ||
			    last_of(va, need) > w->last)
				want = KMM_ERANGE;
			else if (!linear_is_free(&f.vs, va, need))
				want = KMM_EEXIST;
			else if (used + size > quota[owner])
				want = KMM_EQUOTA;
			else
				want = 0;
			ret = kmm_vaspace_claim(&f.vs, va, size, owner);
			cr_assert_eq(ret, want,
				     "step %d claim %llx: %d want %d", step,
				     (unsigned long long)va, ret, want);
			if (ret == 0) {
				live[nlive++] =
					(struct live){ va, size, owner };
				claims++;
			}
		} else if (r < 995 && nlive) {
			/* Wrong owner and partial frees change nothing. */
			struct live *l = &live[rnd(&seed) % nlive];
			kmm_owner_t other = (kmm_owner_t)((l->owner + 1) % 8);

			cr_assert_eq(kmm_vaspace_free(&f.vs, l->va, l->size,
						      other),
				     KMM_EPERM);
			if (l->size > G)
				cr_assert_eq(kmm_vaspace_free(&f.vs, l->va,
							      l->size - G,
							      l->owner),
					     KMM_EINVAL);
		} else if (r < 998) {
			quota[owner] = rnd(&seed) % 2 ? UINT64_MAX :
							(rnd(&seed) % 1024) * G;
			cr_assert_eq(kmm_vaspace_set_quota(&f.vs, owner,
							   quota[owner]),
				     0);
		} else {
			cr_assert_eq(kmm_vaspace_free_all(&f.vs, owner), 0);
			for (size_t i = 0; i < nlive;)
				if (live[i].owner == owner)
					live[i] = live[--nlive];
				else
					i++;
		}
		cr_assert_eq(check_vs(&f.vs), nlive, "step %d", step);
		if (nlive > max_live)
			max_live = nlive;
	}
	/* The run must have exercised every outcome, fragmented. */
	cr_assert_gt(max_live, (size_t)(steps / 30));
	cr_assert_gt(fits, 100);
	cr_assert_gt(misses, 0);
	cr_assert_gt(claims, 0);
	free(live);
	fix_fini(&f);
}

static int scaled(int steps)
{
	return getenv("KMM_TEST_UNDER_VALGRIND") ? steps / 10 : steps;
}

Test(vaspace, random_allocations_match_linear_first_fit_without_guards)
{
	random_run(1, 0, scaled(6000));
	random_run(2, 0, scaled(6000));
}

Test(vaspace, random_allocations_match_linear_first_fit_with_guards)
{
	random_run(3, 1, scaled(6000));
	random_run(4, 3, scaled(6000));
}
