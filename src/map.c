// SPDX-License-Identifier: BSD-2-Clause
/*
 * The one map/unmap/protect/query API. This file validates what is common
 * to every backend, refuses W+X in one place, takes the port lock and
 * dispatches to the backend's ops; backends check what only they know
 * (granule alignment, what they can encode, overlaps).
 */
#include "as_internal.h"
#include "util.h"

static bool as_is_valid(const struct kmm_as *as)
{
	return as != NULL && as->ops != NULL;
}

static int check_range(const struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	struct kmm_as_caps caps;

	if (size == 0)
		return KMM_EINVAL;
	if (kmm_range_wraps(va, size))
		return KMM_ERANGE;
	as->ops->caps(as, &caps);
	if (va >= caps.va_end || size > caps.va_end - va)
		return KMM_ERANGE;
	if (!kmm_is_aligned(va, caps.granule) ||
	    !kmm_is_aligned(size, caps.granule))
		return KMM_EALIGN;
	return KMM_OK;
}

int kmm_as_check_attr(const struct kmm_as *as, kmm_attr_t attr)
{
	if (!kmm_attr_is_valid(attr))
		return KMM_EINVAL;
	if ((attr & KMM_ATTR_W) && (attr & KMM_ATTR_X) &&
	    !(as->flags & KMM_AS_ALLOW_WX))
		return KMM_EPERM;
	return KMM_OK;
}

int kmm_as_check_args(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		      size_t size, kmm_attr_t attr, bool check_pa)
{
	int ret;

	if (!as_is_valid(as))
		return KMM_EINVAL;
	ret = check_range(as, va, size);
	if (ret)
		return ret;
	if (check_pa && kmm_range_wraps(pa, size))
		return KMM_ERANGE;
	return kmm_as_check_attr(as, attr);
}

/* What as_call() does. */
enum as_op { AS_MAP, AS_UNMAP, AS_PROTECT, AS_DESTROY };

/*
 * Checks and runs a map, unmap or protect, or a destroy (no arguments to
 * check), the lock held. Unmap has no attributes: KMM_ATTR_R passes the
 * attribute check.
 */
static int as_call(struct kmm_as *as, enum as_op op, kmm_vaddr_t va,
		   kmm_paddr_t pa, size_t size, kmm_attr_t attr)
{
	int ret;

	if (op == AS_DESTROY)
		return as->ops->destroy(as);
	ret = kmm_as_check_args(as, va, pa, size,
				op == AS_UNMAP ? KMM_ATTR_R : attr,
				op == AS_MAP);
	if (ret)
		return ret;
	if (op == AS_MAP)
		return as->ops->map(as, va, pa, size, attr);
	if (op == AS_UNMAP)
		return as->ops->unmap(as, va, size);
	return as->ops->protect(as, va, size, attr);
}

/* as_call() under the port lock. */
static int as_call_lock(struct kmm_as *as, enum as_op op, kmm_vaddr_t va,
			kmm_paddr_t pa, size_t size, kmm_attr_t attr)
{
	int ret;

	if (!as_is_valid(as))
		return KMM_EINVAL;
	kmm_port_lock(as->port);
	ret = as_call(as, op, va, pa, size, attr);
	kmm_port_unlock(as->port);
	return ret;
}

int kmm_as_map_locked(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		      size_t size, kmm_attr_t attr)
{
	return as_call(as, AS_MAP, va, pa, size, attr);
}

int kmm_as_unmap_locked(struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	return as_call(as, AS_UNMAP, va, 0, size, 0);
}

int kmm_as_protect_locked(struct kmm_as *as, kmm_vaddr_t va, size_t size,
			  kmm_attr_t attr)
{
	return as_call(as, AS_PROTECT, va, 0, size, attr);
}

int kmm_map(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa, size_t size,
	    kmm_attr_t attr)
{
	return as_call_lock(as, AS_MAP, va, pa, size, attr);
}

int kmm_unmap(struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	return as_call_lock(as, AS_UNMAP, va, 0, size, 0);
}

int kmm_protect(struct kmm_as *as, kmm_vaddr_t va, size_t size, kmm_attr_t attr)
{
	return as_call_lock(as, AS_PROTECT, va, 0, size, attr);
}

int kmm_query(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa,
	      kmm_attr_t *attr, size_t *mapping_size)
{
	if (!as_is_valid(as))
		return KMM_EINVAL;
	return as->ops->query(as, va, pa, attr, mapping_size);
}

int kmm_as_caps(const struct kmm_as *as, struct kmm_as_caps *caps)
{
	if (!as_is_valid(as) || caps == NULL)
		return KMM_EINVAL;
	as->ops->caps(as, caps);
	return KMM_OK;
}

int kmm_as_dump(const struct kmm_as *as)
{
	if (!as_is_valid(as))
		return KMM_EINVAL;
	if (!KMM_CONFIG_DIAGNOSTICS || as->ops->dump == NULL)
		return KMM_ENOTSUP;
	as->ops->dump(as);
	return KMM_OK;
}

int kmm_as_destroy(struct kmm_as *as)
{
	return as_call_lock(as, AS_DESTROY, 0, 0, 0, 0);
}
