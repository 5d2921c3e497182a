// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the backend-independent front end (src/map.c): what it
 * validates before any backend sees a call, W^X, and the port lock. A fake
 * backend records the calls that get through.
 */
#include <criterion/criterion.h>

#include "host_port.h"
#include "kmm/as.h"
#include "kmm/errors.h"

struct fake {
	struct kmm_as as;
	struct kmm_host *host;
	int calls;
	unsigned long lock_depth_seen;
	kmm_vaddr_t va;
	kmm_paddr_t pa;
	size_t size;
	kmm_attr_t attr;
	int ret; /* what the backend answers */
};

static struct fake *fake_of(const struct kmm_as *as)
{
	return kmm_container_of(as, struct fake, as);
}

static int note(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa, size_t size,
		kmm_attr_t attr)
{
	struct fake *f = fake_of(as);

	f->calls++;
	f->lock_depth_seen = f->host->lock_depth;
	f->va = va;
	f->pa = pa;
	f->size = size;
	f->attr = attr;
	return f->ret;
}

static int fake_map(struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t pa,
		    size_t size, kmm_attr_t attr)
{
	return note(as, va, pa, size, attr);
}

static int fake_unmap(struct kmm_as *as, kmm_vaddr_t va, size_t size)
{
	return note(as, va, 0, size, 0);
}

static int fake_protect(struct kmm_as *as, kmm_vaddr_t va, size_t size,
			kmm_attr_t attr)
{
	return note(as, va, 0, size, attr);
}

static int fake_query(const struct kmm_as *as, kmm_vaddr_t va, kmm_paddr_t *pa,
		      kmm_attr_t *attr, size_t *size)
{
	(void)as;
	if (va != 0x5000)
		return KMM_ENOENT;
	if (pa)
		*pa = 0x9000;
	if (attr)
		*attr = KMM_ATTR_RW_DATA;
	if (size)
		*size = 0x1000;
	return KMM_OK;
}

static void fake_caps(const struct kmm_as *as, struct kmm_as_caps *caps)
{
	(void)as;
	caps->flags = KMM_CAP_TRANSLATES;
	caps->block_sizes = 1u << 12;
	caps->granule = 0x1000;
	caps->va_end = 1ull << 32;
}

static void fake_dump(const struct kmm_as *as)
{
	fake_of(as)->calls++;
}

static int fake_destroy(struct kmm_as *as)
{
	struct fake *f = fake_of(as);

	f->calls++;
	f->lock_depth_seen = f->host->lock_depth;
	return KMM_OK;
}

static const struct kmm_backend_ops fake_ops = {
	.map = fake_map,
	.unmap = fake_unmap,
	.protect = fake_protect,
	.query = fake_query,
	.caps = fake_caps,
	.dump = fake_dump,
	.destroy = fake_destroy,
};

static struct kmm_host host;
static struct fake fk;

static void setup(void)
{
	cr_assert_eq(kmm_host_init(&host, 0, 0, 0), 0);
	fk = (struct fake){ .as = { .ops = &fake_ops, .port = &host.port },
			    .host = &host };
}

static void teardown(void)
{
	kmm_host_fini(&host);
}

TestSuite(map, .init = setup, .fini = teardown);

Test(map, valid_map_reaches_backend_once_under_the_lock)
{
	cr_assert_eq(kmm_map(&fk.as, 0x10000, 0x80000, 0x3000,
			     KMM_ATTR_RW_DATA),
		     KMM_OK);
	cr_assert_eq(fk.calls, 1);
	cr_assert_eq(fk.lock_depth_seen, 1);
	cr_assert_eq(host.lock_depth, 0);
	cr_assert_eq(fk.va, 0x10000);
	cr_assert_eq(fk.pa, 0x80000);
	cr_assert_eq(fk.size, 0x3000);
	cr_assert_eq(fk.attr, KMM_ATTR_RW_DATA);
}

Test(map, backend_error_is_returned_unchanged)
{
	fk.ret = KMM_ENOMEM;
	cr_assert_eq(kmm_map(&fk.as, 0x10000, 0x80000, 0x1000,
			     KMM_ATTR_RW_DATA),
		     KMM_ENOMEM);
	cr_assert_eq(host.lock_depth, 0);
}

/* One row per rule the front end enforces; the backend never sees them. */
struct bad_map {
	const char *rule;
	kmm_vaddr_t va;
	kmm_paddr_t pa;
	size_t size;
	kmm_attr_t attr;
	int want;
};

