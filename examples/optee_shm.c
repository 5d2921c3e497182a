// SPDX-License-Identifier: BSD-2-Clause
/*
 * OP-TEE with virtualization, dynamic shared memory: two normal-world
 * guests register SHM buffers made of scattered pages, OP-TEE resolves
 * phys_to_virt for every page, one guest dies half-way through and the
 * other keeps working. Every step is printed and checked; the exit status
 * is 0 only when every check held.
 *
 * The simulated machine (host port): a 16 MiB arena of "physical" memory
 * managed by one page allocator, OP-TEE's own EL1 translation regime
 * (stage 1, ASID 1) with an SHM window of dynamic regions. The guests'
 * pages come from the page allocator under their owner id, as a
 * per-guest pool does in OP-TEE; no stage 2 here, the hypervisor owns it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host_port.h"
#include "kmm/guest.h"
#include "kmm/region.h"
#include "kmm/vmsa.h"

#define PG 4096ull
#define ARENA_BASE 0x80000000ull
#define ARENA_SIZE (16ull << 20)
#define SHM_VA 0x10000000ull
#define SHM_SIZE (64ull << 20)
#define NPAGES 16
#define NBUF 2
#define BUFPAGES 4

static int failures;

struct guest {
	kmm_owner_t id;
	kmm_paddr_t pa[NPAGES];
	kmm_vaddr_t buf_va[NBUF];
	kmm_paddr_t buf_pa[NBUF][BUFPAGES];
};

static struct kmm_host host;
static struct kmm_pages pages;
static struct kmm_vmsa tee;
static struct kmm_vaspace vs;
static struct kmm_slab vs_nodes, rg_nodes;
static struct kmm_regions shm;
static struct kmm k;

static void setup(void)
{
	struct kmm_vmsa_config vc;
	struct kmm_vaspace_config sc = { .granule = PG };
	struct kmm_config kc = { 0 };
	size_t meta_size = kmm_pages_meta_size(ARENA_BASE, ARENA_SIZE);
	void *meta = aligned_alloc(8, meta_size);
	void *vmem = aligned_alloc(64, 256 * 128);
	void *rmem = aligned_alloc(64, 256 * KMM_REGION_NODE_SIZE);
	int ret = 0;

	if (!meta || !vmem || !rmem ||
	    kmm_host_init(&host, ARENA_BASE, ARENA_SIZE, 0) != 0) {
		printf("optee_shm: out of host memory\n");
		exit(2);
	}
	host.log_enabled = false;
	ret |= kmm_pages_init(&pages, &host.port, ARENA_BASE, ARENA_SIZE, meta,
			      meta_size);
	ret |= kmm_pages_add(&pages, ARENA_BASE, ARENA_SIZE);
	kmm_vmsa_config_init(&vc, KMM_REGIME_EL1);
	vc.id = 1; /* OP-TEE's ASID */
	ret |= kmm_vmsa_init(&tee, &vc, &host.port, &pages, KMM_OWNER_KERNEL,
			     0);
	ret |= kmm_slab_init(&vs_nodes, sizeof(struct kmm_vaspace_node),
			     _Alignof(struct kmm_vaspace_node));
	ret |= kmm_slab_add_memory(&vs_nodes, vmem, 256 * 128);
	sc.nodes = &vs_nodes;
	ret |= kmm_vaspace_init(&vs, &sc);
	ret |= kmm_vaspace_add_window(&vs, SHM_VA, SHM_SIZE);
	ret |= kmm_slab_init(&rg_nodes, KMM_REGION_NODE_SIZE,
			     KMM_REGION_NODE_ALIGN);
	ret |= kmm_slab_add_memory(&rg_nodes, rmem, 256 * KMM_REGION_NODE_SIZE);
	ret |= kmm_regions_init(&shm, &tee.as, &vs, &rg_nodes);
	kc.port = &host.port;
	kc.pages = &pages;
	kc.vs = &vs;
	kc.spaces[0] = &tee.as;
	kc.nspaces = 1;
	ret |= kmm_init(&k, &kc);
	if (ret) {
		printf("optee_shm: setup failed\n");
		exit(2);
	}
}

/* Reads the first byte of @va the way OP-TEE would: through its map. */
static int read_through_map(kmm_vaddr_t va, uint8_t *byte)
{
	struct kmm_vmsa_walk w;
	int ret = kmm_vmsa_walk(&tee, va, &w);

	if (ret == 0)
		*byte = *(uint8_t *)kmm_host_ptr(&host, w.pa);
	return ret;
}

static void guest_start(struct guest *g, kmm_owner_t id, uint8_t tag)
{
	const struct kmm_guest_quota q = {
		.pages = 64,
		.va_bytes = 1u << 20,
		.regions = 8,
	};

	g->id = id;
	CHECK(kmm_guest_create(&k, id, &q, NULL) == 0, "create guest %u", id);
	for (int i = 0; i < NPAGES; i++) {
		CHECK(kmm_guest_alloc_pages(&k, id, 0, 0, &g->pa[i]) == 0,
		      "page %d", i);
		memset(kmm_host_ptr(&host, g->pa[i]), tag + i, PG);
	}
	printf("guest %u: created, %d pages at 0x%llx..0x%llx\n", id, NPAGES,
	       (unsigned long long)g->pa[0],
	       (unsigned long long)g->pa[NPAGES - 1]);
}

