// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the intrusive augmented red-black tree: named cases for
 * each operation and a randomized test that checks every invariant after
 * every operation against a sorted-array reference.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "kmm/rbtree.h"

/* A test node: key plus an augmented "largest weight in my subtree". */
struct tnode {
	struct kmm_rb_node rb;
	uint64_t key;
	uint64_t weight;
	uint64_t max_weight; /* augmented */
	bool in_tree;
};

static inline struct tnode *tn(const struct kmm_rb_node *n)
{
	return n ? kmm_container_of(n, struct tnode, rb) : NULL;
}

static uint64_t compute_max(const struct tnode *n)
{
	uint64_t m = n->weight;

	if (n->rb.left && tn(n->rb.left)->max_weight > m)
		m = tn(n->rb.left)->max_weight;
	if (n->rb.right && tn(n->rb.right)->max_weight > m)
		m = tn(n->rb.right)->max_weight;
	return m;
}

KMM_RB_AUGMENT_DEFINE(max_aug, struct tnode, rb, uint64_t, max_weight,
		      compute_max);

static int cmp_key(const void *key, const struct kmm_rb_node *n)
{
	uint64_t k = *(const uint64_t *)key;

	return k < tn(n)->key ? -1 : k > tn(n)->key;
}

/* Inserts @n after equal keys (duplicates allowed, stable order). */
static void tinsert(struct kmm_rb_root *root, struct tnode *n,
		    const struct kmm_rb_augment *aug)
{
	struct kmm_rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		link = n->key < tn(parent)->key ? &parent->left :
						  &parent->right;
	}
	n->max_weight = n->weight;
	kmm_rb_link(&n->rb, parent, link);
	kmm_rb_insert(root, &n->rb, aug);
	n->in_tree = true;
}

static void terase(struct kmm_rb_root *root, struct tnode *n,
		   const struct kmm_rb_augment *aug)
{
	kmm_rb_erase(root, &n->rb, aug);
	n->in_tree = false;
}

/*
 * Walks the subtree at @n, checking parent links, order, colours and
 * augmented values; returns its black height and counts its nodes.
 */
static int check_subtree(const struct kmm_rb_node *n,
			 const struct kmm_rb_node *parent, bool augmented,
			 size_t *count)
{
	int lh, rh;

	if (n == NULL)
		return 1;
	cr_assert_eq(kmm_rb_parent(n), parent, "parent link broken");
	if (kmm_rb_is_red(n)) {
		cr_assert(!kmm_rb_is_red(n->left), "red node with red left");
		cr_assert(!kmm_rb_is_red(n->right), "red node with red right");
	}
	if (n->left)
		cr_assert_leq(tn(n->left)->key, tn(n)->key, "order (left)");
	if (n->right)
		cr_assert_geq(tn(n->right)->key, tn(n)->key, "order (right)");
	if (augmented)
		cr_assert_eq(tn(n)->max_weight, compute_max(tn(n)),
			     "augmented value stale at key %llu",
			     (unsigned long long)tn(n)->key);
	(*count)++;
	lh = check_subtree(n->left, n, augmented, count);
	rh = check_subtree(n->right, n, augmented, count);
	cr_assert_eq(lh, rh, "black heights differ");
	return lh + (kmm_rb_is_red(n) ? 0 : 1);
}

static size_t check_tree(const struct kmm_rb_root *root, bool augmented)
{
	size_t count = 0;

	cr_assert(!kmm_rb_is_red(root->node), "root is red");
	check_subtree(root->node, NULL, augmented, &count);
	return count;
}

Test(rbtree, empty_tree_has_no_first_last_or_floor)
{
	struct kmm_rb_root root = { NULL };
	uint64_t k = 5;

	cr_assert(kmm_rb_empty(&root));
	cr_assert_null(kmm_rb_first(&root));
	cr_assert_null(kmm_rb_last(&root));
	cr_assert_null(kmm_rb_floor(&root, &k, cmp_key));
	cr_assert_null(kmm_rb_find(&root, &k, cmp_key));
}

Test(rbtree, single_node_is_black_root)
{
	struct kmm_rb_root root = { NULL };
	struct tnode a = { .key = 1 };

	tinsert(&root, &a, NULL);
	cr_assert_eq(root.node, &a.rb);
	cr_assert(!kmm_rb_is_red(&a.rb));
	cr_assert_null(kmm_rb_parent(&a.rb));
	cr_assert_eq(kmm_rb_first(&root), &a.rb);
	cr_assert_eq(kmm_rb_last(&root), &a.rb);
	cr_assert_null(kmm_rb_next(&a.rb));
	cr_assert_null(kmm_rb_prev(&a.rb));
}

