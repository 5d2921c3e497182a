// SPDX-License-Identifier: BSD-2-Clause
/*
 * Device-tree memory discovery with libfdt; see include/kmm/fdt.h.
 *
 * The blob is checked whole with fdt_check_full() before anything is read,
 * so a truncated or corrupt blob fails before the walk. Property values
 * are read byte by byte: libfdt only guarantees 4-byte alignment.
 */
#include <libfdt.h>

#include "kmm/fdt.h"

#include "util.h"

/* What a reg entry found by read_reg() is. */
enum range_kind {
	RANGE_BANK,
	RANGE_RESERVED,
	RANGE_STATIC_HEAP,
};

static uint64_t read_cells(const uint8_t *v, int cells)
{
	uint64_t x = 0;

	for (int i = 0; i < cells * 4; i++)
		x = (x << 8) | v[i];
	return x;
}

static int add_range(struct kmm_fdt_memory *m, enum range_kind kind,
		     uint64_t base, uint64_t size, uint32_t flags)
{
	struct kmm_fdt_range *r;

	switch (kind) {
	case RANGE_BANK:
		if (m->nbanks == KMM_FDT_MAX_BANKS)
			return KMM_ENOSPC;
		r = &m->banks[m->nbanks++];
		break;
	case RANGE_STATIC_HEAP:
		if (m->nstatic_heap == KMM_FDT_MAX_STATIC_HEAP)
			return KMM_ENOSPC;
		r = &m->static_heap[m->nstatic_heap++];
		break;
	default:
		if (m->nreserved == KMM_FDT_MAX_RESERVED)
			return KMM_ENOSPC;
		m->reserved[m->nreserved].base = base;
		m->reserved[m->nreserved].size = size;
		m->reserved[m->nreserved].flags = flags;
		m->nreserved++;
		return 0;
	}
	r->base = base;
	r->size = size;
	return 0;
}

/*
 * Adds every entry of the (address, size) list property @prop of @node,
 * with @ac address and @sc size cells. A missing property adds nothing.
 */
static int read_reg(const void *fdt, int node, const char *prop, int ac, int sc,
		    struct kmm_fdt_memory *m, enum range_kind kind,
		    uint32_t flags)
{
	const uint8_t *v;
	int len, entry;

	v = fdt_getprop(fdt, node, prop, &len);
	if (v == NULL)
		return len == -FDT_ERR_NOTFOUND ? 0 : KMM_EBADDATA;
	if (ac < 1 || ac > 2 || sc < 1 || sc > 2)
		return KMM_EBADDATA;
	entry = (ac + sc) * 4;
	if (len % entry)
		return KMM_EBADDATA;
	for (int off = 0; off < len; off += entry) {
		uint64_t base = read_cells(v + off, ac);
		uint64_t size = read_cells(v + off + ac * 4, sc);
		int ret;

		if (size == 0)
			continue;
		if (kmm_range_wraps(base, size))
			return KMM_EBADDATA;
		ret = add_range(m, kind, base, size, flags);
		if (ret)
			return ret;
	}
	return 0;
}

static bool prop_is(const void *fdt, int node, const char *prop,
		    const char *value, int value_len)
{
	int len;
	const char *v = fdt_getprop(fdt, node, prop, &len);

	return v && len == value_len && kmm_memcmp(v, value, (size_t)len) == 0;
}

/* A node without status, or with "okay" (or the older "ok"), is in use. */
static bool node_enabled(const void *fdt, int node)
{
	return fdt_getprop(fdt, node, "status", NULL) == NULL ||
	       prop_is(fdt, node, "status", "okay", 5) ||
	       prop_is(fdt, node, "status", "ok", 3);
}

