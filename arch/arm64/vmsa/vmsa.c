// SPDX-License-Identifier: BSD-2-Clause
/*
 * VMSAv8-64 translation tables: one recursive walker for both stages and
 * all granules, map/unmap/protect with prepare-then-commit, block split and
 * fold, break-before-make with batched TLB maintenance through the port.
 *
 * Invariants between calls:
 * - every table below the root holds at least one valid entry (a table
 *   that becomes empty is unlinked and freed after its walk-cache entries
 *   are invalidated);
 * - an invalid entry is all zeroes. During a call, "broken" entries (valid
 *   bit cleared, every other bit kept; the walker ignores them) remember
 *   what the make pass must write after the TLB invalidation completed.
 *
 * An operation runs in phases:
 *   prepare: walk the tables, check the request, count the tables needed;
 *   allocate: take them all from the page allocator (may fail: nothing
 *             changed yet);
 *   break:   clear or break every valid entry that changes, add its TLB
 *            invalidation to the batch;
 *   sync:    flush the whole ASID/VMID instead if the batch grew beyond
 *            KMM_CONFIG_TLBI_THRESHOLD, then tlb_sync;
 *   make:    write the new entries (splits are built off-line in a fresh
 *            table and linked with one store), free unlinked tables.
 * One walker, prepare(), checks and counts for every operation; another,
 * commit_walk(), breaks and makes for unmap and protect and writes what
 * map and fold write.
 */
#include "kmm/pages.h"
#include "util.h"
#include "vmsa_internal.h"

/* What an operation does (destroy uses OP_NONE). */
enum op_kind { OP_NONE, OP_MAP, OP_UNMAP, OP_PROTECT, OP_FOLD };

/* One map, unmap, protect or fold call. */
struct op {
	struct kmm_vmsa *v;
	enum op_kind kind;
	kmm_vaddr_t va, end; /* the range [va, end) */
	kmm_paddr_t pa; /* map: PA of va */
	uint64_t bits; /* map, protect: leaf attribute bits */
	unsigned int g; /* granule shift */
	bool blocks; /* block descriptors allowed */
	bool clean; /* clean written descriptors (walks not coherent) */
	bool found; /* unmap: something in range is mapped */
	size_t need; /* tables the commit will take */
	kmm_paddr_t spare; /* chain of allocated, zeroed tables */
	kmm_paddr_t dead; /* chain of unlinked tables, freed after sync */
	size_t broken; /* entries broken, waiting for the make pass */
	struct kmm_tlb_ctx tlb;
	size_t tlbi; /* invalidations added to the current batch */
	bool tlbi_all; /* batch too large: flush the ASID/VMID */
	bool dirty; /* something to sync */
	int folded; /* fold: tables replaced by blocks */
};

static struct kmm_vmsa *to_vmsa(struct kmm_as *as)
{
	return kmm_container_of(as, struct kmm_vmsa, as);
}

static const struct kmm_vmsa *to_cvmsa(const struct kmm_as *as)
{
	return kmm_container_of(as, const struct kmm_vmsa, as);
}

/* kmm_vmsa_init() made sure the port translates PAs. */
static uint64_t *table_ptr(const struct kmm_vmsa *v, kmm_paddr_t pa)
{
	const struct kmm_port *port = v->as.port;

	return port->pa_to_ptr(port->cookie, pa);
}

static unsigned int table_order(const struct kmm_vmsa *v)
{
	return vmsa_g(v->cfg.granule_shift) - KMM_CONFIG_PAGE_SHIFT;
}

static size_t table_entries(unsigned int g)
{
	return (size_t)1 << (vmsa_g(g) - 3);
}

/* A single 64-bit store the compiler may neither tear nor merge. */
static inline void store(uint64_t *p, uint64_t d)
{
	*(volatile uint64_t *)p = d;
}

static inline uint64_t load(const uint64_t *p)
{
	return *(const volatile uint64_t *)p;
}

static inline bool is_table(uint64_t d, unsigned int level)
{
	return level < KMM_VMSA_LAST_LEVEL &&
	       (d & VMSA_TYPE_MASK) == VMSA_TYPE_TABLE;
}

static inline uint64_t leaf_type(unsigned int level)
{
	return level == KMM_VMSA_LAST_LEVEL ? VMSA_TYPE_PAGE : VMSA_TYPE_BLOCK;
}

static void clean(const struct op *o, const void *p, size_t size)
{
	const struct kmm_port *port = o->v->as.port;

	if (o->clean)
		port->clean_range(port->cookie, p, size);
}

/* Writes one descriptor; @live: of a table the walker may be using. Out of
 * line: it is called from many places and map_pages() does not use it. */
__attribute__((noinline)) static void put(const struct op *o, uint64_t *p,
					  uint64_t d, bool live)
{
	store(p, d);
	if (live)
		clean(o, p, sizeof(*p));
}

/* ---- TLB batch ---------------------------------------------------------- */

