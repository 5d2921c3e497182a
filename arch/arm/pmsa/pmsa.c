// SPDX-License-Identifier: BSD-2-Clause
/*
 * The PMSA backend: MPU region sets behind the kmm_as API.
 *
 * Invariants of a set, kept by every successful call:
 *  - regions[0..nregions) are sorted by base, never overlap, and no two
 *    adjacent ones (limit + 1 == base) have the same attr, owner and flags;
 *  - nregions <= nslots, every region has a distinct slot < nslots, and
 *    hw[slot] is the encoding of the region in that slot (other slots of
 *    the set hold rlar == 0);
 *  - refs[0..nrefs) are sorted, never overlap, lie inside mapped bytes,
 *    have count >= 2 and no two adjacent ones have the same count. A
 *    mapped byte outside every ref is mapped once.
 *
 * Every update is computed in full in p->scratch (next regions, next refs,
 * the slot each region goes to and the order of the register writes); only
 * when that succeeds is it committed, and the commit cannot fail. So a
 * failed call changes nothing, hardware included.
 */
#include "kmm/pmsa.h"
#include "as_internal.h"
#include "util.h"

#define NO_SLOT 0xffu

/* How a slot changes in an update. */
enum slot_kind {
	SLOT_IDLE, /* empty before and after */
	SLOT_KEEP, /* same content before and after: no write */
	SLOT_DISABLE, /* holds a region that goes away */
	SLOT_MORPH, /* same attributes, overlapping range: rewrite in place */
	SLOT_FRESH, /* gets a region unrelated to what it held */
};

/* How a region set update may place regions in slots. */
enum place_mode {
	PLACE_STABLE, /* keep every region where it is as far as possible */
	PLACE_PACK, /* pack into the lowest slots, except the kept ranges */
};

static const struct kmm_backend_ops pmsa_ops;

static struct kmm_pmsa *pmsa_of(struct kmm_as *as)
{
	return kmm_container_of(as, struct kmm_pmsa, as);
}

static const struct kmm_pmsa *cpmsa_of(const struct kmm_as *as)
{
	const void *p = (const char *)as - offsetof(struct kmm_pmsa, as);

	return p;
}

static uint64_t space_end(const struct kmm_pmsa *p)
{
	return p->arch == KMM_PMSA_ARMV8R_AARCH64 ? 1ull << 48 : 1ull << 32;
}

/* ------------------------------------------------------------------------
 * Port access.
 */

static void hw_write(const struct kmm_pmsa *p, unsigned int slot,
		     const struct kmm_pmsa_slot *v)
{
	const struct kmm_port *port = p->as.port;

	if (port && port->mpu_write)
		port->mpu_write(port->cookie, p->bank, p->first_slot + slot,
				v->rbar, v->rlar);
}

static void hw_sync(const struct kmm_pmsa *p)
{
	const struct kmm_port *port = p->as.port;

	if (port && port->mpu_sync)
		port->mpu_sync(port->cookie);
}

static bool slot_enabled(const struct kmm_pmsa_slot *v)
{
	return v->rlar != 0;
}

static bool slot_equal(const struct kmm_pmsa_slot *a,
		       const struct kmm_pmsa_slot *b)
{
	return a->rbar == b->rbar && a->rlar == b->rlar;
}

/* Same attribute bits (everything below the address fields). */
static bool slot_same_attr(const struct kmm_pmsa *p,
			   const struct kmm_pmsa_slot *a,
			   const struct kmm_pmsa_slot *b)
{
	uint64_t low = kmm_pmsa_granule(p->arch) - 1;

	return (a->rbar & low) == (b->rbar & low) &&
	       (a->rlar & low) == (b->rlar & low);
}

static void slot_range(const struct kmm_pmsa *p, const struct kmm_pmsa_slot *v,
		       kmm_paddr_t *base, kmm_paddr_t *limit)
{
	kmm_attr_t attr;

	if (kmm_pmsa_decode(p->arch, v->rbar, v->rlar, base, limit, &attr)) {
		*base = 1;
		*limit = 0; /* empty */
	}
}

static bool overlaps(kmm_paddr_t a0, kmm_paddr_t a1, kmm_paddr_t b0,
		     kmm_paddr_t b1)
{
	return a0 <= a1 && b0 <= b1 && a0 <= b1 && b0 <= a1;
}

/* ------------------------------------------------------------------------
 * Building the next region and ref lists, merging as we go.
 */

struct rbuild {
	struct kmm_pmsa_region *out;
	unsigned int n;
	bool full;
};

struct fbuild {
	struct kmm_pmsa_ref *out;
	unsigned int n;
	bool full;
};

static bool same_kind(const struct kmm_pmsa_region *a,
		      const struct kmm_pmsa_region *b)
{
	return a->attr == b->attr && a->owner == b->owner &&
	       a->flags == b->flags;
}

/* Appends [base, limit] with the attributes of @like; empty if base > limit.
 * Pieces must come in ascending order. */
