// SPDX-License-Identifier: BSD-2-Clause
/*
 * Model-based fuzzer core: see fuzz_core.h and README.md.
 *
 * The world: one page allocator (a 2 MiB span, also the host port's arena,
 * where the VMSA table pages live), a VMSA stage-1 EL1 address space with
 * dynamic regions, a live PMSA hypervisor region set with dynamic regions
 * (identity), and a stand-alone vaspace with guards and a small node slab.
 *
 * The model keeps, in plain arrays, what each of them should hold: frames
 * and their owners, one entry per VA page of the VMSA windows, one
 * reference count per page of the PMSA windows, the regions with their
 * runs, the claimed VA pages and the vaspace ranges. Every operation first
 * asks the model for the return code (exact, or a documented set where the
 * model cannot know: ENOMEM for table pages when fewer frames are free than
 * the worst case needs), runs the call, compares, applies the model, and
 * checks every observable answer the operation touched: kmm_query() and
 * kmm_vmsa_walk() for each page, phys_to_virt()/virt_to_phys(), per-owner
 * usage, the MPU slot contents, the table pages. A failed call must leave a
 * digest of all kmm state (every context struct and every caller buffer:
 * page metadata, the used objects and free lists of every slab, every
 * table page) exactly as it was.
 */
#define _DEFAULT_SOURCE 1
#include "fuzz_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_port.h"
#include "kmm/errors.h"
#include "kmm/guest.h"
#include "kmm/pages.h"
#include "kmm/pmsa.h"
#include "kmm/region.h"
#include "kmm/slab.h"
#include "kmm/vaspace.h"
#include "kmm/vmsa.h"

#define PG 4096ull
#define BLK (2ull << 20)

/* Page allocator: the span is the host arena. */
#define PA_BASE 0x80000000ull
#define NFRAMES 512u
#define NOWN 5u /* owners the fuzzer hands out: 0..4 */
#define TBL_OWNER 5u /* owner of the VMSA tables: never a fuzzer owner */
#define FZ_MAX_ORDER 4u

/* VMSA: a direct-map window and, right after it, the regions' window. */
#define V_LO 0x40000000ull
#define V_DPAGES 1024u
#define V_RPAGES 256u
#define V_PAGES (V_DPAGES + V_RPAGES)
#define V_RBASE (V_LO + V_DPAGES * PG)
#define V_VA_BITS 39u
#define V_TABLES_WORST 3u /* tables one map of the windows can need */

/* PMSA: a RAM window and a device window, identity. */
#define P_RAM 0x40000000ull
#define P_RAM_PAGES 64u
#define P_DEV 0x09000000ull
#define P_DEV_PAGES 16u
#define P_PAGES (P_RAM_PAGES + P_DEV_PAGES)
#define P_SLOTS 6u

/* Stand-alone vaspace: two windows, one guard page, few nodes. */
#define S_W1 0x100000000ull
#define S_W1_PAGES 512u
#define S_W2 0x200000000ull
#define S_W2_PAGES 64u
#define S_PAGES (S_W1_PAGES + S_W2_PAGES)
#define S_NODES 40u
#define S_GUARD 1u

#define MAX_REGIONS 128u
#define MAX_RUNS 40u
#define R_OBJS 512u
#define SLAB_MAX 1024u /* largest slab the digest walks */

/* ------------------------------------------------------------------------
 * The model.
 */

struct mblock {
	kmm_paddr_t pa;
	uint8_t order, owner;
};

struct vpte {
	kmm_paddr_t pa;
	kmm_attr_t attr;
	bool mapped;
};

struct ppte {
	kmm_attr_t attr;
	uint32_t refs;
};

struct mrun {
	kmm_paddr_t pa;
	kmm_vaddr_t va;
	uint64_t size;
};

struct mregion {
	bool live;
	kmm_vaddr_t va;
	uint64_t size;
	kmm_attr_t attr;
	kmm_owner_t owner;
	unsigned int nruns;
	uint64_t seq;
	struct mrun runs[MAX_RUNS];
};

struct srange {
	kmm_vaddr_t va;
	uint64_t size;
	kmm_owner_t owner;
};

/* One regions layer (over the VMSA or the PMSA space) and its model. */
struct side {
	const char *name;
	bool identity;
	struct kmm_as *as;
	struct kmm_regions regions;
	struct kmm_vaspace vs;
	struct kmm_slab vs_slab, obj_slab;
	void *vs_mem, *obj_mem;
	size_t vs_objs, objs;
	struct mregion reg[MAX_REGIONS];
	uint32_t quota[NOWN];
	int8_t vown[V_RPAGES > P_PAGES ? V_RPAGES : P_PAGES]; /* VA claims */
};

struct world {
	struct kmm_host host;
	struct kmm_pages pages;
	uint64_t *meta;
	size_t meta_size;
	struct kmm_vmsa vmsa;
	struct kmm_pmsa *pmsa;
	struct side sv, sp; /* regions over the VMSA and the PMSA space */
	struct kmm_vaspace svs;
	struct kmm_slab svs_slab;
	struct kmm k; /* guests over pages, svs and both regions layers */
	uint8_t gst[NOWN]; /* model: enum kmm_guest_state of owner o */
	uint8_t gspace[NOWN]; /* DYING: next address space to empty */
	void *svs_mem;

	/* Page allocator model. */
	int8_t frame_owner[NFRAMES]; /* -1 free, else owner (TBL_OWNER) */
	struct mblock blocks[NFRAMES];
	unsigned int nblocks;
	uint64_t pg_quota[NOWN], pg_usage[NOWN];
	unsigned int tables; /* table pages found by the last walk */

	/* VMSA and PMSA page models. */
	struct vpte v[V_PAGES];
	struct ppte p[P_PAGES];

	/* Stand-alone vaspace model. */
	struct srange sr[S_PAGES];
	unsigned int nsr;
	uint64_t s_quota[NOWN];

	uint64_t seq; /* region creation counter (alias rule) */

	/* Current operation, for reports. */
	uint64_t opno;
	unsigned int op;
	const char *opname;
	char trace[16][160];
	struct fz_stats *st;
};

/* ------------------------------------------------------------------------
 * Input decoding.
 */

struct rd {
	const uint8_t *p;
	size_t n, i;
};

static unsigned int rd8(struct rd *r)
{
	return r->i < r->n ? r->p[r->i++] : 0;
}

static unsigned int rd16(struct rd *r)
{
	unsigned int lo = rd8(r);

	return lo | (rd8(r) << 8);
}

enum {
	OP_PG_ALLOC,
	OP_PG_FREE,
	OP_PG_FREE_ALL,
	OP_PG_QUOTA,
	OP_PG_OWNER,
	OP_S_ALLOC,
	OP_S_CLAIM,
	OP_S_FREE,
	OP_S_FREE_ALL,
	OP_S_QUOTA,
	OP_S_FIND,
	OP_V_MAP,
	OP_V_UNMAP,
	OP_V_PROTECT,
	OP_V_QUERY,
	OP_V_VMAP,
	OP_V_IOREMAP,
	OP_V_VUNMAP,
	OP_V_FREE_ALL,
	OP_V_QUOTA,
	OP_V_P2V,
	OP_V_V2P,
	OP_P_MAP,
	OP_P_UNMAP,
	OP_P_PROTECT,
	OP_P_VMAP,
	OP_P_IOREMAP,
	OP_P_VUNMAP,
	OP_P_FREE_ALL,
	OP_P_QUOTA,
	OP_P_P2V,
	OP_P_V2P,
	OP_G_CREATE,
	OP_G_DESTROY,
	OP_COUNT
};

/* ------------------------------------------------------------------------
 * Reports.
 */

static void note(struct world *w, const char *fmt, ...)
{
	char *line = w->trace[w->opno % 16];
	va_list ap;
	int k = snprintf(line, 160, "#%llu %s ", (unsigned long long)w->opno,
			 w->opname);

	va_start(ap, fmt);
	if (k > 0 && k < 160)
		vsnprintf(line + k, (size_t)(160 - k), fmt, ap);
	va_end(ap);
}

static void fail(struct world *w, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kmm fuzz: model mismatch at operation %llu (%s)\n",
		(unsigned long long)w->opno, w->opname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nlast operations:\n");
	for (uint64_t i = w->opno >= 15 ? w->opno - 15 : 0; i <= w->opno; i++)
		fprintf(stderr, "  %s\n", w->trace[i % 16]);
	abort();
}

#define CHECK(w, cond, ...)                     \
	do {                                    \
		if (!(cond))                    \
			fail((w), __VA_ARGS__); \
	} while (0)

static void expect_rc(struct world *w, int got, int want, bool maybe_nomem)
{
	if (got == want || (maybe_nomem && got == KMM_ENOMEM))
		return;
	fail(w, "returned %s, the model expects %s%s", kmm_errname(got),
	     kmm_errname(want), maybe_nomem ? " (or KMM_ENOMEM)" : "");
}

/* ------------------------------------------------------------------------
 * State digest: every byte of kmm state lives in caller memory.
 */

struct hash {
	uint64_t h;
};

static void hbytes(struct hash *h, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t x = h->h, v;
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		memcpy(&v, b + i, 8);
		x = (x ^ v) * 0x9e3779b97f4a7c15ull;
		x ^= x >> 29;
	}
	for (; i < n; i++)
		x = (x ^ b[i]) * 0x100000001b3ull;
	h->h = x;
}

static void h64(struct hash *h, uint64_t v)
{
	hbytes(h, &v, sizeof(v));
}

/* A slab: its struct, the order of its free list, every used object. */
static void hslab(struct hash *h, const struct kmm_slab *s, const void *mem,
		  size_t nobj)
{
	uint8_t is_free[SLAB_MAX];
	const char *base = mem;

	memset(is_free, 0, nobj);
	hbytes(h, s, sizeof(*s));
	for (const struct kmm_slab_free *f = s->free_list; f; f = f->next) {
		size_t i = (size_t)((const char *)f - base) / s->obj_size;

		h64(h, i);
		if (i < nobj)
			is_free[i] = 1;
	}
	for (size_t i = 0; i < nobj; i++)
		if (!is_free[i])
			hbytes(h, base + i * s->obj_size, s->obj_size);
}

static void htables(struct hash *h, struct world *w, kmm_paddr_t pa,
		    unsigned int level, size_t n, unsigned int *count)
{
	const uint64_t *t = kmm_host_ptr(&w->host, pa);

	if (t == NULL)
		fail(w, "table page %#llx outside the arena",
		     (unsigned long long)pa);
	(*count)++;
	hbytes(h, t, n * 8);
	if (level == KMM_VMSA_LAST_LEVEL)
		return;
	for (size_t i = 0; i < n; i++)
		if ((t[i] & 3) == 3)
			htables(h, w, t[i] & 0x0000fffffffff000ull, level + 1,
				512, count);
}

static void hside(struct hash *h, const struct side *s)
{
	hbytes(h, &s->regions, sizeof(s->regions));
	hbytes(h, &s->vs, sizeof(s->vs));
	hslab(h, &s->vs_slab, s->vs_mem, s->vs_objs);
	hslab(h, &s->obj_slab, s->obj_mem, s->objs);
}

/* The digest of each part, so that a report can say what changed. */
enum { D_PAGES, D_VMSA, D_PMSA, D_SV, D_SP, D_SVS, D_PARTS };

static const char *const part_names[D_PARTS] = {
	"page allocator", "vmsa tables",  "pmsa set",
	"vmsa regions",	  "pmsa regions", "vaspace",
};

static void digest_parts(struct world *w, uint64_t *d)
{
	struct hash h[D_PARTS];
	unsigned int n = 0;

	for (unsigned int i = 0; i < D_PARTS; i++)
		h[i].h = 0xcbf29ce484222325ull;
	hbytes(&h[D_PAGES], &w->pages, sizeof(w->pages));
	hbytes(&h[D_PAGES], w->meta, w->meta_size);
	hbytes(&h[D_PAGES], &w->k, sizeof(w->k));
	hbytes(&h[D_VMSA], &w->vmsa, sizeof(w->vmsa));
	htables(&h[D_VMSA], w, w->vmsa.root_pa, w->vmsa.start_level,
		w->vmsa.root_entries, &n);
	hbytes(&h[D_PMSA], w->pmsa, offsetof(struct kmm_pmsa, scratch));
	hside(&h[D_SV], &w->sv);
	hside(&h[D_SP], &w->sp);
	hbytes(&h[D_SVS], &w->svs, sizeof(w->svs));
	hslab(&h[D_SVS], &w->svs_slab, w->svs_mem, S_NODES);
	for (unsigned int i = 0; i < D_PARTS; i++)
		d[i] = h[i].h;
}

/*
 * The logical content of a part, blind to what an undo legitimately
 * rearranges: the order of free lists (slab objects, page blocks), the
 * dirty marks of free frames and the shape of a vaspace's trees. Used only
 * to classify a byte difference: "restored logically" is counted and
 * reported, anything else is a mismatch.
 */
