/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file rbtree.h
 * @brief Intrusive, optionally augmented red-black tree.
 *
 * Nodes are embedded in the caller's structs (kmm_container_of gets back to
 * them); the tree never allocates and never recurses. Insertion is split as
 * in Linux: the caller descends with its own comparison, links the node
 * with kmm_rb_link() and then calls kmm_rb_insert() to rebalance.
 *
 * Augmentation: a node may cache a value computed from itself and its
 * subtree (the largest free extent below it, the highest end address...).
 * The tree keeps such values exact through three callbacks: @c propagate
 * recomputes from a node upwards and stops at the first node whose value
 * did not change, @c copy hands a replaced node's value to its replacement,
 * and @c rotate fixes the two nodes a rotation moved. KMM_RB_AUGMENT_DEFINE
 * builds all three from one "compute" function.
 *
 * Locking is the caller's: the tree is a plain data structure.
 */
#ifndef KMM_RBTREE_H
#define KMM_RBTREE_H

#include "kmm/types.h"

/**
 * A tree node. The parent pointer and the node's colour share one word:
 * nodes are at least 4-byte aligned, so bit 0 holds the colour (1 = black).
 */
struct kmm_rb_node {
	uintptr_t parent_color; /**< Parent pointer | colour bit. */
	struct kmm_rb_node *left; /**< Left child (smaller keys) or NULL. */
	struct kmm_rb_node *right; /**< Right child (larger keys) or NULL. */
};

/** The root of a tree; an empty tree has @c node == NULL. */
struct kmm_rb_root {
	struct kmm_rb_node *node; /**< The root node or NULL. */
};

/** Callbacks that keep a per-node augmented value exact. */
struct kmm_rb_augment {
	/**
	 * Recomputes the value of @p node and of its ancestors, stopping
	 * before @p stop (NULL: the root) or as soon as a recomputed value
	 * equals the stored one.
	 */
	void (*propagate)(struct kmm_rb_node *node, struct kmm_rb_node *stop);
	/** @p to takes the place of @p from: copy the value over. */
	void (*copy)(struct kmm_rb_node *from, struct kmm_rb_node *to);
	/**
	 * A rotation made @p new_top the parent of @p old_top: @p new_top
	 * takes @p old_top's value (same subtree), @p old_top recomputes.
	 */
	void (*rotate)(struct kmm_rb_node *old_top,
		       struct kmm_rb_node *new_top);
};

/** Compares a search key with a node: <0, 0 or >0 as key <, ==, > node. */
typedef int (*kmm_rb_cmp_fn)(const void *key, const struct kmm_rb_node *node);

/** Colour bit value of a black node. */
#define KMM_RB_BLACK ((uintptr_t)1)

/** Returns the parent of @p n, NULL for the root. */
static inline struct kmm_rb_node *kmm_rb_parent(const struct kmm_rb_node *n)
{
	return (struct kmm_rb_node *)(n->parent_color & ~KMM_RB_BLACK);
}

/** Returns true when @p n is red (NULL leaves are black). */
static inline bool kmm_rb_is_red(const struct kmm_rb_node *n)
{
	return n != NULL && (n->parent_color & KMM_RB_BLACK) == 0;
}

/** Returns true when @p root holds no node. */
static inline bool kmm_rb_empty(const struct kmm_rb_root *root)
{
	return root->node == NULL;
}

/**
 * Links @p node, a new red leaf, at @p *link below @p parent. Call
 * kmm_rb_insert() next to restore the red-black rules.
 * @param node   the node to insert; its fields are overwritten.
 * @param parent the node whose child pointer @p link is, NULL at the root.
 * @param link   the NULL child pointer where the descent ended.
 */
void kmm_rb_link(struct kmm_rb_node *node, struct kmm_rb_node *parent,
		 struct kmm_rb_node **link);