static void emit_region(struct rbuild *b, kmm_paddr_t base, kmm_paddr_t limit,
			const struct kmm_pmsa_region *like)
{
	struct kmm_pmsa_region *last = b->n ? &b->out[b->n - 1] : NULL;

	if (base > limit)
		return;
	if (last && last->limit + 1 == base && same_kind(last, like)) {
		last->limit = limit;
		return;
	}
	if (b->n == KMM_PMSA_MAX_REGIONS) {
		b->full = true;
		return;
	}
	b->out[b->n] = *like;
	b->out[b->n].base = base;
	b->out[b->n].limit = limit;
	b->out[b->n].slot = NO_SLOT;
	b->n++;
}

static void emit_ref(struct fbuild *b, kmm_paddr_t base, kmm_paddr_t limit,
		     uint32_t count)
{
	struct kmm_pmsa_ref *last = b->n ? &b->out[b->n - 1] : NULL;

	if (base > limit || count < 2)
		return;
	if (last && last->limit + 1 == base && last->count == count) {
		last->limit = limit;
		return;
	}
	if (b->n == KMM_PMSA_MAX_REGIONS) {
		b->full = true;
		return;
	}
	b->out[b->n].base = base;
	b->out[b->n].limit = limit;
	b->out[b->n].count = count;
	b->n++;
}

static void start_regions(struct kmm_pmsa *p, struct rbuild *b)
{
	b->out = p->scratch.regions;
	b->n = 0;
	b->full = false;
}

static void start_refs(struct kmm_pmsa *p, struct fbuild *b)
{
	b->out = p->scratch.refs;
	b->n = 0;
	b->full = false;
}

/* How [a, z] is covered by the current regions. */
struct cover {
	bool any; /* some byte is mapped */
	bool full; /* every byte is mapped */
	bool uniform; /* every mapped byte has the attributes of @first */
	bool foreign; /* some mapped byte belongs to another owner */
	const struct kmm_pmsa_region *first;
};

static void cover_of(const struct kmm_pmsa *p, kmm_paddr_t a, kmm_paddr_t z,
		     kmm_owner_t who, struct cover *c)
{
	kmm_paddr_t pos = a;
	unsigned int i;

	c->any = false;
	c->full = true;
	c->uniform = true;
	c->foreign = false;
	c->first = NULL;
	for (i = 0; i < p->nregions; i++) {
		const struct kmm_pmsa_region *r = &p->regions[i];

		if (r->limit < a)
			continue;
		if (r->base > z)
			break;
		if (r->base > pos)
			c->full = false;
		if (!c->first)
			c->first = r;
		else if (!same_kind(c->first, r))
			c->uniform = false;
		if (who != KMM_OWNER_KERNEL && r->owner != who)
			c->foreign = true;
		c->any = true;
		pos = r->limit + 1;
	}
	if (!c->any || pos <= z)
		c->full = false;
}

/* ------------------------------------------------------------------------
 * Placing the next regions in slots and ordering the writes.
 */

static int region_val(const struct kmm_pmsa *p, const struct kmm_pmsa_region *r,
		      struct kmm_pmsa_slot *v)
{
	return kmm_pmsa_encode(p->arch, r->base, r->limit, r->attr, &v->rbar,
			       &v->rlar);
}

/* Slot of the current set whose region contains [b, e], or NO_SLOT. */
static unsigned int old_slot_holding(const struct kmm_pmsa *p, kmm_paddr_t b,
				     kmm_paddr_t e)
{
	kmm_paddr_t base, limit;
	unsigned int s;

	for (s = 0; s < p->nslots; s++) {
		slot_range(p, &p->hw[s], &base, &limit);
		if (base <= b && e <= limit)
			return s;
	}
	return NO_SLOT;
}

/* Index of the next region containing [b, e], or -1. */
static int next_region_holding(const struct kmm_pmsa_scratch *s, kmm_paddr_t b,
			       kmm_paddr_t e)
{
	unsigned int i;

	for (i = 0; i < s->nregions; i++)
		if (s->regions[i].base <= b && e <= s->regions[i].limit)
			return (int)i;
	return -1;
}

static void claim(struct kmm_pmsa *p, uint8_t *owner_of, unsigned int i,
		  unsigned int slot)
{
	owner_of[slot] = (uint8_t)i;
	p->scratch.regions[i].slot = (uint8_t)slot;
}

/* The unclaimed, enabled slot with the same attributes whose old range
 * overlaps @r the most, or NO_SLOT. */