static void hslab_canon(struct hash *h, const struct kmm_slab *s,
			const void *mem, size_t nobj, bool contents)
{
	uint8_t is_free[SLAB_MAX];
	const char *base = mem;

	memset(is_free, 0, nobj);
	h64(h, s->available);
	h64(h, s->total);
	/*
	 * Without contents (tree nodes), which objects are free is not
	 * logical state either: an undo may keep a different node of a
	 * split and merge pair. Only the counts matter.
	 */
	if (!contents)
		return;
	for (const struct kmm_slab_free *f = s->free_list; f; f = f->next) {
		size_t i = (size_t)((const char *)f - base) / s->obj_size;

		if (i < nobj)
			is_free[i] = 1;
	}
	hbytes(h, is_free, nobj);
	for (size_t i = 0; contents && i < nobj; i++)
		if (!is_free[i])
			hbytes(h, base + i * s->obj_size, s->obj_size);
}

static void hvaspace_canon(struct hash *h, const struct kmm_vaspace *vs,
			   kmm_vaddr_t lo, unsigned int pages)
{
	h64(h, vs->nr_windows);
	hbytes(h, vs->windows, sizeof(vs->windows));
	for (unsigned int o = 0; o < KMM_CONFIG_MAX_OWNERS; o++) {
		h64(h, vs->owners[o].usage);
		h64(h, vs->owners[o].quota);
	}
	for (unsigned int i = 0; i < pages; i++) {
		kmm_vaddr_t base = 0;
		uint64_t size = 0;
		kmm_owner_t owner = 0;
		int ret =
			kmm_vaspace_find(vs, lo + i * PG, &base, &size, &owner);

		h64(h, (uint64_t)ret);
		h64(h, base);
		h64(h, size);
		h64(h, owner);
	}
}

static void digest_canon(struct world *w, uint64_t *d)
{
	struct hash h[D_PARTS];
	struct kmm_pages_stats ps;

	for (unsigned int i = 0; i < D_PARTS; i++)
		h[i].h = 0xcbf29ce484222325ull;
	for (unsigned int f = 0; f < NFRAMES; f++) {
		kmm_owner_t o = KMM_OWNER_NONE;

		h64(&h[D_PAGES],
		    (uint64_t)kmm_pages_owner(&w->pages, PA_BASE + f * PG, &o));
		h64(&h[D_PAGES], o);
	}
	kmm_pages_stats(&w->pages, &ps);
	hbytes(&h[D_PAGES], &ps, sizeof(ps));
	hbytes(&h[D_PAGES], w->pages.owners, sizeof(w->pages.owners));
	hbytes(&h[D_PAGES], &w->k, sizeof(w->k));
	for (unsigned int i = 0; i < 2; i++) {
		struct side *s = i ? &w->sp : &w->sv;
		struct hash *x = &h[i ? D_SP : D_SV];

		hbytes(x, &s->regions, sizeof(s->regions));
		if (s->identity) {
			hvaspace_canon(x, &s->vs, P_RAM, P_RAM_PAGES);
			hvaspace_canon(x, &s->vs, P_DEV, P_DEV_PAGES);
		} else {
			hvaspace_canon(x, &s->vs, V_RBASE, V_RPAGES);
		}
		hslab_canon(x, &s->vs_slab, s->vs_mem, s->vs_objs, false);
		hslab_canon(x, &s->obj_slab, s->obj_mem, s->objs, true);
	}
	/* The tables and the context without its leaf-write statistic. */
	{
		struct kmm_vmsa v = w->vmsa;
		unsigned int n = 0;

		v.leaf_writes = 0;
		hbytes(&h[D_VMSA], &v, sizeof(v));
		htables(&h[D_VMSA], w, w->vmsa.root_pa, w->vmsa.start_level,
			w->vmsa.root_entries, &n);
	}
	/* The other parts have no logical form weaker than their bytes. */
	d[D_VMSA] = h[D_VMSA].h;
	d[D_PAGES] = h[D_PAGES].h;
	d[D_SV] = h[D_SV].h;
	d[D_SP] = h[D_SP].h;
	d[D_PMSA] = d[D_SVS] = 0;
}

/*
 * Runs one call: takes the digest first when the model says the call may
 * fail, checks the code, and on failure checks that nothing changed.
 */
struct call {
	struct world *w;
	uint64_t before[D_PARTS], canon[D_PARTS];
	bool have, undo;
};

static void call_begin(struct call *c, struct world *w, int want,
		       bool maybe_nomem)
{
	c->w = w;
	c->have = want != KMM_OK || maybe_nomem;
	/* Only calls that can undo a partial change (a region whose map
	 * failed, a map that ran out of table pages half way) are allowed
	 * to restore the state logically rather than byte for byte. */
	c->undo = maybe_nomem || w->op == OP_V_VMAP || w->op == OP_V_IOREMAP ||
		  w->op == OP_P_VMAP || w->op == OP_P_IOREMAP;
	if (c->have)
		digest_parts(w, c->before);
	if (c->have && c->undo)
		digest_canon(w, c->canon);
}

static void call_end(struct call *c, int got, int want, bool maybe_nomem)
{
	struct world *w = c->w;
	uint64_t after[D_PARTS], canon[D_PARTS];
	bool logical = false;

	expect_rc(w, got, want, maybe_nomem);
	if (got >= 0)
		return;
	w->st->failed++;
	CHECK(w, c->have, "failed without a digest");
	digest_parts(w, after);
	if (c->undo)
		digest_canon(w, canon);
	for (unsigned int i = 0; i < D_PARTS; i++) {
		if (after[i] == c->before[i])
			continue;
		CHECK(w, c->undo && canon[i] == c->canon[i] && canon[i] != 0,
		      "failed with %s but changed the %s", kmm_errname(got),
		      part_names[i]);
		logical = true;
		w->st->logical_parts[i]++;
	}
	if (logical)
		w->st->logical_by_op[w->op]++;
	else
		w->st->digests++;
}

/* ------------------------------------------------------------------------
 * Attributes and owners the decoder hands out.
 */

static kmm_attr_t pick_attr(struct rd *r, bool device_ok)
{
	static const kmm_attr_t good[] = {
		KMM_ATTR_RW_DATA,
		KMM_ATTR_RX_CODE,
		KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB),
		KMM_ATTR_RW_DATA | KMM_ATTR_USER | KMM_ATTR_NG,
		KMM_ATTR_RW_DATA | KMM_ATTR_NS,
		KMM_ATTR_R | KMM_ATTR_X | KMM_ATTR_USER |
			KMM_ATTR_MT(KMM_MT_NORMAL_WB),
		KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_NORMAL_NC),
		KMM_ATTR_RW_DEVICE,
		KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_DEVICE_NGNRNE),
	};
	unsigned int b = rd8(r);

	if (b < 240)
		return good[b % (device_ok ? 9 : 7)];
	switch (b % 5) {
	case 0:
		return KMM_ATTR_RW_DATA | KMM_ATTR_X; /* W+X */
	case 1:
		return KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_NORMAL_WB); /* no R */
	case 2:
		return KMM_ATTR_RW_DATA | (1u << 7); /* unknown bit */
	case 3:
		return KMM_ATTR_R | (5u << KMM_ATTR_MT_SHIFT); /* bad type */
	default:
		return KMM_ATTR_RW_DEVICE | KMM_ATTR_X; /* X on a device */
	}
}

/* An owner: mostly 0..NOWN-1, sometimes an unused valid id or a bad one. */
static kmm_owner_t pick_owner(struct rd *r)
{
	unsigned int b = rd8(r);

	if (b < 248)
		return (kmm_owner_t)(b % NOWN);
	if (b < 252)
		return 9;
	return b & 1 ? KMM_CONFIG_MAX_OWNERS : KMM_OWNER_NONE;
}

static bool owner_ok(kmm_owner_t o)
{
	return o < KMM_CONFIG_MAX_OWNERS;
}

static bool attr_ok(kmm_attr_t a)
{
	return (a & ~KMM_ATTR_VALID_MASK) == 0 && (a & KMM_ATTR_R) &&
	       KMM_ATTR_MT_GET(a) < KMM_MT_COUNT;
}

static bool attr_wx(kmm_attr_t a)
{
	return (a & KMM_ATTR_W) && (a & KMM_ATTR_X);
}

static bool attr_device(kmm_attr_t a)
{
	return KMM_ATTR_MT_GET(a) == KMM_MT_DEVICE_NGNRNE ||
	       KMM_ATTR_MT_GET(a) == KMM_MT_DEVICE_NGNRE;
}

static bool wraps(uint64_t base, uint64_t size)
{
	return size != 0 && base + (size - 1) < base;
}

/* ------------------------------------------------------------------------
 * Page allocator model.
 */

static unsigned int frames_free(const struct world *w)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < NFRAMES; i++)
		n += w->frame_owner[i] < 0;
	return n;
}

static bool block_free(const struct world *w, unsigned int order)
{
	unsigned int n = 1u << order;

	for (unsigned int i = 0; i < NFRAMES; i += n) {
		unsigned int k = 0;

		while (k < n && w->frame_owner[i + k] < 0)
			k++;
		if (k == n)
			return true;
	}
	return false;
}

/*
 * Walks the VMSA tables: every table page must be a frame of TBL_OWNER,
 * and the count must agree with the context and the allocator's usage.
 */
static void walk_tables(struct world *w, kmm_paddr_t pa, unsigned int level,
			size_t n, unsigned int *count)
{
	const uint64_t *t = kmm_host_ptr(&w->host, pa);
	unsigned int f = (unsigned int)((pa - PA_BASE) / PG);

	CHECK(w, t != NULL && pa >= PA_BASE && f < NFRAMES,
	      "table page %#llx outside the span", (unsigned long long)pa);
	CHECK(w, w->frame_owner[f] < 0 || w->frame_owner[f] == TBL_OWNER,
	      "table page %#llx is a frame of owner %d", (unsigned long long)pa,
	      w->frame_owner[f]);
	w->frame_owner[f] = TBL_OWNER;
	(*count)++;
	if (level == KMM_VMSA_LAST_LEVEL)
		return;
	for (size_t i = 0; i < n; i++)
		if ((t[i] & 3) == 3)
			walk_tables(w, t[i] & 0x0000fffffffff000ull, level + 1,
				    512, count);
}

static void refresh_tables(struct world *w)
{
	unsigned int n = 0;
	uint64_t used;

	for (unsigned int i = 0; i < NFRAMES; i++)
		if (w->frame_owner[i] == TBL_OWNER)
			w->frame_owner[i] = -1;
	walk_tables(w, w->vmsa.root_pa, w->vmsa.start_level,
		    w->vmsa.root_entries, &n);
	CHECK(w, n == w->vmsa.tables, "walked %u tables, the space holds %llu",
	      n, (unsigned long long)w->vmsa.tables);
	CHECK(w, kmm_pages_usage(&w->pages, TBL_OWNER, &used) == 0 && used == n,
	      "table owner uses %llu frames, %u tables",
	      (unsigned long long)used, n);
	w->tables = n;
}

static void check_usage(struct world *w)
{
	uint64_t u;

	for (kmm_owner_t o = 0; o < NOWN; o++) {
		CHECK(w,
		      kmm_pages_usage(&w->pages, o, &u) == 0 &&
			      u == w->pg_usage[o],
		      "owner %u holds %llu frames, model %llu", o,
		      (unsigned long long)u,
		      (unsigned long long)w->pg_usage[o]);
	}
}

static int pg_alloc_rc(struct world *w, unsigned int order, kmm_owner_t o,
		       unsigned int flags, bool null_out)
{
	if (null_out || order > KMM_CONFIG_PAGES_MAX_ORDER || !owner_ok(o) ||
	    (flags & ~KMM_PAGES_FLAGS_MASK))
		return KMM_EINVAL;
	if (o < NOWN && w->pg_usage[o] + (1u << order) > w->pg_quota[o])
		return KMM_EQUOTA;
	if (order > 9 || !block_free(w, order))
		return KMM_ENOMEM;
	return KMM_OK;
}

static void op_pg_alloc(struct world *w, struct rd *r)
{
	unsigned int b = rd8(r);
	unsigned int order = b < 250 ? b % (FZ_MAX_ORDER + 1) : 19 + (b & 1);
	kmm_owner_t o = pick_owner(r);
	unsigned int flags = rd8(r) < 250 ? KMM_PAGES_ZERO : 2;
	bool null_out = rd8(r) >= 252;
	kmm_paddr_t pa = 0;
	struct call c;
	int want, got;

	if (o == 9)
		o = 0;
	want = pg_alloc_rc(w, order, o, flags, null_out);
	note(w, "order %u owner %u flags %u%s", order, o, flags,
	     null_out ? " out=NULL" : "");
	call_begin(&c, w, want, false);
	got = kmm_pages_alloc(&w->pages, order, o, flags,
			      null_out ? NULL : &pa);
	call_end(&c, got, want, false);
	if (got)
		return;
	CHECK(w,
	      pa >= PA_BASE && pa - PA_BASE < NFRAMES * PG &&
		      (pa & ((PG << order) - 1)) == 0,
	      "block %#llx of order %u is not an aligned block of the span",
	      (unsigned long long)pa, order);
	for (unsigned int i = 0; i < (1u << order); i++) {
		unsigned int f = (unsigned int)((pa - PA_BASE) / PG) + i;

		CHECK(w, w->frame_owner[f] < 0,
		      "block %#llx overlaps frame %u of owner %d",
		      (unsigned long long)pa, f, w->frame_owner[f]);
		w->frame_owner[f] = (int8_t)o;
		CHECK(w, *(uint64_t *)kmm_host_ptr(&w->host, pa + i * PG) == 0,
		      "zeroed block %#llx is not zero", (unsigned long long)pa);
	}
	w->blocks[w->nblocks++] =
		(struct mblock){ pa, (uint8_t)order, (uint8_t)o };
	w->pg_usage[o] += 1u << order;
	/* Dirty the first word so that scrubbing is visible next time. */
	*(uint64_t *)kmm_host_ptr(&w->host, pa) = 0x5a5a5a5a5a5a5a5aull;
}