Test(rbtree, ascending_inserts_rotate_to_balanced_root)
{
	struct kmm_rb_root root = { NULL };
	struct tnode n[3] = { { .key = 1 }, { .key = 2 }, { .key = 3 } };

	for (int i = 0; i < 3; i++)
		tinsert(&root, &n[i], NULL);
	/* 1,2,3 inserted in order: one left rotation makes 2 the root. */
	cr_assert_eq(root.node, &n[1].rb);
	cr_assert_eq(root.node->left, &n[0].rb);
	cr_assert_eq(root.node->right, &n[2].rb);
	cr_assert(kmm_rb_is_red(&n[0].rb));
	cr_assert(kmm_rb_is_red(&n[2].rb));
	cr_assert_eq(check_tree(&root, false), 3);
}

Test(rbtree, in_order_walk_is_sorted_both_ways)
{
	struct kmm_rb_root root = { NULL };
	struct tnode n[100];
	uint64_t expect = 0;
	struct kmm_rb_node *it;

	for (int i = 0; i < 100; i++) {
		n[i] = (struct tnode){ .key = (uint64_t)(i * 61 % 100) };
		tinsert(&root, &n[i], NULL);
	}
	for (it = kmm_rb_first(&root); it; it = kmm_rb_next(it))
		cr_assert_eq(tn(it)->key, expect++);
	cr_assert_eq(expect, 100);
	for (it = kmm_rb_last(&root); it; it = kmm_rb_prev(it))
		cr_assert_eq(tn(it)->key, --expect);
	cr_assert_eq(expect, 0);
}

Test(rbtree, floor_returns_greatest_key_not_above)
{
	struct kmm_rb_root root = { NULL };
	struct tnode n[5];
	const uint64_t keys[5] = { 10, 20, 30, 40, 50 };
	const struct {
		uint64_t probe;
		int64_t want; /* -1: NULL */
	} cases[] = { { 0, -1 },  { 9, -1 },  { 10, 10 },
		      { 11, 10 }, { 29, 20 }, { 30, 30 },
		      { 49, 40 }, { 50, 50 }, { UINT64_MAX, 50 } };

	for (int i = 0; i < 5; i++) {
		n[i] = (struct tnode){ .key = keys[i] };
		tinsert(&root, &n[i], NULL);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kmm_rb_node *f =
			kmm_rb_floor(&root, &cases[i].probe, cmp_key);

		if (cases[i].want < 0)
			cr_assert_null(f, "probe %llu",
				       (unsigned long long)cases[i].probe);
		else
			cr_assert_eq(tn(f)->key, (uint64_t)cases[i].want,
				     "probe %llu",
				     (unsigned long long)cases[i].probe);
	}
}

Test(rbtree, erase_of_root_with_two_children_keeps_all_others)
{
	struct kmm_rb_root root = { NULL };
	struct tnode n[7];
	uint64_t k;

	for (int i = 0; i < 7; i++) {
		n[i] = (struct tnode){ .key = (uint64_t)i,
				       .weight = (uint64_t)i };
		tinsert(&root, &n[i], &max_aug);
	}
	struct tnode *r = tn(root.node);

	k = r->key;
	terase(&root, r, &max_aug);
	cr_assert_eq(check_tree(&root, true), 6);
	cr_assert_null(kmm_rb_find(&root, &k, cmp_key));
	for (uint64_t i = 0; i < 7; i++)
		if (i != k)
			cr_assert_not_null(kmm_rb_find(&root, &i, cmp_key));
	cr_assert_eq(tn(root.node)->max_weight, 6);
}

Test(rbtree, augmented_max_drops_when_heaviest_node_erased)
{
	struct kmm_rb_root root = { NULL };
	struct tnode n[16];

	for (int i = 0; i < 16; i++) {
		n[i] = (struct tnode){ .key = (uint64_t)i,
				       .weight =
					       (uint64_t)(i == 9 ? 1000 : i) };
		tinsert(&root, &n[i], &max_aug);
	}
	cr_assert_eq(tn(root.node)->max_weight, 1000);
	terase(&root, &n[9], &max_aug);
	check_tree(&root, true);
	cr_assert_eq(tn(root.node)->max_weight, 15);
	terase(&root, &n[15], &max_aug);
	check_tree(&root, true);
	cr_assert_eq(tn(root.node)->max_weight, 14);
}