static unsigned int best_morph(const struct kmm_pmsa *p,
			       const uint8_t *owner_of,
			       const struct kmm_pmsa_region *r,
			       const struct kmm_pmsa_slot *v)
{
	unsigned int s, best = NO_SLOT;
	uint64_t best_len = 0;

	for (s = 0; s < p->nslots; s++) {
		kmm_paddr_t base, limit;
		uint64_t len;

		if (owner_of[s] != NO_SLOT || !slot_enabled(&p->hw[s]) ||
		    !slot_same_attr(p, &p->hw[s], v))
			continue;
		slot_range(p, &p->hw[s], &base, &limit);
		if (!overlaps(base, limit, r->base, r->limit))
			continue;
		len = kmm_min_u64(limit, r->limit) -
		      kmm_max_u64(base, r->base) + 1;
		if (len > best_len) {
			best_len = len;
			best = s;
		}
	}
	return best;
}

/* The first unclaimed slot that holds exactly @v, or NO_SLOT. */
static unsigned int equal_slot(const struct kmm_pmsa *p,
			       const uint8_t *owner_of,
			       const struct kmm_pmsa_slot *v)
{
	unsigned int s;

	for (s = 0; s < p->nslots; s++)
		if (owner_of[s] == NO_SLOT && slot_equal(&p->hw[s], v))
			return s;
	return NO_SLOT;
}

/* Claims the slots of the regions that hold a kept range, in place. */
static int place_kept(struct kmm_pmsa *p, uint8_t *owner_of,
		      const struct kmm_pmsa_range *keep, size_t nkeep)
{
	struct kmm_pmsa_scratch *sc = &p->scratch;
	size_t k;

	for (k = 0; k < nkeep; k++) {
		kmm_paddr_t b = keep[k].base, e = b + (keep[k].size - 1);
		unsigned int s = old_slot_holding(p, b, e);
		int i = next_region_holding(sc, b, e);
		struct kmm_pmsa_slot v;

		if (s == NO_SLOT || i < 0)
			return KMM_EBUSY;
		region_val(p, &sc->regions[i], &v);
		if (!slot_same_attr(p, &p->hw[s], &v))
			return KMM_EBUSY;
		if (sc->regions[i].slot == s)
			continue;
		if (sc->regions[i].slot != NO_SLOT || owner_of[s] != NO_SLOT)
			return KMM_EBUSY;
		claim(p, owner_of, (unsigned int)i, s);
	}
	return KMM_OK;
}

/*
 * Orders the in-place rewrites: rewriting slot j (old range O_j, new R_j)
 * must wait for every other pending rewrite k whose old range O_k
 * overlaps R_j, or the two enabled slots would overlap for a moment.
 */
static int order_morphs(struct kmm_pmsa *p, const uint8_t *owner_of)
{
	struct kmm_pmsa_scratch *sc = &p->scratch;
	uint8_t pending[KMM_PMSA_MAX_REGIONS];
	unsigned int npending = 0, s, j, k;

	for (s = 0; s < p->nslots; s++)
		if (sc->kind[s] == SLOT_MORPH)
			pending[npending++] = (uint8_t)s;
	sc->nmorph = 0;
	while (npending) {
		bool picked = false;

		for (j = 0; j < npending && !picked; j++) {
			const struct kmm_pmsa_region *rj =
				&sc->regions[owner_of[pending[j]]];
			bool blocked = false;

			for (k = 0; k < npending && !blocked; k++) {
				kmm_paddr_t ob, ol;

				if (k == j)
					continue;
				slot_range(p, &p->hw[pending[k]], &ob, &ol);
				blocked = overlaps(ob, ol, rj->base, rj->limit);
			}
			if (blocked)
				continue;
			sc->morph[sc->nmorph++] = pending[j];
			pending[j] = pending[--npending];
			picked = true;
		}
		if (!picked)
			return KMM_EBUSY;
	}
	return KMM_OK;
}

/*
 * Places scratch.regions in slots and plans the writes. Fails with
 * KMM_ENOSPC when the regions do not fit the set's slots and KMM_EBUSY
 * when a kept range cannot stay mapped; changes nothing in @p but scratch.
 */