/* Sorts @r by base and checks that no two ranges overlap. */
static int sort_disjoint(struct kmm_fdt_range *r, unsigned int n)
{
	for (unsigned int i = 1; i < n; i++) {
		struct kmm_fdt_range x = r[i];
		unsigned int j = i;

		for (; j > 0 && r[j - 1].base > x.base; j--)
			r[j] = r[j - 1];
		r[j] = x;
	}
	for (unsigned int i = 1; i < n; i++)
		if (kmm_ranges_overlap(r[i - 1].base, r[i - 1].size, r[i].base,
				       r[i].size))
			return KMM_EBADDATA;
	return 0;
}

static int scan_memory_nodes(const void *fdt, int ac, int sc,
			     struct kmm_fdt_memory *m)
{
	int node, ret;

	fdt_for_each_subnode(node, fdt, 0)
	{
		if (!prop_is(fdt, node, "device_type", "memory", 7) ||
		    !node_enabled(fdt, node))
			continue;
		ret = read_reg(fdt, node, "reg", ac, sc, m, RANGE_BANK, 0);
		if (ret)
			return ret;
	}
	if (node != -FDT_ERR_NOTFOUND)
		return KMM_EBADDATA;
	return m->nbanks ? 0 : KMM_EBADDATA;
}

static int scan_reserved(const void *fdt, struct kmm_fdt_memory *m)
{
	int n = fdt_num_mem_rsv(fdt);
	int parent, node, ac, sc, ret;

	if (n < 0)
		return KMM_EBADDATA;
	for (int i = 0; i < n; i++) {
		uint64_t base, size;

		if (fdt_get_mem_rsv(fdt, i, &base, &size) < 0)
			return KMM_EBADDATA;
		if (size == 0)
			continue;
		if (kmm_range_wraps(base, size))
			return KMM_EBADDATA;
		ret = add_range(m, RANGE_RESERVED, base, size,
				KMM_FDT_RESV_HEADER);
		if (ret)
			return ret;
	}

	parent = fdt_path_offset(fdt, "/reserved-memory");
	if (parent == -FDT_ERR_NOTFOUND)
		return 0;
	if (parent < 0)
		return KMM_EBADDATA;
	ac = fdt_address_cells(fdt, parent);
	sc = fdt_size_cells(fdt, parent);
	fdt_for_each_subnode(node, fdt, parent)
	{
		uint32_t flags = 0;

		if (!node_enabled(fdt, node))
			continue;
		if (fdt_getprop(fdt, node, "no-map", NULL))
			flags |= KMM_FDT_RESV_NO_MAP;
		ret = read_reg(fdt, node, "reg", ac, sc, m, RANGE_RESERVED,
			       flags);
		if (ret)
			return ret;
	}
	return node == -FDT_ERR_NOTFOUND ? 0 : KMM_EBADDATA;
}

static int scan(const void *fdt, size_t fdt_size, struct kmm_fdt_memory *m)
{
	int ac, sc, chosen, ret;

	if (fdt_size < sizeof(struct fdt_header) ||
	    fdt_check_full(fdt, fdt_size) != 0)
		return KMM_EBADDATA;
	ac = fdt_address_cells(fdt, 0);
	sc = fdt_size_cells(fdt, 0);

	ret = scan_memory_nodes(fdt, ac, sc, m);
	if (ret)
		return ret;
	ret = sort_disjoint(m->banks, m->nbanks);
	if (ret)
		return ret;
	ret = scan_reserved(fdt, m);
	if (ret)
		return ret;
	/* Xen reads xen,static-heap with the root's cells, whatever /chosen
	 * says about its own children. */
	chosen = fdt_path_offset(fdt, "/chosen");
	if (chosen >= 0) {
		ret = read_reg(fdt, chosen, "xen,static-heap", ac, sc, m,
			       RANGE_STATIC_HEAP, 0);
		if (ret)
			return ret;
	}
	return sort_disjoint(m->static_heap, m->nstatic_heap);
}

int kmm_fdt_memory_scan(const void *fdt, size_t fdt_size,
			struct kmm_fdt_memory *mem)
{
	int ret;

