// SPDX-License-Identifier: BSD-2-Clause
/*
 * Specification of the fixed-size object allocator: rounding, carving
 * aligned objects from any buffer, all-or-nothing multi-object takes, and
 * a randomized run against a set of live objects checking that no two
 * live objects overlap and that the counters stay exact.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kmm/errors.h"
#include "kmm/slab.h"

static _Alignas(64) unsigned char buf[4096];

Test(slab, init_rejects_zero_size_and_bad_alignment)
{
	struct kmm_slab s;

	memset(&s, 0xa5, sizeof(s));
	cr_assert_eq(kmm_slab_init(NULL, 16, 8), KMM_EINVAL);
	cr_assert_eq(kmm_slab_init(&s, 0, 8), KMM_EINVAL);
	cr_assert_eq(kmm_slab_init(&s, 16, 0), KMM_EINVAL);
	cr_assert_eq(kmm_slab_init(&s, 16, 24), KMM_EINVAL);
	cr_assert_eq(kmm_slab_init(&s, SIZE_MAX - 2, 64), KMM_EINVAL);
	/* A failed init leaves the struct untouched. */
	cr_assert_eq(s.obj_size, (size_t)0xa5a5a5a5a5a5a5a5ull);
}

Test(slab, init_rounds_size_up_to_alignment_and_link_size)
{
	struct kmm_slab s;

	cr_assert_eq(kmm_slab_init(&s, 1, 1), 0);
	cr_assert_eq(kmm_slab_obj_size(&s), sizeof(void *));
	cr_assert_eq(s.obj_align, _Alignof(void *));
	cr_assert_eq(kmm_slab_init(&s, 40, 32), 0);
	cr_assert_eq(kmm_slab_obj_size(&s), 64);
	cr_assert_eq(s.obj_align, 32);
	cr_assert_eq(kmm_slab_available(&s), 0);
	cr_assert_null(kmm_slab_alloc(&s));
}

Test(slab, add_memory_carves_aligned_objects_in_ascending_order)
{
	struct kmm_slab s;
	uintptr_t base = (uintptr_t)buf;

	cr_assert_eq(kmm_slab_init(&s, 48, 64), 0);
	/* Start 8 bytes in: the first object sits at the next 64 boundary. */
	cr_assert_eq(kmm_slab_add_memory(&s, buf + 8, 64 * 5), 0);
	/* [buf+64, buf+328): four whole 64-byte objects. */
	cr_assert_eq(kmm_slab_available(&s), 4);
	for (int i = 0; i < 4; i++) {
		void *o = kmm_slab_alloc(&s);

		cr_assert_eq((uintptr_t)o, base + 64 + 64 * (uintptr_t)i);
	}
	cr_assert_null(kmm_slab_alloc(&s));
	cr_assert_eq(kmm_slab_available(&s), 0);
	cr_assert_eq(s.total, 4);
}

Test(slab, add_memory_rejects_buffers_without_a_whole_object)
{
	struct kmm_slab s;

	cr_assert_eq(kmm_slab_init(&s, 64, 64), 0);
	cr_assert_eq(kmm_slab_add_memory(NULL, buf, 128), KMM_EINVAL);
	cr_assert_eq(kmm_slab_add_memory(&s, NULL, 128), KMM_EINVAL);
	cr_assert_eq(kmm_slab_add_memory(&s, buf, 63), KMM_EINVAL);
	/* 100 bytes from buf+1: the aligned start buf+64 leaves 37 bytes. */
	cr_assert_eq(kmm_slab_add_memory(&s, buf + 1, 100), KMM_EINVAL);
	cr_assert_eq(kmm_slab_add_memory(&s, (void *)(UINTPTR_MAX - 63), 128),
		     KMM_ERANGE);
	cr_assert_eq(kmm_slab_available(&s), 0);
	cr_assert_eq(s.total, 0);
	cr_assert_null(s.free_list);
}

Test(slab, uninitialised_slab_refuses_memory)
{
	struct kmm_slab s = { 0 };

	cr_assert_eq(kmm_slab_add_memory(&s, buf, sizeof(buf)), KMM_EINVAL);
}

