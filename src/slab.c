// SPDX-License-Identifier: BSD-2-Clause
/*
 * Fixed-size object allocator.
 *
 * Invariants:
 *  - every object on free_list is obj_align-aligned, obj_size bytes long,
 *    lies inside memory handed to kmm_slab_add_memory() and appears once;
 *  - available is the length of free_list, available <= total.
 */
#include "kmm/slab.h"

#include "util.h"

int kmm_slab_init(struct kmm_slab *s, size_t obj_size, size_t obj_align)
{
	size_t align;

	if (s == NULL || obj_size == 0 || !kmm_is_pow2(obj_align))
		return KMM_EINVAL;
	/* A free object holds its list link. */
	align = obj_align < _Alignof(struct kmm_slab_free) ?
			_Alignof(struct kmm_slab_free) :
			obj_align;
	if (obj_size < sizeof(struct kmm_slab_free))
		obj_size = sizeof(struct kmm_slab_free);
	if (obj_size > SIZE_MAX - (align - 1))
		return KMM_EINVAL;
	kmm_memzero(s, sizeof(*s));
	s->obj_size = (size_t)kmm_align_up(obj_size, align);
	s->obj_align = align;
	return KMM_OK;
}

int kmm_slab_add_memory(struct kmm_slab *s, void *mem, size_t size)
{
	uintptr_t start = (uintptr_t)mem;
	uintptr_t first, end;
	size_t count;

	if (s == NULL || mem == NULL || s->obj_size == 0)
		return KMM_EINVAL;
	if (kmm_range_wraps(start, size))
		return KMM_ERANGE;
	first = (uintptr_t)kmm_align_up(start, s->obj_align);
	end = start + size;
	/* first < start: aligning up wrapped, so no object fits. */
	if (first < start || first >= end || end - first < s->obj_size)
		return KMM_EINVAL;
	count = (end - first) / s->obj_size;
	/*
	 * Push in reverse so that the list hands out ascending addresses,
	 * which keeps a fresh slab's objects in address order.
	 */
	for (size_t i = count; i-- > 0;) {
		struct kmm_slab_free *obj =
			(struct kmm_slab_free *)(first + i * s->obj_size);

		obj->next = s->free_list;
		s->free_list = obj;
	}
	s->available += count;
	s->total += count;
	return KMM_OK;
}

size_t kmm_slab_available(const struct kmm_slab *s)
{
	return s ? s->available : 0;
}

size_t kmm_slab_obj_size(const struct kmm_slab *s)
{
	return s ? s->obj_size : 0;
}

void *kmm_slab_alloc(struct kmm_slab *s)
{
	struct kmm_slab_free *obj;

	if (s == NULL || s->free_list == NULL)
		return NULL;
	obj = s->free_list;
	s->free_list = obj->next;
	s->available--;
	return obj;
}

int kmm_slab_alloc_n(struct kmm_slab *s, void **objs, size_t n)
{
	if (s == NULL || (objs == NULL && n != 0))
		return KMM_EINVAL;
	if (n > s->available)
		return KMM_ENOMEM;
	for (size_t i = 0; i < n; i++)
		objs[i] = kmm_slab_alloc(s);
	return KMM_OK;
}

void kmm_slab_free(struct kmm_slab *s, void *obj)
{
	struct kmm_slab_free *f = obj;

	if (s == NULL || f == NULL)
		return;
	f->next = s->free_list;
	s->free_list = f;
	s->available++;
}