static void drop_block(struct world *w, unsigned int i)
{
	struct mblock *b = &w->blocks[i];
	unsigned int f = (unsigned int)((b->pa - PA_BASE) / PG);

	for (unsigned int k = 0; k < (1u << b->order); k++)
		w->frame_owner[f + k] = -1;
	w->pg_usage[b->owner] -= 1u << b->order;
	w->blocks[i] = w->blocks[--w->nblocks];
}

/* The model's answer to kmm_pages_free(); *idx: the block freed. */
static int pg_free_rc(struct world *w, kmm_paddr_t pa, unsigned int order,
		      kmm_owner_t o, unsigned int *idx)
{
	uint64_t f;

	if (order > KMM_CONFIG_PAGES_MAX_ORDER || !owner_ok(o))
		return KMM_EINVAL;
	if (pa & (PG - 1))
		return KMM_EALIGN;
	if (pa < PA_BASE || pa - PA_BASE >= NFRAMES * PG)
		return KMM_ERANGE;
	if (pa & ((PG << order) - 1))
		return KMM_EALIGN;
	f = (pa - PA_BASE) / PG;
	if (w->frame_owner[f] < 0)
		return KMM_ENOENT;
	if (w->frame_owner[f] == TBL_OWNER)
		return o == TBL_OWNER ? KMM_EINVAL : KMM_EPERM;
	for (unsigned int i = 0; i < w->nblocks; i++) {
		const struct mblock *b = &w->blocks[i];

		if (pa < b->pa || pa >= b->pa + (PG << b->order))
			continue;
		if (b->owner != o)
			return KMM_EPERM;
		if (b->pa != pa || b->order != order)
			return KMM_EINVAL;
		*idx = i;
		return KMM_OK;
	}
	fail(w, "frame %#llx owned but in no block", (unsigned long long)pa);
	return KMM_EINVAL;
}

static void op_pg_free(struct world *w, struct rd *r)
{
	unsigned int b = rd8(r), sel = rd16(r), idx = 0;
	kmm_paddr_t pa;
	unsigned int order;
	kmm_owner_t o;
	struct call c;
	int want, got;

	if (w->nblocks && b < 200) {
		const struct mblock *m = &w->blocks[sel % w->nblocks];

		pa = m->pa;
		order = m->order;
		o = m->owner;
	} else {
		pa = PA_BASE + (sel % NFRAMES) * PG;
		order = b % 3;
		o = (kmm_owner_t)(b % NOWN);
	}
	switch (rd8(r) % 16) {
	case 0:
		o = pick_owner(r);
		break;
	case 1:
		order = (order + 1) % (FZ_MAX_ORDER + 2);
		break;
	case 2:
		pa += PG;
		break;
	case 3:
		pa += 0x10;
		break;
	case 4:
		pa = rd8(r) & 1 ? PA_BASE - PG : PA_BASE + NFRAMES * PG;
		break;
	case 5:
		order = 31;
		break;
	default:
		break;
	}
	want = pg_free_rc(w, pa, order, o, &idx);
	note(w, "pa %#llx order %u owner %u", (unsigned long long)pa, order, o);
	call_begin(&c, w, want, false);
	got = kmm_pages_free(&w->pages, pa, order, o);
	call_end(&c, got, want, false);
	if (got == 0)
		drop_block(w, idx);
}

static void op_pg_free_all(struct world *w, struct rd *r)
{
	kmm_owner_t o = pick_owner(r);
	int want = owner_ok(o) ? KMM_OK : KMM_EINVAL;
	struct call c;
	int got;

	note(w, "owner %u", o);
	call_begin(&c, w, want, false);
	got = kmm_pages_free_all(&w->pages, o);
	call_end(&c, got, want, false);
	if (got == 0 && o < NOWN)
		for (unsigned int i = w->nblocks; i-- > 0;)
			if (w->blocks[i].owner == o)
				drop_block(w, i);
}

static void op_pg_quota(struct world *w, struct rd *r)
{
	kmm_owner_t o = pick_owner(r);
	unsigned int b = rd8(r);
	uint64_t q = b < 128 ? KMM_PAGES_NO_QUOTA : b % 64;
	int want = owner_ok(o) ? KMM_OK : KMM_EINVAL;
	struct call c;
	int got;

	if (o == 9)
		o = 0;
	note(w, "owner %u quota %llu", o, (unsigned long long)q);
	call_begin(&c, w, want, false);
	got = kmm_pages_set_quota(&w->pages, o, q);
	call_end(&c, got, want, false);
	if (got == 0)
		w->pg_quota[o] = q;
}

static void op_pg_owner(struct world *w, struct rd *r)
{
	unsigned int f = rd16(r) % (NFRAMES + 8);
	kmm_paddr_t pa = PA_BASE + (uint64_t)f * PG + rd8(r) * 16;
	kmm_owner_t got_o = KMM_OWNER_NONE;
	int want, got;

	if (f >= NFRAMES)
		want = KMM_ERANGE;
	else if (w->frame_owner[f] < 0)
		want = KMM_ENOENT;
	else
		want = KMM_OK;
	note(w, "pa %#llx", (unsigned long long)pa);
	got = kmm_pages_owner(&w->pages, pa, &got_o);
	expect_rc(w, got, want, false);
	if (got == 0)
		CHECK(w, got_o == (kmm_owner_t)w->frame_owner[f],
		      "frame %u owned by %u, model %d", f, got_o,
		      w->frame_owner[f]);
}

/* ------------------------------------------------------------------------
 * VMSA model: one entry per page of [V_LO, V_LO + V_PAGES pages).
 */

static bool v_in(kmm_vaddr_t va, uint64_t size)
{
	return va >= V_LO && size <= (uint64_t)V_PAGES * PG &&
	       va - V_LO <= (uint64_t)V_PAGES * PG - size;
}

/* kmm_map() on the VMSA space, all checks in the order kmm makes them. */
static int v_map_rc(const struct world *w, kmm_vaddr_t va, kmm_paddr_t pa,
		    uint64_t size, kmm_attr_t attr)
{
	uint64_t end = 1ull << V_VA_BITS, oa = 1ull << 48;

	if (size == 0)
		return KMM_EINVAL;
	if (wraps(va, size) || va >= end || size > end - va)
		return KMM_ERANGE;
	if ((va | size) & (PG - 1))
		return KMM_EALIGN;
	if (wraps(pa, size))
		return KMM_ERANGE;
	if (!attr_ok(attr))
		return KMM_EINVAL;
	if (attr_wx(attr))
		return KMM_EPERM;
	if (pa & (PG - 1))
		return KMM_EALIGN;
	if (pa >= oa || size > oa - pa)
		return KMM_ERANGE;
	if (attr_device(attr) && (attr & KMM_ATTR_X))
		return KMM_ENOTSUP;
	if (!v_in(va, size))
		return KMM_EINVAL; /* the decoder never builds this */
	for (uint64_t o = 0; o < size; o += PG)
		if (w->v[(va - V_LO + o) / PG].mapped)
			return KMM_EEXIST;
	return KMM_OK;
}

static int v_range_rc(kmm_vaddr_t va, uint64_t size)
{
	uint64_t end = 1ull << V_VA_BITS;

	if (size == 0)
		return KMM_EINVAL;
	if (wraps(va, size) || va >= end || size > end - va)
		return KMM_ERANGE;
	if ((va | size) & (PG - 1))
		return KMM_EALIGN;
	if (!v_in(va, size))
		return KMM_EINVAL; /* the decoder never builds this */
	return KMM_OK;
}

static int v_unmap_rc(const struct world *w, kmm_vaddr_t va, uint64_t size)
{
	int ret = v_range_rc(va, size);

	if (ret)
		return ret;
	for (uint64_t o = 0; o < size; o += PG)
		if (w->v[(va - V_LO + o) / PG].mapped)
			return KMM_OK;
	return KMM_ENOENT;
}

static int v_protect_rc(const struct world *w, kmm_vaddr_t va, uint64_t size,
			kmm_attr_t attr)
{
	int ret = v_range_rc(va, size);

	if (ret)
		return ret;
	if (!attr_ok(attr))
		return KMM_EINVAL;
	if (attr_wx(attr))
		return KMM_EPERM;
	if (attr_device(attr) && (attr & KMM_ATTR_X))
		return KMM_ENOTSUP;
	for (uint64_t o = 0; o < size; o += PG)
		if (!w->v[(va - V_LO + o) / PG].mapped)
			return KMM_ENOENT;
	return KMM_OK;
}

static bool v_maybe_nomem(const struct world *w)
{
	return frames_free(w) < V_TABLES_WORST;
}

static void v_set(struct world *w, kmm_vaddr_t va, kmm_paddr_t pa,
		  uint64_t size, kmm_attr_t attr)
{
	for (uint64_t o = 0; o < size; o += PG) {
		struct vpte *e = &w->v[(va - V_LO + o) / PG];

		e->mapped = true;
		e->pa = pa + o;
		e->attr = attr;
	}
}

static void v_clear(struct world *w, kmm_vaddr_t va, uint64_t size)
{
	for (uint64_t o = 0; o < size; o += PG)
		w->v[(va - V_LO + o) / PG].mapped = false;
}

/* kmm_query() and kmm_vmsa_walk() of page @i agree with the model. */
static void v_check_page(struct world *w, unsigned int i, unsigned int off)
{
	kmm_vaddr_t va = V_LO + (uint64_t)i * PG + off;
	const struct vpte *e = &w->v[i];
	struct kmm_vmsa_walk wk;
	kmm_paddr_t pa = 0;
	kmm_attr_t attr = 0;
	size_t size = 0;
	int ret = kmm_query(&w->vmsa.as, va, &pa, &attr, &size);
	int wret = kmm_vmsa_walk(&w->vmsa, va, &wk);

	if (!e->mapped) {
		CHECK(w,
		      ret == KMM_ENOENT && wret == KMM_ENOENT &&
			      wk.fault == KMM_VMSA_FAULT_TRANSLATION,
		      "va %#llx unmapped, query %s walk %s fault %u",
		      (unsigned long long)va, kmm_errname(ret),
		      kmm_errname(wret), wk.fault);
		return;
	}
	CHECK(w, ret == 0 && wret == 0, "va %#llx mapped, query %s walk %s",
	      (unsigned long long)va, kmm_errname(ret), kmm_errname(wret));
	CHECK(w, pa == e->pa + off && attr == e->attr,
	      "va %#llx -> pa %#llx attr %#x, model pa %#llx attr %#x",
	      (unsigned long long)va, (unsigned long long)pa, attr,
	      (unsigned long long)(e->pa + off), e->attr);
	CHECK(w, wk.pa == pa && wk.attr == attr && wk.size == size,
	      "walker and query disagree at %#llx", (unsigned long long)va);
	/* Level 3 pages are type 0b11, blocks 0b01: never a reserved type. */
	CHECK(w, (wk.desc & 3) == (wk.level == 3 ? 3u : 1u),
	      "leaf at level %u has type %llu", wk.level,
	      (unsigned long long)(wk.desc & 3));
	CHECK(w, size == PG || size == BLK, "leaf size %zu", size);
	if (size == BLK) {
		unsigned int first = (unsigned int)((va & ~(BLK - 1)) - V_LO) /
				     (unsigned int)PG;

		CHECK(w, first + 512 <= V_PAGES,
		      "block at %#llx leaves the window",
		      (unsigned long long)va);
		for (unsigned int k = 0; k < 512; k++) {
			const struct vpte *b = &w->v[first + k];

			CHECK(w,
			      b->mapped && b->attr == e->attr &&
				      b->pa == w->v[first].pa + k * PG &&
				      (w->v[first].pa & (BLK - 1)) == 0,
			      "block at %#llx does not match the model",
			      (unsigned long long)va);
		}
	}
}

static void v_check_range(struct world *w, kmm_vaddr_t va, uint64_t size,
			  unsigned int seed)
{
	if (!v_in(va, size))
		return;
	for (uint64_t o = 0; o < size; o += PG)
		v_check_page(w, (unsigned int)((va - V_LO + o) / PG),
			     (unsigned int)((seed + o) % PG) & ~7u);
}

/* Picks a VA range: pages, a 2 MiB block, or something malformed. */
static void pick_v_range(struct rd *r, kmm_vaddr_t *va, uint64_t *size,
			 bool *bad)
{
	unsigned int b = rd8(r), at = rd16(r), n = rd8(r);

	*bad = false;
	if (b < 24) {
		*va = V_LO + (uint64_t)(b % 2) * BLK;
		*size = BLK;
		return;
	}
	if (b < 180) {
		*size = (uint64_t)(n % 16 + 1) * PG;
		*va = V_LO + (uint64_t)(at % (V_PAGES - n % 16)) * PG;
		return;
	}
	if (b < 240) {
		*size = (uint64_t)(n % 64 + 1) * PG;
		*va = V_LO + (uint64_t)(at % (V_PAGES - n % 64)) * PG;
		return;
	}
	*bad = true;
	*va = V_LO + (uint64_t)(at % V_PAGES) * PG;
	*size = PG;
	switch (b % 6) {
	case 0:
		*size = 0;
		break;
	case 1:
		*va += 0x800;
		break;
	case 2:
		*size = 0x1800;
		break;
	case 3:
		*va = 0 - PG;
		*size = 2 * PG;
		break;
	case 4:
		*va = 1ull << V_VA_BITS;
		break;
	default:
		*va = (1ull << V_VA_BITS) - PG;
		*size = 2 * PG;
		break;
	}
}