static int plan(struct kmm_pmsa *p, enum place_mode mode,
		const struct kmm_pmsa_range *keep, size_t nkeep)
{
	struct kmm_pmsa_scratch *sc = &p->scratch;
	uint8_t owner_of[KMM_PMSA_MAX_REGIONS];
	struct kmm_pmsa_slot v;
	unsigned int i, s, pass;
	int ret;

	if (sc->nregions > p->nslots)
		return KMM_ENOSPC;
	for (s = 0; s < p->nslots; s++)
		owner_of[s] = NO_SLOT;
	for (i = 0; i < sc->nregions; i++)
		sc->regions[i].slot = NO_SLOT;

	ret = place_kept(p, owner_of, keep, nkeep);
	if (ret)
		return ret;
	/* Stable: unchanged regions first (pass 0), then in-place rewrites. */
	for (pass = 0; mode == PLACE_STABLE && pass < 2; pass++) {
		for (i = 0; i < sc->nregions; i++) {
			if (sc->regions[i].slot != NO_SLOT)
				continue;
			region_val(p, &sc->regions[i], &v);
			s = pass ? best_morph(p, owner_of, &sc->regions[i],
					      &v) :
				   equal_slot(p, owner_of, &v);
			if (s != NO_SLOT)
				claim(p, owner_of, i, s);
		}
	}
	/* Everything else goes to the lowest free slot. */
	s = 0;
	for (i = 0; i < sc->nregions; i++) {
		if (sc->regions[i].slot != NO_SLOT)
			continue;
		while (owner_of[s] != NO_SLOT)
			s++;
		claim(p, owner_of, i, s);
	}

	for (s = 0; s < p->nslots; s++) {
		const struct kmm_pmsa_slot *old = &p->hw[s];
		struct kmm_pmsa_slot *nv = &sc->hw[s];

		if (owner_of[s] == NO_SLOT) {
			nv->rbar = 0;
			nv->rlar = 0;
			sc->kind[s] = slot_enabled(old) ? SLOT_DISABLE :
							  SLOT_IDLE;
			continue;
		}
		region_val(p, &sc->regions[owner_of[s]], nv);
		if (slot_equal(old, nv)) {
			sc->kind[s] = SLOT_KEEP;
		} else if (slot_enabled(old) && slot_same_attr(p, old, nv)) {
			kmm_paddr_t ob, ol;

			slot_range(p, old, &ob, &ol);
			sc->kind[s] = overlaps(ob, ol,
					       sc->regions[owner_of[s]].base,
					       sc->regions[owner_of[s]].limit) ?
					      SLOT_MORPH :
					      SLOT_FRESH;
		} else {
			sc->kind[s] = SLOT_FRESH;
		}
	}
	return order_morphs(p, owner_of);
}

/*
 * Writes the planned slots (when live) and makes scratch the current state.
 * Order: disable what goes away or is replaced by something unrelated;
 * rewrite in place, one slot at a time, each completed before the next;
 * then write the new regions. Returns the number of slot writes.
 */
static unsigned int commit(struct kmm_pmsa *p)
{
	struct kmm_pmsa_scratch *sc = &p->scratch;
	unsigned int s, m, writes = 0, n;

	if (p->live) {
		n = 0;
		for (s = 0; s < p->nslots; s++) {
			/*
			 * Disable with the old base: the port writes the base
			 * register first, and a new base under the old limit
			 * would be a region nobody asked for.
			 */
			struct kmm_pmsa_slot off = { p->hw[s].rbar, 0 };

			if (sc->kind[s] == SLOT_DISABLE ||
			    (sc->kind[s] == SLOT_FRESH &&
			     slot_enabled(&p->hw[s]))) {
				hw_write(p, s, &off);
				n++;
			}
		}
		if (n)
			hw_sync(p);
		writes += n;
		for (m = 0; m < sc->nmorph; m++) {
			hw_write(p, sc->morph[m], &sc->hw[sc->morph[m]]);
			hw_sync(p);
			writes++;
		}
		n = 0;
		for (s = 0; s < p->nslots; s++) {
			if (sc->kind[s] == SLOT_FRESH) {
				hw_write(p, s, &sc->hw[s]);
				n++;
			}
		}
		if (n)
			hw_sync(p);
		writes += n;
	}
	kmm_memcpy(p->regions, sc->regions,
		   sc->nregions * sizeof(p->regions[0]));
	p->nregions = sc->nregions;
	kmm_memcpy(p->refs, sc->refs, sc->nrefs * sizeof(p->refs[0]));
	p->nrefs = sc->nrefs;
	kmm_memcpy(p->hw, sc->hw, p->nslots * sizeof(p->hw[0]));
	return writes;
}

/* True when scratch holds the same regions as the set (slots aside). */
static bool regions_unchanged(const struct kmm_pmsa *p)
{
	const struct kmm_pmsa_scratch *sc = &p->scratch;
	unsigned int i;

	if (sc->nregions != p->nregions)
		return false;
	for (i = 0; i < p->nregions; i++)
		if (sc->regions[i].base != p->regions[i].base ||
		    sc->regions[i].limit != p->regions[i].limit ||
		    !same_kind(&sc->regions[i], &p->regions[i]))
			return false;
	return true;
}

/* Plans and commits the lists built in scratch. */
static int apply(struct kmm_pmsa *p)
{
	int ret;

	if (regions_unchanged(p)) {
		/* Only reference counts change: no slot, no write. */
		kmm_memcpy(p->refs, p->scratch.refs,
			   p->scratch.nrefs * sizeof(p->refs[0]));
		p->nrefs = p->scratch.nrefs;
		return KMM_OK;
	}
	ret = plan(p, PLACE_STABLE, NULL, 0);

	if (ret)
		return ret;
	commit(p);
	return KMM_OK;
}

/* ------------------------------------------------------------------------
 * Map, unmap, protect on inclusive ranges [a, z].
 */