static const struct bad_map bad_maps[] = {
	{ "zero size", 0x1000, 0x1000, 0, KMM_ATTR_RW_DATA, KMM_EINVAL },
	{ "va wraps", 0xfffffffffffff000ull, 0, 0x2000, KMM_ATTR_RW_DATA,
	  KMM_ERANGE },
	{ "pa wraps", 0x1000, 0xfffffffffffff000ull, 0x2000, KMM_ATTR_RW_DATA,
	  KMM_ERANGE },
	{ "va at end of space", 1ull << 32, 0, 0x1000, KMM_ATTR_RW_DATA,
	  KMM_ERANGE },
	{ "va crosses end of space", (1ull << 32) - 0x1000, 0, 0x2000,
	  KMM_ATTR_RW_DATA, KMM_ERANGE },
	{ "va misaligned", 0x1800, 0x1000, 0x1000, KMM_ATTR_RW_DATA,
	  KMM_EALIGN },
	{ "size misaligned", 0x1000, 0x1000, 0x1800, KMM_ATTR_RW_DATA,
	  KMM_EALIGN },
	{ "unknown attribute bit", 0x1000, 0x1000, 0x1000,
	  KMM_ATTR_RW_DATA | (1u << 20), KMM_EINVAL },
	{ "not readable", 0x1000, 0x1000, 0x1000, KMM_ATTR_W, KMM_EINVAL },
	{ "unknown memory type", 0x1000, 0x1000, 0x1000,
	  KMM_ATTR_R | KMM_ATTR_MT(5), KMM_EINVAL },
	{ "writable and executable", 0x1000, 0x1000, 0x1000,
	  KMM_ATTR_RW_DATA | KMM_ATTR_X, KMM_EPERM },
};

Test(map, every_invalid_map_is_refused_before_the_backend)
{
	for (size_t i = 0; i < sizeof(bad_maps) / sizeof(bad_maps[0]); i++) {
		const struct bad_map *b = &bad_maps[i];

		cr_assert_eq(kmm_map(&fk.as, b->va, b->pa, b->size, b->attr),
			     b->want, "%s", b->rule);
		cr_assert_eq(fk.calls, 0, "%s reached the backend", b->rule);
		cr_assert_eq(host.lock_depth, 0, "%s left the lock", b->rule);
	}
}

Test(map, wx_is_allowed_only_when_the_space_says_so)
{
	const kmm_attr_t rwx = KMM_ATTR_RW_DATA | KMM_ATTR_X;

	cr_assert_eq(kmm_protect(&fk.as, 0x1000, 0x1000, rwx), KMM_EPERM);
	cr_assert_eq(fk.calls, 0);
	fk.as.flags = KMM_AS_ALLOW_WX;
	cr_assert_eq(kmm_map(&fk.as, 0x1000, 0x1000, 0x1000, rwx), KMM_OK);
	cr_assert_eq(kmm_protect(&fk.as, 0x1000, 0x1000, rwx), KMM_OK);
	cr_assert_eq(fk.calls, 2);
}

Test(map, unmap_and_protect_check_range_and_alignment)
{
	cr_assert_eq(kmm_unmap(&fk.as, 0x1000, 0), KMM_EINVAL);
	cr_assert_eq(kmm_unmap(&fk.as, 0x1001, 0x1000), KMM_EALIGN);
	cr_assert_eq(kmm_unmap(&fk.as, 1ull << 32, 0x1000), KMM_ERANGE);
	cr_assert_eq(kmm_protect(&fk.as, 0x1000, 0x1000, 0), KMM_EINVAL);
	cr_assert_eq(fk.calls, 0);
	cr_assert_eq(kmm_unmap(&fk.as, 0x2000, 0x1000), KMM_OK);
	cr_assert_eq(fk.va, 0x2000);
	cr_assert_eq(fk.lock_depth_seen, 1);
}

Test(map, null_or_uninitialised_space_is_einval)
{
	struct kmm_as blank = { 0 };
	struct kmm_as_caps caps;

	cr_assert_eq(kmm_map(NULL, 0, 0, 0x1000, KMM_ATTR_RW_DATA), KMM_EINVAL);
	cr_assert_eq(kmm_map(&blank, 0, 0, 0x1000, KMM_ATTR_RW_DATA),
		     KMM_EINVAL);
	cr_assert_eq(kmm_unmap(NULL, 0, 0x1000), KMM_EINVAL);
	cr_assert_eq(kmm_protect(NULL, 0, 0x1000, KMM_ATTR_RW_DATA),
		     KMM_EINVAL);
	cr_assert_eq(kmm_query(NULL, 0, NULL, NULL, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_as_caps(NULL, &caps), KMM_EINVAL);
	cr_assert_eq(kmm_as_caps(&fk.as, NULL), KMM_EINVAL);
	cr_assert_eq(kmm_as_dump(NULL), KMM_EINVAL);
	cr_assert_eq(kmm_as_destroy(&blank), KMM_EINVAL);
}

Test(map, query_caps_dump_and_destroy_dispatch_to_backend)
{
	kmm_paddr_t pa = 0;
	kmm_attr_t attr = 0;
	size_t size = 0;
	struct kmm_as_caps caps;

	cr_assert_eq(kmm_query(&fk.as, 0x5000, &pa, &attr, &size), KMM_OK);
	cr_assert_eq(pa, 0x9000);
	cr_assert_eq(attr, KMM_ATTR_RW_DATA);
	cr_assert_eq(size, 0x1000);
	cr_assert_eq(kmm_query(&fk.as, 0x6000, &pa, NULL, NULL), KMM_ENOENT);
	cr_assert_eq(kmm_as_caps(&fk.as, &caps), KMM_OK);
	cr_assert_eq(caps.granule, 0x1000);
	cr_assert_eq(caps.va_end, 1ull << 32);
	cr_assert_eq(kmm_as_dump(&fk.as), KMM_OK);
	cr_assert_eq(kmm_as_destroy(&fk.as), KMM_OK);
	cr_assert_eq(fk.calls, 2);
	cr_assert_eq(fk.lock_depth_seen, 1);
}