/**
 * Rebalances after kmm_rb_link(). With @p aug, first propagates the
 * augmented values from @p node's parent up (the caller must have set
 * @p node's own value), then keeps them exact through the rotations.
 * @param root the tree.
 * @param node the node just linked.
 * @param aug  augmentation callbacks, or NULL for a plain tree.
 */
void kmm_rb_insert(struct kmm_rb_root *root, struct kmm_rb_node *node,
		   const struct kmm_rb_augment *aug);

/**
 * Removes @p node from the tree and rebalances, keeping augmented values
 * exact when @p aug is given. O(log n).
 * @param root the tree that holds @p node.
 * @param node the node to remove; afterwards it is not in any tree.
 * @param aug  augmentation callbacks, or NULL for a plain tree.
 */
void kmm_rb_erase(struct kmm_rb_root *root, struct kmm_rb_node *node,
		  const struct kmm_rb_augment *aug);

/** Returns the smallest node of @p root, NULL when empty. */
struct kmm_rb_node *kmm_rb_first(const struct kmm_rb_root *root);
/** Returns the largest node of @p root, NULL when empty. */
struct kmm_rb_node *kmm_rb_last(const struct kmm_rb_root *root);
/** Returns the in-order successor of @p node, NULL after the last. */
struct kmm_rb_node *kmm_rb_next(const struct kmm_rb_node *node);
/** Returns the in-order predecessor of @p node, NULL before the first. */
struct kmm_rb_node *kmm_rb_prev(const struct kmm_rb_node *node);

/**
 * Returns a node equal to @p key, or NULL.
 * @param root the tree.
 * @param key  the key, passed unchanged to @p cmp.
 * @param cmp  the comparison the tree is ordered by.
 */
struct kmm_rb_node *kmm_rb_find(const struct kmm_rb_root *root, const void *key,
				kmm_rb_cmp_fn cmp);

/**
 * Returns the greatest node that is <= @p key ("floor"), or NULL when every
 * node is greater than @p key.
 * @param root the tree.
 * @param key  the key, passed unchanged to @p cmp.
 * @param cmp  the comparison the tree is ordered by.
 */
struct kmm_rb_node *kmm_rb_floor(const struct kmm_rb_root *root,
				 const void *key, kmm_rb_cmp_fn cmp);

/**
 * Defines static augmentation callbacks and a const struct kmm_rb_augment
 * named @p name for nodes of type @p type whose struct kmm_rb_node member is
 * @p field and whose augmented member @p value has type @p valtype (any
 * type comparable with ==). @p compute is a function `valtype compute(const type *)` that
 * returns the value of a node from its own data and its children's stored
 * values.
 */
#define KMM_RB_AUGMENT_DEFINE(name, type, field, valtype, value, compute)  \
	static void name##_propagate(struct kmm_rb_node *rb,               \
				     struct kmm_rb_node *stop)             \
	{                                                                  \
		while (rb != stop) {                                       \
			type *n_ = kmm_container_of(rb, type, field);      \
			valtype v_ = compute(n_);                          \
			if (v_ == n_->value)                               \
				break;                                     \
			n_->value = v_;                                    \
			rb = kmm_rb_parent(rb);                            \
		}                                                          \
	}                                                                  \
	static void name##_copy(struct kmm_rb_node *from,                  \
				struct kmm_rb_node *to)                    \
	{                                                                  \
		kmm_container_of(to, type, field)->value =                 \
			kmm_container_of(from, type, field)->value;        \
	}                                                                  \
	static void name##_rotate(struct kmm_rb_node *old_top,             \
				  struct kmm_rb_node *new_top)             \
	{                                                                  \
		type *o_ = kmm_container_of(old_top, type, field);         \
		kmm_container_of(new_top, type, field)->value = o_->value; \
		o_->value = compute(o_);                                   \
	}                                                                  \
	static const struct kmm_rb_augment name = {                        \
		.propagate = name##_propagate,                             \
		.copy = name##_copy,                                       \
		.rotate = name##_rotate,                                   \
	}

#endif /* KMM_RBTREE_H */
