// SPDX-License-Identifier: BSD-2-Clause
/*
 * Xen on Armv8-R AArch64 (an MPU, no MMU at EL2), the kmm way:
 *  1. the memory layout comes from a device tree (xen_mpu.dts);
 *  2. the boot-time region set (with init text and data) is replaced by
 *     the run-time set, which frees slots for guests;
 *  3. two guests get their own stage-2 region sets with a slot quota;
 *  4. a vCPU context switch loads one guest's set in place of the other's;
 *  5. guest 1 is torn down: the region Xen mapped for it, its region set
 *     and its pages go back, guest 2 keeps running.
 * The region tables are printed at each step; every step is checked and
 * the exit status is 0 only when every check held.
 *
 * usage: xen_mpu [DTB]   (default: xen_mpu.dtb next to the executable)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "host_port.h"
#include "kmm/guest.h"

#if KMM_CONFIG_BACKEND_PMSA && KMM_CONFIG_FDT
#include "kmm/fdt.h"
#include "kmm/pmsa.h"
#include "kmm/region.h"

#define PG 4096ull
#define MIB (1ull << 20)
#define XEN_TEXT 0x000000ull /* 2 MiB text */
#define XEN_INIT_TEXT 0x200000ull /* 512 KiB */
#define XEN_INIT_DATA 0x280000ull /* 512 KiB */
#define XEN_DATA 0x300000ull /* 1 MiB */
#define UART0 0x9c090000ull
#define UART1 0x9c0a0000ull
#define HYP_SLOTS 12
#define GUEST_SLOTS 20
#define GUEST_QUOTA_SLOTS 4

static int failures;

static struct kmm_host host;
static struct kmm_pages pages;
static struct kmm_pmsa hyp;
static struct kmm_pmsa gsets[KMM_CONFIG_MAX_OWNERS];
static struct kmm_vaspace claims;
static struct kmm_slab claim_nodes, region_nodes;
static struct kmm_regions regions;
static struct kmm k;

/* The stage-2 constructor: a guest region set with the slot quota. */
static int s2_create(void *ctx, kmm_owner_t id, const struct kmm_guest_quota *q,
		     struct kmm_as **s2)
{
	int ret = kmm_pmsa_guest_init(&gsets[id], ctx, id, q->mpu_slots);

	if (ret == 0)
		*s2 = &gsets[id].as;
	return ret;
}

static void s2_usage(void *ctx, const struct kmm_as *s2, uint64_t *tables,
		     uint32_t *slots)
{
	(void)ctx;
	*tables = 0;
	*slots = kmm_container_of(s2, const struct kmm_pmsa, as)->nregions;
}

static const struct kmm_guest_s2_ops s2_ops = { s2_create, s2_usage };

static const char *attr_str(kmm_attr_t a)
{
	static char buf[16];
	static const char *const mt[] = { "normal", "normal-nc", "nGnRnE",
					  "nGnRE" };

	snprintf(buf, sizeof(buf), "%c%c%c %s", (a & KMM_ATTR_R) ? 'r' : '-',
		 (a & KMM_ATTR_W) ? 'w' : '-', (a & KMM_ATTR_X) ? 'x' : '-',
		 mt[KMM_ATTR_MT_GET(a)]);
	return buf;
}

static void print_set(const char *title, const struct kmm_pmsa *p)
{
	printf("%s: %u regions in %u slots (%d free)\n", title, p->nregions,
	       p->nslots, kmm_pmsa_free_slots(p));
	printf("  slot  base        limit       attr           owner  "
	       "PRBAR_EL2           PRLAR_EL2\n");
	for (unsigned int i = 0; i < p->nregions; i++) {
		const struct kmm_pmsa_region *r = &p->regions[i];
		const struct kmm_pmsa_slot *s = &p->hw[r->slot];

		printf("  %4u  0x%08llx  0x%08llx  %-13s  %5u  0x%016llx  "
		       "0x%016llx%s\n",
		       p->first_slot + r->slot, (unsigned long long)r->base,
		       (unsigned long long)r->limit, attr_str(r->attr),
		       r->owner, (unsigned long long)s->rbar,
		       (unsigned long long)s->rlar,
		       (r->flags & KMM_PMSA_REGION_INIT) ? "  init" : "");
	}
}