static void inval(struct op *o, kmm_vaddr_t va, uint64_t size, bool leaf)
{
	const struct kmm_port *port = o->v->as.port;

	o->dirty = true;
	if (o->tlbi_all)
		return;
	if (o->tlbi >= KMM_CONFIG_TLBI_THRESHOLD) {
		o->tlbi_all = true;
		return;
	}
	o->tlbi++;
	if (port->tlb_add_page)
		port->tlb_add_page(port->cookie, &o->tlb, va, (size_t)size,
				   leaf);
}

/* Completes the batch: after this no TLB holds a broken or cleared entry. */
static void sync(struct op *o)
{
	const struct kmm_port *port = o->v->as.port;

	if (!o->dirty)
		return;
	if (o->tlbi_all && port->tlb_flush_all)
		port->tlb_flush_all(port->cookie, &o->tlb);
	if (port->tlb_sync)
		port->tlb_sync(port->cookie, &o->tlb);
	o->dirty = false;
	o->tlbi_all = false;
	o->tlbi = 0;
}

/* Orders new descriptors before the caller's next access (DSB; ISB). */
static void publish(struct op *o)
{
	o->dirty = true;
	sync(o);
}

/* ---- Table pages ---------------------------------------------------------- */

static void free_chain(struct op *o, kmm_paddr_t *chain)
{
	struct kmm_vmsa *v = o->v;

	while (*chain) {
		kmm_paddr_t pa = *chain;

		*chain = load(table_ptr(v, pa));
		kmm_pages_free(v->pages, pa, table_order(v), v->as.owner);
		v->tables--;
	}
}

/*
 * Whether the allocator has a block for every table the commit needs.
 * Asked first because taking some tables and giving them back would still
 * change the allocator (freed frames are marked dirty), and a call that
 * fails must change nothing.
 */
static bool spares_available(const struct op *o)
{
	struct kmm_vmsa *v = o->v;
	unsigned int t = table_order(v);
	struct kmm_pages_stats st;
	uint64_t n = 0;

	if (kmm_pages_stats(v->pages, &st) != KMM_OK)
		return false;
	for (unsigned int k = t; k < KMM_PAGES_ORDERS && n < o->need; k++)
		n += st.free_blocks[k] << (k - t);
	return n >= o->need;
}

/* Frames held by the tables: the root (root_tables tables) counts once in
 * v->tables. */
static uint64_t table_pages(const struct kmm_vmsa *v)
{
	if (v->tables == 0)
		return 0;
	return (v->tables - 1 + v->root_tables) << table_order(v);
}

/* Takes every table the commit needs; on failure nothing is held. */
static int alloc_spares(struct op *o)
{
	struct kmm_vmsa *v = o->v;
	uint64_t max = v->cfg.max_table_pages;

	if (max != 0 &&
	    table_pages(v) + ((uint64_t)o->need << table_order(v)) > max)
		return KMM_EQUOTA;
	if (o->need != 0 && !spares_available(o))
		return KMM_ENOMEM;
	for (size_t k = 0; k < o->need; k++) {
		kmm_paddr_t pa;
		uint64_t *t;
		int ret = kmm_pages_alloc(v->pages, table_order(v), v->as.owner,
					  KMM_PAGES_ZERO, &pa);

		if (ret == KMM_OK) {
			t = table_ptr(v, pa);
			if (t == NULL ||
			    !kmm_is_aligned(pa, 1ull << vmsa_g(o->g)) ||
			    (pa >> v->cfg.oa_bits) != 0) {
				kmm_pages_free(v->pages, pa, table_order(v),
					       v->as.owner);
				ret = KMM_ENOMEM;
			}
		}
		if (ret) {
			free_chain(o, &o->spare);
			return ret;
		}
		store(t, o->spare);
		o->spare = pa;
		v->tables++;
	}
	return KMM_OK;
}

static kmm_paddr_t take_spare(struct op *o)
{
	kmm_paddr_t pa = o->spare;
	uint64_t *t = table_ptr(o->v, pa);

	o->spare = load(t);
	store(t, 0);
	return pa;
}

/* Queues an unlinked table; its first word links the queue, which the
 * walker reads as an invalid descriptor (table PAs are granule aligned). */
static void queue_dead(struct op *o, kmm_paddr_t pa)
{
	store(table_ptr(o->v, pa), o->dead);
	o->dead = pa;
}

/* ---- Walking ranges ------------------------------------------------------- */

/* The entries of one table that [o->va, o->end) touches. */
struct span {
	unsigned int level, shift;
	kmm_vaddr_t base; /* VA of entry 0 */
	size_t first, last; /* inclusive */
};

static void span_of(const struct op *o, unsigned int level, kmm_vaddr_t base,
		    size_t n, struct span *s)
{
	unsigned int shift = vmsa_level_shift(o->g, level);
	kmm_vaddr_t lo = kmm_max_u64(o->va, base);
	kmm_vaddr_t hi = kmm_min_u64(o->end, base + ((uint64_t)n << shift));

	s->level = level;
	s->shift = shift;
	s->base = base;
	s->first = (size_t)((lo - base) >> shift);
	s->last = (size_t)((hi - 1 - base) >> shift);
}

