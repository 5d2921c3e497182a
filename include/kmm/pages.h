/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file pages.h
 * @brief Placeholder for the page allocator's header: only the calls the
 *        VMSA backend makes. Replaced by the real header when the page
 *        allocator lands.
 */
#ifndef KMM_PAGES_H
#define KMM_PAGES_H

#include "kmm/types.h"

/** Allocation flag: the block is zeroed before it is returned. */
#define KMM_PAGES_ZERO (1u << 0)

struct kmm_pages;

/**
 * Allocates 2^@p order frames, aligned to their size, for @p owner.
 * @return 0; KMM_EINVAL, KMM_EQUOTA, KMM_ENOMEM.
 */
int kmm_pages_alloc(struct kmm_pages *p, unsigned int order, kmm_owner_t owner,
		    unsigned int flags, kmm_paddr_t *out);

/**
 * Frees the block of 2^@p order frames at @p pa held by @p owner.
 * @return 0; KMM_EINVAL, KMM_EALIGN, KMM_ERANGE, KMM_ENOENT, KMM_EPERM.
 */
int kmm_pages_free(struct kmm_pages *p, kmm_paddr_t pa, unsigned int order,
		   kmm_owner_t owner);

#endif /* KMM_PAGES_H */