/* Registers buffer @b of @g from scattered pages (pages five apart). */
static void guest_register(struct guest *g, int b)
{
	int ret;

	for (int j = 0; j < BUFPAGES; j++)
		g->buf_pa[b][j] = g->pa[(b + j * 5) % NPAGES];
	ret = kmm_guest_shm_register(&k, g->id, 0, g->buf_pa[b], BUFPAGES,
				     &g->buf_va[b]);
	CHECK(ret == 0, "register: %s", kmm_errname(ret));
	printf("guest %u: SHM buffer %d at VA 0x%llx from pages", g->id, b,
	       (unsigned long long)g->buf_va[b]);
	for (int j = 0; j < BUFPAGES; j++)
		printf(" 0x%llx", (unsigned long long)g->buf_pa[b][j]);
	printf("\n");
}

/* Resolves every page of every buffer of @g and reads it through the map. */
static int guest_resolve(const struct guest *g, const char *when)
{
	int ok = 0;

	for (int b = 0; b < NBUF; b++) {
		for (int j = 0; j < BUFPAGES; j++) {
			kmm_paddr_t pa = g->buf_pa[b][j];
			kmm_vaddr_t va = 0;
			uint8_t byte = 0;
			int ret =
				kmm_phys_to_virt_owner(&tee.as, pa, g->id, &va);

			if (ret == 0 && read_through_map(va, &byte) == 0 &&
			    byte == *(uint8_t *)kmm_host_ptr(&host, pa))
				ok++;
		}
	}
	printf("guest %u: %s: %d of %d SHM pages resolve and read back\n",
	       g->id, when, ok, NBUF * BUFPAGES);
	return ok;
}

int main(void)
{
	static struct guest g1, g2;
	struct kmm_guest_usage u;
	kmm_vaddr_t va;
	kmm_paddr_t pa;
	int ret, zero_pages = 0, steps = 1;

	setup();
	printf("OP-TEE dynamic SHM with two guests (kmm %s)\n",
	       KMM_CONFIG_VERSION);
	guest_start(&g1, 1, 0x10);
	guest_start(&g2, 2, 0x80);
	for (int b = 0; b < NBUF; b++) {
		guest_register(&g1, b);
		guest_register(&g2, b);
	}
	CHECK(guest_resolve(&g1, "before") == NBUF * BUFPAGES, "g1 resolve");
	CHECK(guest_resolve(&g2, "before") == NBUF * BUFPAGES, "g2 resolve");

	ret = kmm_phys_to_virt_owner(&tee.as, g1.buf_pa[0][0], 2, &va);
	printf("guest 2 looks up a page of guest 1: %s\n", kmm_errname(ret));
	CHECK(ret == KMM_ENOENT, "cross lookup");
	ret = kmm_guest_shm_register(&k, 2, 0, &g1.pa[0], 1, &va);
	printf("guest 2 registers a page of guest 1: %s\n", kmm_errname(ret));
	CHECK(ret == KMM_EPERM, "cross register");
	ret = kmm_guest_vunmap(&k, 2, 0, g1.buf_va[0]);
	printf("guest 2 unregisters a buffer of guest 1: %s\n",
	       kmm_errname(ret));
	CHECK(ret == KMM_EPERM, "cross unregister");

	printf("guest 1 dies half-way through\n");
	ret = kmm_guest_destroy_step(&k, 1);
	CHECK(ret == KMM_EBUSY, "first step");
	ret = kmm_guest_shm_register(&k, 1, 0, &g1.pa[1], 1, &va);
	printf("guest 1 registers while dying: %s\n", kmm_errname(ret));
	CHECK(ret == KMM_EBUSY, "dying register");
	CHECK(guest_resolve(&g2, "while guest 1 dies") == NBUF * BUFPAGES,
	      "g2 during");
	while ((ret = kmm_guest_destroy_step(&k, 1)) == KMM_EBUSY)
		steps++;
	CHECK(ret == 0, "destroy: %s", kmm_errname(ret));
	printf("guest 1 torn down in %d steps\n", steps + 1);
	CHECK(kmm_guest_usage(&k, 1, &u) == 0 && u.pages == 0 &&
		      u.regions == 0 && u.va_bytes == 0,
	      "usage");
	printf("guest 1 usage: %llu pages, %u regions, %llu VA bytes\n",
	       (unsigned long long)u.pages, u.regions,
	       (unsigned long long)u.va_bytes);
	CHECK(guest_resolve(&g1, "after its teardown") == 0, "g1 gone");
	CHECK(kmm_phys_to_virt(&tee.as, g1.buf_pa[0][0], &va) == KMM_ENOENT,
	      "no stale p2v");

	/* Guest 2 keeps working: its buffers, a new one, new pages. */
	CHECK(guest_resolve(&g2, "after guest 1 died") == NBUF * BUFPAGES,
	      "g2 after");
	CHECK(kmm_guest_vunmap(&k, 2, 0, g2.buf_va[0]) == 0, "g2 unregister");
	guest_register(&g2, 0);
	for (int i = 0; i < 32; i++) {
		const uint8_t *p;
		bool was_g1 = false;

		if (kmm_guest_alloc_pages(&k, 2, 0, 0, &pa) != 0)
			break;
		for (int j = 0; j < NPAGES; j++)
			was_g1 |= g1.pa[j] == pa;
		if (!was_g1)
			continue;
		p = kmm_host_ptr(&host, pa);
		for (size_t off = 0; off < PG; off++)
			CHECK(p[off] == 0, "stale byte at 0x%llx",
			      (unsigned long long)(pa + off));
		zero_pages++;
	}
	printf("guest 2 got %d of guest 1's old pages, all read as zeros\n",
	       zero_pages);
	CHECK(zero_pages > 0, "reuse");
	CHECK(guest_resolve(&g2, "at the end") == NBUF * BUFPAGES, "g2 end");

	kmm_host_fini(&host);
	return check_verdict(failures);
}