static int check_encodable(const struct kmm_pmsa *p, kmm_paddr_t a,
			   kmm_paddr_t z, kmm_attr_t attr)
{
	uint64_t rbar, rlar;

	return kmm_pmsa_encode(p->arch, a, z, attr, &rbar, &rlar);
}

/*
 * Emits the refs after @delta is added to the count of every mapped byte
 * of [a, z] (a byte outside every ref counts one). Counts below two are
 * not refs, so +1 counts a range inside mapped memory again, 0 copies the
 * refs and -1 drops one reference from each byte.
 */
static void build_refs(const struct kmm_pmsa *p, kmm_paddr_t a, kmm_paddr_t z,
		       int delta, struct fbuild *b)
{
	kmm_paddr_t pos = a;
	bool done = false;
	unsigned int i;

	for (i = 0; i < p->nrefs; i++) {
		const struct kmm_pmsa_ref *f = &p->refs[i];

		if (f->limit < a || f->base > z) {
			if (f->base > z && !done) {
				emit_ref(b, pos, z, 1 + delta);
				done = true;
			}
			emit_ref(b, f->base, f->limit, f->count);
			continue;
		}
		if (f->base < a)
			emit_ref(b, f->base, a - 1, f->count);
		if (f->base > pos)
			emit_ref(b, pos, f->base - 1, 1 + delta);
		emit_ref(b, kmm_max_u64(f->base, a), kmm_min_u64(f->limit, z),
			 f->count + delta);
		if (f->limit >= z) {
			emit_ref(b, z + 1, f->limit, f->count);
			done = true;
		}
		pos = f->limit + 1;
	}
	if (!done)
		emit_ref(b, pos, z, 1 + delta);
}

/* Emits the bytes of [s, e] that stay mapped after one reference to each is
 * dropped: those whose count is two or more. */
static void emit_survivors(const struct kmm_pmsa *p, struct rbuild *b,
			   kmm_paddr_t s, kmm_paddr_t e,
			   const struct kmm_pmsa_region *r)
{
	unsigned int i;

	for (i = 0; i < p->nrefs; i++) {
		const struct kmm_pmsa_ref *f = &p->refs[i];

		if (f->limit < s)
			continue;
		if (f->base > e)
			break;
		emit_region(b, kmm_max_u64(f->base, s),
			    kmm_min_u64(f->limit, e), r);
	}
}

/* What an update does to the regions over [a, z]. */
enum rewrite {
	REWRITE_MAP, /* insert the new region if nothing is mapped there */
	REWRITE_ATTR, /* give every mapped byte the new attributes */
	REWRITE_UNMAP, /* keep only the bytes mapped more than once */
};

/*
 * Builds in scratch the regions and refs after an update of [a, z] and
 * applies them. @nr is the new region (REWRITE_MAP) or carries the new
 * attributes (REWRITE_ATTR); mapped bytes of [a, z] get @nr's attributes
 * unless unmapped, so a map that only counts (every byte already mapped
 * with them) leaves the regions as they are. @delta goes to build_refs().
 * Parts of a region outside [a, z] keep what they have.
 */
static int rewrite(struct kmm_pmsa *p, kmm_paddr_t a, kmm_paddr_t z,
		   enum rewrite how, const struct kmm_pmsa_region *nr,
		   int delta)
{
	struct rbuild rb;
	struct fbuild fb;
	bool placed = how != REWRITE_MAP;
	unsigned int i;

	start_regions(p, &rb);
	for (i = 0; i < p->nregions; i++) {
		const struct kmm_pmsa_region *r = &p->regions[i];
		struct kmm_pmsa_region changed;
		kmm_paddr_t s, e;

		if (r->limit < a || r->base > z) {
			if (!placed && r->base > z) {
				emit_region(&rb, a, z, nr);
				placed = true;
			}
			emit_region(&rb, r->base, r->limit, r);
			continue;
		}
		/* Something is mapped in [a, z]: a map only counts it. */
		placed = true;
		if (r->base < a)
			emit_region(&rb, r->base, a - 1, r);
		s = kmm_max_u64(r->base, a);
		e = kmm_min_u64(r->limit, z);
		if (how == REWRITE_UNMAP) {
			emit_survivors(p, &rb, s, e, r);
		} else {
			changed = *r;
			changed.attr = nr->attr;
			emit_region(&rb, s, e, &changed);
		}
		if (r->limit > z)
			emit_region(&rb, z + 1, r->limit, r);
	}
	if (!placed)
		emit_region(&rb, a, z, nr);
	start_refs(p, &fb);
	build_refs(p, a, z, delta, &fb);
	if (rb.full || fb.full)
		return KMM_ENOSPC;
	p->scratch.nregions = rb.n;
	p->scratch.nrefs = fb.n;
	return apply(p);
}

/*
 * Map, unmap or protect [a, z] for @who. A map adds a region of @who with
 * @attr and @flags where nothing is mapped, or counts a range that lies
 * inside identical memory once more; unmap and protect need every mapped
 * byte of the range to be @who's (any owner's for the kernel) and, for
 * unmap some, for protect all, of the range mapped.
 */
