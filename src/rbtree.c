// SPDX-License-Identifier: BSD-2-Clause
/*
 * Intrusive red-black tree with optional augmentation.
 *
 * Invariants kept by every public function on return:
 *  - in-order traversal is sorted by the caller's key;
 *  - the root is black, a red node has no red child;
 *  - every path from a node down to a NULL leaf has the same number of
 *    black nodes;
 *  - with augmentation, every node's value equals compute() of that node.
 * Nothing here recurses or allocates: depth is bounded by 2*log2(n+1).
 */
#include "kmm/rbtree.h"

static inline void set_parent(struct kmm_rb_node *n, struct kmm_rb_node *p)
{
	n->parent_color = (uintptr_t)p | (n->parent_color & KMM_RB_BLACK);
}

static inline void set_parent_color(struct kmm_rb_node *n,
				    struct kmm_rb_node *p, uintptr_t black)
{
	n->parent_color = (uintptr_t)p | black;
}

static inline void set_black(struct kmm_rb_node *n)
{
	n->parent_color |= KMM_RB_BLACK;
}

static inline void set_red(struct kmm_rb_node *n)
{
	n->parent_color &= ~KMM_RB_BLACK;
}

static inline bool is_black(const struct kmm_rb_node *n)
{
	return !kmm_rb_is_red(n);
}

/* Makes @new take @old's place as the child of @parent (or the root). */
static inline void replace_child(struct kmm_rb_root *root,
				 struct kmm_rb_node *parent,
				 struct kmm_rb_node *old,
				 struct kmm_rb_node *new)
{
	if (parent == NULL)
		root->node = new;
	else if (parent->left == old)
		parent->left = new;
	else
		parent->right = new;
}

/* Child @d of @n: 0 left, 1 right. One body serves both mirror images. */
static inline struct kmm_rb_node **child(struct kmm_rb_node *n, unsigned int d)
{
	return d ? &n->right : &n->left;
}

/*
 * Rotation towards side @d keeps the in-order sequence: @x moves down to
 * its side @d, its child on the other side takes its place. Colours are
 * left to the caller.
 */
static void rotate(struct kmm_rb_root *root, struct kmm_rb_node *x,
		   unsigned int d, const struct kmm_rb_augment *aug)
{
	struct kmm_rb_node *y = *child(x, !d);
	struct kmm_rb_node *xp = kmm_rb_parent(x);
	struct kmm_rb_node *inner = *child(y, d);

	*child(x, !d) = inner;
	if (inner)
		set_parent(inner, x);
	*child(y, d) = x;
	replace_child(root, xp, x, y);
	set_parent(y, xp);
	set_parent(x, y);
	if (aug)
		aug->rotate(x, y);
}

void kmm_rb_link(struct kmm_rb_node *node, struct kmm_rb_node *parent,
		 struct kmm_rb_node **link)
{
	set_parent_color(node, parent, 0);
	node->left = NULL;
	node->right = NULL;
	*link = node;
}

void kmm_rb_insert(struct kmm_rb_root *root, struct kmm_rb_node *node,
		   const struct kmm_rb_augment *aug)
{
	struct kmm_rb_node *parent, *gparent, *uncle;
	unsigned int d;

	if (aug && kmm_rb_parent(node))
		aug->propagate(kmm_rb_parent(node), NULL);

	/* @node is red; the only rule that may be broken is red-red. */
	for (;;) {
		parent = kmm_rb_parent(node);
		if (parent == NULL) {
			set_black(node);
			return;
		}
		if (is_black(parent))
			return;
		/* A red parent is never the root, so gparent exists. */
		gparent = kmm_rb_parent(parent);
		d = parent != gparent->left; /* side of @parent */
		uncle = *child(gparent, !d);
		if (kmm_rb_is_red(uncle)) {
			set_black(parent);
			set_black(uncle);
			set_red(gparent);
			node = gparent;
			continue;
		}
		if (node == *child(parent, !d)) {
			rotate(root, parent, d, aug);
			parent = node;
		}
		rotate(root, gparent, !d, aug);
		set_black(parent);
		set_red(gparent);
		return;
	}
}

/*
 * Restores equal black heights after a black node was removed above @x
 * (possibly NULL), whose parent is @xp: the subtree at @x is one black
 * short.
 */
