// SPDX-License-Identifier: BSD-2-Clause
/*
 * rbtree figures: insert and lookup of random 64-bit keys in a tree of N
 * nodes (metrics rbtree.insert_ns.<N>, rbtree.lookup_ns.<N>).
 */
#include <stdlib.h>

#include "bench.h"
#include "kmm/rbtree.h"

struct bnode {
	struct kmm_rb_node rb;
	uint64_t key;
};

static int cmp_key(const void *key, const struct kmm_rb_node *n)
{
	uint64_t k = *(const uint64_t *)key;
	uint64_t nk = kmm_container_of(n, const struct bnode, rb)->key;

	return k < nk ? -1 : k > nk;
}

static void insert(struct kmm_rb_root *root, struct bnode *n)
{
	struct kmm_rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (n->key < kmm_container_of(parent, struct bnode, rb)->key)
			link = &parent->left;
		else
			link = &parent->right;
	}
	kmm_rb_link(&n->rb, parent, link);
	kmm_rb_insert(root, &n->rb, NULL);
}

static void run_size(struct bench_ctx *ctx, size_t n, const char *label)
{
	struct bnode *nodes = calloc(n, sizeof(*nodes));
	struct kmm_rb_root root = { NULL };
	uint64_t seed = 42, t0, t1, found = 0;
	char name[64];
	size_t lookups = n < 1000000 ? 1000000 : n;

	if (nodes == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		nodes[i].key = bench_rand(&seed);
	t0 = bench_now_ns();
	for (size_t i = 0; i < n; i++)
		insert(&root, &nodes[i]);
	t1 = bench_now_ns();
	snprintf(name, sizeof(name), "rbtree.insert_ns.%s", label);
	bench_metric(ctx, name, (double)(t1 - t0) / (double)n);

	seed = 7;
	t0 = bench_now_ns();
	for (size_t i = 0; i < lookups; i++) {
		uint64_t k = nodes[bench_rand(&seed) % n].key;

		found += kmm_rb_find(&root, &k, cmp_key) != NULL;
	}
	t1 = bench_now_ns();
	bench_keep(found);
	snprintf(name, sizeof(name), "rbtree.lookup_ns.%s", label);
	bench_metric(ctx, name, (double)(t1 - t0) / (double)lookups);
	free(nodes);
}

void bench_rbtree(struct bench_ctx *ctx)
{
	run_size(ctx, 1000, "1k");
	run_size(ctx, ctx->quick ? 100000 : 1000000,
		 ctx->quick ? "100k" : "1m");
}