static void *load_dtb(const char *path, size_t *size)
{
	FILE *f = fopen(path, "rb");
	void *buf;
	long n;

	if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0) {
		if (f)
			fclose(f);
		return NULL;
	}
	rewind(f);
	buf = malloc((size_t)n);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*size = (size_t)n;
	return buf;
}

static void setup_memory(const char *dtb_path)
{
	static struct kmm_fdt_memory mem;
	kmm_paddr_t base;
	uint64_t span;
	size_t dtb_size = 0, meta_size;
	void *dtb = load_dtb(dtb_path, &dtb_size), *meta;
	int ret;

	if (dtb == NULL) {
		printf("xen_mpu: cannot read %s\n", dtb_path);
		exit(2);
	}
	ret = kmm_fdt_memory_scan(dtb, dtb_size, &mem);
	CHECK(ret == 0, "scan: %s", kmm_errname(ret));
	printf("device tree %s:\n", dtb_path);
	for (unsigned int i = 0; i < mem.nbanks; i++)
		printf("  RAM      0x%08llx + 0x%llx\n",
		       (unsigned long long)mem.banks[i].base,
		       (unsigned long long)mem.banks[i].size);
	for (unsigned int i = 0; i < mem.nreserved; i++)
		printf("  reserved 0x%08llx + 0x%llx%s\n",
		       (unsigned long long)mem.reserved[i].base,
		       (unsigned long long)mem.reserved[i].size,
		       (mem.reserved[i].flags & KMM_FDT_RESV_NO_MAP) ?
			       " no-map" :
			       "");
	CHECK(kmm_fdt_pages_span(&mem, &base, &span) == 0, "span");
	if (kmm_host_init(&host, base, span, 4096) != 0) {
		printf("xen_mpu: out of host memory\n");
		exit(2);
	}
	host.log_enabled = false;
	meta_size = kmm_pages_meta_size(base, span);
	meta = aligned_alloc(8, meta_size);
	ret = meta ? kmm_fdt_pages_init(&pages, &host.port, &mem, meta,
					meta_size) :
		     KMM_ENOMEM;
	CHECK(ret == 0, "pages: %s", kmm_errname(ret));
	free(dtb);
}

static void boot_to_runtime(void)
{
	const struct kmm_pmsa_config pc = {
		.hyp_slots = HYP_SLOTS,
		.guest_first = HYP_SLOTS,
		.guest_slots = GUEST_SLOTS,
		.shared_mpu = true,
	};
	const struct kmm_pmsa_range keep = { XEN_TEXT, 2 * MIB };
	struct kmm_pmsa_report rep;
	int ret = 0;

	ret |= kmm_pmsa_init(&hyp, &host.port, &pc);
	ret |= kmm_pmsa_add(&hyp, XEN_TEXT, 2 * MIB, KMM_ATTR_RX_CODE,
			    KMM_OWNER_KERNEL, 0);
	ret |= kmm_pmsa_add(&hyp, XEN_INIT_TEXT, MIB / 2, KMM_ATTR_RX_CODE,
			    KMM_OWNER_KERNEL, KMM_PMSA_REGION_INIT);
	ret |= kmm_pmsa_add(&hyp, XEN_INIT_DATA, MIB / 2, KMM_ATTR_RW_DATA,
			    KMM_OWNER_KERNEL, KMM_PMSA_REGION_INIT);
	ret |= kmm_pmsa_add(&hyp, XEN_DATA, MIB, KMM_ATTR_RW_DATA,
			    KMM_OWNER_KERNEL, 0);
	ret |= kmm_pmsa_add(&hyp, UART0, PG, KMM_ATTR_RW_DEVICE,
			    KMM_OWNER_KERNEL, 0);
	CHECK(ret == 0, "boot set");
	CHECK(kmm_pmsa_load(&hyp) > 0, "load");
	print_set("\nXen boot region set (EL2 MPU)", &hyp);
	ret = kmm_pmsa_boot_to_runtime(&hyp, &keep, 1, &rep);
	CHECK(ret == 0, "boot_to_runtime: %s", kmm_errname(ret));
	printf("\nboot to run time: %u init regions dropped, slots %u -> %u, "
	       "%u slot writes, text kept mapped throughout\n",
	       rep.dropped, rep.slots_before, rep.slots_after, rep.writes);
	CHECK(rep.dropped == 2 && rep.slots_after == 3,
	      "run-time set: %u dropped, %u slots", rep.dropped,
	      rep.slots_after);
	print_set("Xen run-time region set", &hyp);
}

