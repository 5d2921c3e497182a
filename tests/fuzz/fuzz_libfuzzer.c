// SPDX-License-Identifier: BSD-2-Clause
/* libFuzzer entry point: every input is one run of the model-based fuzzer. */
#include "fuzz_core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_stats st = { 0 };

	fz_run(data, size, 0, &st);
	return 0;
}