static kmm_vaddr_t entry_va(const struct span *s, size_t i)
{
	return s->base + ((uint64_t)i << s->shift);
}

/* Whether the request covers the whole entry at @e. */
static bool covers(const struct op *o, kmm_vaddr_t e, unsigned int shift)
{
	return o->va <= e && o->end - e >= (1ull << shift);
}

static uint64_t *child_of(const struct op *o, uint64_t d)
{
	return table_ptr(o->v, d & vmsa_table_mask(o->g));
}

static uint64_t table_desc(kmm_paddr_t pa)
{
	return pa | VMSA_TYPE_TABLE;
}

/* Whether [s, s + 2^shift) can be one leaf mapping PA @pa at @level. */
static bool leaf_fits(const struct op *o, unsigned int level, kmm_vaddr_t e,
		      kmm_paddr_t pa)
{
	unsigned int shift = vmsa_level_shift(o->g, level);

	if (!covers(o, e, shift))
		return false;
	if (level == KMM_VMSA_LAST_LEVEL)
		return true;
	return o->blocks && vmsa_block_level(o->g, level) &&
	       kmm_is_aligned(pa, 1ull << shift);
}

static kmm_paddr_t pa_at(const struct op *o, kmm_vaddr_t va)
{
	return o->pa + (va - o->va);
}

/*
 * Fills a fresh table with the leaves that map exactly what the block
 * @d at @level mapped, one level down. Returns the table's PA.
 */
static kmm_paddr_t expand(struct op *o, uint64_t d, unsigned int level)
{
	unsigned int cl = level + 1;
	uint64_t csize = 1ull << vmsa_level_shift(o->g, cl);
	uint64_t leaf = (d & VMSA_ATTR_MASK) | leaf_type(cl) |
			(d & vmsa_oa_mask(o->g, level));
	kmm_paddr_t pa = take_spare(o);
	uint64_t *t = table_ptr(o->v, pa);
	size_t n = table_entries(o->g);

	for (size_t i = 0; i < n; i++, leaf += csize)
		t[i] = leaf;
	o->v->leaf_writes += n;
	return pa;
}

/* Links the finished off-line table @pa under entry @p. */
static void link_table(struct op *o, uint64_t *p, kmm_paddr_t pa, bool live)
{
	clean(o, table_ptr(o->v, pa), (size_t)1 << vmsa_g(o->g));
	put(o, p, table_desc(pa), live);
}

/* ---- prepare -------------------------------------------------------------- */

/*
 * Prepare pass of every operation: checks the request against the tables
 * and counts the tables the commit needs. Map wants no leaf in range,
 * protect every entry in range valid, unmap something mapped (o->found).
 * A table the commit will create is walked as @t NULL with every entry
 * @fill: invalid below an empty entry, a leaf below a block to split.
 */
static int prepare(struct op *o, const uint64_t *t, uint64_t fill,
		   unsigned int level, kmm_vaddr_t base, size_t n)
{
	struct span s;

	span_of(o, level, base, n, &s);
	for (size_t i = s.first; i <= s.last; i++) {
		uint64_t d = t ? load(&t[i]) : fill;
		kmm_vaddr_t e = entry_va(&s, i);
		bool full = covers(o, e, s.shift);
		int ret;

		if (!(d & VMSA_VALID)) {
			if (o->kind == OP_PROTECT)
				return KMM_ENOENT;
			if (o->kind != OP_MAP ||
			    leaf_fits(o, level, e, pa_at(o, e)))
				continue;
		} else if (is_table(d, level)) {
			if (o->kind == OP_UNMAP && full) {
				o->found = true; /* tables are never empty */
				continue;
			}
			ret = prepare(o, child_of(o, d), 0, level + 1, e,
				      table_entries(o->g));
			if (ret)
				return ret;
			continue;
		} else if (o->kind == OP_MAP) {
			return KMM_EEXIST;
		} else {
			o->found = true;
			if (full || (o->kind == OP_PROTECT &&
				     (d & VMSA_ATTR_MASK) == o->bits))
				continue;
			/* The split table's leaves, blocks to the walker. */
			d = (d & ~VMSA_TYPE_MASK) | VMSA_TYPE_BLOCK;
		}
		/* A new table: the empty entry's or the split block's. */
		o->need++;
		if (level + 1 < KMM_VMSA_LAST_LEVEL)
			prepare(o, NULL, d, level + 1, e, table_entries(o->g));
	}
	return KMM_OK;
}

/* ---- commit --------------------------------------------------------------- */

/* Map at the last level: one run of page descriptors. */
static void map_pages(struct op *o, uint64_t *t, const struct span *s,
		      bool live)
{
	kmm_vaddr_t e = entry_va(s, s->first);
	uint64_t d = pa_at(o, e) | o->bits | VMSA_TYPE_PAGE;
	uint64_t step = 1ull << s->shift;

	for (size_t i = s->first; i <= s->last; i++, d += step)
		store(&t[i], d);
	o->v->leaf_writes += s->last - s->first + 1;
	if (live)
		clean(o, &t[s->first], (s->last - s->first + 1) * sizeof(*t));
}