static void op_v_map(struct world *w, struct rd *r)
{
	kmm_vaddr_t va;
	uint64_t size;
	bool bad;
	kmm_paddr_t pa;
	kmm_attr_t attr;
	unsigned int b;
	struct call c;
	int want, got;
	bool nomem;

	pick_v_range(r, &va, &size, &bad);
	b = rd8(r);
	pa = PA_BASE + (uint64_t)(rd16(r) % 4096) * PG;
	if (size == BLK && b < 200)
		pa &= ~(BLK - 1);
	if (b >= 250)
		pa = b & 1 ? pa + 0x100 : (1ull << 48) - PG;
	attr = pick_attr(r, true);
	want = v_map_rc(w, va, pa, size, attr);
	nomem = want == 0 && v_maybe_nomem(w);
	note(w, "va %#llx size %#llx pa %#llx attr %#x", (unsigned long long)va,
	     (unsigned long long)size, (unsigned long long)pa, attr);
	call_begin(&c, w, want, nomem);
	got = kmm_map(&w->vmsa.as, va, pa, size, attr);
	call_end(&c, got, want, nomem);
	if (got == 0)
		v_set(w, va, pa, size, attr);
	refresh_tables(w);
	v_check_range(w, va, size, b);
}

static void op_v_unmap(struct world *w, struct rd *r)
{
	kmm_vaddr_t va;
	uint64_t size;
	bool bad;
	struct call c;
	int want, got;
	bool nomem;

	pick_v_range(r, &va, &size, &bad);
	want = v_unmap_rc(w, va, size);
	nomem = want == 0 && v_maybe_nomem(w);
	note(w, "va %#llx size %#llx", (unsigned long long)va,
	     (unsigned long long)size);
	call_begin(&c, w, want, nomem);
	got = kmm_unmap(&w->vmsa.as, va, size);
	call_end(&c, got, want, nomem);
	if (got == 0)
		v_clear(w, va, size);
	refresh_tables(w);
	v_check_range(w, va, size, 8);
	/* A split must keep the neighbours of the range as they were. */
	if (!bad && v_in(va, size)) {
		if (va > V_LO)
			v_check_page(w, (unsigned int)((va - V_LO) / PG) - 1,
				     0);
		if (va + size < V_LO + V_PAGES * PG)
			v_check_page(w, (unsigned int)((va + size - V_LO) / PG),
				     0);
	}
}

static void op_v_protect(struct world *w, struct rd *r)
{
	kmm_vaddr_t va;
	uint64_t size;
	bool bad;
	kmm_attr_t attr;
	struct call c;
	int want, got;
	bool nomem;

	pick_v_range(r, &va, &size, &bad);
	attr = pick_attr(r, true);
	want = v_protect_rc(w, va, size, attr);
	nomem = want == 0 && v_maybe_nomem(w);
	note(w, "va %#llx size %#llx attr %#x", (unsigned long long)va,
	     (unsigned long long)size, attr);
	call_begin(&c, w, want, nomem);
	got = kmm_protect(&w->vmsa.as, va, size, attr);
	call_end(&c, got, want, nomem);
	if (got == 0)
		for (uint64_t o = 0; o < size; o += PG)
			w->v[(va - V_LO + o) / PG].attr = attr;
	refresh_tables(w);
	v_check_range(w, va, size, 16);
}

static void op_v_query(struct world *w, struct rd *r)
{
	unsigned int i = rd16(r) % V_PAGES;

	note(w, "page %u", i);
	v_check_page(w, i, (rd8(r) * 8) % PG);
}

/* ------------------------------------------------------------------------
 * PMSA model: one reference count and attribute per page of two windows;
 * a slot per maximal run of mapped pages with one attribute.
 */

static int p_idx(kmm_paddr_t pa)
{
	if (pa >= P_RAM && pa < P_RAM + P_RAM_PAGES * PG)
		return (int)((pa - P_RAM) / PG);
	if (pa >= P_DEV && pa < P_DEV + P_DEV_PAGES * PG)
		return (int)(P_RAM_PAGES + (pa - P_DEV) / PG);
	return -1;
}

static kmm_paddr_t p_addr(unsigned int i)
{
	return i < P_RAM_PAGES ? P_RAM + (uint64_t)i * PG :
				 P_DEV + (uint64_t)(i - P_RAM_PAGES) * PG;
}

/* Whether page i + 1 continues page i physically. */
static bool p_adjacent(unsigned int i)
{
	return i + 1 != P_RAM_PAGES && i + 1 < P_PAGES;
}

/* MPU regions and reference runs of @p. */
static void p_count(const struct ppte *p, unsigned int *regions,
		    unsigned int *refs)
{
	*regions = 0;
	*refs = 0;
	for (unsigned int i = 0; i < P_PAGES; i++) {
		bool cont = i > 0 && p_adjacent(i - 1);

		if (p[i].refs &&
		    !(cont && p[i - 1].refs && p[i - 1].attr == p[i].attr))
			(*regions)++;
		if (p[i].refs >= 2 && !(cont && p[i - 1].refs == p[i].refs))
			(*refs)++;
	}
}

static int p_fits(const struct ppte *p)
{
	unsigned int regions, refs;

	p_count(p, &regions, &refs);
	if (regions > P_SLOTS || refs > KMM_PMSA_MAX_REGIONS)
		return KMM_ENOSPC;
	return KMM_OK;
}

static int p_range_rc(kmm_vaddr_t va, uint64_t size, unsigned int *first)
{
	uint64_t end = 1ull << 48;
	int i;

	if (size == 0)
		return KMM_EINVAL;
	if (wraps(va, size) || va >= end || size > end - va)
		return KMM_ERANGE;
	if ((va | size) & 63)
		return KMM_EALIGN;
	i = p_idx(va);
	if (i < 0 || (size & (PG - 1)) || (va & (PG - 1)) ||
	    p_idx(va + size - 1) != i + (int)(size / PG) - 1)
		return KMM_EBADDATA; /* the decoder never builds this */
	*first = (unsigned int)i;
	return KMM_OK;
}

/* kmm_map() on the PMSA space; @next gets the pages after success. */
static int p_map_rc(const struct world *w, kmm_vaddr_t va, kmm_paddr_t pa,
		    uint64_t size, kmm_attr_t attr, struct ppte *next)
{
	unsigned int i, n, mapped = 0;
	int ret = p_range_rc(va, size, &i);

	if (ret == 0 || ret == KMM_EBADDATA) {
		if (wraps(pa, size))
			return KMM_ERANGE;
		if (!attr_ok(attr))
			return KMM_EINVAL;
		if (attr_wx(attr))
			return KMM_EPERM;
		if (va != pa)
			return KMM_ENOTSUP;
	}
	if (ret)
		return ret;
	n = (unsigned int)(size / PG);
	memcpy(next, w->p, sizeof(w->p));
	for (unsigned int k = i; k < i + n; k++)
		mapped += w->p[k].refs != 0;
	if (mapped) {
		if (mapped != n)
			return KMM_EEXIST;
		for (unsigned int k = i; k < i + n; k++)
			if (w->p[k].attr != attr)
				return KMM_EEXIST;
		for (unsigned int k = i; k < i + n; k++)
			next[k].refs++;
		return p_fits(next);
	}
	for (unsigned int k = i; k < i + n; k++) {
		next[k].refs = 1;
		next[k].attr = attr;
	}
	return p_fits(next);
}

static int p_unmap_rc(const struct world *w, kmm_vaddr_t va, uint64_t size,
		      struct ppte *next)
{
	unsigned int i, n, mapped = 0;
	int ret = p_range_rc(va, size, &i);

	if (ret)
		return ret;
	n = (unsigned int)(size / PG);
	memcpy(next, w->p, sizeof(w->p));
	for (unsigned int k = i; k < i + n; k++) {
		mapped += w->p[k].refs != 0;
		if (next[k].refs)
			next[k].refs--;
	}
	if (!mapped)
		return KMM_ENOENT;
	return p_fits(next);
}

static int p_protect_rc(const struct world *w, kmm_vaddr_t va, uint64_t size,
			kmm_attr_t attr, struct ppte *next)
{
	unsigned int i, n;
	int ret = p_range_rc(va, size, &i);

	if (ret)
		return ret;
	if (!attr_ok(attr))
		return KMM_EINVAL;
	if (attr_wx(attr))
		return KMM_EPERM;
	n = (unsigned int)(size / PG);
	memcpy(next, w->p, sizeof(w->p));
	for (unsigned int k = i; k < i + n; k++) {
		if (!w->p[k].refs)
			return KMM_ENOENT;
		next[k].attr = attr;
	}
	return p_fits(next);
}

/* Every page answers kmm_query() as the model says, and the slots hold
 * exactly the model's runs. */
static void p_check(struct world *w)
{
	const struct kmm_pmsa *p = w->pmsa;
	unsigned int regions, refs, enabled = 0;

	for (unsigned int i = 0; i < P_PAGES; i++) {
		kmm_paddr_t pa = p_addr(i), got_pa = 0;
		kmm_attr_t attr = 0;
		size_t size = 0;
		int ret = kmm_query(&w->pmsa->as, pa + 8 * i, &got_pa, &attr,
				    &size);
		unsigned int lo = i, hi = i;

		if (!w->p[i].refs) {
			CHECK(w, ret == KMM_ENOENT, "pa %#llx unmapped: %s",
			      (unsigned long long)pa, kmm_errname(ret));
			continue;
		}
		while (lo > 0 && p_adjacent(lo - 1) && w->p[lo - 1].refs &&
		       w->p[lo - 1].attr == w->p[i].attr)
			lo--;
		while (p_adjacent(hi) && w->p[hi + 1].refs &&
		       w->p[hi + 1].attr == w->p[i].attr)
			hi++;
		CHECK(w,
		      ret == 0 && got_pa == pa + 8 * i &&
			      attr == w->p[i].attr &&
			      size == (hi - lo + 1) * PG,
		      "pa %#llx: %s attr %#x size %#zx, model attr %#x run %u",
		      (unsigned long long)pa, kmm_errname(ret), attr, size,
		      w->p[i].attr, hi - lo + 1);
	}
	p_count(w->p, &regions, &refs);
	for (unsigned int s = 0; s < p->nslots; s++) {
		kmm_paddr_t base, limit;
		kmm_attr_t attr;
		int lo;

		if (p->hw[s].rlar == 0)
			continue;
		enabled++;
		CHECK(w,
		      kmm_pmsa_decode(p->arch, p->hw[s].rbar, p->hw[s].rlar,
				      &base, &limit, &attr) == 0,
		      "slot %u does not decode", s);
		lo = p_idx(base);
		CHECK(w, lo >= 0 && p_idx(limit) >= lo,
		      "slot %u maps %#llx-%#llx outside the windows", s,
		      (unsigned long long)base, (unsigned long long)limit);
		for (int k = lo; k <= p_idx(limit); k++)
			CHECK(w,
			      w->p[k].refs && (w->p[k].attr & ~KMM_ATTR_NG) ==
						      (attr & ~KMM_ATTR_NG),
			      "slot %u covers page %d the model has not", s, k);
	}
	CHECK(w, enabled == regions, "%u slots enabled, model %u regions",
	      enabled, regions);
}

static void pick_p_range(struct rd *r, kmm_vaddr_t *va, uint64_t *size)
{
	unsigned int b = rd8(r), at = rd8(r), n = rd8(r) % 8 + 1;

	if (b < 200) {
		unsigned int i = at % P_PAGES;

		if (i < P_RAM_PAGES && i + n > P_RAM_PAGES)
			n = P_RAM_PAGES - i;
		if (i >= P_RAM_PAGES && i + n > P_PAGES)
			n = P_PAGES - i;
		*va = p_addr(i);
		*size = (uint64_t)n * PG;
		return;
	}
	*va = p_addr(at % P_PAGES);
	*size = PG;
	switch (b % 5) {
	case 0:
		*size = 0;
		break;
	case 1:
		*va += 0x20;
		break;
	case 2:
		*va = 0 - PG;
		*size = 2 * PG;
		break;
	case 3:
		*va = 1ull << 48;
		break;
	default:
		*size = 0x1020;
		break;
	}
}

static void op_p_map(struct world *w, struct rd *r)
{
	struct ppte next[P_PAGES];
	kmm_vaddr_t va;
	uint64_t size;
	kmm_paddr_t pa;
	kmm_attr_t attr;
	struct call c;
	int want, got;

	pick_p_range(r, &va, &size);
	attr = pick_attr(r, true);
	pa = rd8(r) < 245 ? va : va + PG;
	want = p_map_rc(w, va, pa, size, attr, next);
	CHECK(w, want != KMM_EBADDATA, "decoder built an unmodelled range");
	note(w, "va %#llx pa %#llx size %#llx attr %#x", (unsigned long long)va,
	     (unsigned long long)pa, (unsigned long long)size, attr);
	call_begin(&c, w, want, false);
	got = kmm_map(&w->pmsa->as, va, pa, size, attr);
	call_end(&c, got, want, false);
	if (got == 0)
		memcpy(w->p, next, sizeof(next));
	p_check(w);
}

