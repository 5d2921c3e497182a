// SPDX-License-Identifier: BSD-2-Clause
/*
 * Dynamic regions: a red-black tree of regions by VA and a B+tree of
 * physical runs by PA (see kmm/region.h for the model). On an identity
 * address space (an MPU) every region is one run at VA == PA, so the VA
 * tree answers PA lookups and the B+tree stays empty (pa_indexed()).
 *
 * PA index invariants (the "pa tree"):
 * - Every leaf holds 1..PA_LEAF_CAP entries sorted by first PA; entries
 *   with equal first PA keep their insertion order (a new one goes after
 *   the equal ones). Every inner node holds 2..PA_INNER_CAP children.
 * - Every node but the root holds at least PA_LEAF_MIN entries or
 *   PA_INNER_MIN children: a split leaves two halves at least that full,
 *   and a removal that leaves a node below it borrows from or merges with
 *   a sibling. So the tree has O(log n) levels and never more than about
 *   n / PA_LEAF_MIN leaves.
 * - key[i] of an inner node is >= every first PA in children 0..i and
 *   <= every first PA in children i+1..count-1.
 * - last[i] of an inner node is the highest last PA in child i's subtree.
 * - All leaves are at the same depth; pa_height counts the levels.
 *
 * Node memory comes from the caller's slab. An insertion takes nodes from
 * a reserve filled beforehand (pa_reserve_needed() bounds what a batch of
 * insertions can split); a removal only gives nodes back.
 */
#include "kmm/region.h"

#include "as_internal.h"
#include "util.h"

#define PA_LEAF_CAP 15
#define PA_LEAF_MIN 7
#define PA_INNER_CAP 21
#define PA_INNER_MIN 10
/* Deeper than any tree that fits in a 64-bit address space. */
#define PA_MAX_HEIGHT 20

struct kmm_region_pa_node {
	uint16_t count; /* entries (leaf) or children (inner) */
	uint16_t leaf;
	uint32_t pending; /* kmm_vmap's dry run only; 0 otherwise */
	/*
	 * Slot i of a leaf is one run: first PA key[i], last PA last[i],
	 * mapped at va[i] in region[i]. Slot i of an inner node is child[i],
	 * the highest last PA below it in last[i] and, for i >= 1, the lowest
	 * key below it in key[i] (key[0] means nothing). Both kinds keep key[]
	 * first, so that node_key() reads either.
	 */
	union {
		struct {
			kmm_paddr_t key[PA_LEAF_CAP];
			kmm_paddr_t last[PA_LEAF_CAP];
			kmm_vaddr_t va[PA_LEAF_CAP];
			struct kmm_region *region[PA_LEAF_CAP];
		} l;
		struct {
			kmm_paddr_t key[PA_INNER_CAP];
			kmm_paddr_t last[PA_INNER_CAP];
			struct kmm_region_pa_node *child[PA_INNER_CAP];
		} in;
	};
};

_Static_assert(sizeof(struct kmm_region_pa_node) <= KMM_REGION_NODE_SIZE,
	       "PA index node must fit one metadata object");

/* One physical run: [pa, pa + size) mapped at va; size is implicit. */
struct region_run {
	kmm_paddr_t pa;
	kmm_vaddr_t va;
};

struct run_chunk {
	struct run_chunk *next;
	uint64_t unused;
	struct region_run runs[KMM_REGION_CHUNK_RUNS];
};

struct kmm_region {
	struct kmm_rb_node va_node;
	kmm_vaddr_t va;
	uint64_t size;
	struct kmm_region *owner_prev;
	struct kmm_region *owner_next;
	struct run_chunk *more;
	size_t nr_runs;
	kmm_attr_t attr;
	kmm_owner_t owner;
	uint8_t kind;
	struct region_run runs[KMM_REGION_INLINE_RUNS];
};

_Static_assert(sizeof(struct kmm_region) <= KMM_REGION_NODE_SIZE,
	       "region must fit one metadata object");
_Static_assert(sizeof(struct run_chunk) <= KMM_REGION_NODE_SIZE,
	       "run chunk must fit one metadata object");

/* Nodes taken for a batch of insertions, linked through their first word. */
struct node_reserve {
	void *head;
	size_t count;
};

/* ---------------------------------------------------------------------- */
/* PA index: lookups                                                      */
/* ---------------------------------------------------------------------- */

/*
 * Number of the sorted keys[0..n) that are <= x (or < x when @strict).
 * A branch-free binary search: the loop runs log2(n) times whatever the
 * keys, and the step is a conditional move, so nothing is mispredicted.
 */
static inline unsigned int count_keys(const kmm_paddr_t *keys, unsigned int n,
				      kmm_paddr_t x, bool strict)
{
	const kmm_paddr_t *b = keys;
	unsigned int len = n;

	if (n == 0)
		return 0;
	while (len > 1) {
		unsigned int half = len / 2;

		b = (strict ? b[half] < x : b[half] <= x) ? b + half : b;
		len -= half;
	}
	return (unsigned int)(b - keys) + (strict ? *b < x : *b <= x);
}

static inline unsigned int inner_le(const struct kmm_region_pa_node *n,
				    kmm_paddr_t x)
{
	return count_keys(n->in.key + 1, n->count - 1u, x, false);
}

static inline unsigned int leaf_le(const struct kmm_region_pa_node *n,
				   kmm_paddr_t x)
{
	return count_keys(n->l.key, n->count, x, false);
}

/*
 * Starts loading all cache lines of the metadata object @n (an index node
 * or a region), so that they arrive in parallel.
 */
static inline void prefetch_node(const void *n)
{
	const char *p = (const char *)n;

	_Static_assert(KMM_REGION_NODE_SIZE == 8 * 64, "8 lines per node");
	__builtin_prefetch(p);
	__builtin_prefetch(p + 64);
	__builtin_prefetch(p + 128);
	__builtin_prefetch(p + 192);
	__builtin_prefetch(p + 256);
	__builtin_prefetch(p + 320);
	__builtin_prefetch(p + 384);
	__builtin_prefetch(p + 448);
}