/*
 * Invalidates every translation below the unlinked table at @pa and queues
 * it and its sub-tables for freeing. Destroy passes the root (@root, @pa
 * unused): its entries are zeroed, and it is not queued.
 */
static void drop_table(struct op *o, kmm_paddr_t pa, unsigned int level,
		       kmm_vaddr_t base, bool live, bool root)
{
	struct kmm_vmsa *v = o->v;
	uint64_t *t = table_ptr(v, root ? v->root_pa : pa);
	unsigned int shift = vmsa_level_shift(o->g, level);
	size_t n = root ? v->root_entries : table_entries(o->g);

	/* A leaf table needs no visit when nothing is invalidated page by
	 * page (off-line, or the whole ASID/VMID will be flushed). */
	if (!root && level == KMM_VMSA_LAST_LEVEL && (!live || o->tlbi_all))
		n = 0;
	for (size_t i = 0; i < n; i++) {
		uint64_t d = load(&t[i]);
		kmm_vaddr_t e = base + ((uint64_t)i << shift);

		if (root)
			put(o, &t[i], 0, true);
		if (!(d & VMSA_VALID))
			continue;
		if (is_table(d, level)) {
			if (live)
				inval(o, e, 1ull << shift, false);
			drop_table(o, d & vmsa_table_mask(o->g), level + 1, e,
				   live, false);
		} else if (live) {
			inval(o, e, 1ull << shift, true);
		}
	}
	if (!root)
		queue_dead(o, pa);
}

static bool table_empty(const uint64_t *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (load(&t[i]) != 0)
			return false;
	return true;
}

/* What protect writes for the valid or broken leaf @d: unmap writes 0. */
static uint64_t new_leaf(const struct op *o, uint64_t d)
{
	if (o->kind == OP_UNMAP)
		return 0;
	return (d & ~VMSA_ATTR_MASK) | o->bits;
}

/* ---- fold ----------------------------------------------------------------- */

/* Whether the table @c at @level maps one contiguous range, aligned for a
 * block one level up, with one attribute; gives that block. */
static bool foldable(const struct op *o, const uint64_t *c, unsigned int level,
		     uint64_t *block)
{
	unsigned int shift = vmsa_level_shift(o->g, level);
	uint64_t d0 = load(&c[0]);
	uint64_t oa = d0 & vmsa_oa_mask(o->g, level);
	size_t n = table_entries(o->g);

	if ((d0 & VMSA_TYPE_MASK) != leaf_type(level) ||
	    !kmm_is_aligned(oa, 1ull << vmsa_level_shift(o->g, level - 1)))
		return false;
	for (size_t i = 1; i < n; i++) {
		uint64_t want = d0 + ((uint64_t)i << shift);

		if (load(&c[i]) != want)
			return false;
	}
	*block = (d0 & ~VMSA_TYPE_MASK) | VMSA_TYPE_BLOCK;
	return true;
}

/* Replaces the table @d under @p at @level by one block when foldable()
 * allows: break, invalidate its leaves and the walk, make, free. */
static void fold_entry(struct op *o, uint64_t *p, uint64_t d,
		       unsigned int level, kmm_vaddr_t e)
{
	unsigned int cshift = vmsa_level_shift(o->g, level + 1);
	uint64_t block;

	if (!o->blocks || !vmsa_block_level(o->g, level) ||
	    !foldable(o, child_of(o, d), level + 1, &block))
		return;
	put(o, p, 0, true);
	for (size_t j = 0; j < table_entries(o->g) && !o->tlbi_all; j++)
		inval(o, e + ((uint64_t)j << cshift), 1ull << cshift, true);
	inval(o, e, 1ull << vmsa_level_shift(o->g, level), false);
	sync(o);
	put(o, p, block, true);
	o->v->leaf_writes++;
	queue_dead(o, d & vmsa_table_mask(o->g));
	free_chain(o, &o->dead);
	o->folded++;
}

/* How commit_walk() runs: on a table the walker cannot reach yet, on the
 * live tables, or as the make pass of unmap and protect (live). */
enum pass { PASS_OFFLINE, PASS_LIVE, PASS_MAKE };

static void commit_walk(struct op *o, uint64_t *t, unsigned int level,
			kmm_vaddr_t base, size_t n, enum pass pass);

/* Maps the request's part of the invalid entry @p at @level: a block, or
 * a new table filled off-line and linked. */
static void map_entry(struct op *o, uint64_t *p, unsigned int level,
		      kmm_vaddr_t e, bool live)
{
	kmm_paddr_t cpa;

	if (leaf_fits(o, level, e, pa_at(o, e))) {
		put(o, p, pa_at(o, e) | o->bits | VMSA_TYPE_BLOCK, live);
		o->v->leaf_writes++;
		return;
	}
	cpa = take_spare(o);
	commit_walk(o, table_ptr(o->v, cpa), level + 1, e, table_entries(o->g),
		    PASS_OFFLINE);
	link_table(o, p, cpa, live);
}