static void op_p_unmap(struct world *w, struct rd *r)
{
	struct ppte next[P_PAGES];
	kmm_vaddr_t va;
	uint64_t size;
	struct call c;
	int want, got;

	pick_p_range(r, &va, &size);
	want = p_unmap_rc(w, va, size, next);
	note(w, "va %#llx size %#llx", (unsigned long long)va,
	     (unsigned long long)size);
	call_begin(&c, w, want, false);
	got = kmm_unmap(&w->pmsa->as, va, size);
	call_end(&c, got, want, false);
	if (got == 0)
		memcpy(w->p, next, sizeof(next));
	p_check(w);
}

static void op_p_protect(struct world *w, struct rd *r)
{
	struct ppte next[P_PAGES];
	kmm_vaddr_t va;
	uint64_t size;
	kmm_attr_t attr;
	struct call c;
	int want, got;

	pick_p_range(r, &va, &size);
	attr = pick_attr(r, true);
	want = p_protect_rc(w, va, size, attr, next);
	note(w, "va %#llx size %#llx attr %#x", (unsigned long long)va,
	     (unsigned long long)size, attr);
	call_begin(&c, w, want, false);
	got = kmm_protect(&w->pmsa->as, va, size, attr);
	call_end(&c, got, want, false);
	if (got == 0)
		memcpy(w->p, next, sizeof(next));
	p_check(w);
}

/* ------------------------------------------------------------------------
 * Regions (both backends).
 */

static unsigned int side_pages(const struct side *s)
{
	return s->identity ? P_PAGES : V_RPAGES;
}

static kmm_vaddr_t side_va(const struct side *s, unsigned int i)
{
	return s->identity ? p_addr(i) : V_RBASE + (uint64_t)i * PG;
}

static int side_idx(const struct side *s, kmm_vaddr_t va)
{
	if (s->identity)
		return p_idx(va);
	if (va >= V_RBASE && va < V_RBASE + V_RPAGES * PG)
		return (int)((va - V_RBASE) / PG);
	return -1;
}

static unsigned int side_count(const struct side *s, kmm_owner_t o)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < MAX_REGIONS; i++)
		n += s->reg[i].live && s->reg[i].owner == o;
	return n;
}

static struct mregion *side_holding(struct side *s, kmm_vaddr_t va)
{
	for (unsigned int i = 0; i < MAX_REGIONS; i++) {
		struct mregion *g = &s->reg[i];

		if (g->live && va >= g->va && va - g->va < g->size)
			return g;
	}
	return NULL;
}

/* Splits a page list into runs of consecutive pages. */
static unsigned int make_runs(const kmm_paddr_t *pages, size_t n,
			      struct mrun *runs)
{
	unsigned int k = 0;

	for (size_t i = 0; i < n; i++) {
		if (k && runs[k - 1].pa + runs[k - 1].size == pages[i]) {
			runs[k - 1].size += PG;
			continue;
		}
		runs[k].pa = pages[i];
		runs[k].size = PG;
		k++;
	}
	return k;
}

/*
 * The model of region creation (kmm_vmap and kmm_ioremap share it after
 * their own first checks): the new region in @g on success.
 */
static int region_rc(struct world *w, struct side *s, const struct mrun *runs,
		     unsigned int nruns, kmm_attr_t attr, kmm_owner_t owner,
		     struct mregion *g, bool *nomem)
{
	uint64_t total = 0;
	unsigned int first = 0, npages;
	kmm_vaddr_t va;

	*nomem = false;
	for (unsigned int k = 0; k < nruns; k++) {
		if (runs[k].pa & (PG - 1))
			return KMM_EALIGN;
		if (wraps(runs[k].pa, runs[k].size))
			return KMM_ERANGE;
		total += runs[k].size;
	}
	if (s->identity && nruns != 1)
		return KMM_ENOTSUP;
	if (owner < NOWN && side_count(s, owner) >= s->quota[owner])
		return KMM_EQUOTA;
	npages = (unsigned int)(total / PG);
	if (s->identity) {
		int i = p_idx(runs[0].pa);

		if (i < 0 ||
		    p_idx(runs[0].pa + total - 1) != i + (int)npages - 1)
			return KMM_ERANGE;
		for (unsigned int k = 0; k < npages; k++)
			if (s->vown[i + (int)k] >= 0)
				return KMM_EEXIST;
		first = (unsigned int)i;
	} else {
		unsigned int run = 0, i;

		for (i = 0; i < side_pages(s) && run < npages; i++)
			run = s->vown[i] < 0 ? run + 1 : 0;
		if (run < npages)
			return KMM_ENOSPC;
		first = i - npages;
	}
	va = side_va(s, first);
	memset(g, 0, sizeof(*g));
	g->va = va;
	g->size = total;
	g->attr = attr;
	g->owner = owner;
	g->nruns = nruns;
	for (unsigned int k = 0; k < nruns; k++) {
		g->runs[k] = runs[k];
		g->runs[k].va = va;
		va += runs[k].size;
	}
	if (s->identity) {
		struct ppte next[P_PAGES];

		return p_map_rc(w, g->va, g->runs[0].pa, total, attr, next);
	}
	for (unsigned int k = 0; k < nruns; k++) {
		int ret;

		*nomem = *nomem || v_maybe_nomem(w);
		ret = v_map_rc(w, g->runs[k].va, g->runs[k].pa, g->runs[k].size,
			       attr);
		if (ret)
			return ret;
	}
	return KMM_OK;
}

static void region_apply(struct world *w, struct side *s,
			 const struct mregion *g)
{
	unsigned int slot = 0;

	while (s->reg[slot].live)
		slot++;
	s->reg[slot] = *g;
	s->reg[slot].live = true;
	s->reg[slot].seq = ++w->seq;
	for (uint64_t o = 0; o < g->size; o += PG)
		s->vown[side_idx(s, g->va + o)] = (int8_t)g->owner;
	if (s->identity) {
		struct ppte next[P_PAGES];

		p_map_rc(w, g->va, g->va, g->size, g->attr, next);
		memcpy(w->p, next, sizeof(next));
		return;
	}
	for (unsigned int k = 0; k < g->nruns; k++)
		v_set(w, g->runs[k].va, g->runs[k].pa, g->runs[k].size,
		      g->attr);
}

/* kmm_vunmap() of live region @g: the unmap's code; applies on success. */
static int region_destroy(struct world *w, struct side *s, struct mregion *g,
			  bool apply)
{
	int ret = KMM_OK;

	if (s->identity) {
		struct ppte next[P_PAGES];

		ret = p_unmap_rc(w, g->va, g->size, next);
		if (ret == KMM_ENOENT)
			ret = KMM_OK; /* nothing left to unmap */
		else if (ret == KMM_OK && apply)
			memcpy(w->p, next, sizeof(next));
	} else if (apply) {
		v_clear(w, g->va, g->size);
	}
	if (ret || !apply)
		return ret;
	for (uint64_t o = 0; o < g->size; o += PG)
		s->vown[side_idx(s, g->va + o)] = -1;
	g->live = false;
	return KMM_OK;
}

static void side_check_usage(struct world *w, struct side *s)
{
	for (kmm_owner_t o = 0; o < NOWN; o++) {
		uint64_t bytes = 0, want = 0;

		for (unsigned int i = 0; i < MAX_REGIONS; i++)
			if (s->reg[i].live && s->reg[i].owner == o)
				want += s->reg[i].size;
		CHECK(w,
		      kmm_vaspace_usage(&s->vs, o, &bytes) == 0 &&
			      bytes == want,
		      "%s: owner %u has %llu bytes of VA, model %llu", s->name,
		      o, (unsigned long long)bytes, (unsigned long long)want);
		CHECK(w, s->regions.owners[o].count == side_count(s, o),
		      "%s: owner %u has %u regions, model %u", s->name, o,
		      s->regions.owners[o].count, side_count(s, o));
	}
}

/* The model's phys_to_virt: the alias rule of region.h. */
static int model_p2v(struct side *s, kmm_paddr_t pa, int owner, kmm_vaddr_t *va)
{
	const struct mrun *best = NULL;
	uint64_t best_seq = 0;

	for (unsigned int i = 0; i < MAX_REGIONS; i++) {
		const struct mregion *g = &s->reg[i];

		if (!g->live || (owner >= 0 && g->owner != owner))
			continue;
		for (unsigned int k = 0; k < g->nruns; k++) {
			const struct mrun *u = &g->runs[k];
			uint64_t seq = g->seq * MAX_RUNS + k;

			if (pa < u->pa || pa - u->pa >= u->size)
				continue;
			if (!best || u->pa > best->pa ||
			    (u->pa == best->pa && seq > best_seq)) {
				best = u;
				best_seq = seq;
			}
		}
	}
	if (!best)
		return KMM_ENOENT;
	*va = best->va + (pa - best->pa);
	return KMM_OK;
}

static void check_p2v(struct world *w, struct side *s, kmm_paddr_t pa)
{
	kmm_vaddr_t want = 0, got = 0;
	int wr = model_p2v(s, pa, -1, &want);
	int gr = kmm_phys_to_virt(s->as, pa, &got);

	CHECK(w, wr == gr && (gr || want == got),
	      "%s: phys_to_virt(%#llx) = %s %#llx, model %s %#llx", s->name,
	      (unsigned long long)pa, kmm_errname(gr), (unsigned long long)got,
	      kmm_errname(wr), (unsigned long long)want);
	for (kmm_owner_t o = 0; o < NOWN; o += 2) {
		wr = model_p2v(s, pa, o, &want);
		gr = kmm_phys_to_virt_owner(s->as, pa, o, &got);
		CHECK(w, wr == gr && (gr || want == got),
		      "%s: phys_to_virt_owner(%#llx, %u) = %s %#llx, model %s %#llx",
		      s->name, (unsigned long long)pa, o, kmm_errname(gr),
		      (unsigned long long)got, kmm_errname(wr),
		      (unsigned long long)want);
	}
}

static void check_v2p(struct world *w, struct side *s, kmm_vaddr_t va)
{
	struct mregion *g = side_holding(s, va);
	kmm_paddr_t got = 0, want = 0;
	int gr = kmm_virt_to_phys(s->as, va, &got);

	if (g) {
		for (unsigned int k = 0; k < g->nruns; k++)
			if (va >= g->runs[k].va &&
			    va - g->runs[k].va < g->runs[k].size)
				want = g->runs[k].pa + (va - g->runs[k].va);
	}
	CHECK(w, gr == (g ? KMM_OK : KMM_ENOENT) && (!g || got == want),
	      "%s: virt_to_phys(%#llx) = %s %#llx, model %#llx", s->name,
	      (unsigned long long)va, kmm_errname(gr), (unsigned long long)got,
	      (unsigned long long)want);
}

static void check_region(struct world *w, struct side *s,
			 const struct mregion *g)
{
	for (unsigned int k = 0; k < g->nruns; k++) {
		check_p2v(w, s, g->runs[k].pa);
		check_p2v(w, s, g->runs[k].pa + g->runs[k].size - 8);
		check_v2p(w, s, g->runs[k].va + 8);
	}
	if (!s->identity)
		v_check_range(w, g->va, g->size, 24);
}

static void side_after(struct world *w, struct side *s)
{
	side_check_usage(w, s);
	if (s->identity)
		p_check(w);
	else
		refresh_tables(w);
}

static kmm_paddr_t pick_page(struct rd *r, struct side *s)
{
	unsigned int b = rd8(r);

	if (s->identity)
		return p_addr(b % P_RAM_PAGES);
	return PA_BASE + (uint64_t)(b % 64) * PG;
}

static void op_vmap(struct world *w, struct rd *r, struct side *s)
{
	kmm_paddr_t pages[MAX_RUNS];
	struct mrun runs[MAX_RUNS];
	unsigned int n = rd8(r) % 24 + 1, nruns, b;
	kmm_attr_t attr = pick_attr(r, false);
	kmm_owner_t owner = pick_owner(r);
	struct mregion g;
	kmm_vaddr_t va = 0;
	struct call c;
	int want = KMM_OK, got;
	bool nomem = false, null_va;

	pages[0] = pick_page(r, s);
	for (unsigned int i = 1; i < n; i++)
		pages[i] = rd8(r) < 200 ? pages[i - 1] + PG : pick_page(r, s);
	b = rd8(r);
	null_va = b == 255;
	if (b == 254)
		pages[rd8(r) % n] += 0x200;
	if (b == 253)
		n = 0;
	nruns = make_runs(pages, n, runs);
	if (n == 0 || null_va || !owner_ok(owner) || !attr_ok(attr))
		want = KMM_EINVAL;
	else if (attr_wx(attr))
		want = KMM_EPERM;
	else
		want = region_rc(w, s, runs, nruns, attr, owner, &g, &nomem);
	nomem = nomem && want == 0;
	note(w, "%s n %u runs %u pa %#llx attr %#x owner %u", s->name, n, nruns,
	     (unsigned long long)pages[0], attr, owner);
	call_begin(&c, w, want, nomem);
	got = kmm_vmap(s->as, pages, n, attr, owner, null_va ? NULL : &va);
	call_end(&c, got, want, nomem);
	if (got == 0) {
		CHECK(w, va == g.va, "%s: vmap at %#llx, model %#llx", s->name,
		      (unsigned long long)va, (unsigned long long)g.va);
		region_apply(w, s, &g);
		check_region(w, s, &g);
	}
	side_after(w, s);
}