static bool owner_ok(const struct kmm_region *rg, int owner)
{
	return owner < 0 || rg->owner == (kmm_owner_t)owner;
}

/*
 * Finds the entry that resolves @pa under the alias rule: the entry with
 * the highest first PA <= pa (the last of equal ones) whose run contains
 * pa and whose region is @owner's (any owner when @owner < 0). Entries are
 * visited from the "floor" of pa backwards; a subtree whose highest last
 * PA is below pa is skipped whole.
 */
static bool pa_find(const struct kmm_regions *r, kmm_paddr_t pa, int owner,
		    const struct kmm_region_pa_node **leaf, unsigned int *slot)
{
	const struct kmm_region_pa_node *stk[PA_MAX_HEIGHT];
	unsigned int idx[PA_MAX_HEIGHT];
	const struct kmm_region_pa_node *n = r->pa_root;
	unsigned int d = 0, i, j;

	if (n == NULL)
		return false;
	while (!n->leaf) {
		i = inner_le(n, pa);
		stk[d] = n;
		idx[d++] = i;
		n = n->in.child[i];
		prefetch_node(n);
	}
	j = leaf_le(n, pa);
	for (;;) {
		while (j > 0) {
			j--;
			if (n->l.last[j] >= pa &&
			    owner_ok(n->l.region[j], owner)) {
				*leaf = n;
				*slot = j;
				return true;
			}
		}
		/* Next subtree to the left that may hold pa (all firsts <= pa). */
		for (;;) {
			if (d == 0)
				return false;
			n = stk[d - 1];
			i = idx[d - 1];
			while (i > 0 && n->in.last[i - 1] < pa)
				i--;
			if (i == 0) {
				d--;
				continue;
			}
			idx[d - 1] = --i;
			n = n->in.child[i];
			if (n->leaf)
				break;
			stk[d] = n;
			idx[d++] = n->count;
		}
		j = n->count;
	}
}

/* The leaf an insertion of first PA @pa goes to, with its path. */
static struct kmm_region_pa_node *pa_descend(const struct kmm_regions *r,
					     kmm_paddr_t pa,
					     struct kmm_region_pa_node **stk,
					     unsigned int *idx,
					     unsigned int *depth)
{
	struct kmm_region_pa_node *n = r->pa_root;
	unsigned int d = 0, i;

	while (!n->leaf) {
		i = inner_le(n, pa);
		if (stk) {
			stk[d] = n;
			idx[d] = i;
		}
		d++;
		n = n->in.child[i];
	}
	if (depth)
		*depth = d;
	return n;
}