static int update(struct kmm_pmsa *p, kmm_paddr_t a, kmm_paddr_t z,
		  enum rewrite how, kmm_attr_t attr, kmm_owner_t who,
		  unsigned int flags)
{
	struct kmm_pmsa_region nr = { .base = a,
				      .limit = z,
				      .attr = attr,
				      .owner = who,
				      .flags = (uint8_t)flags,
				      .slot = NO_SLOT };
	struct cover c;
	int delta, ret;

	ret = how == REWRITE_UNMAP ? KMM_OK : check_encodable(p, a, z, attr);
	if (ret)
		return ret;
	cover_of(p, a, z, how == REWRITE_MAP ? KMM_OWNER_KERNEL : who, &c);
	if (how == REWRITE_MAP) {
		/* A range inside identical memory is counted, not mapped. */
		if (c.any &&
		    (!c.full || !c.uniform || !same_kind(c.first, &nr)))
			return KMM_EEXIST;
		delta = c.any;
	} else {
		if (how == REWRITE_ATTR ? !c.full : !c.any)
			return KMM_ENOENT;
		if (c.foreign)
			return KMM_EPERM;
		delta = how == REWRITE_UNMAP ? -1 : 0;
	}
	return rewrite(p, a, z, how, &nr, delta);
}

/* ------------------------------------------------------------------------
 * The backend ops behind kmm_map() and friends. map.c has checked the
 * range against caps (granule, end), the attributes and W^X, and holds
 * the lock.
 */

static int pmsa_map(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		    size_t size, kmm_attr_t attr)
{
	if (va != pa)
		return KMM_ENOTSUP; /* an MPU cannot translate */
	return update(pmsa_of(as), pa, pa + (size - 1), REWRITE_MAP, attr,
		      as->owner, 0);
}

static int pmsa_unmap(struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	return update(pmsa_of(as), va, va + (size - 1), REWRITE_UNMAP, 0,
		      as->owner, 0);
}

static int pmsa_protect(struct kmm_as *as, kmm_vaddr_t va, size_t size,
			kmm_attr_t attr)
{
	return update(pmsa_of(as), va, va + (size - 1), REWRITE_ATTR, attr,
		      as->owner, 0);
}