static void op_ioremap(struct world *w, struct rd *r, struct side *s)
{
	unsigned int b = rd8(r), n = rd8(r) % 8 + 1;
	kmm_paddr_t pa;
	uint64_t size = (uint64_t)n * PG;
	kmm_attr_t attr = pick_attr(r, true);
	kmm_owner_t owner = pick_owner(r);
	struct mregion g;
	struct mrun run;
	kmm_vaddr_t va = 0;
	struct call c;
	int want, got;
	bool nomem = false;

	if (s->identity)
		pa = p_addr(P_RAM_PAGES + b % P_DEV_PAGES);
	else
		pa = 0x09000000ull + (uint64_t)(b % 32) * PG;
	if (s->identity && pa + size > P_DEV + P_DEV_PAGES * PG && b < 128)
		size = P_DEV + P_DEV_PAGES * PG - pa;
	if (b >= 250)
		size = b & 1 ? 0 : size + 0x80;
	if (b == 248)
		pa = 0 - PG;
	run.pa = pa;
	run.size = size;
	if (size == 0 || !owner_ok(owner) || !attr_ok(attr))
		want = KMM_EINVAL;
	else if (attr_wx(attr))
		want = KMM_EPERM;
	else if ((pa | size) & (PG - 1))
		want = KMM_EALIGN;
	else
		want = region_rc(w, s, &run, 1, attr, owner, &g, &nomem);
	nomem = nomem && want == 0;
	note(w, "%s pa %#llx size %#llx attr %#x owner %u", s->name,
	     (unsigned long long)pa, (unsigned long long)size, attr, owner);
	call_begin(&c, w, want, nomem);
	got = kmm_ioremap(s->as, pa, size, attr, owner, &va);
	call_end(&c, got, want, nomem);
	if (got == 0) {
		CHECK(w, va == g.va, "%s: ioremap at %#llx, model %#llx",
		      s->name, (unsigned long long)va,
		      (unsigned long long)g.va);
		region_apply(w, s, &g);
		check_region(w, s, &g);
	}
	side_after(w, s);
}

static struct mregion *pick_region(struct rd *r, struct side *s)
{
	unsigned int k = rd8(r), live = 0;

	for (unsigned int i = 0; i < MAX_REGIONS; i++)
		live += s->reg[i].live;
	if (!live)
		return NULL;
	k %= live;
	for (unsigned int i = 0; i < MAX_REGIONS; i++)
		if (s->reg[i].live && k-- == 0)
			return &s->reg[i];
	return NULL;
}

static void op_vunmap(struct world *w, struct rd *r, struct side *s)
{
	struct mregion *g = pick_region(r, s);
	unsigned int b = rd8(r);
	kmm_vaddr_t va = g ? g->va : side_va(s, b % side_pages(s));
	kmm_owner_t owner = g ? g->owner : pick_owner(r);
	struct mregion *h;
	struct call c;
	int want, got;

	if (b >= 240)
		owner = pick_owner(r);
	if (b >= 230 && b < 240)
		va += PG;
	h = side_holding(s, va);
	if (!owner_ok(owner))
		want = KMM_EINVAL;
	else if (!h || h->va != va)
		want = KMM_ENOENT;
	else if (h->owner != owner)
		want = KMM_EPERM;
	else
		want = region_destroy(w, s, h, false);
	note(w, "%s va %#llx owner %u", s->name, (unsigned long long)va, owner);
	call_begin(&c, w, want, false);
	got = kmm_vunmap(s->as, va, owner);
	call_end(&c, got, want, false);
	if (got == 0) {
		struct mregion old = *h;

		region_destroy(w, s, h, true);
		for (unsigned int k = 0; k < old.nruns; k++)
			check_p2v(w, s, old.runs[k].pa);
		check_v2p(w, s, old.va);
		if (!s->identity)
			v_check_range(w, old.va, old.size, 0);
	}
	side_after(w, s);
}

/* kmm_region_free_all(): newest region first; stops at the first error. */
static void op_region_free_all(struct world *w, struct rd *r, struct side *s)
{
	kmm_owner_t owner = pick_owner(r);
	int want = 0, got;

	note(w, "%s owner %u", s->name, owner);
	if (!owner_ok(owner)) {
		struct call c;

		call_begin(&c, w, KMM_EINVAL, false);
		got = kmm_region_free_all(s->as, owner);
		call_end(&c, got, KMM_EINVAL, false);
		return;
	}
	got = kmm_region_free_all(s->as, owner);
	for (;;) {
		struct mregion *g = NULL;
		int ret;

		for (unsigned int i = 0; i < MAX_REGIONS; i++)
			if (s->reg[i].live && s->reg[i].owner == owner &&
			    (!g || s->reg[i].seq > g->seq))
				g = &s->reg[i];
		if (!g)
			break;
		ret = region_destroy(w, s, g, true);
		if (ret) {
			want = ret;
			break;
		}
		want++;
	}
	expect_rc(w, got, want, false);
	if (got < 0)
		w->st->failed++;
	side_after(w, s);
}

static void op_region_quota(struct world *w, struct rd *r, struct side *s)
{
	kmm_owner_t owner = pick_owner(r);
	unsigned int b = rd8(r);
	uint32_t q = b < 160 ? UINT32_MAX : b % 8;
	int want = owner_ok(owner) ? KMM_OK : KMM_EINVAL;
	struct call c;
	int got;

	if (owner == 9)
		owner = 0;
	note(w, "%s owner %u quota %u", s->name, owner, q);
	call_begin(&c, w, want, false);
	got = kmm_regions_set_quota(s->as, owner, q);
	call_end(&c, got, want, false);
	if (got == 0)
		s->quota[owner] = q;
}

static void op_p2v(struct world *w, struct rd *r, struct side *s)
{
	kmm_paddr_t pa = pick_page(r, s) + rd8(r) * 16;

	note(w, "%s pa %#llx", s->name, (unsigned long long)pa);
	check_p2v(w, s, pa);
}

static void op_v2p(struct world *w, struct rd *r, struct side *s)
{
	kmm_vaddr_t va = side_va(s, rd8(r) % side_pages(s)) + rd8(r) * 16;

	note(w, "%s va %#llx", s->name, (unsigned long long)va);
	check_v2p(w, s, va);
}

/* ------------------------------------------------------------------------
 * Stand-alone vaspace model: ranges with one guard page, first fit.
 */

static int s_idx(kmm_vaddr_t va)
{
	if (va >= S_W1 && va < S_W1 + S_W1_PAGES * PG)
		return (int)((va - S_W1) / PG);
	if (va >= S_W2 && va < S_W2 + S_W2_PAGES * PG)
		return (int)(S_W1_PAGES + (va - S_W2) / PG);
	return -1;
}

static kmm_vaddr_t s_addr(unsigned int i)
{
	return i < S_W1_PAGES ? S_W1 + (uint64_t)i * PG :
				S_W2 + (uint64_t)(i - S_W1_PAGES) * PG;
}

/* Pages taken by ranges and their guards. */
static void s_taken(const struct world *w, uint8_t *taken)
{
	memset(taken, 0, S_PAGES);
	for (unsigned int k = 0; k < w->nsr; k++) {
		int i = s_idx(w->sr[k].va);

		for (uint64_t p = 0; p < w->sr[k].size / PG + S_GUARD; p++)
			taken[i + (int)p] = 1;
	}
}

/*
 * Nodes the vaspace has left: every range holds one, and so does each of
 * the two windows (its sentinel). An alloc or a claim takes exactly one.
 */
static unsigned int s_nodes_free(const struct world *w)
{
	return S_NODES - (w->nsr + 2);
}

static int s_range_of(const struct world *w, kmm_vaddr_t va)
{
	for (unsigned int k = 0; k < w->nsr; k++)
		if (va >= w->sr[k].va && va - w->sr[k].va < w->sr[k].size)
			return (int)k;
	return -1;
}

static bool s_over_quota(const struct world *w, kmm_owner_t o, uint64_t size)
{
	uint64_t used = 0;

	if (o >= NOWN)
		return false;
	for (unsigned int k = 0; k < w->nsr; k++)
		if (w->sr[k].owner == o)
			used += w->sr[k].size;
	return used > w->s_quota[o] || size > w->s_quota[o] - used;
}

static void s_check(struct world *w)
{
	for (kmm_owner_t o = 0; o < NOWN; o++) {
		uint64_t used = 0, bytes = 0;

		for (unsigned int k = 0; k < w->nsr; k++)
			if (w->sr[k].owner == o)
				used += w->sr[k].size;
		CHECK(w,
		      kmm_vaspace_usage(&w->svs, o, &bytes) == 0 &&
			      bytes == used,
		      "vaspace owner %u uses %llu, model %llu", o,
		      (unsigned long long)bytes, (unsigned long long)used);
	}
}

static void s_add(struct world *w, kmm_vaddr_t va, uint64_t size, kmm_owner_t o)
{
	w->sr[w->nsr++] = (struct srange){ va, size, o };
}

static void op_s_alloc(struct world *w, struct rd *r)
{
	uint8_t taken[S_PAGES];
	unsigned int n = rd8(r) % 24 + 1, b = rd8(r);
	uint64_t size = (uint64_t)n * PG, align = PG << (b % 6);
	kmm_owner_t o = pick_owner(r);
	kmm_vaddr_t va = 0, at = 0;
	unsigned int need = n + S_GUARD, i = 0;
	bool found = false;
	struct call c;
	int want, got;

	if (b >= 250) {
		if (b & 1)
			size += 0x100;
		else
			align = b == 250 ? 3 * PG : PG / 2;
	}
	if (b == 249)
		size = 0;
	s_taken(w, taken);
	for (i = 0; i < S_PAGES && !found; i++) {
		bool fits = true;

		at = s_addr(i);
		if (at & (align - 1))
			continue;
		for (unsigned int k = 0; k < need && fits; k++)
			fits = i + k < S_PAGES && !taken[i + k] &&
			       (i + k == i || (i + k != S_W1_PAGES));
		found = fits;
	}
	i--;
	if (size == 0 || (align & (align - 1)) || !owner_ok(o))
		want = KMM_EINVAL;
	else if ((size & (PG - 1)) || align < PG)
		want = KMM_EALIGN;
	else if (s_over_quota(w, o, size))
		want = KMM_EQUOTA;
	else if (!found)
		want = KMM_ENOSPC;
	else if (s_nodes_free(w) == 0)
		want = KMM_ENOMEM;
	else
		want = KMM_OK;
	note(w, "size %#llx align %#llx owner %u", (unsigned long long)size,
	     (unsigned long long)align, o);
	call_begin(&c, w, want, false);
	got = kmm_vaspace_alloc(&w->svs, size, align, o, &va);
	call_end(&c, got, want, false);
	if (got == 0) {
		CHECK(w, va == at, "vaspace alloc at %#llx, model %#llx",
		      (unsigned long long)va, (unsigned long long)at);
		s_add(w, va, size, o);
	}
	s_check(w);
}

static void op_s_claim(struct world *w, struct rd *r)
{
	uint8_t taken[S_PAGES];
	unsigned int i = rd16(r) % S_PAGES, n = rd8(r) % 16 + 1, b = rd8(r);
	kmm_vaddr_t va = s_addr(i);
	uint64_t size = (uint64_t)n * PG;
	kmm_owner_t o = pick_owner(r);
	unsigned int need = n + S_GUARD;
	struct call c;
	int want, got;

	if (b >= 250)
		va += 0x400;
	if (b == 249)
		va = 0 - PG;
	s_taken(w, taken);
	if (!owner_ok(o))
		want = KMM_EINVAL;
	else if (va & (PG - 1))
		want = KMM_EALIGN;
	else if (wraps(va, size + S_GUARD * PG))
		want = KMM_ERANGE;
	else if (s_idx(va + (size + S_GUARD * PG) - 1) !=
		 (int)i + (int)need - 1)
		want = KMM_ERANGE;
	else {
		want = KMM_OK;
		for (unsigned int k = 0; k < need; k++)
			if (taken[i + k])
				want = KMM_EEXIST;
		if (want == KMM_OK && s_over_quota(w, o, size))
			want = KMM_EQUOTA;
		else if (want == KMM_OK && s_nodes_free(w) == 0)
			want = KMM_ENOMEM;
	}
	note(w, "va %#llx size %#llx owner %u", (unsigned long long)va,
	     (unsigned long long)size, o);
	call_begin(&c, w, want, false);
	got = kmm_vaspace_claim(&w->svs, va, size, o);
	call_end(&c, got, want, false);
	if (got == 0)
		s_add(w, va, size, o);
	s_check(w);
}

