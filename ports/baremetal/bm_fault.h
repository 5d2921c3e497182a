/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Offsets of struct bm_fault for the assembly probes and handlers; the C
 * side checks them with static assertions in bm_common.c.
 */
#ifndef KMM_BM_FAULT_H
#define KMM_BM_FAULT_H

#define BM_FAULT_ARMED 0
#define BM_FAULT_TAKEN 8
#define BM_FAULT_RESUME 16
#define BM_FAULT_SYNDROME 24
#define BM_FAULT_ADDR 32
#define BM_FAULT_IPA 40
#define BM_FAULT_PC 48
#define BM_FAULT_EL 56

#endif /* KMM_BM_FAULT_H */
