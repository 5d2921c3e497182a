/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file slab.h
 * @brief Fixed-size object allocator over memory the caller hands over.
 *
 * A slab carves objects of one size out of buffers given to it with
 * kmm_slab_add_memory(): a static array, a caller's heap block, or pages
 * from the page allocator reached through the port's pa_to_ptr. It never
 * asks anyone for memory by itself, so running out is a plain KMM_ENOMEM
 * the caller answers by adding memory. Memory once added stays with the
 * slab for its lifetime.
 *
 * Free objects are kept on a singly linked list threaded through their
 * first word: alloc and free are O(1) and the slab needs no metadata of
 * its own beyond this struct.
 *
 * Users that need several objects for one operation (a range allocator
 * that may split an extent in two, say) take them all up front with
 * kmm_slab_alloc_n(), or check kmm_slab_available(), before they change
 * anything, so that running out never leaves a half-done operation.
 *
 * Locking: a slab has no lock. Its users serialise every call on it, in
 * kmm under the port lock of the context that was handed the slab; a slab
 * shared by two contexts must be shared under the same lock, and the
 * caller takes that lock itself around kmm_slab_add_memory().
 */
#ifndef KMM_SLAB_H
#define KMM_SLAB_H

#include "kmm/types.h"

/** A free object; the rest of the object's bytes are unused. */
struct kmm_slab_free {
	struct kmm_slab_free *next; /**< Next free object, or NULL. */
};

/** A slab of fixed-size objects. Fields are private to slab.c. */
struct kmm_slab {
	struct kmm_slab_free *free_list; /**< Free objects, LIFO. */
	size_t obj_size; /**< Bytes per object, a multiple of obj_align. */
	size_t obj_align; /**< Alignment of every object (power of two). */
	size_t available; /**< Objects on the free list. */
	size_t total; /**< Objects carved from all memory added. */
};

/**
 * Sets up an empty slab of objects of @p obj_size bytes aligned to
 * @p obj_align. The slab may round both up so that a free object can hold
 * its list link (at least a pointer in size and alignment).
 * @param s         the slab to initialise.
 * @param obj_size  object size in bytes, non-zero.
 * @param obj_align object alignment in bytes, a power of two.
 * @return 0; KMM_EINVAL (NULL @p s, zero size, alignment not a power of
 *         two, or a rounded size that overflows).
 */
int kmm_slab_init(struct kmm_slab *s, size_t obj_size, size_t obj_align);

/**
 * Carves as many objects as fit from [@p mem, @p mem + @p size) and adds
 * them to the free list. The memory belongs to the slab from now on.
 * @param s    the slab.
 * @param mem  start of the buffer (any alignment; the slab aligns).
 * @param size bytes in the buffer.
 * @return 0; KMM_EINVAL (NULL argument, or the buffer holds no whole
 *         aligned object), KMM_ERANGE (the buffer wraps past the top of
 *         the address space).
 */
int kmm_slab_add_memory(struct kmm_slab *s, void *mem, size_t size);

/**
 * Returns the number of free objects, 0 when @p s is NULL.
 */
size_t kmm_slab_available(const struct kmm_slab *s);

/**
 * Returns the object size after rounding (what each object really holds),
 * 0 when @p s is NULL.
 */
size_t kmm_slab_obj_size(const struct kmm_slab *s);

/**
 * Takes one free object. Its contents are undefined.
 * @return the object, or NULL when the slab is empty or @p s is NULL.
 */
void *kmm_slab_alloc(struct kmm_slab *s);

/**
 * Takes @p n objects at once, all or nothing.
 * @param s    the slab.
 * @param objs out: @p n object pointers.
 * @param n    how many objects to take; 0 succeeds and takes nothing.
 * @return 0; KMM_EINVAL (NULL argument), KMM_ENOMEM (fewer than @p n
 *         objects are free; none was taken).
 */
int kmm_slab_alloc_n(struct kmm_slab *s, void **objs, size_t n);

/**
 * Gives back an object taken from @p s. @p obj must come from this slab
 * and must not be freed twice; NULL is ignored.
 */
void kmm_slab_free(struct kmm_slab *s, void *obj);

#endif /* KMM_SLAB_H */
