// SPDX-License-Identifier: BSD-2-Clause
/*
 * kmm demo: prints the build configuration and exercises the red-black
 * tree through the public API. Later modules extend it; examples/README
 * lists what each example shows.
 */
#include <stdio.h>

#include "kmm/kmm.h"

struct item {
	struct kmm_rb_node rb;
	uint64_t key;
};

static int cmp_item(const void *key, const struct kmm_rb_node *n)
{
	uint64_t k = *(const uint64_t *)key;
	uint64_t nk = kmm_container_of(n, const struct item, rb)->key;

	return k < nk ? -1 : k > nk;
}

static void add(struct kmm_rb_root *root, struct item *it)
{
	struct kmm_rb_node **link = &root->node, *parent = NULL;

	while (*link) {
		parent = *link;
		link = it->key < kmm_container_of(parent, struct item, rb)->key ?
			       &parent->left :
			       &parent->right;
	}
	kmm_rb_link(&it->rb, parent, link);
	kmm_rb_insert(root, &it->rb, NULL);
}

int main(void)
{
	struct item items[8];
	struct kmm_rb_root root = { NULL };
	uint64_t probe = 45;
	struct kmm_rb_node *n;

	printf("kmm %s\n", KMM_CONFIG_VERSION);
	printf("  backends: vmsa=%d pmsa=%d\n", KMM_CONFIG_BACKEND_VMSA,
	       KMM_CONFIG_BACKEND_PMSA);
	printf("  vmsa granule: %u bytes, va_bits: %d\n",
	       1u << KMM_CONFIG_VMSA_GRANULE_SHIFT, KMM_CONFIG_VA_BITS);
	printf("  max owners: %d, fdt: %d\n", KMM_CONFIG_MAX_OWNERS,
	       KMM_CONFIG_FDT);

	for (unsigned i = 0; i < 8; i++) {
		items[i].key = (uint64_t)(i * 37 % 8) * 10;
		add(&root, &items[i]);
	}
	printf("rbtree in order:");
	for (n = kmm_rb_first(&root); n; n = kmm_rb_next(n))
		printf(" %llu",
		       (unsigned long long)kmm_container_of(n, struct item, rb)
			       ->key);
	n = kmm_rb_floor(&root, &probe, cmp_item);
	printf("\ngreatest key <= %llu: %llu\n", (unsigned long long)probe,
	       (unsigned long long)kmm_container_of(n, struct item, rb)->key);
	printf("kmm_strerror(KMM_EQUOTA): %s\n", kmm_strerror(KMM_EQUOTA));
	return n && kmm_container_of(n, struct item, rb)->key == 40 ? 0 : 1;
}