	if (fdt == NULL || mem == NULL)
		return KMM_EINVAL;
	kmm_memzero(mem, sizeof(*mem));
	ret = scan(fdt, fdt_size, mem);
	if (ret)
		kmm_memzero(mem, sizeof(*mem));
	return ret;
}

/* ------------------------------------------------------------------ */

#define PA_LIMIT ((uint64_t)1 << KMM_PAGES_PA_BITS)

/* The heap ranges: the static heap when the tree has one, else the banks. */
static const struct kmm_fdt_range *heap(const struct kmm_fdt_memory *mem,
					unsigned int *n)
{
	if (mem->nstatic_heap) {
		*n = mem->nstatic_heap;
		return mem->static_heap;
	}
	*n = mem->nbanks;
	return mem->banks;
}

/*
 * The whole pages of @r: [*lo, *hi). Returns false when there are none.
 * The caller has checked that @r ends below 2^52, so nothing overflows.
 */
static bool whole_pages(const struct kmm_fdt_range *r, uint64_t *lo,
			uint64_t *hi)
{
	*lo = kmm_align_up(r->base, KMM_PAGE_SIZE);
	*hi = kmm_align_down(r->base + r->size, KMM_PAGE_SIZE);
	return *lo < *hi;
}

int kmm_fdt_pages_span(const struct kmm_fdt_memory *mem, kmm_paddr_t *span_base,
		       uint64_t *span_size)
{
	const struct kmm_fdt_range *r;
	uint64_t lo = UINT64_MAX, hi = 0, a, b;
	unsigned int n;

	if (mem == NULL || span_base == NULL || span_size == NULL)
		return KMM_EINVAL;
	r = heap(mem, &n);
	for (unsigned int i = 0; i < n; i++) {
		if (r[i].base >= PA_LIMIT || r[i].size > PA_LIMIT - r[i].base)
			return KMM_ERANGE;
		if (!whole_pages(&r[i], &a, &b))
			continue;
		lo = kmm_min_u64(lo, a);
		hi = kmm_max_u64(hi, b);
	}
	if (hi == 0)
		return KMM_ENOENT;
	if (kmm_pages_meta_size(lo, hi - lo) == 0)
		return KMM_ERANGE;
	*span_base = lo;
	*span_size = hi - lo;
	return 0;
}

int kmm_fdt_pages_init(struct kmm_pages *p, const struct kmm_port *port,
		       const struct kmm_fdt_memory *mem, void *meta,
		       size_t meta_size)
{
	const struct kmm_fdt_range *r;
	kmm_paddr_t base;
	uint64_t size, end, a, b;
	unsigned int n;
	int ret;

	if (p == NULL || mem == NULL)
		return KMM_EINVAL;
	ret = kmm_fdt_pages_span(mem, &base, &size);
	if (ret)
		return ret;
	/* The only step that can fail: the heap ranges are disjoint and in
	 * the span, and nothing is allocated while reserving. */
	ret = kmm_pages_init(p, port, base, size, meta, meta_size);
	if (ret)
		return ret;
	end = base + size;
	r = heap(mem, &n);
	for (unsigned int i = 0; i < n; i++) {
		if (whole_pages(&r[i], &a, &b)) {
			ret = kmm_pages_add(p, a, b - a);
			if (ret)
				return ret;
		}
	}
	for (unsigned int i = 0; i < mem->nreserved; i++) {
		const struct kmm_fdt_reserved *v = &mem->reserved[i];
		uint64_t last = v->base + (v->size - 1); /* never wraps */

		/* Clipped to the span, grown to whole pages. */
		if (v->base >= end || last < base)
			continue;
		a = kmm_align_down(kmm_max_u64(v->base, base), KMM_PAGE_SIZE);
		b = kmm_min_u64(last, end - 1) + 1;
		b = kmm_align_up(b, KMM_PAGE_SIZE);
		ret = kmm_pages_reserve(p, a, b - a);
		if (ret)
			return ret;
	}
	return 0;
}