static kmm_paddr_t node_max(const struct kmm_region_pa_node *n)
{
	const kmm_paddr_t *v = n->leaf ? n->l.last : n->in.last;
	kmm_paddr_t m = 0;

	for (unsigned int i = 0; i < n->count; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

/* ---------------------------------------------------------------------- */
/* PA index: insertion                                                    */
/* ---------------------------------------------------------------------- */

/* What goes into one slot: a run (leaf) or a child (inner node). */
struct pa_entry {
	kmm_paddr_t first;
	kmm_paddr_t last;
	kmm_vaddr_t va; /* leaf only */
	void *ptr; /* the region (leaf) or the child (inner node) */
};

static struct kmm_region_pa_node *
reserve_take(struct kmm_regions *r, struct node_reserve *rs, bool leaf)
{
	struct kmm_region_pa_node *n = rs->head;

	/* pa_reserve_needed() guarantees the reserve never runs dry. */
	rs->head = *(void **)rs->head;
	rs->count--;
	kmm_memzero(n, sizeof(*n));
	n->leaf = leaf;
	r->nr_pa_nodes++;
	return n;
}

/* Key of slot @i, in a node of either kind. */
static kmm_paddr_t node_key(const struct kmm_region_pa_node *n, unsigned int i)
{
	return n->l.key[i];
}

static unsigned int node_cap(const struct kmm_region_pa_node *n)
{
	return n->leaf ? PA_LEAF_CAP : PA_INNER_CAP;
}

/* Copies slot @sj of @src to slot @dj of @dst, a node of the same kind. */
static void slot_copy(struct kmm_region_pa_node *dst, unsigned int dj,
		      const struct kmm_region_pa_node *src, unsigned int sj)
{
	if (dst->leaf) {
		dst->l.key[dj] = src->l.key[sj];
		dst->l.last[dj] = src->l.last[sj];
		dst->l.va[dj] = src->l.va[sj];
		dst->l.region[dj] = src->l.region[sj];
	} else {
		dst->in.key[dj] = src->in.key[sj];
		dst->in.last[dj] = src->in.last[sj];
		dst->in.child[dj] = src->in.child[sj];
	}
}

/* Makes slot @j free by moving the slots from @j on one place right. */
static void slot_open(struct kmm_region_pa_node *n, unsigned int j)
{
	for (unsigned int k = n->count; k > j; k--)
		slot_copy(n, k, n, k - 1);
	n->count++;
}

/* Removes slot @j, moving the slots after it one place left. */
static void slot_close(struct kmm_region_pa_node *n, unsigned int j)
{
	for (unsigned int k = j; k + 1u < n->count; k++)
		slot_copy(n, k, n, k + 1);
	n->count--;
}

static void slot_put(struct kmm_region_pa_node *n, unsigned int j,
		     const struct pa_entry *e)
{
	slot_open(n, j);
	if (n->leaf) {
		n->l.key[j] = e->first;
		n->l.last[j] = e->last;
		n->l.va[j] = e->va;
		n->l.region[j] = e->ptr;
	} else {
		n->in.key[j] = e->first;
		n->in.last[j] = e->last;
		n->in.child[j] = e->ptr;
	}
}

/*
 * Splits the full node @n while inserting @e at slot @j; returns the new
 * right half, whose key[0] separates the halves. A leaf splits 8 + 8 or
 * 9 + 7, an inner node 11 + 11 or 12 + 10.
 */
static struct kmm_region_pa_node *node_split(struct kmm_regions *r,
					     struct node_reserve *rs,
					     struct kmm_region_pa_node *n,
					     unsigned int j,
					     const struct pa_entry *e)
{
	struct kmm_region_pa_node *right = reserve_take(r, rs, n->leaf);
	unsigned int cap = node_cap(n), keep = cap / 2 + 1;

	for (unsigned int k = keep; k < cap; k++)
		slot_copy(right, k - keep, n, k);
	right->count = (uint16_t)(cap - keep);
	n->count = (uint16_t)keep;
	if (j <= keep)
		slot_put(n, j, e);
	else
		slot_put(right, j - keep, e);
	return right;
}

/* The slot that stands for child @c in its parent. */
static struct pa_entry child_entry(struct kmm_region_pa_node *c)
{
	struct pa_entry e = { node_key(c, 0), node_max(c), 0, c };

	return e;
}

static void pa_insert(struct kmm_regions *r, struct node_reserve *rs,
		      const struct pa_entry *e)
{
	struct kmm_region_pa_node *stk[PA_MAX_HEIGHT];
	unsigned int idx[PA_MAX_HEIGHT];
	struct kmm_region_pa_node *n, *right, *p;
	struct pa_entry up;
	unsigned int d, j;

	if (r->pa_root == NULL) {
		r->pa_root = reserve_take(r, rs, true);
		r->pa_height = 1;
	}
	r->nr_runs++;
	n = pa_descend(r, e->first, stk, idx, &d);
	j = leaf_le(n, e->first);
	if (n->count < PA_LEAF_CAP) {
		slot_put(n, j, e);
		goto widen;
	}
	right = node_split(r, rs, n, j, e);
	while (d > 0) {
		p = stk[--d];
		p->in.last[idx[d]] = node_max(n);
		up = child_entry(right);
		if (p->count < PA_INNER_CAP) {
			slot_put(p, idx[d] + 1, &up);
			goto widen;
		}
		right = node_split(r, rs, p, idx[d] + 1, &up);
		n = p;
	}
	p = reserve_take(r, rs, false);
	up = child_entry(n);
	slot_put(p, 0, &up);
	up = child_entry(right);
	slot_put(p, 1, &up);
	r->pa_root = p;
	r->pa_height++;
	return;
widen:
	/* Every subtree on the path above gained @e and nothing else. */
	while (d > 0) {
		d--;
		if (stk[d]->in.last[idx[d]] >= e->last)
			break;
		stk[d]->in.last[idx[d]] = e->last;
	}
}

/* ---------------------------------------------------------------------- */
/* PA index: removal                                                      */
/* ---------------------------------------------------------------------- */

static void node_free(struct kmm_regions *r, struct kmm_region_pa_node *n)
{
	r->nr_pa_nodes--;
	kmm_slab_free(r->nodes, n);
}

/*
 * Gives the inner child @i of @p its separating key in key[0], where it
 * means nothing until the child's first slot moves into a sibling; a
 * leaf's key[0] is its first entry already.
 */
static void lend_key(struct kmm_region_pa_node *p, unsigned int i)
{
	if (!p->in.child[i]->leaf)
		p->in.child[i]->in.key[0] = p->in.key[i];
}

/* Merges child @i + 1 of @p into child @i and frees it. */
static void merge_children(struct kmm_regions *r, struct kmm_region_pa_node *p,
			   unsigned int i)
{
	struct kmm_region_pa_node *a = p->in.child[i], *b = p->in.child[i + 1];

	lend_key(p, i + 1);
	for (unsigned int k = 0; k < b->count; k++)
		slot_copy(a, a->count + k, b, k);
	a->count = (uint16_t)(a->count + b->count);
	slot_close(p, i + 1);
	p->in.last[i] = node_max(a);
	node_free(r, b);
}

/*
 * Moves one slot between the children @i and @i + 1 of @p: the last of
 * child @i to the front of child @i + 1 (@to_right), or the first of
 * child @i + 1 to the end of child @i.
 */
static void borrow(struct kmm_region_pa_node *p, unsigned int i, bool to_right)
{
	struct kmm_region_pa_node *a = p->in.child[i], *b = p->in.child[i + 1];

	lend_key(p, i + 1);
	if (to_right) {
		slot_open(b, 0);
		slot_copy(b, 0, a, a->count - 1u);
		a->count--;
	} else {
		slot_copy(a, a->count, b, 0);
		a->count++;
		slot_close(b, 0);
	}
	p->in.key[i + 1] = node_key(b, 0);
	p->in.last[i] = node_max(a);
	p->in.last[i + 1] = node_max(b);
}

/* Restores the fill and the maxima on the path after a removal from @n. */
static void pa_rebalance(struct kmm_regions *r, struct kmm_region_pa_node *n,
			 struct kmm_region_pa_node **stk, unsigned int *idx,
			 unsigned int d)
{
	struct kmm_region_pa_node *p;
	unsigned int i, cap;

	while (d > 0) {
		p = stk[d - 1];
		i = idx[d - 1];
		cap = node_cap(n);
		if (n->count >= (n->leaf ? PA_LEAF_MIN : PA_INNER_MIN)) {
			/* Only maxima may change from here up. */
			for (; d > 0; d--) {
				kmm_paddr_t m = node_max(
					stk[d - 1]->in.child[idx[d - 1]]);

				if (stk[d - 1]->in.last[idx[d - 1]] == m)
					return;
				stk[d - 1]->in.last[idx[d - 1]] = m;
			}
			return;
		}
		if (i > 0 && p->in.child[i - 1]->count + n->count <= cap)
			merge_children(r, p, i - 1);
		else if (i + 1u < p->count &&
			 n->count + p->in.child[i + 1]->count <= cap)
			merge_children(r, p, i);
		else if (i > 0)
			borrow(p, i - 1, true);
		else
			borrow(p, i, false);
		n = p;
		d--;
	}
	/* @n is the root. */
	if (n->leaf && n->count == 0) {
		node_free(r, n);
		r->pa_root = NULL;
		r->pa_height = 0;
	} else if (!n->leaf && n->count == 1) {
		r->pa_root = n->in.child[0];
		r->pa_height--;
		node_free(r, n);
	}
}

/* Removes the entry of the run that starts at @first and is mapped at @va. */
static void pa_remove(struct kmm_regions *r, kmm_paddr_t first, kmm_vaddr_t va)
{
	struct kmm_region_pa_node *stk[PA_MAX_HEIGHT];
	unsigned int idx[PA_MAX_HEIGHT];
	struct kmm_region_pa_node *n = r->pa_root, *p;
	unsigned int d = 0, i, j;

	while (!n->leaf) {
		i = count_keys(n->in.key + 1, n->count - 1u, first, true);
		stk[d] = n;
		idx[d++] = i;
		n = n->in.child[i];
	}
	for (;;) {
		for (j = 0; j < n->count && n->l.key[j] <= first; j++)
			if (n->l.key[j] == first && n->l.va[j] == va)
				goto found;
		/* Equal first PAs may continue in the next leaf. */
		for (;;) {
			if (d == 0)
				return; /* not indexed: cannot happen */
			p = stk[d - 1];
			i = idx[d - 1];
			if (i + 1u < p->count && p->in.key[i + 1] <= first) {
				idx[d - 1] = i + 1;
				n = p->in.child[i + 1];
				break;
			}
			d--;
		}
		while (!n->leaf) {
			stk[d] = n;
			idx[d++] = 0;
			n = n->in.child[0];
		}
	}
found:
	slot_close(n, j);
	r->nr_runs--;
	pa_rebalance(r, n, stk, idx, d);
}

/* ---------------------------------------------------------------------- */
/* Runs of a region                                                       */
/* ---------------------------------------------------------------------- */

/* A source of runs: a page list (joined) or one range. */
struct run_src {
	const kmm_paddr_t *pages;
	size_t n;
	uint64_t page; /* bytes per page */
	kmm_paddr_t pa; /* single range when pages == NULL */
	uint64_t size;
};

/* Yields the run that starts at page *@pos; advances *@pos past it. */
static bool src_next(const struct run_src *s, size_t *pos, kmm_paddr_t *pa,
		     uint64_t *size)
{
	size_t i = *pos, k;

	if (s->pages == NULL) {
		if (i > 0)
			return false;
		*pa = s->pa;
		*size = s->size;
		*pos = 1;
		return true;
	}
	if (i >= s->n)
		return false;
	for (k = i + 1; k < s->n && s->pages[k] == s->pages[k - 1] + s->page;
	     k++)
		;
	*pa = s->pages[i];
	*size = (uint64_t)(k - i) * s->page;
	*pos = k;
	return true;
}

static struct region_run *run_at(const struct kmm_region *rg, size_t i)
{
	const struct run_chunk *c = rg->more;

	if (i < KMM_REGION_INLINE_RUNS)
		return (struct region_run *)&rg->runs[i];
	i -= KMM_REGION_INLINE_RUNS;
	while (i >= KMM_REGION_CHUNK_RUNS) {
		c = c->next;
		i -= KMM_REGION_CHUNK_RUNS;
	}
	return (struct region_run *)&c->runs[i];
}

static uint64_t run_size(const struct kmm_region *rg, size_t i)
{
	kmm_vaddr_t end = i + 1 < rg->nr_runs ? run_at(rg, i + 1)->va :
						rg->va + rg->size;

	return end - run_at(rg, i)->va;
}

/*
 * Index of the run that holds @va, which lies inside @rg; *@chunk: the run
 * chunk that holds that entry, NULL when it is in the region itself.
 */
static size_t run_locate(const struct kmm_region *rg, kmm_vaddr_t va,
			 const struct run_chunk **chunk)
{
	const struct region_run *runs = rg->runs;
	const struct run_chunk *c = rg->more, *in = NULL;
	size_t base = 0, cnt = kmm_min_u64(rg->nr_runs, KMM_REGION_INLINE_RUNS);

	/* Skip whole chunks, then search within one. */
	while (c != NULL && c->runs[0].va <= va) {
		base += cnt;
		runs = c->runs;
		in = c;
		cnt = kmm_min_u64(rg->nr_runs - base, KMM_REGION_CHUNK_RUNS);
		c = c->next;
	}
	while (cnt > 1) {
		size_t half = cnt / 2;

		if (runs[half].va <= va) {
			runs += half;
			base += half;
			cnt -= half;
		} else {
			cnt = half;
		}
	}
	if (chunk)
		*chunk = in;
	return base;
}

static size_t run_index_of(const struct kmm_region *rg, kmm_vaddr_t va)
{
	return run_locate(rg, va, NULL);
}

/* Entry @i of @rg; @c is the chunk that holds it when it is not inline. */
static const struct region_run *run_entry(const struct kmm_region *rg,
					  const struct run_chunk *c, size_t i)
{
	if (i < KMM_REGION_INLINE_RUNS)
		return &rg->runs[i];
	return &c->runs[(i - KMM_REGION_INLINE_RUNS) % KMM_REGION_CHUNK_RUNS];
}

/* The chunk that holds entry @i + 1 when @c holds entry @i. */
static const struct run_chunk *chunk_after(const struct kmm_region *rg,
					   const struct run_chunk *c, size_t i)
{
	size_t n = i + 1;

	if (n < KMM_REGION_INLINE_RUNS)
		return NULL;
	if (n == KMM_REGION_INLINE_RUNS)
		return rg->more;
	return (n - KMM_REGION_INLINE_RUNS) % KMM_REGION_CHUNK_RUNS ? c :
								      c->next;
}

static size_t chunks_for(size_t nr_runs)
{
	if (nr_runs <= KMM_REGION_INLINE_RUNS)
		return 0;
	return (nr_runs - KMM_REGION_INLINE_RUNS + KMM_REGION_CHUNK_RUNS - 1) /
	       KMM_REGION_CHUNK_RUNS;
}

/* ---------------------------------------------------------------------- */
/* Reserving PA index nodes                                               */
/* ---------------------------------------------------------------------- */

/* Splits a leaf of @c entries may go through when it receives @m more. */
static size_t leaf_splits(size_t c, size_t m)
{
	if (c + m <= PA_LEAF_CAP)
		return 0;
	/* Every leaf a split leaves behind holds at least PA_LEAF_MIN. */
	return (c + m) / PA_LEAF_MIN - 1;
}

/*
 * Bounds the nodes that inserting the runs of @s can take. A dry run counts
 * how many new entries each existing leaf receives (in the leaves' pending
 * fields) and from that the leaf splits S; each inner level splits at most
 * as often as the level below, and the tree grows by at most g levels,
 * each a new root.
 */
static size_t pa_reserve_needed(struct kmm_regions *r, const struct run_src *s)
{
	struct kmm_region_pa_node *leaf;
	size_t pos = 0, k = 0, splits = 0, grow = 0, levels;
	kmm_paddr_t pa;
	uint64_t size;

	if (r->pa_root == NULL) {
		while (src_next(s, &pos, &pa, &size))
			k++;
		splits = leaf_splits(0, k);
		levels = 1;
	} else {
		while (src_next(s, &pos, &pa, &size)) {
			leaf = pa_descend(r, pa, NULL, NULL, NULL);
			leaf->pending++;
		}
		pos = 0;
		while (src_next(s, &pos, &pa, &size)) {
			leaf = pa_descend(r, pa, NULL, NULL, NULL);
			splits += leaf_splits(leaf->count, leaf->pending);
			leaf->pending = 0;
		}
		levels = r->pa_height;
	}
	if (splits > 0)
		for (grow = 1, k = splits; k >= PA_INNER_MIN; k /= PA_INNER_MIN)
			grow++;
	return (r->pa_root == NULL) + splits * (levels + grow) + grow;
}

static void reserve_release(struct kmm_regions *r, struct node_reserve *rs)
{
	while (rs->head != NULL) {
		void *n = rs->head;

		rs->head = *(void **)n;
		kmm_slab_free(r->nodes, n);
	}
	rs->count = 0;
}

/* ---------------------------------------------------------------------- */
/* Regions                                                                */
/* ---------------------------------------------------------------------- */

static int cmp_va(const void *key, const struct kmm_rb_node *n)
{
	kmm_vaddr_t va = *(const kmm_vaddr_t *)key;
	kmm_vaddr_t base =
		kmm_container_of(n, const struct kmm_region, va_node)->va;

	return va < base ? -1 : va > base;
}

static struct kmm_region *region_holding(const struct kmm_regions *r,
					 kmm_vaddr_t va)
{
	struct kmm_rb_node *n = kmm_rb_floor(&r->by_va, &va, cmp_va);
	struct kmm_region *rg;

	if (n == NULL)
		return NULL;
	rg = kmm_container_of(n, struct kmm_region, va_node);
	return va - rg->va < rg->size ? rg : NULL;
}

static void va_tree_insert(struct kmm_regions *r, struct kmm_region *rg)
{
	struct kmm_rb_node **link = &r->by_va.node, *parent = NULL;

	while (*link) {
		parent = *link;
		if (rg->va <
		    kmm_container_of(parent, struct kmm_region, va_node)->va)
			link = &parent->left;
		else
			link = &parent->right;
	}
	kmm_rb_link(&rg->va_node, parent, link);
	kmm_rb_insert(&r->by_va, &rg->va_node, NULL);
}

static struct kmm_regions *regions_of(const struct kmm_as *as)
{
	return as != NULL ? as->regions : NULL;
}

/*
 * Whether @r keeps its runs in the PA index. An identity address space (an
 * MPU) maps every region at its PA, so the VA tree answers PA lookups and
 * the index stays empty; a build without a translating backend
 * (KMM_CONFIG_TRANSLATION 0) leaves the index code out.
 */
static bool pa_indexed(const struct kmm_regions *r)
{
	return KMM_CONFIG_TRANSLATION && !r->identity;
}

/* On an identity address space: @owner's region at @pa, or NULL. */
static const struct kmm_region *identity_find(const struct kmm_regions *r,
					      kmm_paddr_t pa, int owner)
{
	const struct kmm_region *rg = region_holding(r, pa);

	return rg != NULL && owner_ok(rg, owner) ? rg : NULL;
}

int kmm_regions_init(struct kmm_regions *r, struct kmm_as *as,
		     struct kmm_vaspace *vs, struct kmm_slab *nodes)
{
	struct kmm_as_caps caps;

	if (r == NULL || as == NULL || vs == NULL || nodes == NULL ||
	    kmm_as_caps(as, &caps) != KMM_OK)
		return KMM_EINVAL;
	if (kmm_slab_obj_size(nodes) < KMM_REGION_NODE_SIZE ||
	    !kmm_is_aligned(nodes->obj_align, KMM_REGION_NODE_ALIGN))
		return KMM_EINVAL;
	if (vs->port != NULL ||
	    vs->identity != !!(caps.flags & KMM_CAP_IDENTITY_ONLY))
		return KMM_EINVAL;
	if (!KMM_CONFIG_TRANSLATION && !vs->identity)
		return KMM_ENOTSUP;
	if (as->regions != NULL)
		return KMM_EEXIST;
	kmm_memzero(r, sizeof(*r));
	r->as = as;
	r->vs = vs;
	r->nodes = nodes;
	r->identity = vs->identity;
	r->granule = kmm_max_u64(caps.granule, vs->granule);
	for (unsigned int o = 0; o < KMM_CONFIG_MAX_OWNERS; o++)
		r->owners[o].quota = UINT32_MAX;
	as->regions = r;
	return KMM_OK;
}

int kmm_regions_set_quota(struct kmm_as *as, kmm_owner_t owner,
			  uint32_t max_regions)
{
	struct kmm_regions *r = regions_of(as);

	if (r == NULL || owner >= KMM_CONFIG_MAX_OWNERS)
		return KMM_EINVAL;
	kmm_port_lock(as->port);
	r->owners[owner].quota = max_regions;
	kmm_port_unlock(as->port);
	return KMM_OK;
}

/* Validates the runs of @s; counts them and their bytes. */
static int check_src(const struct kmm_regions *r, const struct run_src *s,
		     size_t *nr_runs, uint64_t *total)
{
	size_t pos = 0;
	kmm_paddr_t pa;
	uint64_t size;

	*nr_runs = 0;
	*total = 0;
	if (s->pages != NULL && s->n > UINT64_MAX / s->page)
		return KMM_ERANGE;
	while (src_next(s, &pos, &pa, &size)) {
		if (!kmm_is_aligned(pa, r->granule) ||
		    !kmm_is_aligned(size, r->granule))
			return KMM_EALIGN;
		if (kmm_range_wraps(pa, size))
			return KMM_ERANGE;
		(*nr_runs)++;
		*total += size;
	}
	if (*total > SIZE_MAX)
		return KMM_ERANGE;
	return KMM_OK;
}

/* Unmaps [va, va + size) we mapped ourselves; cannot fail for whole runs. */
static void unmap_quiet(struct kmm_as *as, kmm_vaddr_t va, uint64_t size)
{
	if (size != 0)
		(void)kmm_as_unmap_locked(as, va, (size_t)size);
}

static void region_objects_free(struct kmm_regions *r, struct kmm_region *rg)
{
	struct run_chunk *c = rg->more, *next;

	while (c != NULL) {
		next = c->next;
		kmm_slab_free(r->nodes, c);
		c = next;
	}
	kmm_slab_free(r->nodes, rg);
}

/* Takes the region object, its chunks and the index reserve, or nothing. */
static struct kmm_region *region_objects_take(struct kmm_regions *r,
					      size_t nr_runs, size_t reserve,
					      struct node_reserve *rs)
{
	size_t chunks = chunks_for(nr_runs);
	struct run_chunk **link;
	struct kmm_region *rg;

	if (kmm_slab_available(r->nodes) < 1 + chunks + reserve)
		return NULL;
	rg = kmm_slab_alloc(r->nodes);
	kmm_memzero(rg, sizeof(*rg));
	link = &rg->more;
	for (size_t i = 0; i < chunks; i++) {
		*link = kmm_slab_alloc(r->nodes);
		(*link)->next = NULL;
		link = &(*link)->next;
	}
	rs->head = NULL;
	rs->count = 0;
	for (size_t i = 0; i < reserve; i++) {
		void *n = kmm_slab_alloc(r->nodes);

		*(void **)n = rs->head;
		rs->head = n;
		rs->count++;
	}
	return rg;
}

/* Fills the runs of @rg from @s, maps them, and on failure undoes it. */
static int region_map(struct kmm_regions *r, struct kmm_region *rg,
		      const struct run_src *s)
{
	size_t pos = 0, i = 0;
	kmm_vaddr_t va = rg->va;
	kmm_paddr_t pa;
	uint64_t size;
	int ret;

	while (src_next(s, &pos, &pa, &size)) {
		struct region_run *run = run_at(rg, i++);

		run->pa = pa;
		run->va = va;
		rg->nr_runs = i;
		ret = kmm_as_map_locked(r->as, va, pa, (size_t)size, rg->attr);
		if (ret) {
			unmap_quiet(r->as, rg->va, va - rg->va);
			return ret;
		}
		va += size;
	}
	return KMM_OK;
}

static void region_commit(struct kmm_regions *r, struct kmm_region *rg,
			  struct node_reserve *rs)
{
	struct kmm_regions_owner *o = &r->owners[rg->owner];

	for (size_t i = 0; pa_indexed(r) && i < rg->nr_runs; i++) {
		const struct region_run *run = run_at(rg, i);
		struct pa_entry e = {
			.first = run->pa,
			.last = run->pa + (run_size(rg, i) - 1),
			.va = run->va,
			.ptr = rg,
		};

		pa_insert(r, rs, &e);
	}
	va_tree_insert(r, rg);
	rg->owner_prev = NULL;
	rg->owner_next = o->head;
	if (o->head)
		o->head->owner_prev = rg;
	o->head = rg;
	o->count++;
	r->nr_regions++;
	r->generation++;
}

static int region_create(struct kmm_as *as, const struct run_src *s,
			 kmm_attr_t attr, kmm_owner_t owner,
			 enum kmm_region_kind kind, kmm_vaddr_t *out)
{
	struct kmm_regions *r = as->regions;
	struct node_reserve rs = { NULL, 0 };
	struct kmm_region *rg;
	size_t nr_runs;
	uint64_t total;
	kmm_vaddr_t va;
	int ret;

	ret = check_src(r, s, &nr_runs, &total);
	if (ret)
		return ret;
	if (r->identity && nr_runs != 1)
		return KMM_ENOTSUP;
	if (r->owners[owner].count >= r->owners[owner].quota)
		return KMM_EQUOTA;
	rg = region_objects_take(
		r, nr_runs, pa_indexed(r) ? pa_reserve_needed(r, s) : 0, &rs);
	if (rg == NULL)
		return KMM_ENOMEM;
	if (r->identity) {
		va = s->pages ? s->pages[0] : s->pa;
		ret = kmm_vaspace_claim(r->vs, va, total, owner);
	} else {
		ret = kmm_vaspace_alloc(r->vs, total, r->granule, owner, &va);
	}
	if (ret)
		goto undo_objects;
	rg->va = va;
	rg->size = total;
	rg->attr = attr;
	rg->owner = owner;
	rg->kind = (uint8_t)kind;
	ret = region_map(r, rg, s);
	if (ret)
		goto undo_va;
	region_commit(r, rg, &rs);
	reserve_release(r, &rs);
	*out = va;
	return KMM_OK;
undo_va:
	(void)kmm_vaspace_free(r->vs, va, total, owner);
undo_objects:
	reserve_release(r, &rs);
	region_objects_free(r, rg);
	return ret;
}

static int region_create_locked(struct kmm_as *as, const struct run_src *s,
				kmm_attr_t attr, kmm_owner_t owner,
				enum kmm_region_kind kind, kmm_vaddr_t *va)
{
	int ret;

	if (regions_of(as) == NULL || va == NULL ||
	    owner >= KMM_CONFIG_MAX_OWNERS)
		return KMM_EINVAL;
	ret = kmm_as_check_attr(as, attr);
	if (ret)
		return ret;
	kmm_port_lock(as->port);
	ret = region_create(as, s, attr, owner, kind, va);
	kmm_port_unlock(as->port);
	return ret;
}

static uint64_t vmap_page_size(const struct kmm_as *as)
{
	return kmm_max_u64(KMM_PAGE_SIZE, as->regions->granule);
}

int kmm_vmap(struct kmm_as *as, const kmm_paddr_t *pages, size_t n,
	     kmm_attr_t attr, kmm_owner_t owner, kmm_vaddr_t *va)
{
	struct run_src s = { .pages = pages, .n = n };

	if (regions_of(as) == NULL || pages == NULL || n == 0)
		return KMM_EINVAL;
	s.page = vmap_page_size(as);
	return region_create_locked(as, &s, attr, owner, KMM_REGION_VMAP, va);
}

int kmm_shm_register(struct kmm_as *as, const kmm_paddr_t *pages, size_t n,
		     kmm_owner_t owner, kmm_vaddr_t *va)
{
	struct run_src s = { .pages = pages, .n = n };

	if (regions_of(as) == NULL || pages == NULL || n == 0)
		return KMM_EINVAL;
	s.page = vmap_page_size(as);
	return region_create_locked(as, &s, KMM_ATTR_RW_DATA | KMM_ATTR_NS,
				    owner, KMM_REGION_SHM, va);
}

int kmm_ioremap(struct kmm_as *as, kmm_paddr_t pa, size_t size, kmm_attr_t attr,
		kmm_owner_t owner, kmm_vaddr_t *va)
{
	struct run_src s = { .pa = pa, .size = size };

	if (regions_of(as) == NULL || size == 0)
		return KMM_EINVAL;
	return region_create_locked(as, &s, attr, owner, KMM_REGION_IOREMAP,
				    va);
}

/* Removes @rg entirely; allocates nothing. */
static int region_destroy(struct kmm_regions *r, struct kmm_region *rg)
{
	struct kmm_regions_owner *o = &r->owners[rg->owner];
	int ret;

	/* KMM_ENOENT: the caller already unmapped every page of the region
	 * through kmm_unmap(); the region must still go. */
	ret = kmm_as_unmap_locked(r->as, rg->va, (size_t)rg->size);
	if (ret && ret != KMM_ENOENT)
		return ret;
	(void)kmm_vaspace_free(r->vs, rg->va, rg->size, rg->owner);
	for (size_t i = 0; pa_indexed(r) && i < rg->nr_runs; i++)
		pa_remove(r, run_at(rg, i)->pa, run_at(rg, i)->va);
	kmm_rb_erase(&r->by_va, &rg->va_node, NULL);
	if (rg->owner_prev)
		rg->owner_prev->owner_next = rg->owner_next;
	else
		o->head = rg->owner_next;
	if (rg->owner_next)
		rg->owner_next->owner_prev = rg->owner_prev;
	o->count--;
	r->nr_regions--;
	r->generation++;
	region_objects_free(r, rg);
	return KMM_OK;
}

int kmm_vunmap(struct kmm_as *as, kmm_vaddr_t va, kmm_owner_t owner)
{
	struct kmm_regions *r = regions_of(as);
	struct kmm_region *rg;
	int ret;

	if (r == NULL || owner >= KMM_CONFIG_MAX_OWNERS)
		return KMM_EINVAL;
	kmm_port_lock(as->port);
	rg = region_holding(r, va);
	if (rg == NULL || rg->va != va)
		ret = KMM_ENOENT;
	else if (rg->owner != owner)
		ret = KMM_EPERM;
	else
		ret = region_destroy(r, rg);
	kmm_port_unlock(as->port);
	return ret;
}

int kmm_region_free_all(struct kmm_as *as, kmm_owner_t owner)
{
	struct kmm_regions *r = regions_of(as);
	int freed = 0;

	if (r == NULL || owner >= KMM_CONFIG_MAX_OWNERS)
		return KMM_EINVAL;
	kmm_port_lock(as->port);
	while (r->owners[owner].head != NULL) {
		int ret = region_destroy(r, r->owners[owner].head);

		if (ret) {
			kmm_port_unlock(as->port);
			return ret;
		}
		freed++;
	}
	kmm_port_unlock(as->port);
	return freed;
}

/* ---------------------------------------------------------------------- */
/* Lookups                                                                */
/* ---------------------------------------------------------------------- */

int kmm_region_find(const struct kmm_as *as, kmm_vaddr_t va,
		    struct kmm_region_info *info)
{
	const struct kmm_regions *r = regions_of(as);
	const struct kmm_region *rg;

	if (r == NULL || info == NULL)
		return KMM_EINVAL;
	rg = region_holding(r, va);
	if (rg == NULL)
		return KMM_ENOENT;
	info->va = rg->va;
	info->size = rg->size;
	info->attr = rg->attr;
	info->owner = rg->owner;
	info->kind = (enum kmm_region_kind)rg->kind;
	info->nr_runs = rg->nr_runs;
	return KMM_OK;
}

int kmm_virt_to_phys(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa)
{
	const struct kmm_regions *r = regions_of(as);
	const struct kmm_region *rg;
	const struct region_run *run;

	if (r == NULL || pa == NULL)
		return KMM_EINVAL;
	rg = region_holding(r, va);
	if (rg == NULL)
		return KMM_ENOENT;
	if (!pa_indexed(r)) {
		*pa = va;
		return KMM_OK;
	}
	run = run_at(rg, run_index_of(rg, va));
	*pa = run->pa + (va - run->va);
	return KMM_OK;
}

static int p2v(const struct kmm_as *as, kmm_paddr_t pa, int owner,
	       kmm_vaddr_t *va)
{
	const struct kmm_regions *r = regions_of(as);
	const struct kmm_region_pa_node *leaf;
	unsigned int slot;

	if (r == NULL || va == NULL)
		return KMM_EINVAL;
	if (!pa_indexed(r)) {
		if (identity_find(r, pa, owner) == NULL)
			return KMM_ENOENT;
		*va = pa;
		return KMM_OK;
	}
	if (!pa_find(r, pa, owner, &leaf, &slot))
		return KMM_ENOENT;
	*va = leaf->l.va[slot] + (pa - leaf->l.key[slot]);
	return KMM_OK;
}

int kmm_phys_to_virt(const struct kmm_as *as, kmm_paddr_t pa, kmm_vaddr_t *va)
{
	return p2v(as, pa, -1, va);
}

int kmm_phys_to_virt_owner(const struct kmm_as *as, kmm_paddr_t pa,
			   kmm_owner_t owner, kmm_vaddr_t *va)
{
	if (owner >= KMM_CONFIG_MAX_OWNERS)
		return KMM_EINVAL;
	return p2v(as, pa, owner, va);
}

void kmm_p2v_cursor_init(struct kmm_p2v_cursor *cur)
{
	if (cur != NULL)
		kmm_memzero(cur, sizeof(*cur));
}

/* Loads the bounds of the run after the cached one (itself if none). */
static void cursor_load_next(struct kmm_p2v_cursor *cur)
{
	const struct kmm_region *rg = cur->region;
	const struct run_chunk *c;
	const struct region_run *e;
	size_t n = cur->run + 1;
	kmm_vaddr_t end;

	if (n >= rg->nr_runs) {
		cur->next_first = cur->first;
		cur->next_size = cur->size;
		cur->next_va = cur->va;
		return;
	}
	if (n + 1 < KMM_REGION_INLINE_RUNS) {
		/* Both entries in the region itself: all of them in regions
		 * of up to KMM_REGION_INLINE_RUNS runs. */
		e = &rg->runs[n];
		end = n + 1 < rg->nr_runs ? e[1].va : rg->va + rg->size;
	} else {
		c = chunk_after(rg, cur->chunk, cur->run);
		e = run_entry(rg, c, n);
		end = n + 1 < rg->nr_runs ?
			      run_entry(rg, chunk_after(rg, c, n), n + 1)->va :
			      rg->va + rg->size;
	}
	cur->next_first = e->pa;
	cur->next_size = end - e->va;
	cur->next_va = e->va;
}

/*
 * Makes the cursor hold the run [first, first + size) of @rg, mapped at
 * @va, and the run after it in @rg. The region's run table is read now,
 * with the lookup, so that walking on through the buffer reads only the
 * cursor until the walk leaves the run, and then only that table.
 */
static void cursor_fill(struct kmm_p2v_cursor *cur, const struct kmm_regions *r,
			const struct kmm_region *rg, kmm_paddr_t first,
			uint64_t size, kmm_vaddr_t va)
{
	const struct run_chunk *c;

	cur->as = r->as;
	cur->regions = r;
	cur->generation = r->generation;
	cur->region = rg;
	cur->first = first;
	cur->size = size;
	cur->va = va;
	cur->run = 0;
	cur->chunk = NULL;
	cur->next_first = first;
	cur->next_size = size;
	cur->next_va = va;
	if (!pa_indexed(r))
		return; /* one run, VA == PA */
	cur->run = run_locate(cur->region, cur->va, &c);
	cur->chunk = c;
	cursor_load_next(cur);
	/* The walk reads the runs after this one: start loading their lines
	 * while the caller resolves the pages of this run. */
	for (size_t i = cur->run + 2;
	     i < kmm_min_u64(cur->region->nr_runs, KMM_REGION_INLINE_RUNS);
	     i += 4)
		__builtin_prefetch(&cur->region->runs[i]);
}

void kmm_p2v_cursor_step(struct kmm_p2v_cursor *cur)
{
	/* Nothing to step to: a NULL or empty cursor, or no next run; in a
	 * build without translation every region is one run. */
	if (!KMM_CONFIG_TRANSLATION || cur == NULL || cur->region == NULL ||
	    cur->next_size == 0)
		return;
	cur->first = cur->next_first;
	cur->size = cur->next_size;
	cur->va = cur->next_va;
	cur->chunk = chunk_after(cur->region, cur->chunk, cur->run);
	cur->run++;
	cursor_load_next(cur);
}

/*
 * A full lookup that refills @cur. Out of line, so that the cheap cases of
 * kmm_phys_to_virt_cursor_slow() save no registers for it.
 */
__attribute__((noinline)) static int cursor_lookup(const struct kmm_regions *r,
						   struct kmm_p2v_cursor *cur,
						   kmm_paddr_t pa,
						   kmm_vaddr_t *va)
{
	const struct kmm_region_pa_node *leaf;
	const struct kmm_region *rg;
	unsigned int slot;

	if (!pa_indexed(r)) {
		rg = identity_find(r, pa, -1);
		if (rg == NULL)
			return KMM_ENOENT;
		cursor_fill(cur, r, rg, rg->va, rg->size, rg->va);
	} else if (pa_find(r, pa, -1, &leaf, &slot)) {
		cursor_fill(cur, r, leaf->l.region[slot], leaf->l.key[slot],
			    leaf->l.last[slot] - leaf->l.key[slot] + 1,
			    leaf->l.va[slot]);
	} else {
		return KMM_ENOENT;
	}
	*va = cur->va + (pa - cur->first);
	return KMM_OK;
}

int kmm_phys_to_virt_cursor_slow(const struct kmm_as *as,
				 struct kmm_p2v_cursor *cur, kmm_paddr_t pa,
				 kmm_vaddr_t *va)
{
	const struct kmm_regions *r = regions_of(as);

	if (r == NULL || cur == NULL || va == NULL)
		return KMM_EINVAL;
	if (cur->size != 0 && cur->regions == r &&
	    cur->generation == r->generation) {
		if (pa - cur->first < cur->size) {
			*va = cur->va + (pa - cur->first);
			return KMM_OK;
		}
		/* The pages of a buffer: the run that follows in VA. */
		if (pa_indexed(r) && pa - cur->next_first < cur->next_size) {
			kmm_p2v_cursor_step(cur);
			*va = cur->va + (pa - cur->first);
			return KMM_OK;
		}
	}
	return cursor_lookup(r, cur, pa, va);
}