/* Splits the block @d under entry @p off-line, applies the request to the
 * new table and links it. */
static void split_block(struct op *o, uint64_t *p, uint64_t d,
			unsigned int level, kmm_vaddr_t e, bool live)
{
	kmm_paddr_t cpa = expand(o, d, level);

	commit_walk(o, table_ptr(o->v, cpa), level + 1, e, table_entries(o->g),
		    PASS_OFFLINE);
	link_table(o, p, cpa, live);
}

/*
 * Commit pass of map and fold, break and make passes of unmap and protect.
 *
 * Map writes the request into the invalid entries in range (prepare()
 * found no leaf there), building new tables off-line from the spares.
 * Fold tries each table in range after its sub-tables.
 *
 * Break: unmap clears the leaves and tables the request covers and the
 * tables it empties; protect skips the leaves that keep their attributes.
 * Every other leaf in range is broken (live: the make pass finishes it
 * after the TLB sync) or, in a table the walker cannot reach yet,
 * rewritten or split at once.
 *
 * Make (PASS_MAKE): protect rewrites each broken leaf the request covers; a
 * broken block it covers in part (unmap breaks no other) is replaced by
 * its split table.
 */
static void commit_walk(struct op *o, uint64_t *t, unsigned int level,
			kmm_vaddr_t base, size_t n, enum pass pass)
{
	bool live = pass != PASS_OFFLINE, make = pass == PASS_MAKE;
	struct span s;

	span_of(o, level, base, n, &s);
	if (o->kind == OP_MAP && level == KMM_VMSA_LAST_LEVEL) {
		map_pages(o, t, &s, live);
		return;
	}
	for (size_t i = s.first; i <= s.last && (!make || o->broken); i++) {
		uint64_t d = load(&t[i]);
		kmm_vaddr_t e = entry_va(&s, i);
		uint64_t size = 1ull << s.shift;
		bool full = covers(o, e, s.shift);
		bool clear = o->kind == OP_UNMAP && full;
		uint64_t nd = new_leaf(o, d);

		if (!(d & VMSA_VALID)) {
			if (o->kind == OP_MAP) {
				map_entry(o, &t[i], level, e, live);
			} else if (make && d != 0) {
				if (full) {
					put(o, &t[i], nd | VMSA_VALID, true);
					o->v->leaf_writes++;
				} else {
					split_block(o, &t[i], d | VMSA_VALID,
						    level, e, true);
				}
				o->broken--;
			}
			continue;
		}
		if (is_table(d, level)) {
			uint64_t *c = child_of(o, d);

			if (!clear) {
				commit_walk(o, c, level + 1, e,
					    table_entries(o->g), pass);
				if (o->kind == OP_FOLD)
					fold_entry(o, &t[i], d, level, e);
				if (make || o->kind != OP_UNMAP ||
				    !table_empty(c, table_entries(o->g)))
					continue;
			}
			put(o, &t[i], 0, true);
			if (live)
				inval(o, e, size, false);
			drop_table(o, d & vmsa_table_mask(o->g), level + 1, e,
				   live, false);
			continue;
		}
		if (make || o->kind == OP_FOLD || nd == d)
			continue;
		if (!live && !full) {
			split_block(o, &t[i], d, level, e, false);
			continue;
		}
		put(o, &t[i], live && !clear ? d & ~VMSA_VALID : nd, live);
		if (live) {
			inval(o, e, size, true);
			o->broken += !clear;
		} else {
			o->v->leaf_writes += o->kind == OP_PROTECT;
		}
	}
}

/* ---- operations ----------------------------------------------------------- */

static void op_init(struct op *o, struct kmm_vmsa *v, enum op_kind kind,
		    kmm_vaddr_t va, uint64_t size)
{
	const struct kmm_port *port = v->as.port;

	kmm_memzero(o, sizeof(*o));
	o->v = v;
	o->kind = kind;
	o->va = va;
	o->end = va + size;
	o->g = vmsa_g(v->cfg.granule_shift);
	o->blocks = !(v->cfg.flags & KMM_VMSA_NO_BLOCKS);
	o->clean = (v->cfg.flags & KMM_VMSA_NONCOHERENT_WALK) &&
		   port->clean_range != NULL;
	o->tlb.regime = v->cfg.regime;
	o->tlb.shared_smmu = (v->cfg.flags & KMM_VMSA_SHARED_SMMU) ? 1 : 0;
	o->tlb.id = v->cfg.id;
}

static uint64_t *root(const struct kmm_vmsa *v)
{
	return table_ptr(v, v->root_pa);
}

/* commit_walk() over the whole root. */
static void commit_root(struct op *o, enum pass pass)
{
	struct kmm_vmsa *v = o->v;

	commit_walk(o, root(v), v->start_level, 0, v->root_entries, pass);
}

static uint64_t largest_block(const struct kmm_vmsa *v)
{
	unsigned int g = vmsa_g(v->cfg.granule_shift);
	unsigned int level = g == 12 ? 1 : 2;

	if (level < v->start_level)
		level = v->start_level;
	return 1ull << vmsa_level_shift(g, level);
}

