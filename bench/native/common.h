/* Shared by the native anchors of `npm run bench:native` (bench/native.ts drives them).
 * Benchmark tooling only: larval never needs this code or DPDK.
 *
 * Files (written by bench/native.ts, little-endian unless said otherwise):
 *   flows:   n records of 16 bytes, the rte_acl input layout, network byte order:
 *            proto u8, 3 pad bytes, src be32, dst be32, sport be16, dport be16
 *   rules:   n records of 9 u32: src, srclen, dst, dstlen, splo, sphi, dplo, dphi,
 *            proto | protomask << 8   (line order = precedence, first wins)
 *   answers: n u32: rule index + 1 for flow i, 0 = no rule
 *   packets: the raw IPv4 packets larval's side is fed (its PacketBuffer): u32 n,
 *            u32 offsets[n], u32 lengths[n], then the data the offsets point into
 *
 * Protocol on stdin/stdout (one line each):
 *   -> "ready build_ms=… rss_kib=… hwm_kib=… …"   after building and writing answers
 *   <- "run SECONDS [ALG]"   -> "mpps X sink S cpu_mpps Y"  one timed round (Y: per CPU second)
 *   <- "quit"
 */
#ifndef LARVAL_NATIVE_COMMON_H
#define LARVAL_NATIVE_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>

#define BATCH 256

struct flow_key {
	uint8_t proto;
	uint8_t pad[3];
	uint32_t src;
	uint32_t dst;
	uint16_t sport;
	uint16_t dport;
};

static void die(const char *what)
{
	fprintf(stderr, "native: %s\n", what);
	exit(2);
}

static void *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) die("cannot open an input file");
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	void *buf = malloc(n > 0 ? (size_t)n : 1);
	if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n) die("cannot read an input file");
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_u32s(const char *path, const uint32_t *v, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(v, 4, n, f) != n) die("cannot write the answers");
	fclose(f);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU time of this thread, s: on a loaded machine, rates per CPU second are what
 * two programs can be compared by (wall time counts the time others ran). */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* VmRSS or VmHWM of this process, KiB. */
static long status_kib(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	if (f == NULL) return -1;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') { v = strtol(line + n + 1, NULL, 10); break; }
	}
	fclose(f);
	return v;
}

static void eal_init(const char *prog)
{
	char *args[] = { (char *)prog, "--no-huge", "--no-pci", "-l", "0", "--no-shconf", "--no-telemetry",
		"-m", "1024", "--log-level", "error", NULL };
	if (rte_eal_init(11, args) < 0) die("rte_eal_init failed");
}

#endif
