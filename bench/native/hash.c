/* rte_hash_lookup_bulk on larval's flows: the flow-cache-hit anchor.
 * usage: hash FLOWS ANSWERS_IN ANSWERS_OUT SLOTS [PACKETS]   (see common.h)
 * The table maps each flow's 16-byte key to the answer larval gave it; the lookup
 * reads the position of each key of a bulk of 64 and then the answer stored there.
 * "run S" looks up the ready keys (the anchor). "run S parse" (with PACKETS)
 * first takes each key out of the raw IPv4 packet, as larval must: the same input on
 * both sides. Its parse checks what larval's fast path checks (assembly/packet.ts
 * plainIpv4: version/IHL 0x45, total length, not a fragment, the TCP data offset or UDP
 * length); a packet that fails is looked up with a zero key (none fail here). */
#include "common.h"
#include <rte_hash.h>
#include <rte_hash_crc.h>

struct raw_packets {
	size_t n;
	const uint32_t *offsets, *lengths;
	const uint8_t *data;
	size_t data_len;
};

static void load_packets(const char *path, struct raw_packets *r)
{
	size_t len;
	uint8_t *file = read_file(path, &len);
	if (len < 4) die("packets file too short");
	uint32_t n;
	memcpy(&n, file, 4);
	if (len < 4 + (size_t)n * 8) die("packets file too short");
	r->n = n;
	r->offsets = (const uint32_t *)(file + 4);
	r->lengths = r->offsets + n;
	r->data = file + 4 + (size_t)n * 8;
	r->data_len = len - 4 - (size_t)n * 8;
	for (size_t i = 0; i < n; i++)
		if ((size_t)r->offsets[i] + r->lengths[i] > r->data_len) die("a packet lies outside the packets file");
}

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* The 16-byte key of packet i (flow_key's layout, network byte order), or zeros. */
static inline void parse_key(const struct raw_packets *r, size_t i, struct flow_key *k)
{
	const uint8_t *p = r->data + r->offsets[i];
	uint32_t cap = r->lengths[i];
	memset(k, 0, sizeof *k);
	if (cap < 40 || p[0] != 0x45) return;
	uint32_t total = be16(p + 2);
	if (total < 40 || total > cap) return;
	if ((be16(p + 6) & 0x3fff) != 0) return;
	uint8_t proto = p[9];
	if (proto == 6) {
		if ((uint32_t)(p[20 + 12] >> 4) * 4 < 20 || 20 + (uint32_t)(p[20 + 12] >> 4) * 4 > total) return;
	} else if (proto == 17) {
		uint32_t ulen = be16(p + 20 + 4);
		if (ulen < 8 || 20 + ulen > total) return;
	} else {
		return;
	}
	k->proto = proto;
	memcpy(&k->src, p + 12, 4);
	memcpy(&k->dst, p + 16, 4);
	memcpy(&k->sport, p + 20, 2);
	memcpy(&k->dport, p + 22, 2);
}

int main(int argc, char **argv)
{
	if (argc != 5 && argc != 6) die("usage: hash FLOWS ANSWERS_IN ANSWERS_OUT SLOTS [PACKETS]");
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
	struct raw_packets raw = { 0 };
	if (argc == 6) {
		load_packets(argv[5], &raw);
		if (raw.n != nflows) die("packets and flows differ in length");
		/* the parse mode must give every packet the answer the ready keys give */
		struct flow_key parsed[1];
		for (size_t i = 0; i < nflows; i++) {
			const void *kp = parsed;
			int32_t p1;
			parse_key(&raw, i, parsed);
			if (rte_hash_lookup_bulk(h, &kp, 1, &p1) != 0) die("rte_hash_lookup_bulk failed");
			if ((p1 < 0 ? 0xffffffffu : values[p1]) != answers[i]) die("a parsed packet's key differs from its flow's key");
		}
	}
	write_u32s(argv[3], answers, nflows);
	printf("ready build_ms=%.1f rss_kib=%ld hwm_kib=%ld rss_before_kib=%ld flows=%zu slots=%u\n",
		build_ms, rss1, hwm, rss0, nflows, slots);
	fflush(stdout);

	char line[128];
	size_t at = 0;
	while (fgets(line, sizeof line, stdin)) {
		double secs = 0;
		char mode[16] = "";
		if (strncmp(line, "quit", 4) == 0) break;
		if (sscanf(line, "run %lf %15s", &secs, mode) < 1) die("bad command");
		int parse = strcmp(mode, "parse") == 0;
		if (parse && raw.n == 0) die("run parse needs PACKETS");
		struct flow_key batch[BATCH];
		const void *bkeys[BATCH];
		for (int j = 0; j < BATCH; j++) bkeys[j] = &batch[j];
		uint64_t packets = 0;
		uint32_t sink = 0;
		double start = now_s(), end = start + secs, t, cpu0 = cpu_s();
		do {
			for (int k = 0; k < 64; k++) {
				/* a batch of 256 as larval's, looked up in bulks of 64 (the API's maximum) */
				uint32_t n = (uint32_t)(nflows - at < BATCH ? nflows - at : BATCH);
				const void **from = keys + at;
				if (parse) {
					for (uint32_t j = 0; j < n; j++) parse_key(&raw, at + j, &batch[j]);
					from = bkeys;
				}
				for (uint32_t b = 0; b < n; b += RTE_HASH_LOOKUP_BULK_MAX) {
					uint32_t m = n - b < RTE_HASH_LOOKUP_BULK_MAX ? n - b : RTE_HASH_LOOKUP_BULK_MAX;
					rte_hash_lookup_bulk(h, from + b, m, pos);
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
