// SPDX-License-Identifier: BSD-2-Clause
/*
 * pmsa_plan: plans the MPU regions of a hypervisor on Armv8-R from a device
 * tree blob, the way Xen on an MPU system needs them.
 *
 *   pmsa_plan [-n SLOTS] [-a armv8r-aarch64|armv8r-aarch32|armv8m]
 *             [-i IMAGE_BASE] FILE.dtb
 *
 * From /memory, /reserved-memory (no-map ranges and xen,static-heap), the
 * early UART (/chosen stdout-path) and the guests' static memory
 * (/chosen/<domain> xen,static-mem) it builds:
 *  - the boot set: hypervisor text, init text, rodata, init data, data,
 *    the early UART and the RAM banks left for the hypervisor;
 *  - the run-time set: the boot set without the init regions, merged and
 *    packed (kmm_pmsa_boot_to_runtime);
 *  - one guest set per domain with static memory (stage 2 grants RWX: the
 *    guest's own stage 1 enforces W^X);
 * prints each table and says whether it fits SLOTS. Exit status: 0 when
 * everything fits, 1 when something does not, 2 on bad input.
 *
 * The hypervisor image layout is nominal (text 1 MiB, init 256 KiB split
 * between code and data, rodata 512 KiB, data 1 MiB) at IMAGE_BASE, by
 * default the start of the first RAM bank.
 */
#include <errno.h>
#include <fcntl.h>
#include <libfdt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kmm/errors.h"
#include "kmm/pmsa.h"

#define MAX_RANGES 64

struct range {
	uint64_t base, end; /* [base, end) */
};

struct ranges {
	struct range r[MAX_RANGES];
	unsigned int n;
};

static void add_range(struct ranges *rs, uint64_t base, uint64_t size)
{
	if (size && rs->n < MAX_RANGES)
		rs->r[rs->n++] = (struct range){ base, base + size };
}

/* Removes [base, end) from every range of @rs. */
static void cut(struct ranges *rs, uint64_t base, uint64_t end)
{
	struct ranges out = { .n = 0 };

	for (unsigned int i = 0; i < rs->n; i++) {
		struct range r = rs->r[i];

		if (end <= r.base || base >= r.end) {
			add_range(&out, r.base, r.end - r.base);
			continue;
		}
		if (r.base < base)
			add_range(&out, r.base, base - r.base);
		if (end < r.end)
			add_range(&out, end, r.end - end);
	}
	*rs = out;
}

static uint64_t read_cells(const fdt32_t *p, int cells)
{
	uint64_t v = 0;

	for (int i = 0; i < cells; i++)
		v = (v << 32) | fdt32_to_cpu(p[i]);
	return v;
}

/* Appends every (address, size) pair of property @prop of @node. */
static void read_reg(const void *fdt, int node, const char *prop, int ac,
		     int sc, struct ranges *rs)
{
	int len;
	const fdt32_t *p = fdt_getprop(fdt, node, prop, &len);

	if (!p || ac <= 0 || sc <= 0)
		return;
	for (int i = 0; (i + ac + sc) * 4 <= len; i += ac + sc)
		add_range(rs, read_cells(p + i, ac),
			  read_cells(p + i + ac, sc));
}

static int cells(const void *fdt, int node, const char *name, int dflt)
{
	const fdt32_t *p = fdt_getprop(fdt, node, name, NULL);

	return p ? (int)fdt32_to_cpu(*p) : dflt;
}

struct dt {
	struct ranges ram, reserved, heap, uart;
	struct ranges guest[8];
	char guest_name[8][32];
	unsigned int nguests;
};