static int fold_range(struct kmm_vmsa *v, kmm_vaddr_t va, uint64_t size)
{
	struct op o;

	op_init(&o, v, OP_FOLD, va, size);
	commit_root(&o, PASS_LIVE);
	return o.folded;
}

/* With KMM_VMSA_AUTO_FOLD, folds the block-aligned range around a change. */
static void auto_fold(struct kmm_vmsa *v, kmm_vaddr_t va, uint64_t size)
{
	uint64_t b = largest_block(v);
	kmm_vaddr_t lo = kmm_align_down(va, b);
	kmm_vaddr_t hi = kmm_align_up(va + size, b);

	if (!(v->cfg.flags & KMM_VMSA_AUTO_FOLD))
		return;
	hi = kmm_min_u64(hi, 1ull << v->cfg.va_bits);
	fold_range(v, lo, hi - lo);
}

/*
 * Runs the map, unmap or protect @o after op_init(): checks, prepares and
 * takes every table first (a failure changes nothing), then commits.
 */
static int run(struct op *o, kmm_attr_t attr)
{
	struct kmm_vmsa *v = o->v;
	int ret = KMM_OK;

	if (o->kind != OP_UNMAP)
		ret = kmm_vmsa_attr_bits(&v->cfg, attr, &o->bits);
	if (!ret)
		ret = prepare(o, root(v), 0, v->start_level, 0,
			      v->root_entries);
	if (!ret && o->kind == OP_UNMAP && !o->found)
		ret = KMM_ENOENT;
	if (!ret)
		ret = alloc_spares(o);
	if (ret)
		return ret;
	commit_root(o, PASS_LIVE);
	o->dirty |= o->kind == OP_MAP; /* map: publish the new entries */
	sync(o);
	free_chain(o, &o->dead);
	if (o->broken) {
		commit_root(o, PASS_MAKE);
		publish(o);
	}
	free_chain(o, &o->spare);
	if (o->kind != OP_UNMAP)
		auto_fold(v, o->va, o->end - o->va);
	return KMM_OK;
}

static int vmsa_map(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		    size_t size, kmm_attr_t attr)
{
	struct kmm_vmsa *v = to_vmsa(as);
	uint64_t oa_end = 1ull << v->cfg.oa_bits;
	struct op o;

	if (!kmm_is_aligned(pa, 1ull << vmsa_g(v->cfg.granule_shift)))
		return KMM_EALIGN;
	if (pa >= oa_end || size > oa_end - pa)
		return KMM_ERANGE;
	op_init(&o, v, OP_MAP, va, size);
	o.pa = pa;
	return run(&o, attr);
}

static int vmsa_unmap(struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	struct op o;

	op_init(&o, to_vmsa(as), OP_UNMAP, va, size);
	return run(&o, 0);
}

static int vmsa_protect(struct kmm_as *as, kmm_vaddr_t va, size_t size,
			kmm_attr_t attr)
{
	struct op o;

	op_init(&o, to_vmsa(as), OP_PROTECT, va, size);
	return run(&o, attr);
}

static int vmsa_query(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa,
		      kmm_attr_t *attr, size_t *mapping_size)
{
	struct kmm_vmsa_walk w;
	int ret = kmm_vmsa_walk(to_cvmsa(as), va, &w);

	if (ret == KMM_ERANGE || ret == KMM_ENOENT)
		return KMM_ENOENT;
	if (ret)
		return ret;
	if (pa)
		*pa = w.pa;
	if (attr)
		*attr = w.attr;
	if (mapping_size)
		*mapping_size = (size_t)w.size;
	return KMM_OK;
}

static void vmsa_caps(const struct kmm_as *as, struct kmm_as_caps *caps)
{
	const struct kmm_vmsa *v = to_cvmsa(as);
	unsigned int g = vmsa_g(v->cfg.granule_shift);

	caps->flags = KMM_CAP_TRANSLATES | KMM_CAP_PARTIAL_UNMAP |
		      KMM_CAP_NONCONTIG;
	caps->block_sizes = 1ull << g;
	if (!(v->cfg.flags & KMM_VMSA_NO_BLOCKS)) {
		for (unsigned int l = v->start_level; l < KMM_VMSA_LAST_LEVEL;
		     l++)
			if (vmsa_block_level(g, l))
				caps->block_sizes |= 1ull
						     << vmsa_level_shift(g, l);
	}
	caps->granule = 1ull << g;
	caps->va_end = 1ull << v->cfg.va_bits;
}

static int vmsa_destroy(struct kmm_as *as)
{
	struct kmm_vmsa *v = to_vmsa(as);
	struct op o;

	op_init(&o, v, OP_NONE, 0, 1ull << v->cfg.va_bits);
	/* One flush of the whole ASID/VMID covers every entry. */
	o.tlbi_all = true;
	o.dirty = true;
	drop_table(&o, 0, v->start_level, 0, false, true);
	sync(&o);
	free_chain(&o, &o.dead);
	kmm_pages_free(v->pages, v->root_pa,
		       table_order(v) + kmm_log2_u64(v->root_tables),
		       v->as.owner);
	v->tables = 0;
	v->root_pa = 0;
	as->ops = NULL;
	return KMM_OK;
}

