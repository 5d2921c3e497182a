// SPDX-License-Identifier: BSD-2-Clause
/* Every KMM_E* code has a distinct name and description. */
#include <criterion/criterion.h>
#include <string.h>

#include "kmm/errors.h"

Test(errors, every_code_has_its_own_name_and_text)
{
	const int codes[] = { KMM_OK,	   KMM_EINVAL, KMM_ENOMEM,  KMM_EEXIST,
			      KMM_ENOENT,  KMM_EPERM,  KMM_EQUOTA,  KMM_ENOSPC,
			      KMM_EALIGN,  KMM_ERANGE, KMM_ENOTSUP, KMM_EBUSY,
			      KMM_EBADDATA };
	const size_t n = sizeof(codes) / sizeof(codes[0]);

	for (size_t i = 0; i < n; i++) {
		cr_assert(codes[i] <= 0);
		cr_assert_str_neq(kmm_strerror(codes[i]), "unknown error");
		for (size_t j = 0; j < i; j++) {
			cr_assert_neq(codes[i], codes[j]);
			cr_assert_str_neq(kmm_errname(codes[i]),
					  kmm_errname(codes[j]));
		}
	}
	cr_assert_str_eq(kmm_errname(KMM_EQUOTA), "KMM_EQUOTA");
	cr_assert_str_eq(kmm_strerror(KMM_EPERM),
			 "not permitted for this owner");
}

Test(errors, unknown_codes_are_reported_as_such)
{
	cr_assert_str_eq(kmm_strerror(-999), "unknown error");
	cr_assert_str_eq(kmm_errname(7), "KMM_E?");
}
