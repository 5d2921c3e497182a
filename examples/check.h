/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * What the walkthrough examples share: CHECK() prints a failed condition
 * with where it failed and counts it in the example's own `failures`;
 * check_verdict() prints the count and gives main()'s exit status.
 */
#ifndef KMM_EXAMPLES_CHECK_H
#define KMM_EXAMPLES_CHECK_H

#include <stdio.h>

#define CHECK(cond, ...)                                             \
	do {                                                         \
		if (!(cond)) {                                       \
			printf("  CHECK FAILED (%s:%d): ", __FILE__, \
			       __LINE__);                            \
			printf(__VA_ARGS__);                         \
			printf("\n");                                \
			failures++;                                  \
		}                                                    \
	} while (0)

static inline int check_verdict(int failures)
{
	printf("%s: %d check(s) failed\n", failures ? "FAIL" : "OK", failures);
	return failures ? 1 : 0;
}

#endif /* KMM_EXAMPLES_CHECK_H */
