/* rte_acl on larval's ClassBench rules and flows: the classifier-miss anchor.
 * usage: acl RULES FLOWS ANSWERS_OUT   (see common.h) */
#include "common.h"
#include <rte_acl.h>

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, NUM_FIELDS };

static struct rte_acl_field_def defs[NUM_FIELDS] = {
	{ .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = 1, .field_index = F_PROTO, .input_index = 0, .offset = 0 },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_SRC, .input_index = 1, .offset = 4 },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_DST, .input_index = 2, .offset = 8 },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_SPORT, .input_index = 3, .offset = 12 },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_DPORT, .input_index = 3, .offset = 14 },
};

RTE_ACL_RULE_DEF(acl5, NUM_FIELDS);

int main(int argc, char **argv)
{
	if (argc != 4) die("usage: acl RULES FLOWS ANSWERS_OUT");
	eal_init(argv[0]);
	size_t rlen, flen;
	uint32_t *rw = read_file(argv[1], &rlen);
	struct flow_key *flows = read_file(argv[2], &flen);
	size_t nrules = rlen / 36, nflows = flen / sizeof(struct flow_key);

	long rss0 = status_kib("VmRSS");
	double t0 = now_s();
	struct rte_acl_param prm = { .name = "larval-anchor", .socket_id = SOCKET_ID_ANY,
		.rule_size = RTE_ACL_RULE_SZ(NUM_FIELDS), .max_rule_num = (uint32_t)nrules };
	struct rte_acl_ctx *ctx = rte_acl_create(&prm);
	if (ctx == NULL) die("rte_acl_create failed");
	struct acl5 *rules = calloc(nrules, sizeof *rules);
	for (size_t i = 0; i < nrules; i++) {
		const uint32_t *r = rw + i * 9;
		struct acl5 *a = &rules[i];
		/* rte_acl: the higher priority wins; ClassBench: the earlier line wins. */
		a->data.category_mask = 1;
		a->data.priority = (int32_t)(nrules - i);
		a->data.userdata = (uint32_t)(i + 1);
		a->field[F_PROTO].value.u8 = (uint8_t)(r[8] & 0xff);
		a->field[F_PROTO].mask_range.u8 = (uint8_t)(r[8] >> 8);
		a->field[F_SRC].value.u32 = r[0];
		a->field[F_SRC].mask_range.u32 = r[1];
		a->field[F_DST].value.u32 = r[2];
		a->field[F_DST].mask_range.u32 = r[3];
		a->field[F_SPORT].value.u16 = (uint16_t)r[4];
		a->field[F_SPORT].mask_range.u16 = (uint16_t)r[5];
		a->field[F_DPORT].value.u16 = (uint16_t)r[6];
		a->field[F_DPORT].mask_range.u16 = (uint16_t)r[7];
	}
	if (rte_acl_add_rules(ctx, (struct rte_acl_rule *)rules, (uint32_t)nrules) != 0) die("rte_acl_add_rules failed");
	struct rte_acl_config cfg = { .num_categories = 1, .num_fields = NUM_FIELDS, .max_size = 0 };
	memcpy(cfg.defs, defs, sizeof defs);
	if (rte_acl_build(ctx, &cfg) != 0) die("rte_acl_build failed");
	double build_ms = (now_s() - t0) * 1e3;
	long rss1 = status_kib("VmRSS"), hwm = status_kib("VmHWM");

	const uint8_t **data = malloc(nflows * sizeof *data);
	uint32_t *answers = calloc(nflows, 4);
	for (size_t i = 0; i < nflows; i++) data[i] = (const uint8_t *)&flows[i];
	for (size_t i = 0; i < nflows; i += BATCH) {
		uint32_t n = (uint32_t)(nflows - i < BATCH ? nflows - i : BATCH);
		if (rte_acl_classify(ctx, data + i, answers + i, n, 1) != 0) die("rte_acl_classify failed");
	}
	write_u32s(argv[3], answers, nflows);
	printf("ready build_ms=%.1f rss_kib=%ld hwm_kib=%ld rss_before_kib=%ld rules=%zu flows=%zu\n",
		build_ms, rss1, hwm, rss0, nrules, nflows);
	fflush(stdout);

	char line[128];
	uint32_t results[BATCH];
	size_t at = 0;
	while (fgets(line, sizeof line, stdin)) {
		double secs = 0;
		char alg[32] = "default";
		if (strncmp(line, "quit", 4) == 0) break;
		if (sscanf(line, "run %lf %31s", &secs, alg) < 1) die("bad command");
		enum rte_acl_classify_alg a = strcmp(alg, "scalar") == 0 ? RTE_ACL_CLASSIFY_SCALAR : RTE_ACL_CLASSIFY_DEFAULT;
		uint64_t packets = 0;
		uint32_t sink = 0;
		double start = now_s(), end = start + secs, t, cpu0 = cpu_s();
		do {
			for (int k = 0; k < 64; k++) {
				uint32_t n = (uint32_t)(nflows - at < BATCH ? nflows - at : BATCH);
				rte_acl_classify_alg(ctx, data + at, results, n, 1, a);
				sink ^= results[0];
				packets += n;
				at += n;
				if (at == nflows) at = 0;
			}
		} while ((t = now_s()) < end);
		printf("mpps %.4f sink %u cpu_mpps %.4f\n", packets / (t - start) / 1e6, sink, packets / (cpu_s() - cpu0) / 1e6);
		fflush(stdout);
	}
	rte_acl_free(ctx);
	rte_eal_cleanup();
	return 0;
}
