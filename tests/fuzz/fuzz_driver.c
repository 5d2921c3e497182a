// SPDX-License-Identifier: BSD-2-Clause
/*
 * Plain driver of the model-based fuzzer (no libFuzzer needed): replays
 * every file of the corpus directories given, then runs operations decoded
 * from a fixed-seed pseudo-random byte stream, one fresh world per seed.
 *
 * usage: kmm-fuzz [--ops N] [--ops-per-seed N] [--first-seed S]
 *                 [--emit DIR COUNT] [CORPUS_DIR...]
 */
#define _DEFAULT_SOURCE 1
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_core.h"

static uint64_t next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;

	for (size_t i = 0; i < len; i += 8) {
		uint64_t v = next(&s);

		memcpy(buf + i, &v, len - i < 8 ? len - i : 8);
	}
}

static size_t replay_dir(const char *dir, struct fz_stats *st)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	size_t files = 0;

	if (d == NULL) {
		perror(dir);
		exit(2);
	}
	while ((e = readdir(d)) != NULL) {
		char path[4096];
		uint8_t *buf;
		FILE *f;
		long len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "rb");
		if (f == NULL)
			continue;
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc(len > 0 ? (size_t)len : 1);
		if (buf == NULL ||
		    fread(buf, 1, (size_t)len, f) != (size_t)len) {
			fprintf(stderr, "%s: cannot read\n", path);
			exit(2);
		}
		fclose(f);
		fprintf(stderr, "replay %s (%ld bytes)\n", path, len);
		fz_run(buf, (size_t)len, 0, st);
		free(buf);
		files++;
	}
	closedir(d);
	return files;
}

/* Writes @count seed inputs of a few hundred operations each to @dir. */
static void emit(const char *dir, unsigned int count)
{
	for (unsigned int i = 0; i < count; i++) {
		size_t len = 256 + 512 * (i % 8);
		uint8_t *buf = malloc(len);
		char path[4096];
		FILE *f;

		fill(buf, len, 0xc0de0000u + i);
		snprintf(path, sizeof(path), "%s/seed-%03u", dir, i);
		f = fopen(path, "wb");
		if (f == NULL || fwrite(buf, 1, len, f) != len) {
			perror(path);
			exit(2);
		}
		fclose(f);
		free(buf);
	}
}

int main(int argc, char **argv)
{
	uint64_t ops = 1000000, per_seed = 20000, first = 1;
	struct fz_stats st = { 0 };
	size_t files = 0, len;
	struct timespec t0, t1;
	uint8_t *buf;
	uint64_t seed;
	double secs;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ops") && i + 1 < argc)
			ops = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--ops-per-seed") && i + 1 < argc)
			per_seed = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--first-seed") && i + 1 < argc)
			first = strtoull(argv[++i], NULL, 0);
		else if (!strcmp(argv[i], "--emit") && i + 2 < argc) {
			emit(argv[i + 1], (unsigned int)atoi(argv[i + 2]));
			return 0;
		} else
			files += replay_dir(argv[i], &st);
	}
	if (per_seed == 0)
		per_seed = 1;
	len = (size_t)per_seed * 24;
	buf = malloc(len);
	if (buf == NULL)
		return 2;
	for (seed = first; st.ops < ops + 0 * files; seed++) {
		uint64_t before = st.ops;
		uint64_t want = ops - st.ops < per_seed ? ops - st.ops :
							  per_seed;

		fill(buf, len, seed);
		fz_run(buf, len, want, &st);
		if (st.ops == before)
			break;
		if (seed % 50 == 0)
			fprintf(stderr, "seed %llu: %llu operations\n",
				(unsigned long long)seed,
				(unsigned long long)st.ops);
	}
	free(buf);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("kmm fuzz: %zu corpus files, seeds %llu..%llu, %llu operations "
	       "(%llu failed as the model predicted, %llu state digests "
	       "unchanged), %.1f s, no mismatch\n",
	       files, (unsigned long long)first, (unsigned long long)(seed - 1),
	       (unsigned long long)st.ops, (unsigned long long)st.failed,
	       (unsigned long long)st.digests, secs);
	for (unsigned int k = 0; k < fz_op_count(); k++)
		printf("  %-22s %10llu succeeded %8llu failed calls restored "
		       "logically only\n",
		       fz_op_name(k), (unsigned long long)st.ok_by_op[k],
		       (unsigned long long)st.logical_by_op[k]);
	printf("  logically restored parts: pages %llu, vmsa %llu, "
	       "vmsa regions %llu, pmsa regions %llu\n",
	       (unsigned long long)st.logical_parts[0],
	       (unsigned long long)st.logical_parts[1],
	       (unsigned long long)st.logical_parts[3],
	       (unsigned long long)st.logical_parts[4]);
	return 0;
}
