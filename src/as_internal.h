/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Address-space operations for callers that already hold the port lock
 * (regions, guests). Same validation and return codes as the public
 * functions in kmm/as.h, which are these wrapped in lock/unlock.
 */
#ifndef KMM_AS_INTERNAL_H
#define KMM_AS_INTERNAL_H

#include "kmm/as.h"

int kmm_as_map_locked(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		      size_t size, kmm_attr_t attr);
int kmm_as_unmap_locked(struct kmm_as *as, kmm_vaddr_t va, size_t size);
int kmm_as_protect_locked(struct kmm_as *as, kmm_vaddr_t va, size_t size,
			  kmm_attr_t attr);

/*
 * Checks what every backend checks the same way: a non-zero size that does
 * not wrap and stays below the space's end, valid attributes, and W^X.
 * @check_pa: also check that [pa, pa + size) does not wrap.
 */
int kmm_as_check_args(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		      size_t size, kmm_attr_t attr, bool check_pa);

/*
 * Checks that @attr is a valid attribute word and that it is not W+X
 * unless the space allows it: the one place kmm refuses W+X.
 */
int kmm_as_check_attr(const struct kmm_as *as, kmm_attr_t attr);

#endif /* KMM_AS_INTERNAL_H */
