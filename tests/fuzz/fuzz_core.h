/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Model-based fuzzing of the kmm public API: one input is decoded into a
 * sequence of operations over a fresh "world" (page allocator, a VMSA
 * address space with regions, a PMSA region set with regions, a stand-alone
 * vaspace), and after every operation the result is compared with a simple
 * reference model. Shared by the libFuzzer target and the plain driver.
 */
#ifndef KMM_FUZZ_CORE_H
#define KMM_FUZZ_CORE_H

#include <stddef.h>
#include <stdint.h>

/** What one or more runs did. */
struct fz_stats {
	uint64_t ops; /* operations executed */
	uint64_t failed; /* operations that returned an error */
	uint64_t digests; /* failed calls that left every byte as it was */
	/* Failed calls that restored the state logically but not byte for
	 * byte (free-list order, tree shape, dirty marks), per kind and part. */
	uint64_t logical_by_op[64];
	uint64_t logical_parts[8];
	uint64_t ok_by_op[64]; /* successful calls per operation kind */
};

/*
 * Runs the operations encoded in @data on a fresh world and checks each
 * against the model; at most @max_ops operations (0: no limit). Prints a
 * report and calls abort() on the first disagreement.
 */
void fz_run(const uint8_t *data, size_t len, uint64_t max_ops,
	    struct fz_stats *st);

/* Number of operation kinds and the name of kind @k (for statistics). */
unsigned int fz_op_count(void);
const char *fz_op_name(unsigned int k);

#endif /* KMM_FUZZ_CORE_H */
