// SPDX-License-Identifier: BSD-2-Clause
/* Names and descriptions of the KMM_E* codes, as constant tables. */
#include "kmm/errors.h"
#include "kmm/types.h"

/* Inline strings, no pointers: the table needs no relocation. */
struct err_desc {
	int code;
	char name[14];
	char text[30];
};

static const struct err_desc err_table[] = {
	{ KMM_OK, "KMM_OK", "success" },
	{ KMM_EINVAL, "KMM_EINVAL", "invalid argument" },
	{ KMM_ENOMEM, "KMM_ENOMEM", "out of memory" },
	{ KMM_EEXIST, "KMM_EEXIST", "already exists or overlaps" },
	{ KMM_ENOENT, "KMM_ENOENT", "no such object or mapping" },
	{ KMM_EPERM, "KMM_EPERM", "not permitted for this owner" },
	{ KMM_EQUOTA, "KMM_EQUOTA", "owner quota exhausted" },
	{ KMM_ENOSPC, "KMM_ENOSPC", "no space or slot left" },
	{ KMM_EALIGN, "KMM_EALIGN", "misaligned address or size" },
	{ KMM_ERANGE, "KMM_ERANGE", "address out of range" },
	{ KMM_ENOTSUP, "KMM_ENOTSUP", "not supported by this backend" },
	{ KMM_EBUSY, "KMM_EBUSY", "busy or being torn down" },
	{ KMM_EBADDATA, "KMM_EBADDATA", "malformed external data" },
};

static const struct err_desc *err_lookup(int err)
{
	for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == err)
			return &err_table[i];
	return NULL;
}

const char *kmm_strerror(int err)
{
	const struct err_desc *d = err_lookup(err);

	return d ? d->text : "unknown error";
}

const char *kmm_errname(int err)
{
	const struct err_desc *d = err_lookup(err);

	return d ? d->name : "KMM_E?";
}