static void scan(const void *fdt, struct dt *d)
{
	int root_ac = cells(fdt, 0, "#address-cells", 2);
	int root_sc = cells(fdt, 0, "#size-cells", 1);
	int node, rsv, chosen;

	for (node = fdt_next_node(fdt, -1, NULL); node >= 0;
	     node = fdt_next_node(fdt, node, NULL)) {
		const char *type = fdt_getprop(fdt, node, "device_type", NULL);

		if (type && !strcmp(type, "memory") &&
		    fdt_parent_offset(fdt, node) == 0)
			read_reg(fdt, node, "reg", root_ac, root_sc, &d->ram);
	}

	rsv = fdt_path_offset(fdt, "/reserved-memory");
	if (rsv >= 0) {
		int ac = cells(fdt, rsv, "#address-cells", root_ac);
		int sc = cells(fdt, rsv, "#size-cells", root_sc);

		fdt_for_each_subnode(node, fdt, rsv)
		{
			if (!fdt_node_check_compatible(fdt, node,
						       "xen,static-heap"))
				read_reg(fdt, node, "reg", ac, sc, &d->heap);
			else
				read_reg(fdt, node, "reg", ac, sc,
					 &d->reserved);
		}
	}

	chosen = fdt_path_offset(fdt, "/chosen");
	if (chosen < 0)
		return;
	/* Older binding: xen,static-heap directly in /chosen. */
	read_reg(fdt, chosen, "xen,static-heap", root_ac, root_sc, &d->heap);

	const char *out = fdt_getprop(fdt, chosen, "stdout-path", NULL);
	if (out) {
		char path[128];
		size_t n = strcspn(out, ":");
		int uart;

		snprintf(path, sizeof(path), "%.*s", (int)n, out);
		uart = fdt_path_offset(fdt, path);
		if (uart < 0) {
			const char *alias = fdt_get_alias(fdt, path);

			uart = alias ? fdt_path_offset(fdt, alias) : -1;
		}
		if (uart >= 0) {
			int parent = fdt_parent_offset(fdt, uart);

			read_reg(fdt, uart, "reg",
				 cells(fdt, parent, "#address-cells", root_ac),
				 cells(fdt, parent, "#size-cells", root_sc),
				 &d->uart);
		}
	}

	fdt_for_each_subnode(node, fdt, chosen)
	{
		unsigned int g = d->nguests;

		if (fdt_node_check_compatible(fdt, node, "xen,domain") ||
		    g == 8)
			continue;
		read_reg(fdt, node, "xen,static-mem",
			 cells(fdt, node, "#xen,static-mem-address-cells",
			       root_ac),
			 cells(fdt, node, "#xen,static-mem-size-cells",
			       root_sc),
			 &d->guest[g]);
		if (d->guest[g].n == 0)
			continue;
		snprintf(d->guest_name[g], sizeof(d->guest_name[g]), "%s",
			 fdt_get_name(fdt, node, NULL));
		d->nguests++;
	}
}

static const char *attr_name(kmm_attr_t a)
{
	static char buf[16];

	snprintf(buf, sizeof(buf), "%c%c%c%s %s", (a & KMM_ATTR_R) ? 'r' : '-',
		 (a & KMM_ATTR_W) ? 'w' : '-', (a & KMM_ATTR_X) ? 'x' : '-',
		 (a & KMM_ATTR_USER) ? "u" : "",
		 (const char *[]){ "wb", "nc", "nGnRnE",
				   "nGnRE" }[KMM_ATTR_MT_GET(a)]);
	return buf;
}

/* Prints a set whose slot 0 is MPU slot @first. */
static void print_set(const char *title, const struct kmm_pmsa *p,
		      unsigned int first, unsigned int slots)
{
	printf("%s: %u regions, %u slots: %s\n", title, p->nregions, slots,
	       p->nregions <= slots ? "fits" : "DOES NOT FIT");
	printf("  slot  base               limit              attr       "
	       "owner  rbar               rlar\n");
	for (unsigned int i = 0; i < p->nregions; i++) {
		const struct kmm_pmsa_region *r = &p->regions[i];

		printf("  %4u  0x%016llx 0x%016llx %-10s %5u  0x%016llx "
		       "0x%016llx%s\n",
		       first + r->slot, (unsigned long long)r->base,
		       (unsigned long long)r->limit, attr_name(r->attr),
		       r->owner, (unsigned long long)p->hw[r->slot].rbar,
		       (unsigned long long)p->hw[r->slot].rlar,
		       (r->flags & KMM_PMSA_REGION_INIT) ? "  init" : "");
	}
}

/* Maps @size bytes at @base rounded out to the granule; reports errors. */
static int add(struct kmm_pmsa *p, const char *what, uint64_t base,
	       uint64_t size, kmm_attr_t attr, kmm_owner_t owner,
	       unsigned int flags)
{
	uint64_t g = kmm_pmsa_granule(p->arch);
	uint64_t b = base & ~(g - 1);
	uint64_t e = (base + size + g - 1) & ~(g - 1);
	int ret = kmm_pmsa_add(p, b, e - b, attr, owner, flags);

	if (ret)
		fprintf(stderr, "pmsa_plan: %s %#llx+%#llx: %s\n", what,
			(unsigned long long)b, (unsigned long long)(e - b),
			kmm_strerror(ret));
	return ret;
}

static void *load(const char *path)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) || st.st_size <= 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	buf = malloc((size_t)st.st_size);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		free(buf);
		buf = NULL;
	}
	close(fd);
	if (buf && fdt_check_header(buf)) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

