// SPDX-License-Identifier: BSD-2-Clause
/*
 * kmm-bench: runs every module benchmark and prints "metric: value" lines.
 *
 *   kmm-bench [--quick] [--filter SUBSTRING] [--json FILE]
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

struct bench_entry {
	const char *name;
	void (*run)(struct bench_ctx *ctx);
};

static const struct bench_entry benches[] = {
#define BENCH(name) { #name, bench_##name },
#include "bench_list.h"
#undef BENCH
};

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_metric(struct bench_ctx *ctx, const char *name, double value)
{
	printf("%s: %.6g\n", name, value);
	fflush(stdout);
	if (ctx->json)
		fprintf(ctx->json, "%s\n  \"%s\": %.6g",
			ctx->metrics ? "," : "", name, value);
	ctx->metrics++;
}

static int usage(const char *argv0)
{
	fprintf(stderr, "usage: %s [--quick] [--filter NAME] [--json FILE]\n",
		argv0);
	return 2;
}

int main(int argc, char **argv)
{
	struct bench_ctx ctx = { 0 };
	const char *json_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			ctx.quick = true;
		else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
			ctx.filter = argv[++i];
		else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
			json_path = argv[++i];
		else
			return usage(argv[0]);
	}
	if (json_path) {
		ctx.json = fopen(json_path, "w");
		if (ctx.json == NULL) {
			perror(json_path);
			return 1;
		}
		fprintf(ctx.json, "{");
	}
	printf("bench.mode: %s\n", ctx.quick ? "quick" : "full");
	for (size_t i = 0; i < sizeof(benches) / sizeof(benches[0]); i++) {
		if (ctx.filter && strstr(benches[i].name, ctx.filter) == NULL)
			continue;
		benches[i].run(&ctx);
	}
	if (ctx.json) {
		fprintf(ctx.json, "\n}\n");
		fclose(ctx.json);
	}
	return ctx.metrics ? 0 : 1;
}