Test(slab, freed_object_is_handed_out_again_first)
{
	struct kmm_slab s;
	void *a, *b;

	cr_assert_eq(kmm_slab_init(&s, 32, 8), 0);
	cr_assert_eq(kmm_slab_add_memory(&s, buf, 256), 0);
	a = kmm_slab_alloc(&s);
	b = kmm_slab_alloc(&s);
	cr_assert_neq(a, b);
	cr_assert_eq(kmm_slab_available(&s), 6);
	kmm_slab_free(&s, a);
	cr_assert_eq(kmm_slab_available(&s), 7);
	cr_assert_eq(kmm_slab_alloc(&s), a);
	kmm_slab_free(&s, NULL);
	kmm_slab_free(NULL, b);
	cr_assert_eq(kmm_slab_available(&s), 6);
}

Test(slab, alloc_n_takes_all_or_nothing)
{
	struct kmm_slab s;
	void *objs[8];

	cr_assert_eq(kmm_slab_init(&s, 64, 64), 0);
	cr_assert_eq(kmm_slab_add_memory(&s, buf, 3 * 64), 0);
	cr_assert_eq(kmm_slab_alloc_n(&s, objs, 4), KMM_ENOMEM);
	cr_assert_eq(kmm_slab_available(&s), 3);
	cr_assert_eq(kmm_slab_alloc_n(NULL, objs, 1), KMM_EINVAL);
	cr_assert_eq(kmm_slab_alloc_n(&s, NULL, 1), KMM_EINVAL);
	cr_assert_eq(kmm_slab_alloc_n(&s, NULL, 0), 0);
	cr_assert_eq(kmm_slab_alloc_n(&s, objs, 3), 0);
	cr_assert_eq(kmm_slab_available(&s), 0);
	cr_assert_eq((uintptr_t)objs[0], (uintptr_t)buf);
	cr_assert_eq((uintptr_t)objs[1], (uintptr_t)buf + 64);
	cr_assert_eq((uintptr_t)objs[2], (uintptr_t)buf + 128);
}

Test(slab, memory_from_several_buffers_is_pooled)
{
	struct kmm_slab s;

	cr_assert_eq(kmm_slab_init(&s, 128, 64), 0);
	cr_assert_eq(kmm_slab_add_memory(&s, buf, 1024), 0);
	cr_assert_eq(kmm_slab_add_memory(&s, buf + 2048, 512), 0);
	cr_assert_eq(kmm_slab_available(&s), 12);
	cr_assert_eq(s.total, 12);
}

/* Random alloc/free: live objects never overlap, counters stay exact. */
Test(slab, random_alloc_free_keeps_objects_disjoint_and_counts_exact)
{
	enum { NBUF = 3, OBJ = 48, ALIGN = 16 };
	static _Alignas(16) unsigned char mem[NBUF][1000];
	struct kmm_slab s;
	void *live[128];
	size_t nlive = 0, total = 0;
	unsigned int seed = 12345;

	cr_assert_eq(kmm_slab_init(&s, OBJ, ALIGN), 0);
	for (int i = 0; i < NBUF; i++) {
		/* Odd offsets exercise the alignment of each buffer. */
		cr_assert_eq(kmm_slab_add_memory(&s, mem[i] + i * 3, 997 - i),
			     0);
		total = s.total;
	}
	cr_assert_eq(total, kmm_slab_available(&s));
	for (int step = 0; step < 20000; step++) {
		bool take = nlive == 0 || (rand_r(&seed) % 2 && nlive < 128);

		if (take) {
			void *o = kmm_slab_alloc(&s);

			if (o == NULL) {
				cr_assert_eq(nlive, total);
				continue;
			}
			cr_assert_eq((uintptr_t)o % ALIGN, 0);
			/* Scribble over it: a live object is all ours. */
			memset(o, 0x5a, OBJ);
			for (size_t i = 0; i < nlive; i++) {
				uintptr_t a = (uintptr_t)o;
				uintptr_t b = (uintptr_t)live[i];

				cr_assert(a + OBJ <= b || b + OBJ <= a,
					  "live objects overlap");
			}
			live[nlive++] = o;
		} else {
			size_t i = rand_r(&seed) % nlive;

			kmm_slab_free(&s, live[i]);
			live[i] = live[--nlive];
		}
		cr_assert_eq(kmm_slab_available(&s) + nlive, total);
	}
}