int main(int argc, char **argv)
{
	unsigned int slots = 16, arch = KMM_CONFIG_PMSA_ARCH;
	uint64_t image = 0;
	struct kmm_pmsa_config cfg = { 0 };
	struct kmm_pmsa_report rep;
	struct kmm_pmsa *hyp, *g;
	struct dt d = { 0 };
	struct ranges ram;
	bool fits = true;
	void *fdt;
	int opt;

	while ((opt = getopt(argc, argv, "n:a:i:")) != -1) {
		if (opt == 'n') {
			slots = (unsigned int)strtoul(optarg, NULL, 0);
		} else if (opt == 'i') {
			image = strtoull(optarg, NULL, 0);
		} else if (opt == 'a') {
			arch = !strcmp(optarg, "armv8r-aarch32") ?
				       KMM_PMSA_ARMV8R_AARCH32 :
			       !strcmp(optarg, "armv8m") ?
				       KMM_PMSA_ARMV8M :
				       KMM_PMSA_ARMV8R_AARCH64;
		} else {
			return 2;
		}
	}
	if (optind + 1 != argc || slots == 0 || slots > 255) {
		fprintf(stderr, "usage: pmsa_plan [-n SLOTS] [-a ARCH] "
				"[-i IMAGE_BASE] FILE.dtb\n");
		return 2;
	}
	fdt = load(argv[optind]);
	if (!fdt) {
		fprintf(stderr, "pmsa_plan: %s: not a device tree blob\n",
			argv[optind]);
		return 2;
	}
	scan(fdt, &d);
	if (d.ram.n == 0) {
		fprintf(stderr, "pmsa_plan: no /memory in the device tree\n");
		return 2;
	}
	if (!image)
		image = d.ram.r[0].base;

	/* Plan with every slot kmm can describe, then compare with SLOTS. */
	cfg.arch = arch;
	cfg.hyp_slots = KMM_PMSA_MAX_REGIONS;
	cfg.guest_slots = KMM_PMSA_MAX_REGIONS;
	hyp = calloc(1, sizeof(*hyp));
	g = calloc(1, sizeof(*g));
	if (!hyp || !g || kmm_pmsa_init(hyp, NULL, &cfg))
		return 2;

	/* The hypervisor image. */
	add(hyp, "text", image, 0x100000, KMM_ATTR_RX_CODE, 0, 0);
	add(hyp, "init text", image + 0x100000, 0x20000, KMM_ATTR_RX_CODE, 0,
	    KMM_PMSA_REGION_INIT);
	add(hyp, "rodata", image + 0x120000, 0x80000,
	    KMM_ATTR_R | KMM_ATTR_MT(KMM_MT_NORMAL_WB), 0, 0);
	add(hyp, "init data", image + 0x1a0000, 0x20000, KMM_ATTR_RW_DATA, 0,
	    KMM_PMSA_REGION_INIT);
	add(hyp, "data", image + 0x1c0000, 0x100000, KMM_ATTR_RW_DATA, 0, 0);
	for (unsigned int i = 0; i < d.uart.n; i++)
		add(hyp, "early uart", d.uart.r[i].base,
		    d.uart.r[i].end - d.uart.r[i].base, KMM_ATTR_RW_DEVICE, 0,
		    0);

	/* RAM left to the hypervisor: banks minus image, reserved memory and
	 * guest static memory; the static heap is part of it. */
	ram = d.ram;
	cut(&ram, image, image + 0x2c0000);
	for (unsigned int i = 0; i < d.reserved.n; i++)
		cut(&ram, d.reserved.r[i].base, d.reserved.r[i].end);
	for (unsigned int k = 0; k < d.nguests; k++)
		for (unsigned int i = 0; i < d.guest[k].n; i++)
			cut(&ram, d.guest[k].r[i].base, d.guest[k].r[i].end);
	for (unsigned int i = 0; i < ram.n; i++)
		add(hyp, "ram", ram.r[i].base, ram.r[i].end - ram.r[i].base,
		    KMM_ATTR_RW_DATA, 0, 0);

	print_set("boot set", hyp, 0, slots);
	fits &= hyp->nregions <= slots;
	/* Guests share the MPU after the run-time hypervisor slots. */
	if (kmm_pmsa_boot_to_runtime(hyp, NULL, 0, &rep) == KMM_OK) {
		print_set("run-time set", hyp, 0, slots);
		printf("  %u init regions dropped, %u -> %u slots, slots %u.. free\n",
		       rep.dropped, rep.slots_before, rep.slots_after,
		       rep.first_free);
		fits &= hyp->nregions <= slots;
	}

	for (unsigned int k = 0; k < d.nguests; k++) {
		char title[64];
		unsigned int left =
			slots > hyp->nregions ? slots - hyp->nregions : 0;

		if (kmm_pmsa_guest_init(g, hyp, (kmm_owner_t)(k + 1),
					KMM_PMSA_MAX_REGIONS))
			return 2;
		g->as.flags |= KMM_AS_ALLOW_WX; /* stage 2: the guest's RWX */
		for (unsigned int i = 0; i < d.guest[k].n; i++)
			add(g, d.guest_name[k], d.guest[k].r[i].base,
			    d.guest[k].r[i].end - d.guest[k].r[i].base,
			    KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_X |
				    KMM_ATTR_MT(KMM_MT_NORMAL_WB),
			    (kmm_owner_t)(k + 1), 0);
		snprintf(title, sizeof(title), "guest %s (owner %u)",
			 d.guest_name[k], k + 1);
		print_set(title, g, slots - left, left);
		fits &= g->nregions <= left;
	}
	free(g);
	free(hyp);
	free(fdt);
	return fits ? 0 : 1;
}