/* ---- dump ----------------------------------------------------------------- */

struct run {
	kmm_vaddr_t va, end;
	kmm_paddr_t pa;
	uint64_t leaf;
	kmm_attr_t attr;
	uint64_t count;
};

static const char *const mt_names[KMM_MT_COUNT] = {
	[KMM_MT_NORMAL_WB] = "normal-wb",
	[KMM_MT_NORMAL_NC] = "normal-nc",
	[KMM_MT_DEVICE_NGNRNE] = "device-ngnrne",
	[KMM_MT_DEVICE_NGNRE] = "device-ngnre",
};

/* The letters after 'r' of a run's permissions, '-' when clear. */
static const struct {
	kmm_attr_t flag;
	char letter;
} perm_letters[] = {
	{ KMM_ATTR_W, 'w' },  { KMM_ATTR_X, 'x' },  { KMM_ATTR_USER, 'u' },
	{ KMM_ATTR_NG, 'g' }, { KMM_ATTR_NS, 'n' },
};

static void run_flush(const struct kmm_vmsa *v, struct run *r)
{
	char perm[8] = "r";

	if (r->count == 0)
		return;
	for (size_t k = 0; k < KMM_ARRAY_SIZE(perm_letters); k++)
		perm[k + 1] = (r->attr & perm_letters[k].flag) ?
				      perm_letters[k].letter :
				      '-';
	kmm_log(v->as.port, "vmsa: %x-%x -> %x %s %s %u x %x", r->va, r->end,
		r->pa, perm, mt_names[KMM_ATTR_MT_GET(r->attr)], r->count,
		r->leaf);
	r->count = 0;
}

static void dump_walk(const struct kmm_vmsa *v, const uint64_t *t,
		      unsigned int level, kmm_vaddr_t base, size_t n,
		      struct run *r)
{
	unsigned int g = vmsa_g(v->cfg.granule_shift);
	unsigned int shift = vmsa_level_shift(g, level);

	for (size_t i = 0; i < n; i++) {
		uint64_t d = load(&t[i]);
		kmm_vaddr_t e = base + ((uint64_t)i << shift);
		kmm_paddr_t oa = d & vmsa_oa_mask(g, level);
		kmm_attr_t attr;

		if (!(d & VMSA_VALID))
			continue;
		if (is_table(d, level)) {
			dump_walk(v, table_ptr(v, d & vmsa_table_mask(g)),
				  level + 1, e, table_entries(g), r);
			continue;
		}
		if (kmm_vmsa_attr_decode(v, d, &attr))
			attr = 0;
		if (r->count && r->end == e && r->pa + (r->end - r->va) == oa &&
		    r->attr == attr && r->leaf == (1ull << shift)) {
			r->end += 1ull << shift;
			r->count++;
			continue;
		}
		run_flush(v, r);
		*r = (struct run){ e,	 e + (1ull << shift),
				   oa,	 1ull << shift,
				   attr, 1 };
	}
}

static void vmsa_dump(const struct kmm_as *as)
{
	const struct kmm_vmsa *v = to_cvmsa(as);
	struct run r = { 0 };

	kmm_log(v->as.port,
		"vmsa: regime %u granule %x va_bits %u start level %u, %u tables",
		(uint64_t)v->cfg.regime, 1ull << v->cfg.granule_shift,
		(uint64_t)v->cfg.va_bits, (uint64_t)v->start_level, v->tables);
	dump_walk(v, root(v), v->start_level, 0, v->root_entries, &r);
	run_flush(v, &r);
}

static const struct kmm_backend_ops vmsa_ops = {
	.map = vmsa_map,
	.unmap = vmsa_unmap,
	.protect = vmsa_protect,
	.query = vmsa_query,
	.caps = vmsa_caps,
	.dump = KMM_CONFIG_DIAGNOSTICS ? vmsa_dump : NULL,
	.destroy = vmsa_destroy,
};

/* ---- public --------------------------------------------------------------- */

