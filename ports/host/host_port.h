/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file host_port.h
 * @brief The POSIX host port: a pthread mutex, a simulated physical memory
 *        arena and a recorder of every TLB, cache, MPU and SMMU call, so
 *        that unit tests can assert what kmm asked the hardware to do and in
 *        which order. Not part of libkmm: tests, benchmarks and examples
 *        link it.
 */
#ifndef KMM_HOST_PORT_H
#define KMM_HOST_PORT_H

#include <pthread.h>

#include "kmm/port.h"

/** Kinds of calls the host port records. */
enum kmm_host_event_kind {
	KMM_HOST_EV_TLB_FLUSH_ALL = 1, /**< port.tlb_flush_all */
	KMM_HOST_EV_TLB_FLUSH_RANGE, /**< port.tlb_flush_range */
	KMM_HOST_EV_TLB_ADD_PAGE, /**< port.tlb_add_page */
	KMM_HOST_EV_TLB_SYNC, /**< port.tlb_sync */
	KMM_HOST_EV_CLEAN, /**< port.clean_range */
	KMM_HOST_EV_SCRUB, /**< port.scrub */
	KMM_HOST_EV_MPU_WRITE, /**< port.mpu_write */
	KMM_HOST_EV_MPU_SYNC, /**< port.mpu_sync */
	KMM_HOST_EV_SMMU_CMD, /**< port.smmu_cmd */
};

/** One recorded call. Fields not used by a kind are zero. */
struct kmm_host_event {
	enum kmm_host_event_kind kind; /**< What was called. */
	struct kmm_tlb_ctx ctx; /**< TLB calls: the ASID/VMID context. */
	uint64_t addr; /**< VA (TLB), PA (scrub), pointer (clean), slot. */
	uint64_t size; /**< Range size (TLB range, clean, scrub). */
	uint64_t granule; /**< TLB granule; MPU: the bank. */
	uint64_t arg0; /**< MPU: rbar; SMMU: cmd[0]; TLB: leaf_only. */
	uint64_t arg1; /**< MPU: rlar; SMMU: cmd[1]. */
	uint64_t seq; /**< Value of the host's sequence counter at the call. */
};

/** Host port state; the struct kmm_port inside points back to it. */
struct kmm_host {
	struct kmm_port port; /**< Hand &port to kmm. */
	pthread_mutex_t lock; /**< The port lock (recursive). */
	uint8_t *arena; /**< Simulated physical memory. */
	kmm_paddr_t arena_base; /**< PA of arena[0]. */
	uint64_t arena_size; /**< Bytes of simulated memory. */
	struct kmm_host_event *events; /**< Recorded calls, or NULL. */
	size_t events_cap; /**< Capacity of @c events. */
	size_t events_len; /**< Calls recorded so far (may exceed cap). */
	uint64_t seq; /**< Incremented by tests to mark points in time. */
	unsigned long lock_depth; /**< Nesting depth of the held lock. */
	bool log_enabled; /**< port.log prints to stdout (default true). */
	/** Optional hook called on every TLB event, e.g. to check BBM. */
	void (*on_event)(struct kmm_host *h, const struct kmm_host_event *ev);
	void *user; /**< Free for the test that installs @c on_event. */
};

/**
 * Sets up a host port with @p arena_size bytes of simulated physical memory
 * at PA @p arena_base (reserved lazily, so large spans are cheap) and room
 * to record @p events_cap calls.
 * @return 0, or -1 when the memory cannot be reserved.
 */
int kmm_host_init(struct kmm_host *h, kmm_paddr_t arena_base,
		  uint64_t arena_size, size_t events_cap);

/** Releases what kmm_host_init() reserved. */
void kmm_host_fini(struct kmm_host *h);

/** Forgets every recorded call. */
void kmm_host_clear_events(struct kmm_host *h);

/** Counts recorded calls of @p kind. */
size_t kmm_host_count(const struct kmm_host *h, enum kmm_host_event_kind kind);

/**
 * Returns a pointer to simulated PA @p pa, or NULL outside the arena.
 * Tests use it to look at memory the way the hardware would.
 */
void *kmm_host_ptr(const struct kmm_host *h, kmm_paddr_t pa);

#endif /* KMM_HOST_PORT_H */