static void erase_fixup(struct kmm_rb_root *root, struct kmm_rb_node *x,
			struct kmm_rb_node *xp,
			const struct kmm_rb_augment *aug)
{
	struct kmm_rb_node *w;
	unsigned int d;

	while (xp != NULL && is_black(x)) {
		d = x != xp->left; /* side of @x; @w is its sibling */
		w = *child(xp, !d);
		if (kmm_rb_is_red(w)) {
			set_black(w);
			set_red(xp);
			rotate(root, xp, d, aug);
			w = *child(xp, !d);
		}
		if (is_black(w->left) && is_black(w->right)) {
			set_red(w);
			x = xp;
			xp = kmm_rb_parent(x);
			continue;
		}
		if (is_black(*child(w, !d))) {
			set_black(*child(w, d));
			set_red(w);
			rotate(root, w, !d, aug);
			w = *child(xp, !d);
		}
		set_parent_color(w, kmm_rb_parent(w),
				 xp->parent_color & KMM_RB_BLACK);
		set_black(xp);
		set_black(*child(w, !d));
		rotate(root, xp, d, aug);
		x = root->node;
		break;
	}
	if (x)
		set_black(x);
}

void kmm_rb_erase(struct kmm_rb_root *root, struct kmm_rb_node *z,
		  const struct kmm_rb_augment *aug)
{
	struct kmm_rb_node *zp = kmm_rb_parent(z);
	struct kmm_rb_node *x, *xp, *y;
	bool removed_black;

	if (z->left == NULL || z->right == NULL) {
		/* At most one child: splice @z out. */
		x = z->left ? z->left : z->right;
		xp = zp;
		removed_black = is_black(z);
		replace_child(root, zp, z, x);
		if (x)
			set_parent(x, zp);
		if (aug && xp)
			aug->propagate(xp, NULL);
	} else {
		/* Two children: the successor @y (no left child) replaces @z. */
		y = z->right;
		while (y->left)
			y = y->left;
		x = y->right;
		removed_black = is_black(y);
		if (y == z->right) {
			xp = y;
		} else {
			xp = kmm_rb_parent(y);
			xp->left = x;
			if (x)
				set_parent(x, xp);
			y->right = z->right;
			set_parent(z->right, y);
		}
		y->left = z->left;
		set_parent(z->left, y);
		replace_child(root, zp, z, y);
		y->parent_color = z->parent_color;
		if (aug) {
			/*
			 * @y starts from @z's value; the nodes between @xp and
			 * @y lost @y, and @y itself lost @z: recompute both
			 * paths, then from @y up to the root.
			 */
			aug->copy(z, y);
			if (xp != y)
				aug->propagate(xp, y);
			aug->propagate(y, NULL);
		}
	}
	if (removed_black)
		erase_fixup(root, x, xp, aug);
}

/* The last node on side @d of the subtree at @n (NULL for an empty one). */
static struct kmm_rb_node *extreme(struct kmm_rb_node *n, unsigned int d)
{
	if (n)
		while (*child(n, d))
			n = *child(n, d);
	return n;
}

struct kmm_rb_node *kmm_rb_first(const struct kmm_rb_root *root)
{
	return extreme(root->node, 0);
}

struct kmm_rb_node *kmm_rb_last(const struct kmm_rb_root *root)
{
	return extreme(root->node, 1);
}

/* The in-order neighbour on side @d: 1 successor, 0 predecessor. */
static struct kmm_rb_node *step(const struct kmm_rb_node *node, unsigned int d)
{
	struct kmm_rb_node *n = (struct kmm_rb_node *)node;
	struct kmm_rb_node *p;

	if (*child(n, d))
		return extreme(*child(n, d), !d);
	/* Climb while we are a child on side @d. */
	while ((p = kmm_rb_parent(n)) != NULL && *child(p, d) == n)
		n = p;
	return p;
}

struct kmm_rb_node *kmm_rb_next(const struct kmm_rb_node *node)
{
	return step(node, 1);
}

struct kmm_rb_node *kmm_rb_prev(const struct kmm_rb_node *node)
{
	return step(node, 0);
}

/*
 * The node equal to @key, else (@floor) the last node below it, else NULL.
 * Out of line: inlined, find and floor would each get a copy.
 */
__attribute__((noinline)) static struct kmm_rb_node *
search(const struct kmm_rb_root *root, const void *key, kmm_rb_cmp_fn cmp,
       bool floor)
{
	struct kmm_rb_node *n = root->node;
	struct kmm_rb_node *best = NULL;

	while (n) {
		int c = cmp(key, n);

		if (c == 0)
			return n;
		if (c < 0) {
			n = n->left;
		} else {
			if (floor)
				best = n;
			n = n->right;
		}
	}
	return best;
}

struct kmm_rb_node *kmm_rb_find(const struct kmm_rb_root *root, const void *key,
				kmm_rb_cmp_fn cmp)
{
	return search(root, key, cmp, false);
}

struct kmm_rb_node *kmm_rb_floor(const struct kmm_rb_root *root,
				 const void *key, kmm_rb_cmp_fn cmp)
{
	return search(root, key, cmp, true);
}
