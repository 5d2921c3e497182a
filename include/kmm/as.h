/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file as.h
 * @brief Address spaces: the one map/unmap/protect/query API, whatever
 *        backend (VMSA translation tables or PMSA MPU regions) runs below.
 *
 * A backend embeds a struct kmm_as in its own context (struct kmm_vmsa,
 * struct kmm_pmsa) and fills @c ops; everything above map.c (regions,
 * guests, ports) uses only the functions below and kmm_as_caps() to learn
 * what the backend can do. Every function takes the port lock around its
 * mutation and validates its input before it changes anything: on error
 * the address space is exactly as it was.
 */
#ifndef KMM_AS_H
#define KMM_AS_H

#include "kmm/port.h"
#include "kmm/types.h"

struct kmm_as;
struct kmm_regions;

/** Address-space flag: allow mappings that are both writable and executable. */
#define KMM_AS_ALLOW_WX (1u << 0)

/** Capability: a VA may differ from the PA it maps (MMU). */
#define KMM_CAP_TRANSLATES (1u << 0)
/** Capability: only identity mappings (VA == PA) are possible (MPU). */
#define KMM_CAP_IDENTITY_ONLY (1u << 1)
/** Capability: part of an earlier mapping can be unmapped or changed. */
#define KMM_CAP_PARTIAL_UNMAP (1u << 2)
/** Capability: scattered physical pages can be mapped at contiguous VAs. */
#define KMM_CAP_NONCONTIG (1u << 3)

/** What a backend can do, as reported by kmm_as_caps(). */
struct kmm_as_caps {
	uint32_t flags; /**< OR of KMM_CAP_* bits. */
	uint64_t block_sizes; /**< Bit n set: one leaf can map 2^n bytes. */
	uint64_t granule; /**< Smallest alignment of va, pa and size. */
	kmm_vaddr_t va_end; /**< One past the highest mappable address. */
};

/** The operations a backend implements; map.c validates and locks. */
struct kmm_backend_ops {
	/** Maps [va, va+size) to [pa, pa+size); all or nothing. */
	int (*map)(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		   size_t size, kmm_attr_t attr);
	/** Removes every translation in [va, va+size). */
	int (*unmap)(struct kmm_as *as, kmm_vaddr_t va, size_t size);
	/** Changes the attributes of a fully mapped [va, va+size). */
	int (*protect)(struct kmm_as *as, kmm_vaddr_t va, size_t size,
		       kmm_attr_t attr);
	/** Looks up the translation of @p va. */
	int (*query)(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa,
		     kmm_attr_t *attr, size_t *mapping_size);
	/** Reports capabilities. */
	void (*caps)(const struct kmm_as *as, struct kmm_as_caps *caps);
	/** Prints the mapped ranges through the port log. */
	void (*dump)(const struct kmm_as *as);
	/** Drops every mapping and gives back every table or slot. */
	int (*destroy)(struct kmm_as *as);
};

/** The backend-independent part of an address space. */
struct kmm_as {
	const struct kmm_backend_ops *ops; /**< Set by the backend's init. */
	const struct kmm_port *port; /**< Environment callbacks. */
	uint32_t flags; /**< KMM_AS_* flags. */
	kmm_owner_t owner; /**< Owner of the space and its table pages. */
	struct kmm_regions *regions; /**< Dynamic regions, or NULL. */
};

/**
 * Maps [@p va, @p va + @p size) to [@p pa, @p pa + @p size) with @p attr.
 * @return 0; KMM_EINVAL (NULL @p as, zero size, invalid attributes),
 *         KMM_ERANGE (wraps or leaves the address space), KMM_EALIGN,
 *         KMM_EPERM (W+X not allowed), KMM_EEXIST (something is already
 *         mapped there), KMM_ENOMEM (no table page; nothing was mapped),
 *         KMM_ENOTSUP (the backend cannot give @p attr or VA != PA).
 */
int kmm_map(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa, size_t size,
	    kmm_attr_t attr);

/**
 * Unmaps [@p va, @p va + @p size); a block mapping that is only partly
 * covered is split first where the backend can.
 * @return 0; KMM_EINVAL, KMM_ERANGE, KMM_EALIGN, KMM_ENOENT (nothing of the
 *         range was mapped), KMM_ENOMEM or KMM_ENOSPC (a split is needed
 *         and cannot be done; nothing changed).
 */
int kmm_unmap(struct kmm_as *as, kmm_vaddr_t va, size_t size);

/**
 * Changes the attributes of [@p va, @p va + @p size), which must be fully
 * mapped, splitting blocks where needed.
 * @return as kmm_map() and kmm_unmap(); KMM_ENOENT when a hole is inside.
 */
int kmm_protect(struct kmm_as *as, kmm_vaddr_t va, size_t size,
		kmm_attr_t attr);

/**
 * Looks up the translation of @p va.
 * @param as           the address space.
 * @param va           the address to look up (any alignment).
 * @param pa           out: the physical address @p va maps to, or NULL.
 * @param attr         out: the mapping's attributes, or NULL.
 * @param mapping_size out: size of the leaf (page, block or region) that
 *                     maps @p va, or NULL.
 * @return 0; KMM_EINVAL; KMM_ENOENT when @p va is not mapped.
 */
int kmm_query(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa,
	      kmm_attr_t *attr, size_t *mapping_size);

/**
 * Reports what the backend of @p as can do.
 * @return 0; KMM_EINVAL when an argument is NULL.
 */
int kmm_as_caps(const struct kmm_as *as, struct kmm_as_caps *caps);

/**
 * Prints every mapped range with its attributes through the port log.
 * @return 0; KMM_EINVAL when @p as is NULL; KMM_ENOTSUP when the build
 *         leaves diagnostics out (KMM_CONFIG_DIAGNOSTICS 0) or the backend
 *         has no dump.
 */
int kmm_as_dump(const struct kmm_as *as);

/**
 * Unmaps everything and returns every table page or slot of @p as.
 * @return 0; KMM_EINVAL when @p as is NULL.
 */
int kmm_as_destroy(struct kmm_as *as);

#endif /* KMM_AS_H */