static void op_s_free(struct world *w, struct rd *r)
{
	unsigned int b = rd8(r), sel = rd8(r);
	kmm_vaddr_t va;
	uint64_t size;
	kmm_owner_t o;
	struct call c;
	int want, got, k;

	if (w->nsr && b < 200) {
		const struct srange *s = &w->sr[sel % w->nsr];

		va = s->va;
		size = s->size;
		o = s->owner;
	} else {
		va = s_addr(sel % S_PAGES);
		size = PG;
		o = (kmm_owner_t)(sel % NOWN);
	}
	switch (rd8(r) % 12) {
	case 0:
		o = pick_owner(r);
		break;
	case 1:
		size += PG;
		break;
	case 2:
		va += PG;
		break;
	case 3:
		size = 0;
		break;
	case 4:
		va += 0x10;
		break;
	case 5:
		va = 0x300000000ull;
		break;
	default:
		break;
	}
	k = s_range_of(w, va);
	if (size == 0 || !owner_ok(o))
		want = KMM_EINVAL;
	else if ((va | size) & (PG - 1))
		want = KMM_EALIGN;
	else if (s_idx(va) < 0 || s_idx(va + size - 1) < 0 ||
		 s_idx(va + size - 1) - s_idx(va) != (int)(size / PG) - 1)
		want = KMM_ERANGE;
	else if (k < 0)
		want = KMM_ENOENT;
	else if (w->sr[k].owner != o)
		want = KMM_EPERM;
	else if (w->sr[k].va != va || w->sr[k].size != size)
		want = KMM_EINVAL;
	else
		want = KMM_OK;
	note(w, "va %#llx size %#llx owner %u", (unsigned long long)va,
	     (unsigned long long)size, o);
	call_begin(&c, w, want, false);
	got = kmm_vaspace_free(&w->svs, va, size, o);
	call_end(&c, got, want, false);
	if (got == 0)
		w->sr[k] = w->sr[--w->nsr];
	s_check(w);
}

static void op_s_free_all(struct world *w, struct rd *r)
{
	kmm_owner_t o = pick_owner(r);
	int want = owner_ok(o) ? KMM_OK : KMM_EINVAL;
	struct call c;
	int got;

	note(w, "owner %u", o);
	call_begin(&c, w, want, false);
	got = kmm_vaspace_free_all(&w->svs, o);
	call_end(&c, got, want, false);
	if (got == 0)
		for (unsigned int k = w->nsr; k-- > 0;)
			if (w->sr[k].owner == o)
				w->sr[k] = w->sr[--w->nsr];
	s_check(w);
}

static void op_s_quota(struct world *w, struct rd *r)
{
	kmm_owner_t o = pick_owner(r);
	unsigned int b = rd8(r);
	uint64_t q = b < 160 ? UINT64_MAX : (uint64_t)(b % 32) * PG;
	int want = owner_ok(o) ? KMM_OK : KMM_EINVAL;
	struct call c;
	int got;

	if (o == 9)
		o = 0;
	note(w, "owner %u quota %#llx", o, (unsigned long long)q);
	call_begin(&c, w, want, false);
	got = kmm_vaspace_set_quota(&w->svs, o, q);
	call_end(&c, got, want, false);
	if (got == 0)
		w->s_quota[o] = q;
}

static void op_s_find(struct world *w, struct rd *r)
{
	kmm_vaddr_t va = s_addr(rd16(r) % S_PAGES) + rd8(r);
	kmm_vaddr_t base = 0;
	uint64_t size = 0;
	kmm_owner_t o = 0;
	int k = s_range_of(w, va);
	int got = kmm_vaspace_find(&w->svs, va, &base, &size, &o);

	note(w, "va %#llx", (unsigned long long)va);
	CHECK(w, got == (k < 0 ? KMM_ENOENT : KMM_OK),
	      "find(%#llx) = %s, model %s", (unsigned long long)va,
	      kmm_errname(got), k < 0 ? "KMM_ENOENT" : "KMM_OK");
	if (k >= 0)
		CHECK(w,
		      base == w->sr[k].va && size == w->sr[k].size &&
			      o == w->sr[k].owner,
		      "find(%#llx) = %#llx+%#llx owner %u",
		      (unsigned long long)va, (unsigned long long)base,
		      (unsigned long long)size, o);
}

/* ------------------------------------------------------------------------
 * Operation table and the world.
 */

/* ------------------------------------------------------------------------
 * Guests: kmm_guest_create/destroy over the page allocator, the
 * stand-alone vaspace and both regions layers. The fuzzer's owners 1..4
 * become guests and stop being guests; nothing else of the model changes.
 */

/* A guest id: mostly 1..4, sometimes the kernel or out of range. */
static kmm_owner_t pick_guest(struct rd *r)
{
	unsigned int b = rd8(r);

	if (b < 240)
		return (kmm_owner_t)(1 + b % (NOWN - 1));
	if (b < 246)
		return KMM_OWNER_KERNEL;
	return b & 1 ? KMM_CONFIG_MAX_OWNERS : KMM_OWNER_NONE;
}

static bool guest_ok(kmm_owner_t id)
{
	return id != KMM_OWNER_KERNEL && id < KMM_CONFIG_MAX_OWNERS;
}

/* What the modules hold for @id equals the model's quotas and state. */
static void g_check(struct world *w, kmm_owner_t id)
{
	int st = kmm_guest_state(&w->k, id);

	CHECK(w, st == w->gst[id], "guest %u is in state %d, model %d", id, st,
	      w->gst[id]);
	CHECK(w, w->pages.owners[id].quota == w->pg_quota[id],
	      "guest %u: page quota %llu, model %llu", id,
	      (unsigned long long)w->pages.owners[id].quota,
	      (unsigned long long)w->pg_quota[id]);
	CHECK(w, w->svs.owners[id].quota == w->s_quota[id],
	      "guest %u: VA quota %llu, model %llu", id,
	      (unsigned long long)w->svs.owners[id].quota,
	      (unsigned long long)w->s_quota[id]);
	CHECK(w,
	      w->sv.regions.owners[id].quota == w->sv.quota[id] &&
		      w->sp.regions.owners[id].quota == w->sp.quota[id],
	      "guest %u: region quotas %u %u, model %u %u", id,
	      w->sv.regions.owners[id].quota, w->sp.regions.owners[id].quota,
	      w->sv.quota[id], w->sp.quota[id]);
}

static void op_g_create(struct world *w, struct rd *r)
{
	kmm_owner_t id = pick_guest(r);
	struct kmm_guest_quota q;
	unsigned int b = rd8(r);
	bool null_q = rd8(r) >= 250;
	struct call c;
	int want, got;

	q.pages = b < 128 ? KMM_PAGES_NO_QUOTA : b % 64;
	q.table_pages = rd8(r) % 4;
	b = rd8(r);
	q.va_bytes = b < 128 ? UINT64_MAX : (b % 64) * PG;
	b = rd8(r);
	q.regions = b < 128 ? UINT32_MAX : b % 16;
	q.mpu_slots = 0;
	if (null_q || !guest_ok(id))
		want = KMM_EINVAL;
	else if (w->gst[id] == KMM_GUEST_ACTIVE)
		want = KMM_EEXIST;
	else if (w->gst[id] == KMM_GUEST_DYING)
		want = KMM_EBUSY;
	else
		want = KMM_OK;
	note(w, "id %u pages %llu+%llu va %llu regions %u%s", id,
	     (unsigned long long)q.pages, (unsigned long long)q.table_pages,
	     (unsigned long long)q.va_bytes, q.regions,
	     null_q ? " quota=NULL" : "");
	call_begin(&c, w, want, false);
	got = kmm_guest_create(&w->k, id, null_q ? NULL : &q, NULL);
	call_end(&c, got, want, false);
	if (got == 0) {
		uint64_t pages = q.pages + q.table_pages;

		w->gst[id] = KMM_GUEST_ACTIVE;
		w->pg_quota[id] = pages < q.pages ? KMM_PAGES_NO_QUOTA : pages;
		w->s_quota[id] = q.va_bytes;
		w->sv.quota[id] = q.regions;
		w->sp.quota[id] = q.regions;
	}
	if (guest_ok(id) && id < NOWN)
		g_check(w, id);
}

/*
 * kmm_region_free_all() of @id in @s, in the model: youngest first; a
 * region that cannot be removed (an MPU unmap that needs a slot) stops it
 * with that code, the ones removed before stay removed.
 */
static int g_drop_regions(struct world *w, struct side *s, kmm_owner_t id)
{
	for (;;) {
		struct mregion *g = NULL;
		int ret;

		for (unsigned int i = 0; i < MAX_REGIONS; i++)
			if (s->reg[i].live && s->reg[i].owner == id &&
			    (!g || s->reg[i].seq > g->seq))
				g = &s->reg[i];
		if (!g)
			return KMM_OK;
		ret = region_destroy(w, s, g, true);
		if (ret)
			return ret;
	}
}

/* After the teardown: nothing of the region @g (dead) is found. */
static void g_check_gone(struct world *w, struct side *s,
			 const struct mregion *g, kmm_owner_t id)
{
	for (unsigned int k = 0; k < g->nruns; k++) {
		kmm_vaddr_t va = 0;
		int gr;

		check_p2v(w, s, g->runs[k].pa);
		check_v2p(w, s, g->runs[k].va);
		gr = kmm_phys_to_virt_owner(s->as, g->runs[k].pa, id, &va);
		CHECK(w, gr == KMM_ENOENT,
		      "%s: phys_to_virt_owner(%#llx, %u) of a dead guest = %s %#llx",
		      s->name, (unsigned long long)g->runs[k].pa, id,
		      kmm_errname(gr), (unsigned long long)va);
	}
	if (!s->identity)
		v_check_range(w, g->va, g->size, 24);
}

/*
 * kmm_guest_destroy(): the model follows the teardown phases. A region
 * that cannot be removed stops it with that code and leaves the guest
 * DYING (documented: not a "failed call changes nothing" case); the next
 * destroy resumes at that address space.
 */
static void op_g_destroy(struct world *w, struct rd *r)
{
	kmm_owner_t id = pick_guest(r);
	struct mregion dead[2][MAX_REGIONS];
	unsigned int ndead[2] = { 0, 0 };
	struct kmm_guest_usage u;
	int want = KMM_OK, got;

	note(w, "id %u", id);
	if (!guest_ok(id) || id >= NOWN || w->gst[id] == KMM_GUEST_FREE) {
		struct call c;

		want = guest_ok(id) ? KMM_ENOENT : KMM_EINVAL;
		call_begin(&c, w, want, false);
		got = kmm_guest_destroy(&w->k, id);
		call_end(&c, got, want, false);
		if (guest_ok(id) && id < NOWN)
			g_check(w, id);
		return;
	}
	if (w->gst[id] == KMM_GUEST_ACTIVE) {
		w->gst[id] = KMM_GUEST_DYING;
		w->gspace[id] = 0;
		w->pg_quota[id] = 0;
		w->s_quota[id] = 0;
		w->sv.quota[id] = 0;
		w->sp.quota[id] = 0;
	}
	for (unsigned int i = 0; i < 2; i++) {
		struct side *s = i ? &w->sp : &w->sv;

		for (unsigned int k = 0; k < MAX_REGIONS; k++)
			if (s->reg[k].live && s->reg[k].owner == id)
				dead[i][ndead[i]++] = s->reg[k];
	}
	for (; w->gspace[id] < 2; w->gspace[id]++) {
		want = g_drop_regions(w, w->gspace[id] ? &w->sp : &w->sv, id);
		if (want)
			break;
	}
	got = kmm_guest_destroy(&w->k, id);
	expect_rc(w, got, want, false);
	side_after(w, &w->sv);
	side_after(w, &w->sp);
	if (got) {
		w->st->failed++;
		g_check(w, id);
		return;
	}
	for (unsigned int k = w->nsr; k-- > 0;)
		if (w->sr[k].owner == id)
			w->sr[k] = w->sr[--w->nsr];
	for (unsigned int i = w->nblocks; i-- > 0;)
		if (w->blocks[i].owner == id)
			drop_block(w, i);
	w->gst[id] = KMM_GUEST_FREE;
	CHECK(w,
	      kmm_guest_usage(&w->k, id, &u) == 0 && u.pages == 0 &&
		      u.table_pages == 0 && u.va_bytes == 0 && u.regions == 0 &&
		      u.mpu_slots == 0 && u.streams == 0,
	      "guest %u after destroy: usage %llu pages %llu tables %llu VA "
	      "bytes %u regions %u slots %u streams",
	      id, (unsigned long long)u.pages,
	      (unsigned long long)u.table_pages, (unsigned long long)u.va_bytes,
	      u.regions, u.mpu_slots, u.streams);
	check_usage(w);
	s_check(w);
	for (unsigned int i = 0; i < 2; i++)
		for (unsigned int k = 0; k < ndead[i]; k++)
			g_check_gone(w, i ? &w->sp : &w->sv, &dead[i][k], id);
	g_check(w, id);
}

static const char *const op_names[OP_COUNT] = {
	"pages_alloc",
	"pages_free",
	"pages_free_all",
	"pages_quota",
	"pages_owner",
	"vaspace_alloc",
	"vaspace_claim",
	"vaspace_free",
	"vaspace_free_all",
	"vaspace_quota",
	"vaspace_find",
	"vmsa_map",
	"vmsa_unmap",
	"vmsa_protect",
	"vmsa_query",
	"vmsa_vmap",
	"vmsa_ioremap",
	"vmsa_vunmap",
	"vmsa_region_free_all",
	"vmsa_region_quota",
	"vmsa_phys_to_virt",
	"vmsa_virt_to_phys",
	"pmsa_map",
	"pmsa_unmap",
	"pmsa_protect",
	"pmsa_vmap",
	"pmsa_ioremap",
	"pmsa_vunmap",
	"pmsa_region_free_all",
	"pmsa_region_quota",
	"pmsa_phys_to_virt",
	"pmsa_virt_to_phys",
	"guest_create",
	"guest_destroy",
};

