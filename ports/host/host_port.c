// SPDX-License-Identifier: BSD-2-Clause
/* POSIX host port: see host_port.h. */
#define _DEFAULT_SOURCE 1
#include "host_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static struct kmm_host *host_of(void *cookie)
{
	return cookie;
}

static void record(struct kmm_host *h, const struct kmm_host_event *ev)
{
	if (h->events && h->events_len < h->events_cap) {
		h->events[h->events_len] = *ev;
		h->events[h->events_len].seq = h->seq;
	}
	h->events_len++;
	if (h->on_event)
		h->on_event(h, ev);
}

static void host_lock(void *cookie)
{
	struct kmm_host *h = host_of(cookie);

	pthread_mutex_lock(&h->lock);
	h->lock_depth++;
}

static void host_unlock(void *cookie)
{
	struct kmm_host *h = host_of(cookie);

	h->lock_depth--;
	pthread_mutex_unlock(&h->lock);
}

static void host_tlb_flush_all(void *cookie, const struct kmm_tlb_ctx *ctx)
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_TLB_FLUSH_ALL,
				     .ctx = *ctx };

	record(host_of(cookie), &ev);
}

static void host_tlb_flush_range(void *cookie, const struct kmm_tlb_ctx *ctx,
				 kmm_vaddr_t va, size_t size, size_t granule,
				 bool leaf_only)
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_TLB_FLUSH_RANGE,
				     .ctx = *ctx,
				     .addr = va,
				     .size = size,
				     .granule = granule,
				     .arg0 = leaf_only };

	record(host_of(cookie), &ev);
}

static void host_tlb_add_page(void *cookie, const struct kmm_tlb_ctx *ctx,
			      kmm_vaddr_t va, size_t granule, bool leaf_only)
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_TLB_ADD_PAGE,
				     .ctx = *ctx,
				     .addr = va,
				     .granule = granule,
				     .arg0 = leaf_only };

	record(host_of(cookie), &ev);
}

static void host_tlb_sync(void *cookie, const struct kmm_tlb_ctx *ctx)
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_TLB_SYNC,
				     .ctx = *ctx };

	record(host_of(cookie), &ev);
}

static void host_clean_range(void *cookie, const void *ptr, size_t size)
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_CLEAN,
				     .addr = (uint64_t)(uintptr_t)ptr,
				     .size = size };

	record(host_of(cookie), &ev);
}

void *kmm_host_ptr(const struct kmm_host *h, kmm_paddr_t pa)
{
	if (pa < h->arena_base || pa - h->arena_base >= h->arena_size)
		return NULL;
	return h->arena + (pa - h->arena_base);
}

static void *host_pa_to_ptr(void *cookie, kmm_paddr_t pa)
{
	return kmm_host_ptr(host_of(cookie), pa);
}

static void host_scrub(void *cookie, kmm_paddr_t pa, size_t size)
{
	struct kmm_host *h = host_of(cookie);
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_SCRUB,
				     .addr = pa,
				     .size = size };
	void *p = kmm_host_ptr(h, pa);

	if (p && size <= h->arena_size - (pa - h->arena_base))
		memset(p, 0, size);
	record(h, &ev);
}

static void host_mpu_write(void *cookie, unsigned int bank, unsigned int slot,
			   uint64_t rbar, uint64_t rlar)
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_MPU_WRITE,
				     .addr = slot,
				     .granule = bank,
				     .arg0 = rbar,
				     .arg1 = rlar };

	record(host_of(cookie), &ev);
}

static void host_mpu_sync(void *cookie)
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_MPU_SYNC };

	record(host_of(cookie), &ev);
}

static void host_smmu_cmd(void *cookie, const uint64_t cmd[2])
{
	struct kmm_host_event ev = { .kind = KMM_HOST_EV_SMMU_CMD,
				     .arg0 = cmd[0],
				     .arg1 = cmd[1] };

	record(host_of(cookie), &ev);
}

static void host_log(void *cookie, const char *line)
{
	struct kmm_host *h = host_of(cookie);

	if (h->log_enabled)
		printf("%s\n", line);
}

int kmm_host_init(struct kmm_host *h, kmm_paddr_t arena_base,
		  uint64_t arena_size, size_t events_cap)
{
	pthread_mutexattr_t attr;

	memset(h, 0, sizeof(*h));
	if (arena_size) {
		void *m = mmap(NULL, arena_size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1,
			       0);
		if (m == MAP_FAILED)
			return -1;
		h->arena = m;
	}
	if (events_cap) {
		h->events = calloc(events_cap, sizeof(*h->events));
		if (h->events == NULL) {
			if (h->arena)
				munmap(h->arena, arena_size);
			return -1;
		}
	}
	h->arena_base = arena_base;
	h->arena_size = arena_size;
	h->events_cap = events_cap;
	h->log_enabled = true;
	/* kmm re-enters the lock when one module calls another (port.h). */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&h->lock, &attr);
	pthread_mutexattr_destroy(&attr);
	h->port = (struct kmm_port){
		.cookie = h,
		.lock = host_lock,
		.unlock = host_unlock,
		.tlb_flush_all = host_tlb_flush_all,
		.tlb_flush_range = host_tlb_flush_range,
		.tlb_add_page = host_tlb_add_page,
		.tlb_sync = host_tlb_sync,
		.clean_range = host_clean_range,
		.pa_to_ptr = host_pa_to_ptr,
		.scrub = host_scrub,
		.mpu_write = host_mpu_write,
		.mpu_sync = host_mpu_sync,
		.smmu_cmd = host_smmu_cmd,
		.log = host_log,
	};
	return 0;
}

void kmm_host_fini(struct kmm_host *h)
{
	if (h->arena)
		munmap(h->arena, h->arena_size);
	free(h->events);
	pthread_mutex_destroy(&h->lock);
	memset(h, 0, sizeof(*h));
}

void kmm_host_clear_events(struct kmm_host *h)
{
	h->events_len = 0;
}

size_t kmm_host_count(const struct kmm_host *h, enum kmm_host_event_kind kind)
{
	size_t n = 0;
	size_t len = h->events_len < h->events_cap ? h->events_len :
						     h->events_cap;

	for (size_t i = 0; i < len; i++)
		n += h->events[i].kind == kind;
	return n;
}