int kmm_vmsa_init(struct kmm_vmsa *v, const struct kmm_vmsa_config *cfg,
		  const struct kmm_port *port, struct kmm_pages *pages,
		  kmm_owner_t owner, uint32_t as_flags)
{
	unsigned int start, nroot, order;
	kmm_paddr_t pa;
	int ret;

	if (v == NULL || cfg == NULL || port == NULL || pages == NULL ||
	    port->pa_to_ptr == NULL || owner == KMM_OWNER_NONE ||
	    (as_flags & ~KMM_AS_ALLOW_WX))
		return KMM_EINVAL;
	ret = kmm_vmsa_geometry(cfg, &start, &nroot);
	if (ret)
		return ret;
	order = cfg->granule_shift - KMM_CONFIG_PAGE_SHIFT +
		kmm_log2_u64(nroot);
	if (cfg->max_table_pages != 0 &&
	    ((uint64_t)1 << order) > cfg->max_table_pages)
		return KMM_EQUOTA;
	ret = kmm_pages_alloc(pages, order, owner, KMM_PAGES_ZERO, &pa);
	if (ret)
		return ret;
	if (port->pa_to_ptr(port->cookie, pa) == NULL ||
	    !kmm_is_aligned(pa, (uint64_t)nroot << cfg->granule_shift) ||
	    (pa >> cfg->oa_bits) != 0) {
		kmm_pages_free(pages, pa, order, owner);
		return KMM_ENOMEM;
	}
	kmm_memzero(v, sizeof(*v));
	v->as.ops = &vmsa_ops;
	v->as.port = port;
	v->as.flags = as_flags;
	v->as.owner = owner;
	v->cfg = *cfg;
	v->pages = pages;
	v->root_pa = pa;
	v->root_tables = (uint8_t)nroot;
	v->root_entries =
		(uint32_t)1u
		<< (cfg->va_bits - vmsa_level_shift(cfg->granule_shift, start));
	v->start_level = (uint8_t)start;
	v->tables = 1;
	return KMM_OK;
}

uint64_t kmm_vmsa_table_pages(const struct kmm_vmsa *v)
{
	return v == NULL ? 0 : table_pages(v);
}

static int walk_fault(struct kmm_vmsa_walk *out, unsigned int fault)
{
	out->fault = (uint8_t)fault;
	return KMM_ENOENT;
}

int kmm_vmsa_walk(const struct kmm_vmsa *v, kmm_vaddr_t va,
		  struct kmm_vmsa_walk *out)
{
	unsigned int g, level;
	kmm_paddr_t table;

	if (v == NULL || out == NULL || v->as.ops == NULL)
		return KMM_EINVAL;
	kmm_memzero(out, sizeof(*out));
	g = vmsa_g(v->cfg.granule_shift);
	level = v->start_level;
	out->level = (uint8_t)level;
	if (va >> v->cfg.va_bits) {
		out->fault = KMM_VMSA_FAULT_TRANSLATION;
		return KMM_ERANGE;
	}
	table = v->root_pa;
	for (;;) {
		unsigned int shift = vmsa_level_shift(g, level);
		uint64_t idx = va >> shift;
		const uint64_t *p;
		uint64_t d, oa;

		if (level != v->start_level)
			idx &= table_entries(g) - 1;
		out->level = (uint8_t)level;
		out->desc_pa = table + idx * sizeof(uint64_t);
		p = table_ptr(v, out->desc_pa);
		if (p == NULL)
			return KMM_EBADDATA;
		d = load(p);
		out->desc = d;
		if (!(d & VMSA_VALID))
			return walk_fault(out, KMM_VMSA_FAULT_TRANSLATION);
		if (is_table(d, level)) {
			table = d & vmsa_table_mask(g);
			if (table >> v->cfg.oa_bits)
				return walk_fault(out,
						  KMM_VMSA_FAULT_ADDRESS_SIZE);
			level++;
			continue;
		}
		/* 0b01 at level 3 is reserved; blocks only where allowed. */
		if ((d & VMSA_TYPE_MASK) == VMSA_TYPE_BLOCK &&
		    (level == KMM_VMSA_LAST_LEVEL ||
		     !vmsa_block_level(g, level)))
			return walk_fault(out, KMM_VMSA_FAULT_TRANSLATION);
		oa = d & vmsa_oa_mask(g, level);
		if (oa >> v->cfg.oa_bits)
			return walk_fault(out, KMM_VMSA_FAULT_ADDRESS_SIZE);
		if (!(d & VMSA_AF))
			return walk_fault(out, KMM_VMSA_FAULT_ACCESS_FLAG);
		out->size = 1ull << shift;
		out->pa = oa | (va & (out->size - 1));
		/* RES0 bits between the OA and the attributes must be 0. */
		if (d &
		    ~(VMSA_ATTR_MASK | vmsa_oa_mask(g, level) | VMSA_TYPE_MASK))
			return KMM_EBADDATA;
		return kmm_vmsa_attr_decode(v, d, &out->attr);
	}
}

int kmm_vmsa_fold(struct kmm_vmsa *v, kmm_vaddr_t va, size_t size)
{
	uint64_t va_end, granule;
	int ret;

	if (v == NULL || v->as.ops == NULL || size == 0)
		return KMM_EINVAL;
	/* Also refuses every range that wraps: va_end is at most 2^48. */
	va_end = 1ull << v->cfg.va_bits;
	if (va >= va_end || size > va_end - va)
		return KMM_ERANGE;
	granule = 1ull << vmsa_g(v->cfg.granule_shift);
	if (!kmm_is_aligned(va | size, granule))
		return KMM_EALIGN;
	kmm_port_lock(v->as.port);
	ret = fold_range(v, va, size);
	kmm_port_unlock(v->as.port);
	return ret;
}