unsigned int fz_op_count(void)
{
	return OP_COUNT;
}

const char *fz_op_name(unsigned int k)
{
	return k < OP_COUNT ? op_names[k] : "?";
}

static void *xalloc(size_t align, size_t size)
{
	void *p;

	/* C11: the size of aligned_alloc() is a multiple of the alignment. */
	size = (size + align - 1) / align * align;
	p = aligned_alloc(align, size);
	if (p == NULL) {
		perror("kmm fuzz");
		abort();
	}
	memset(p, 0, size);
	return p;
}

static void must(int ret, const char *what)
{
	if (ret != 0) {
		fprintf(stderr, "kmm fuzz: setup: %s: %s\n", what,
			kmm_errname(ret));
		abort();
	}
}

static void side_setup(struct world *w, struct side *s, const char *name,
		       struct kmm_as *as, bool identity, size_t vs_objs,
		       size_t objs)
{
	struct kmm_vaspace_config vcfg = { .granule = PG,
					   .identity = identity };
	size_t nsz = sizeof(struct kmm_vaspace_node);

	(void)w;
	s->name = name;
	s->identity = identity;
	s->as = as;
	s->vs_objs = vs_objs;
	s->objs = objs;
	s->vs_mem = xalloc(_Alignof(struct kmm_vaspace_node), vs_objs * nsz);
	s->obj_mem = xalloc(KMM_REGION_NODE_ALIGN, objs * KMM_REGION_NODE_SIZE);
	must(kmm_slab_init(&s->vs_slab, nsz, _Alignof(struct kmm_vaspace_node)),
	     "slab");
	must(kmm_slab_add_memory(&s->vs_slab, s->vs_mem, vs_objs * nsz),
	     "slab memory");
	vcfg.nodes = &s->vs_slab;
	must(kmm_vaspace_init(&s->vs, &vcfg), "region vaspace");
	if (identity) {
		must(kmm_vaspace_add_window(&s->vs, P_DEV, P_DEV_PAGES * PG),
		     "window");
		must(kmm_vaspace_add_window(&s->vs, P_RAM, P_RAM_PAGES * PG),
		     "window");
	} else {
		must(kmm_vaspace_add_window(&s->vs, V_RBASE, V_RPAGES * PG),
		     "window");
	}
	must(kmm_slab_init(&s->obj_slab, KMM_REGION_NODE_SIZE,
			   KMM_REGION_NODE_ALIGN),
	     "slab");
	must(kmm_slab_add_memory(&s->obj_slab, s->obj_mem,
				 objs * KMM_REGION_NODE_SIZE),
	     "slab memory");
	must(kmm_regions_init(&s->regions, as, &s->vs, &s->obj_slab),
	     "regions");
	for (unsigned int o = 0; o < NOWN; o++)
		s->quota[o] = UINT32_MAX;
	memset(s->vown, -1, sizeof(s->vown));
}

/*
 * kmm_init() refuses (KMM_EBUSY) while a guest id holds pages, and the
 * VMSA tables belong to TBL_OWNER, a guest id, from kmm_vmsa_init() on. So
 * kmm_init() runs on the bare page allocator, before the VMSA exists, and
 * the vaspace and the two address spaces are added to its config once
 * they are set up (test-only: the config is private to guest.c).
 */
static void guests_init(struct world *w)
{
	struct kmm_config kc = { .port = &w->host.port, .pages = &w->pages };

	must(kmm_init(&w->k, &kc), "kmm_init");
	for (kmm_owner_t o = 1; o < KMM_CONFIG_MAX_OWNERS; o++)
		must(kmm_pages_set_quota(&w->pages, o, KMM_PAGES_NO_QUOTA),
		     "quota");
}

/*
 * kmm_init() zeroed the quota of every guest id; the existing operations
 * expect every owner without limits, as the modules start. The owners stay
 * FREE and the model intact until a guest_create.
 */
static void guests_setup(struct world *w)
{
	w->k.cfg.vs = &w->svs;
	w->k.cfg.spaces[0] = &w->vmsa.as;
	w->k.cfg.spaces[1] = &w->pmsa->as;
	w->k.cfg.nspaces = 2;
	for (kmm_owner_t o = 1; o < KMM_CONFIG_MAX_OWNERS; o++) {
		must(kmm_vaspace_set_quota(&w->svs, o, UINT64_MAX), "quota");
		must(kmm_regions_set_quota(&w->vmsa.as, o, UINT32_MAX),
		     "quota");
		must(kmm_regions_set_quota(&w->pmsa->as, o, UINT32_MAX),
		     "quota");
	}
}

static struct world *world_new(struct fz_stats *st)
{
	struct world *w = xalloc(64, sizeof(*w));
	struct kmm_vmsa_config cfg;
	struct kmm_pmsa_config pcfg = { .hyp_slots = P_SLOTS,
					.guest_first = P_SLOTS,
					.guest_slots = 4,
					.shared_mpu = true };
	struct kmm_vaspace_config scfg = { .granule = PG,
					   .guard_granules = S_GUARD };
	size_t nsz = sizeof(struct kmm_vaspace_node);

	w->st = st;
	w->opname = "setup";
	if (kmm_host_init(&w->host, PA_BASE, NFRAMES * PG, 0)) {
		fprintf(stderr, "kmm fuzz: no memory for the arena\n");
		abort();
	}
	w->host.log_enabled = false;
	w->meta_size = kmm_pages_meta_size(PA_BASE, NFRAMES * PG);
	w->meta = xalloc(8, w->meta_size);
	must(kmm_pages_init(&w->pages, &w->host.port, PA_BASE, NFRAMES * PG,
			    w->meta, w->meta_size),
	     "pages");
	must(kmm_pages_add(&w->pages, PA_BASE, NFRAMES * PG), "bank");
	guests_init(w);
	memset(w->frame_owner, -1, sizeof(w->frame_owner));
	for (unsigned int o = 0; o < NOWN; o++) {
		w->pg_quota[o] = KMM_PAGES_NO_QUOTA;
		w->s_quota[o] = UINT64_MAX;
	}

	must(kmm_vmsa_config_init(&cfg, KMM_REGIME_EL1), "vmsa config");
	cfg.va_bits = V_VA_BITS;
	cfg.id = 1;
	must(kmm_vmsa_init(&w->vmsa, &cfg, &w->host.port, &w->pages, TBL_OWNER,
			   0),
	     "vmsa");
	side_setup(w, &w->sv, "vmsa", &w->vmsa.as, false, 640, R_OBJS);

	w->pmsa = xalloc(64, sizeof(*w->pmsa));
	must(kmm_pmsa_init(w->pmsa, &w->host.port, &pcfg), "pmsa");
	if (kmm_pmsa_load(w->pmsa) < 0)
		must(KMM_EINVAL, "pmsa load");
	side_setup(w, &w->sp, "pmsa", &w->pmsa->as, true, 256, 256);

	w->svs_mem = xalloc(_Alignof(struct kmm_vaspace_node), S_NODES * nsz);
	must(kmm_slab_init(&w->svs_slab, nsz,
			   _Alignof(struct kmm_vaspace_node)),
	     "slab");
	must(kmm_slab_add_memory(&w->svs_slab, w->svs_mem, S_NODES * nsz),
	     "slab memory");
	scfg.nodes = &w->svs_slab;
	scfg.port = &w->host.port;
	must(kmm_vaspace_init(&w->svs, &scfg), "vaspace");
	must(kmm_vaspace_add_window(&w->svs, S_W1, S_W1_PAGES * PG), "window");
	must(kmm_vaspace_add_window(&w->svs, S_W2, S_W2_PAGES * PG), "window");
	guests_setup(w);
	refresh_tables(w);
	return w;
}

static void side_free(struct side *s)
{
	free(s->vs_mem);
	free(s->obj_mem);
}

static void world_free(struct world *w)
{
	side_free(&w->sv);
	side_free(&w->sp);
	free(w->svs_mem);
	free(w->pmsa);
	free(w->meta);
	kmm_host_fini(&w->host);
	free(w);
}

/* Everything the model knows, checked at the end of a run. */
static void final_check(struct world *w)
{
	w->opname = "final check";
	CHECK(w, kmm_pages_check(&w->pages) == 0, "page allocator corrupt");
	check_usage(w);
	for (unsigned int i = 0; i < V_PAGES; i += 7)
		v_check_page(w, i, 0);
	p_check(w);
	side_check_usage(w, &w->sv);
	side_check_usage(w, &w->sp);
	s_check(w);
	/* Tearing everything down gives every table page back. */
	for (kmm_owner_t o = 0; o < NOWN; o++) {
		CHECK(w, kmm_region_free_all(&w->vmsa.as, o) >= 0,
		      "region free_all");
		kmm_region_free_all(&w->pmsa->as, o);
	}
	CHECK(w, kmm_as_destroy(&w->vmsa.as) == 0, "destroy");
	for (kmm_owner_t o = 0; o < NOWN; o++)
		CHECK(w, kmm_pages_free_all(&w->pages, o) == 0, "free_all");
	{
		struct kmm_pages_stats ps;

		CHECK(w,
		      kmm_pages_stats(&w->pages, &ps) == 0 &&
			      ps.free_pages == NFRAMES,
		      "%llu frames free after teardown, want %u",
		      (unsigned long long)ps.free_pages, NFRAMES);
	}
}

void fz_run(const uint8_t *data, size_t len, uint64_t max_ops,
	    struct fz_stats *st)
{
	struct rd r = { data, len, 0 };
	struct world *w = world_new(st);

	for (w->opno = 0; r.i < r.n && (max_ops == 0 || w->opno < max_ops);
	     w->opno++) {
		unsigned int op = rd8(&r) % OP_COUNT;
		uint64_t failed = st->failed;

		w->opname = op_names[op];
		w->op = op;
		switch (op) {
		case OP_PG_ALLOC:
			op_pg_alloc(w, &r);
			break;
		case OP_PG_FREE:
			op_pg_free(w, &r);
			break;
		case OP_PG_FREE_ALL:
			op_pg_free_all(w, &r);
			break;
		case OP_PG_QUOTA:
			op_pg_quota(w, &r);
			break;
		case OP_PG_OWNER:
			op_pg_owner(w, &r);
			break;
		case OP_S_ALLOC:
			op_s_alloc(w, &r);
			break;
		case OP_S_CLAIM:
			op_s_claim(w, &r);
			break;
		case OP_S_FREE:
			op_s_free(w, &r);
			break;
		case OP_S_FREE_ALL:
			op_s_free_all(w, &r);
			break;
		case OP_S_QUOTA:
			op_s_quota(w, &r);
			break;
		case OP_S_FIND:
			op_s_find(w, &r);
			break;
		case OP_V_MAP:
			op_v_map(w, &r);
			break;
		case OP_V_UNMAP:
			op_v_unmap(w, &r);
			break;
		case OP_V_PROTECT:
			op_v_protect(w, &r);
			break;
		case OP_V_QUERY:
			op_v_query(w, &r);
			break;
		case OP_V_VMAP:
			op_vmap(w, &r, &w->sv);
			break;
		case OP_V_IOREMAP:
			op_ioremap(w, &r, &w->sv);
			break;
		case OP_V_VUNMAP:
			op_vunmap(w, &r, &w->sv);
			break;
		case OP_V_FREE_ALL:
			op_region_free_all(w, &r, &w->sv);
			break;
		case OP_V_QUOTA:
			op_region_quota(w, &r, &w->sv);
			break;
		case OP_V_P2V:
			op_p2v(w, &r, &w->sv);
			break;
		case OP_V_V2P:
			op_v2p(w, &r, &w->sv);
			break;
		case OP_P_MAP:
			op_p_map(w, &r);
			break;
		case OP_P_UNMAP:
			op_p_unmap(w, &r);
			break;
		case OP_P_PROTECT:
			op_p_protect(w, &r);
			break;
		case OP_P_VMAP:
			op_vmap(w, &r, &w->sp);
			break;
		case OP_P_IOREMAP:
			op_ioremap(w, &r, &w->sp);
			break;
		case OP_P_VUNMAP:
			op_vunmap(w, &r, &w->sp);
			break;
		case OP_P_FREE_ALL:
			op_region_free_all(w, &r, &w->sp);
			break;
		case OP_P_QUOTA:
			op_region_quota(w, &r, &w->sp);
			break;
		case OP_P_P2V:
			op_p2v(w, &r, &w->sp);
			break;
		case OP_G_CREATE:
			op_g_create(w, &r);
			break;
		case OP_G_DESTROY:
			op_g_destroy(w, &r);
			break;
		case OP_P_V2P:
		default:
			op_v2p(w, &r, &w->sp);
			break;
		}
		check_usage(w);
		if ((w->opno & 63) == 0)
			CHECK(w, kmm_pages_check(&w->pages) == 0,
			      "page allocator corrupt");
		st->ops++;
		if (st->failed == failed)
			st->ok_by_op[op]++;
	}
	final_check(w);
	world_free(w);
}