Test(rbtree, erase_everything_leaves_empty_root)
{
	struct kmm_rb_root root = { NULL };
	struct tnode n[50];

	for (int i = 0; i < 50; i++) {
		n[i] = (struct tnode){ .key = (uint64_t)(i * 7 % 50) };
		tinsert(&root, &n[i], NULL);
	}
	for (int i = 0; i < 50; i++) {
		terase(&root, &n[(i * 13) % 50], NULL);
		cr_assert_eq(check_tree(&root, false), (size_t)(49 - i));
	}
	cr_assert(kmm_rb_empty(&root));
}

/* ---- randomized test against a sorted-array reference ------------------ */

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Reference: the multiset of keys in the tree, kept sorted. */
struct ref {
	uint64_t *keys;
	size_t len;
};

static void ref_add(struct ref *r, uint64_t k)
{
	size_t i = r->len;

	while (i > 0 && r->keys[i - 1] > k) {
		r->keys[i] = r->keys[i - 1];
		i--;
	}
	r->keys[i] = k;
	r->len++;
}

static void ref_del(struct ref *r, uint64_t k)
{
	uint64_t *p = bsearch(&k, r->keys, r->len, sizeof(k), cmp_u64);

	cr_assert_not_null(p);
	memmove(p, p + 1, (size_t)(r->keys + r->len - (p + 1)) * sizeof(k));
	r->len--;
}

/* Greatest reference key <= k, or false. */
static bool ref_floor(const struct ref *r, uint64_t k, uint64_t *out)
{
	size_t lo = 0, hi = r->len;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (r->keys[mid] <= k)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return false;
	*out = r->keys[lo - 1];
	return true;
}

/* Under valgrind (10-50x slower) the randomized runs are scaled down. */
static size_t scaled(size_t ops)
{
	return getenv("KMM_TEST_UNDER_VALGRIND") ? ops / 20 : ops;
}

static void run_random(uint64_t seed, size_t pool_size, size_t ops,
		       uint64_t key_range, bool augmented)
{
	const struct kmm_rb_augment *aug = augmented ? &max_aug : NULL;
	struct tnode *pool = calloc(pool_size, sizeof(*pool));
	struct ref ref = { calloc(pool_size, sizeof(uint64_t)), 0 };
	struct kmm_rb_root root = { NULL };
	uint64_t s = seed;

	cr_assert_not_null(pool);
	ops = scaled(ops);
	for (size_t op = 0; op < ops; op++) {
		struct tnode *n = &pool[rng_next(&s) % pool_size];
		uint64_t probe = rng_next(&s) % (key_range + 2), want, got;
		struct kmm_rb_node *f;

		if (n->in_tree) {
			ref_del(&ref, n->key);
			terase(&root, n, aug);
		} else {
			n->key = rng_next(&s) % key_range;
			n->weight = rng_next(&s) % 1000000;
			tinsert(&root, n, aug);
			ref_add(&ref, n->key);
		}
		cr_assert_eq(check_tree(&root, augmented), ref.len,
			     "node count differs from reference at op %zu", op);
		f = kmm_rb_floor(&root, &probe, cmp_key);
		if (ref_floor(&ref, probe, &want)) {
			cr_assert_not_null(f);
			got = tn(f)->key;
			cr_assert_eq(got, want, "floor(%llu) at op %zu",
				     (unsigned long long)probe, op);
		} else {
			cr_assert_null(f);
		}
		cr_assert_eq(kmm_rb_find(&root, &probe, cmp_key) != NULL,
			     bsearch(&probe, ref.keys, ref.len,
				     sizeof(uint64_t), cmp_u64) != NULL);
		if (ref.len) {
			cr_assert_eq(tn(kmm_rb_first(&root))->key, ref.keys[0]);
			cr_assert_eq(tn(kmm_rb_last(&root))->key,
				     ref.keys[ref.len - 1]);
		}
	}
	/* Full in-order comparison at the end. */
	size_t i = 0;
	for (struct kmm_rb_node *it = kmm_rb_first(&root); it;
	     it = kmm_rb_next(it))
		cr_assert_eq(tn(it)->key, ref.keys[i++]);
	cr_assert_eq(i, ref.len);
	free(ref.keys);
	free(pool);
}

Test(rbtree, random_100k_ops_plain_tree_matches_sorted_array, .timeout = 120)
{
	run_random(1, 512, 100000, 1000, false);
}

Test(rbtree, random_100k_ops_augmented_tree_keeps_exact_max, .timeout = 120)
{
	run_random(2, 512, 100000, 1u << 20, true);
}

Test(rbtree, random_ops_with_many_duplicate_keys, .timeout = 120)
{
	run_random(3, 256, 50000, 16, true);
}