static void setup_kmm(void)
{
	struct kmm_vaspace_config vc = { .granule = PG, .identity = true };
	struct kmm_config kc = { 0 };
	size_t vmem_size = 256 * 128, rmem_size = 64 * KMM_REGION_NODE_SIZE;
	void *vmem = aligned_alloc(64, vmem_size);
	void *rmem = aligned_alloc(64, rmem_size);
	int ret = 0;

	/* Xen's dynamic mappings (ioremap, a guest's shared page) are
	 * identity claims over RAM and the device range. */
	ret |= kmm_slab_init(&claim_nodes, sizeof(struct kmm_vaspace_node),
			     _Alignof(struct kmm_vaspace_node));
	ret |= kmm_slab_add_memory(&claim_nodes, vmem, vmem_size);
	vc.nodes = &claim_nodes;
	ret |= kmm_vaspace_init(&claims, &vc);
	ret |= kmm_vaspace_add_window(&claims, 0, 1ull << 30);
	ret |= kmm_vaspace_add_window(&claims, UART0 & ~(16 * MIB - 1),
				      16 * MIB);
	ret |= kmm_slab_init(&region_nodes, KMM_REGION_NODE_SIZE,
			     KMM_REGION_NODE_ALIGN);
	ret |= kmm_slab_add_memory(&region_nodes, rmem, rmem_size);
	ret |= kmm_regions_init(&regions, &hyp.as, &claims, &region_nodes);
	kc.port = &host.port;
	kc.pages = &pages;
	kc.vs = &claims;
	kc.spaces[0] = &hyp.as;
	kc.nspaces = 1;
	kc.s2_ops = &s2_ops;
	kc.s2_ctx = &hyp;
	ret |= kmm_init(&k, &kc);
	CHECK(ret == 0, "kmm setup");
}

static kmm_paddr_t guest_ram(kmm_owner_t id, unsigned int order,
			     kmm_attr_t attr)
{
	kmm_paddr_t pa = 0;
	int ret = kmm_guest_alloc_pages(&k, id, order, KMM_PAGES_ZERO, &pa);

	CHECK(ret == 0, "guest %u RAM: %s", id, kmm_errname(ret));
	ret = kmm_guest_map(&k, id, pa, pa, PG << order, attr);
	CHECK(ret == 0, "guest %u map: %s", id, kmm_errname(ret));
	return pa;
}