static const struct kmm_pmsa_region *find(const struct kmm_pmsa *p,
					  kmm_paddr_t x)
{
	unsigned int lo = 0, hi = p->nregions;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct kmm_pmsa_region *r = &p->regions[mid];

		if (x < r->base)
			hi = mid;
		else if (x > r->limit)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

static int pmsa_query(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa,
		      kmm_attr_t *attr, size_t *mapping_size)
{
	const struct kmm_pmsa_region *r = find(cpmsa_of(as), va);
	uint64_t len;

	if (!r)
		return KMM_ENOENT;
	if (pa)
		*pa = va;
	if (attr)
		*attr = r->attr;
	if (mapping_size) {
		len = r->limit - r->base + 1;
		*mapping_size = len > (uint64_t)SIZE_MAX ? SIZE_MAX :
							   (size_t)len;
	}
	return KMM_OK;
}

static void pmsa_caps(const struct kmm_as *as, struct kmm_as_caps *caps)
{
	const struct kmm_pmsa *p = cpmsa_of(as);
	unsigned int lo = kmm_log2_u64(kmm_pmsa_granule(p->arch));
	unsigned int hi = kmm_log2_u64(space_end(p));

	caps->flags = KMM_CAP_IDENTITY_ONLY | KMM_CAP_PARTIAL_UNMAP;
	/* Every power of two from the granule to the end of the space. */
	caps->block_sizes = ((2ull << hi) - 1) & ~((1ull << lo) - 1);
	caps->granule = kmm_pmsa_granule(p->arch);
	caps->va_end = space_end(p);
}

static void pmsa_dump(const struct kmm_as *as)
{
	const struct kmm_pmsa *p = cpmsa_of(as);
	unsigned int i;

	kmm_log(as->port, "pmsa bank %u: %u of %u slots used",
		(uint64_t)p->bank, (uint64_t)p->nregions, (uint64_t)p->nslots);
	for (i = 0; i < p->nregions; i++) {
		const struct kmm_pmsa_region *r = &p->regions[i];

		kmm_log(as->port,
			"  slot %u: %x-%x attr %x owner %u%s rbar %x rlar %x",
			(uint64_t)(p->first_slot + r->slot), r->base, r->limit,
			(uint64_t)r->attr, (uint64_t)r->owner,
			(r->flags & KMM_PMSA_REGION_INIT) ? " init" : "",
			p->hw[r->slot].rbar, p->hw[r->slot].rlar);
	}
}

static int pmsa_destroy(struct kmm_as *as)
{
	struct kmm_pmsa *p = pmsa_of(as);

	p->scratch.nregions = 0;
	p->scratch.nrefs = 0;
	return apply(p);
}

static const struct kmm_backend_ops pmsa_ops = {
	.map = pmsa_map,
	.unmap = pmsa_unmap,
	.protect = pmsa_protect,
	.query = pmsa_query,
	.caps = pmsa_caps,
	.dump = KMM_CONFIG_DIAGNOSTICS ? pmsa_dump : NULL,
	.destroy = pmsa_destroy,
};

/* ------------------------------------------------------------------------
 * Public functions.
 */

static void init_common(struct kmm_pmsa *p, const struct kmm_port *port,
			unsigned int arch, uint32_t as_flags, kmm_owner_t owner)
{
	kmm_memzero(p, sizeof(*p));
	p->as.ops = &pmsa_ops;
	p->as.port = port;
	p->as.flags = as_flags;
	p->as.owner = owner;
	p->arch = arch;
}

int kmm_pmsa_init(struct kmm_pmsa *p, const struct kmm_port *port,
		  const struct kmm_pmsa_config *cfg)
{
	unsigned int arch;

	if (p == NULL || cfg == NULL)
		return KMM_EINVAL;
	arch = cfg->arch ? cfg->arch : KMM_CONFIG_PMSA_ARCH;
	if (kmm_pmsa_granule(arch) == 0 || cfg->hyp_slots == 0 ||
	    cfg->hyp_slots > KMM_PMSA_MAX_REGIONS ||
	    cfg->guest_slots > KMM_PMSA_MAX_REGIONS ||
	    cfg->guest_first + cfg->guest_slots > 255 ||
	    (cfg->as_flags & ~KMM_AS_ALLOW_WX))
		return KMM_EINVAL;
	if (cfg->shared_mpu && cfg->guest_slots &&
	    cfg->guest_first < cfg->hyp_slots)
		return KMM_EINVAL;
	init_common(p, port, arch, cfg->as_flags, KMM_OWNER_KERNEL);
	p->bank = KMM_PMSA_BANK_HYP;
	p->first_slot = 0;
	p->nslots = cfg->hyp_slots;
	p->guest_first = cfg->guest_first;
	p->guest_slots = cfg->guest_slots;
	return KMM_OK;
}

int kmm_pmsa_guest_init(struct kmm_pmsa *g, const struct kmm_pmsa *hyp,
			kmm_owner_t owner, unsigned int quota)
{
	if (g == NULL || hyp == NULL || hyp->hyp != NULL || g == hyp ||
	    owner == KMM_OWNER_KERNEL || owner == KMM_OWNER_NONE || quota == 0)
		return KMM_EINVAL;
	if (quota > hyp->guest_slots)
		return KMM_EQUOTA;
	init_common(g, hyp->as.port, hyp->arch, hyp->as.flags, owner);
	g->hyp = hyp;
	g->bank = KMM_PMSA_BANK_GUEST;
	g->first_slot = hyp->guest_first;
	g->nslots = quota;
	return KMM_OK;
}

/* kmm_pmsa_add() (@attr non-NULL) and kmm_pmsa_remove(). */
static int add_remove(struct kmm_pmsa *p, kmm_paddr_t base, size_t size,
		      const kmm_attr_t *attr, kmm_owner_t owner,
		      unsigned int flags)
{
	kmm_paddr_t z = base + (size - 1);
	int ret;

	if (p == NULL || p->as.ops != &pmsa_ops ||
	    (flags & ~KMM_PMSA_REGION_INIT) || owner == KMM_OWNER_NONE)
		return KMM_EINVAL;
	kmm_port_lock(p->as.port);
	/* For a removal only the range is checked: KMM_ATTR_R stands for
	 * "any". */
	ret = kmm_as_check_args(&p->as, base, attr ? base : 0, size,
				attr ? *attr : KMM_ATTR_R, attr != NULL);
	if (!ret)
		ret = update(p, base, z, attr ? REWRITE_MAP : REWRITE_UNMAP,
			     attr ? *attr : 0, owner, flags);
	kmm_port_unlock(p->as.port);
	return ret;
}

int kmm_pmsa_add(struct kmm_pmsa *p, kmm_paddr_t base, size_t size,
		 kmm_attr_t attr, kmm_owner_t owner, unsigned int flags)
{
	return add_remove(p, base, size, &attr, owner, flags);
}

int kmm_pmsa_remove(struct kmm_pmsa *p, kmm_paddr_t base, size_t size,
		    kmm_owner_t owner)
{
	return add_remove(p, base, size, NULL, owner, 0);
}

int kmm_pmsa_free_slots(const struct kmm_pmsa *p)
{
	if (p == NULL)
		return KMM_EINVAL;
	return (int)(p->nslots - p->nregions);
}

static int can_write(const struct kmm_pmsa *p)
{
	if (p->hyp != NULL)
		return KMM_EBUSY;
	if (p->as.port == NULL || p->as.port->mpu_write == NULL)
		return KMM_ENOTSUP;
	return KMM_OK;
}

/* kmm_pmsa_load() (@load: write every slot first) and kmm_pmsa_adopt(). */
static int go_live(struct kmm_pmsa *p, bool load)
{
	unsigned int s;
	int ret;

	if (p == NULL || p->as.ops != &pmsa_ops)
		return KMM_EINVAL;
	ret = can_write(p);
	if (ret)
		return ret;
	kmm_port_lock(p->as.port);
	if (load) {
		for (s = 0; s < p->nslots; s++)
			hw_write(p, s, &p->hw[s]);
		hw_sync(p);
	}
	p->live = true;
	kmm_port_unlock(p->as.port);
	return load ? (int)p->nslots : KMM_OK;
}

int kmm_pmsa_load(struct kmm_pmsa *p)
{
	return go_live(p, true);
}

int kmm_pmsa_adopt(struct kmm_pmsa *p)
{
	return go_live(p, false);
}

/* Keeps the refs that lie in surviving regions. */
static void build_refs_surviving(struct kmm_pmsa *p, struct fbuild *fb)
{
	const struct kmm_pmsa_scratch *sc = &p->scratch;
	unsigned int i, j;

	for (i = 0; i < p->nrefs; i++) {
		const struct kmm_pmsa_ref *f = &p->refs[i];

		for (j = 0; j < sc->nregions; j++) {
			const struct kmm_pmsa_region *r = &sc->regions[j];

			if (overlaps(f->base, f->limit, r->base, r->limit))
				emit_ref(fb, kmm_max_u64(f->base, r->base),
					 kmm_min_u64(f->limit, r->limit),
					 f->count);
		}
	}
}

int kmm_pmsa_boot_to_runtime(struct kmm_pmsa *p,
			     const struct kmm_pmsa_range *keep, size_t nkeep,
			     struct kmm_pmsa_report *rep)
{
	struct kmm_pmsa_report r = { 0 };
	struct rbuild rb;
	struct fbuild fb;
	unsigned int i;
	size_t k;
	int ret;

	if (p == NULL || p->as.ops != &pmsa_ops || p->hyp != NULL ||
	    (keep == NULL && nkeep))
		return KMM_EINVAL;
	for (k = 0; k < nkeep; k++)
		if (keep[k].size == 0 ||
		    kmm_range_wraps(keep[k].base, keep[k].size))
			return KMM_EINVAL;

	kmm_port_lock(p->as.port);
	start_regions(p, &rb);
	for (i = 0; i < p->nregions; i++) {
		const struct kmm_pmsa_region *reg = &p->regions[i];

		if (reg->flags & KMM_PMSA_REGION_INIT)
			r.dropped++;
		else
			emit_region(&rb, reg->base, reg->limit, reg);
	}
	p->scratch.nregions = rb.n;
	start_refs(p, &fb);
	build_refs_surviving(p, &fb);
	p->scratch.nrefs = fb.n;
	ret = plan(p, PLACE_PACK, keep, nkeep);
	if (ret == KMM_OK) {
		r.slots_before = p->nregions;
		r.writes = commit(p);
		r.slots_after = p->nregions;
		for (i = 0; i < p->nregions; i++)
			if (p->regions[i].slot + 1u > r.first_free)
				r.first_free = p->regions[i].slot + 1u;
		if (rep)
			*rep = r;
	}
	kmm_port_unlock(p->as.port);
	return ret;
}

int kmm_pmsa_switch(struct kmm_pmsa *from, struct kmm_pmsa *to)
{
	static const struct kmm_pmsa_slot off = { 0, 0 };
	const struct kmm_pmsa *hyp;
	unsigned int s;
	int writes = 0;

	if (to == NULL || to->as.ops != &pmsa_ops || to->hyp == NULL ||
	    to->live || from == to)
		return KMM_EINVAL;
	if (from &&
	    (from->as.ops != &pmsa_ops || from->hyp != to->hyp || !from->live))
		return KMM_EINVAL;
	hyp = to->hyp;
	kmm_port_lock(to->as.port);
	for (s = 0; s < hyp->guest_slots; s++) {
		const struct kmm_pmsa_slot *nv = s < to->nslots ? &to->hw[s] :
								  &off;
		const struct kmm_pmsa_slot *ov = &off;

		if (from) {
			ov = s < from->nslots ? &from->hw[s] : &off;
			if (slot_equal(ov, nv))
				continue;
		}
		if (!slot_enabled(nv)) {
			/* Disable with the old base (see commit()). */
			struct kmm_pmsa_slot dis = { ov->rbar, 0 };

			hw_write(to, s, &dis);
		} else {
			hw_write(to, s, nv);
		}
		writes++;
	}
	if (writes)
		hw_sync(to);
	if (from)
		from->live = false;
	to->live = true;
	kmm_port_unlock(to->as.port);
	return writes;
}
