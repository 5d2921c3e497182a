// SPDX-License-Identifier: BSD-2-Clause
/*
 * Placeholder for the page allocator so that the VMSA backend links while
 * the real module is being written: every allocation fails. Replaced by
 * the real page_alloc.c when it lands.
 */
#include "kmm/pages.h"
#include "util.h"

int kmm_pages_alloc(struct kmm_pages *p, unsigned int order, kmm_owner_t owner,
		    unsigned int flags, kmm_paddr_t *out)
{
	(void)p;
	(void)order;
	(void)owner;
	(void)flags;
	(void)out;
	return KMM_ENOMEM;
}

int kmm_pages_free(struct kmm_pages *p, kmm_paddr_t pa, unsigned int order,
		   kmm_owner_t owner)
{
	(void)p;
	(void)pa;
	(void)order;
	(void)owner;
	return KMM_ENOENT;
}
