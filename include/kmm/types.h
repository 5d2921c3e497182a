/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file types.h
 * @brief Basic kmm types: addresses, owners and mapping attributes.
 *
 * Freestanding: only <stdint.h>, <stddef.h> and <stdbool.h> are used, which
 * every C11 compiler provides even with -ffreestanding.
 */
#ifndef KMM_TYPES_H
#define KMM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kmm/config.h"

/** A physical (or, at stage 2, an intermediate physical) address. */
typedef uint64_t kmm_paddr_t;
/** A virtual address (or, at stage 2, an intermediate physical address). */
typedef uint64_t kmm_vaddr_t;
/** Owner id of a page, VA range, region, MPU slot or stream ID. */
typedef uint16_t kmm_owner_t;
/** Mapping attributes: an OR of KMM_ATTR_* bits and one memory type. */
typedef uint32_t kmm_attr_t;

/** The owner id of the kernel (or hypervisor) itself. */
#define KMM_OWNER_KERNEL ((kmm_owner_t)0)
/** "No owner": marks free objects; never a valid argument. */
#define KMM_OWNER_NONE ((kmm_owner_t)0xffff)

/** Readable. Every mapping must be readable. */
#define KMM_ATTR_R (1u << 0)
/** Writable. */
#define KMM_ATTR_W (1u << 1)
/** Executable (at the privilege levels the mapping is accessible to). */
#define KMM_ATTR_X (1u << 2)
/** Accessible from the unprivileged level (EL0) as well. */
#define KMM_ATTR_USER (1u << 3)
/** Non-secure output address (stage 1 at Secure EL1/EL2/EL3 only). */
#define KMM_ATTR_NS (1u << 4)
/** Not global: the TLB entry is tagged with the ASID. */
#define KMM_ATTR_NG (1u << 5)

/** Shift of the memory-type field in a kmm_attr_t. */
#define KMM_ATTR_MT_SHIFT 8
/** Mask of the memory-type field in a kmm_attr_t. */
#define KMM_ATTR_MT_MASK (0x7u << KMM_ATTR_MT_SHIFT)
/** Builds the memory-type field from a KMM_MT_* value. */
#define KMM_ATTR_MT(mt) \
	(((kmm_attr_t)(mt) << KMM_ATTR_MT_SHIFT) & KMM_ATTR_MT_MASK)
/** Extracts the KMM_MT_* value from attributes @p a. */
#define KMM_ATTR_MT_GET(a) (((a)&KMM_ATTR_MT_MASK) >> KMM_ATTR_MT_SHIFT)

/** Memory types, stored in the KMM_ATTR_MT field. */
enum kmm_memtype {
	KMM_MT_NORMAL_WB = 0, /**< Normal, inner/outer write-back cacheable. */
	KMM_MT_NORMAL_NC = 1, /**< Normal, non-cacheable. */
	KMM_MT_DEVICE_NGNRNE = 2, /**< Device-nGnRnE (strongly ordered). */
	KMM_MT_DEVICE_NGNRE = 3, /**< Device-nGnRE. */
	KMM_MT_COUNT = 4, /**< Number of memory types. */
};

/** Every bit a valid kmm_attr_t may have set. */
#define KMM_ATTR_VALID_MASK                                                   \
	(KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_X | KMM_ATTR_USER | KMM_ATTR_NS | \
	 KMM_ATTR_NG | KMM_ATTR_MT_MASK)

/** Read-write normal memory, the usual data mapping. */
#define KMM_ATTR_RW_DATA \
	(KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_NORMAL_WB))
/** Read-only executable normal memory, the usual code mapping. */
#define KMM_ATTR_RX_CODE \
	(KMM_ATTR_R | KMM_ATTR_X | KMM_ATTR_MT(KMM_MT_NORMAL_WB))
/** Read-write Device-nGnRE memory, the usual MMIO mapping. */
#define KMM_ATTR_RW_DEVICE \
	(KMM_ATTR_R | KMM_ATTR_W | KMM_ATTR_MT(KMM_MT_DEVICE_NGNRE))

/**
 * Returns true when @p a has only known bits set, is readable and names a
 * known memory type. Backends check more (W^X, what they can encode).
 */
static inline bool kmm_attr_is_valid(kmm_attr_t a)
{
	return (a & ~KMM_ATTR_VALID_MASK) == 0 && (a & KMM_ATTR_R) != 0 &&
	       KMM_ATTR_MT_GET(a) < KMM_MT_COUNT;
}

/** Size in bytes of a physical frame of the page allocator. */
#define KMM_PAGE_SIZE ((size_t)1 << KMM_CONFIG_PAGE_SHIFT)

/**
 * Returns the struct that contains @p ptr as its member @p member.
 * Intrusive structures (rb-tree nodes, list links) use it to get back to
 * their owner.
 */
#define kmm_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

#endif /* KMM_TYPES_H */
