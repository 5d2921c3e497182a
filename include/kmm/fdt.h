/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file fdt.h
 * @brief Device-tree memory discovery (built when KMM_CONFIG_FDT is 1):
 *        reads the RAM banks and reserved ranges of a flattened device
 *        tree with libfdt, and builds a page allocator from them.
 *
 * What kmm_fdt_memory_scan() reads:
 *  - every node under the root whose device_type is "memory" (status not
 *    "disabled"), each reg entry a bank, with the root's \#address-cells
 *    and \#size-cells;
 *  - the memory-reservation block of the DTB header (/memreserve/);
 *  - every child of /reserved-memory that has a reg property (nodes that
 *    only ask for a size are left to whoever places them), with the
 *    \#address-cells and \#size-cells of /reserved-memory, and its no-map
 *    property;
 *  - Xen's /chosen property xen,static-heap (root cells): when present,
 *    only those ranges are heap memory.
 *
 * Cells of 1 or 2 are supported for addresses and sizes. Entries of size
 * 0 are skipped. Banks are returned sorted by base. Nothing is allocated:
 * the results go into the caller's struct kmm_fdt_memory.
 */
#ifndef KMM_FDT_H
#define KMM_FDT_H

#include "kmm/pages.h"
#include "kmm/types.h"

/** Largest number of RAM banks kmm_fdt_memory_scan() reports. */
#define KMM_FDT_MAX_BANKS 32
/** Largest number of reserved ranges kmm_fdt_memory_scan() reports. */
#define KMM_FDT_MAX_RESERVED 32
/** Largest number of xen,static-heap ranges kmm_fdt_memory_scan() reports. */
#define KMM_FDT_MAX_STATIC_HEAP 16

/** Reserved-range flag: the node has the no-map property. */
#define KMM_FDT_RESV_NO_MAP (1u << 0)
/** Reserved-range flag: from the DTB header's memory-reservation block. */
#define KMM_FDT_RESV_HEADER (1u << 1)

/** A physical range [base, base + size), as written in the tree. */
struct kmm_fdt_range {
	kmm_paddr_t base; /**< First byte. */
	uint64_t size; /**< Bytes; never 0, never wraps. */
};

/** A reserved range and where it came from. */
struct kmm_fdt_reserved {
	kmm_paddr_t base; /**< First byte. */
	uint64_t size; /**< Bytes; never 0, never wraps. */
	uint32_t flags; /**< KMM_FDT_RESV_* bits. */
};

/** The memory layout described by a device tree. */
struct kmm_fdt_memory {
	unsigned int nbanks; /**< Entries used in @c banks. */
	/** RAM banks, sorted by base, pairwise disjoint. */
	struct kmm_fdt_range banks[KMM_FDT_MAX_BANKS];
	unsigned int nreserved; /**< Entries used in @c reserved. */
	/** Reserved ranges in tree order; they may overlap each other. */
	struct kmm_fdt_reserved reserved[KMM_FDT_MAX_RESERVED];
	unsigned int nstatic_heap; /**< Entries used in @c static_heap. */
	/** Xen static heap ranges, sorted by base, pairwise disjoint. */
	struct kmm_fdt_range static_heap[KMM_FDT_MAX_STATIC_HEAP];
};

/**
 * Reads the memory layout of the device tree blob at @p fdt.
 * @param fdt      the blob (any alignment libfdt accepts).
 * @param fdt_size bytes readable at @p fdt; the blob's own size must fit.
 * @param mem      out: the layout. On error it is cleared (no banks, no
 *                 ranges), never left half filled.
 * @return 0; KMM_EINVAL (NULL argument); KMM_EBADDATA (bad magic or
 *         version, truncated or malformed blob, bad cell counts, a reg
 *         whose length is not a whole number of entries, a range that
 *         wraps, overlapping banks or static-heap ranges, no memory node
 *         with a bank); KMM_ENOSPC (more entries than the arrays hold).
 */
int kmm_fdt_memory_scan(const void *fdt, size_t fdt_size,
			struct kmm_fdt_memory *mem);

/**
 * Computes the span a page allocator needs for @p mem: the page-aligned
 * hull of the heap memory (the static heap if there is one, else the
 * banks), with partial pages at the ends of each range left out.
 * @param mem       a layout filled by kmm_fdt_memory_scan().
 * @param span_base out: first byte of the span.
 * @param span_size out: bytes in the span.
 * @return 0; KMM_EINVAL (NULL argument); KMM_ENOENT (no whole page of heap
 *         memory); KMM_ERANGE (the span is not one kmm_pages_init()
 *         accepts: above 2^52 or too many frames).
 */
int kmm_fdt_pages_span(const struct kmm_fdt_memory *mem, kmm_paddr_t *span_base,
		       uint64_t *span_size);

/**
 * Builds a page allocator from @p mem: kmm_pages_init() over the span of
 * kmm_fdt_pages_span(), every heap range added (shrunk to whole pages),
 * then every reserved range withdrawn (grown to whole pages). Size @p meta
 * with kmm_pages_meta_size() of that span.
 * @return 0; the codes of kmm_fdt_pages_span() and kmm_pages_init(). On
 *         error @p p is untouched.
 */
int kmm_fdt_pages_init(struct kmm_pages *p, const struct kmm_port *port,
		       const struct kmm_fdt_memory *mem, void *meta,
		       size_t meta_size);

#endif /* KMM_FDT_H */