int main(int argc, char **argv)
{
	const struct kmm_guest_quota q = {
		.pages = 2048, /* 8 MiB */
		.va_bytes = 64 * PG,
		.regions = 4,
		.mpu_slots = GUEST_QUOTA_SLOTS,
	};
	char path[4096];
	struct kmm_guest_usage u;
	kmm_paddr_t g1_ram, g2_ram;
	kmm_vaddr_t shared;
	int hyp_before, writes, ret;

	if (argc > 1) {
		snprintf(path, sizeof(path), "%s", argv[1]);
	} else {
		const char *slash = strrchr(argv[0], '/');
		int dir = slash ? (int)(slash - argv[0]) : 1;

		snprintf(path, sizeof(path), "%.*s/xen_mpu.dtb", dir,
			 slash ? argv[0] : ".");
	}
	printf("Xen on Armv8-R AArch64 with kmm %s\n", KMM_CONFIG_VERSION);
	setup_memory(path);
	boot_to_runtime();
	setup_kmm();

	/* Two guests, each with a region set of 4 slots. */
	CHECK(kmm_guest_create(&k, 1, &q, NULL) == 0, "create 1");
	CHECK(kmm_guest_create(&k, 2, &q, NULL) == 0, "create 2");
	g1_ram = guest_ram(1, 9, KMM_ATTR_RW_DATA); /* 2 MiB */
	ret = kmm_guest_map(&k, 1, UART1, UART1, PG, KMM_ATTR_RW_DEVICE);
	CHECK(ret == 0, "passthrough UART: %s", kmm_errname(ret));
	g2_ram = guest_ram(2, 8, KMM_ATTR_RX_CODE); /* 1 MiB of code */
	guest_ram(2, 9, KMM_ATTR_RW_DATA);
	ret = kmm_guest_map(&k, 1, g2_ram, g2_ram, PG, KMM_ATTR_RW_DATA);
	printf("\nguest 1 maps guest 2's RAM: %s\n", kmm_errname(ret));
	CHECK(ret == KMM_EPERM, "cross map");
	ret = kmm_guest_map(&k, 1, g1_ram, g1_ram, PG,
			    KMM_ATTR_RW_DATA | KMM_ATTR_X);
	printf("guest 1 maps its RAM writable and executable: %s\n",
	       kmm_errname(ret));
	CHECK(ret != 0, "W^X");

	/* Xen maps a page of guest 1 for itself (a shared-info page). */
	hyp_before = kmm_pmsa_free_slots(&hyp);
	ret = kmm_guest_ioremap(&k, 1, 0, g1_ram + MIB, PG, KMM_ATTR_RW_DATA,
				&shared);
	CHECK(ret == 0 && shared == g1_ram + MIB, "shared page: %s",
	      kmm_errname(ret));
	printf("Xen maps guest 1's page 0x%llx at 0x%llx (identity)\n",
	       (unsigned long long)(g1_ram + MIB), (unsigned long long)shared);
	CHECK(kmm_pmsa_free_slots(&hyp) == hyp_before - 1, "hyp slot");
	print_set("\nXen region set", &hyp);
	print_set("guest 1 stage-2 region set", &gsets[1]);
	print_set("guest 2 stage-2 region set", &gsets[2]);

	/* vCPU context switches: only differing slots are written. */
	kmm_host_clear_events(&host);
	writes = kmm_pmsa_switch(NULL, &gsets[1]);
	printf("\nswitch to guest 1: %d slot writes\n", writes);
	/* From an unknown state: every slot of the guest window. */
	CHECK(writes == GUEST_SLOTS, "first load writes %d", writes);
	writes = kmm_pmsa_switch(&gsets[1], &gsets[2]);
	printf("switch guest 1 -> guest 2: %d slot writes, %zu MPU syncs\n",
	       writes, kmm_host_count(&host, KMM_HOST_EV_MPU_SYNC));
	CHECK(writes > 0 && writes <= GUEST_QUOTA_SLOTS, "switch writes");
	CHECK(gsets[2].live && !gsets[1].live, "live set");

	/* Guest 1 goes away while guest 2 runs. */
	ret = kmm_guest_destroy(&k, 1);
	printf("\nguest 1 torn down: %s\n", kmm_errname(ret));
	CHECK(ret == 0, "destroy");
	CHECK(kmm_guest_usage(&k, 1, &u) == 0 && u.pages == 0 &&
		      u.regions == 0 && u.mpu_slots == 0 && u.va_bytes == 0,
	      "usage not zero");
	printf("guest 1 usage: %llu pages, %u regions, %u MPU slots, %llu "
	       "bytes claimed\n",
	       (unsigned long long)u.pages, u.regions, u.mpu_slots,
	       (unsigned long long)u.va_bytes);
	CHECK(kmm_pmsa_free_slots(&hyp) == hyp_before, "hyp slot back");
	CHECK(kmm_query(&hyp.as, shared, NULL, NULL, NULL) == KMM_ENOENT,
	      "stale hyp mapping");
	CHECK(gsets[1].nregions == 0, "guest 1 set empty");
	print_set("Xen region set", &hyp);
	print_set("guest 2 stage-2 region set (still live)", &gsets[2]);
	CHECK(kmm_query(&gsets[2].as, g2_ram, NULL, NULL, NULL) == 0,
	      "guest 2 mapping");
	CHECK(kmm_guest_usage(&k, 2, &u) == 0 && u.mpu_slots == 2,
	      "guest 2 slots %u", u.mpu_slots);
	/* Guest 1's frames are free again, scrubbed when handed out. */
	{
		kmm_owner_t o;

		CHECK(kmm_pages_owner(&pages, g1_ram, &o) == KMM_ENOENT,
		      "guest 1 RAM still owned");
	}

	printf("\n");
	kmm_host_fini(&host);
	return check_verdict(failures);
}

#else /* !(KMM_CONFIG_BACKEND_PMSA && KMM_CONFIG_FDT) */

int main(void)
{
	printf("xen_mpu: needs the PMSA backend and libfdt; skipped\n");
	return 77;
}

#endif
