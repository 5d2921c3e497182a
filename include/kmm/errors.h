/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file errors.h
 * @brief kmm error codes. Every public function returns 0 (or a
 *        non-negative value it documents) on success and one of these
 *        negative codes on failure; a failed call changes nothing.
 */
#ifndef KMM_ERRORS_H
#define KMM_ERRORS_H

/** Success. */
#define KMM_OK 0
/** An argument is malformed: NULL, zero or wrapping size, bad flags. */
#define KMM_EINVAL (-1)
/** Out of memory: no page, node or table page could be had. */
#define KMM_ENOMEM (-2)
/** The object or range already exists or is already (partly) taken. */
#define KMM_EEXIST (-3)
/** No such object, range or mapping (includes double free). */
#define KMM_ENOENT (-4)
/** The caller's owner id may not touch this object, or W^X refused. */
#define KMM_EPERM (-5)
/** The owner's quota for this kind of resource is exhausted. */
#define KMM_EQUOTA (-6)
/** No free slot or address range large enough is left. */
#define KMM_ENOSPC (-7)
/** An address, size or alignment is not a multiple of the granule. */
#define KMM_EALIGN (-8)
/** An address lies outside the window, span or address size managed. */
#define KMM_ERANGE (-9)
/** The backend or configuration cannot do what was asked. */
#define KMM_ENOTSUP (-10)
/** The object is in use or its owner is being torn down. */
#define KMM_EBUSY (-11)
/** Malformed external data (e.g. a device tree blob). */
#define KMM_EBADDATA (-12)

/**
 * Returns a short constant description of a kmm return code.
 * @param err a KMM_E* code or KMM_OK.
 * @return a static constant string; "unknown error" for other values.
 */
const char *kmm_strerror(int err);

/**
 * Returns the symbolic name of a kmm return code ("KMM_EINVAL", ...).
 * @param err a KMM_E* code or KMM_OK.
 * @return a static constant string; "KMM_E?" for other values.
 */
const char *kmm_errname(int err);

#endif /* KMM_ERRORS_H */
