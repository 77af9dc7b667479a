/* rte_hash_lookup_bulk on larval's flows: the flow-cache-hit anchor.
 * usage: hash FLOWS ANSWERS_IN ANSWERS_OUT SLOTS   (see common.h)
 * The table maps each flow's 16-byte key to the answer larval gave it; the lookup
 * reads the position of each key of a bulk of 64 and then the answer stored there. */
#include "common.h"
#include <rte_hash.h>
#include <rte_hash_crc.h>

int main(int argc, char **argv)
{
	if (argc != 5) die("usage: hash FLOWS ANSWERS_IN ANSWERS_OUT SLOTS");
	eal_init(argv[0]);
	size_t flen, alen;
	struct flow_key *flows = read_file(argv[1], &flen);
	uint32_t *given = read_file(argv[2], &alen);
	size_t nflows = flen / sizeof(struct flow_key);
	if (alen / 4 != nflows) die("answers and flows differ in length");
	uint32_t slots = (uint32_t)strtoul(argv[4], NULL, 10);

	long rss0 = status_kib("VmRSS");
	double t0 = now_s();
	struct rte_hash_parameters prm = { .name = "larval-anchor", .entries = slots, .key_len = sizeof(struct flow_key),
		.hash_func = rte_hash_crc, .hash_func_init_val = 0, .socket_id = SOCKET_ID_ANY };
	struct rte_hash *h = rte_hash_create(&prm);
	if (h == NULL) die("rte_hash_create failed");
	uint32_t *values = calloc(slots + 1, 4);
	for (size_t i = 0; i < nflows; i++) {
		int32_t pos = rte_hash_add_key(h, &flows[i]);
		if (pos < 0) die("rte_hash_add_key failed");
		values[pos] = given[i];
	}
	double build_ms = (now_s() - t0) * 1e3;
	long rss1 = status_kib("VmRSS"), hwm = status_kib("VmHWM");

	const void **keys = malloc(nflows * sizeof *keys);
	uint32_t *answers = calloc(nflows, 4);
	for (size_t i = 0; i < nflows; i++) keys[i] = &flows[i];
	int32_t pos[RTE_HASH_LOOKUP_BULK_MAX];
	for (size_t i = 0; i < nflows; i += RTE_HASH_LOOKUP_BULK_MAX) {
		uint32_t n = (uint32_t)(nflows - i < RTE_HASH_LOOKUP_BULK_MAX ? nflows - i : RTE_HASH_LOOKUP_BULK_MAX);
		if (rte_hash_lookup_bulk(h, keys + i, n, pos) != 0) die("rte_hash_lookup_bulk failed");
		for (uint32_t k = 0; k < n; k++) answers[i + k] = pos[k] < 0 ? 0xffffffffu : values[pos[k]];
	}
	write_u32s(argv[3], answers, nflows);
	printf("ready build_ms=%.1f rss_kib=%ld hwm_kib=%ld rss_before_kib=%ld flows=%zu slots=%u\n",
		build_ms, rss1, hwm, rss0, nflows, slots);
	fflush(stdout);

	char line[128];
	size_t at = 0;
	while (fgets(line, sizeof line, stdin)) {
		double secs = 0;
		if (strncmp(line, "quit", 4) == 0) break;
		if (sscanf(line, "run %lf", &secs) < 1) die("bad command");
		uint64_t packets = 0;
		uint32_t sink = 0;
		double start = now_s(), end = start + secs, t, cpu0 = cpu_s();
		do {
			for (int k = 0; k < 64; k++) {
				/* a batch of 256 as larval's, looked up in bulks of 64 (the API's maximum) */
				uint32_t n = (uint32_t)(nflows - at < BATCH ? nflows - at : BATCH);
				for (uint32_t b = 0; b < n; b += RTE_HASH_LOOKUP_BULK_MAX) {
					uint32_t m = n - b < RTE_HASH_LOOKUP_BULK_MAX ? n - b : RTE_HASH_LOOKUP_BULK_MAX;
					rte_hash_lookup_bulk(h, keys + at + b, m, pos);
					for (uint32_t j = 0; j < m; j++) sink += values[pos[j]];
				}
				packets += n;
				at += n;
				if (at == nflows) at = 0;
			}
		} while ((t = now_s()) < end);
		printf("mpps %.4f sink %u cpu_mpps %.4f\n", packets / (t - start) / 1e6, sink, packets / (cpu_s() - cpu0) / 1e6);
		fflush(stdout);
	}
	rte_hash_free(h);
	rte_eal_cleanup();
	return 0;
}
