/* SPDX-License-Identifier: BSD-2-Clause */
/**
 * @file kmm.h
 * @brief Umbrella header: includes every public kmm header of the modules
 *        this build contains.
 */
#ifndef KMM_KMM_H
#define KMM_KMM_H

#include "kmm/config.h"
#include "kmm/types.h"
#include "kmm/errors.h"
#include "kmm/port.h"
#include "kmm/rbtree.h"
#include "kmm/as.h"
#include "kmm/pages.h"
#include "kmm/slab.h"
#include "kmm/vaspace.h"
#include "kmm/region.h"
#include "kmm/guest.h"
#if KMM_CONFIG_FDT
#include "kmm/fdt.h"
#endif
#if KMM_CONFIG_BACKEND_VMSA
#include "kmm/vmsa.h"
#endif
#if KMM_CONFIG_BACKEND_PMSA
#include "kmm/pmsa.h"
#endif
#if KMM_CONFIG_SMMUV3
#include "kmm/smmu.h"
#endif

#endif /* KMM_KMM_H */
