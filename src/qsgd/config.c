#include "config.h"

#include "common/hostport.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/pwhash.h"
#include "log.h"

void qsgd_config_defaults(struct qsgd_config *c)
{
	memset(c, 0, sizeof *c);
	c->log_level = QLOG_INFO;
	c->log_format = QLOG_TEXT;
	c->loop_warn_ms = 200;
	c->tls_handshake_ms = 10000;
	c->tls_raft = 1;
	c->auth_mode = QSGD_AUTH_REQUIRED; /* secure by default (docs/security.md) */
	c->pbkdf2_iterations = PWHASH_ITER_DEFAULT;
	c->fail_delay_ms = 1000;
	snprintf(c->admin_user, sizeof c->admin_user, "QSGADMIN");
	snprintf(c->admin_group, sizeof c->admin_group, "QSGADMIN");
	c->election_timeout_ms = 1000;
	c->append_timeout_ms = 5000;
	c->apply_budget_ms = 20;
	c->heartbeat_ms = 100;
	c->snapshot_threshold = 8192;
	c->snapshot_trailing = 2048;
	c->snapshot_mode = QSGD_SNAPSHOT_FORK;
	c->lease_ms = 1000;
	c->renew_ms = 200;
	c->amqp_idle_ms = 60000;
	c->session_expiry_s = 3600;
	c->chinit_autostart = 1;
	c->store_cache_mb = 256;
	c->store_segment_mb = 64;
	c->store_compact_ratio = 50;
	c->store_slice_ms = 5;
	c->store_write_buffer_kb = 1024;
	c->store_bytes_per_sync_kb = 8192;
	c->max_entry_bytes = 4u * 1024 * 1024;
	c->stomp_max_prefetch = 256;
	c->max_inflight = 16;
	c->leader_wait_ms = 3000;
	c->expire_interval_ms = 10000;
}

static int copy_str(char *dst, size_t size, const char *src, const char *what, char *errmsg)
{
	size_t n = strlen(src);
	if (n == 0 || n >= size)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s: must be 1..%zu characters", what,
				size - 1);
	memcpy(dst, src, n + 1);
	return QSG_OK;
}

static int parse_uint(const char *s, unsigned long min, unsigned long max, unsigned long *out,
		      const char *what, char *errmsg)
{
	char *end;
	errno = 0;
	if (s[0] == '-' || s[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s: '%s' is not a number", what, s);
	unsigned long v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s: '%s' is not a number", what, s);
	if (v < min || v > max)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s: %lu out of range %lu..%lu", what, v,
				min, max);
	*out = v;
	return QSG_OK;
}

static int set_unsigned(unsigned *dst, const char *s, unsigned long min, unsigned long max,
			const char *what, char *errmsg)
{
	unsigned long v;
	int rc = parse_uint(s, min, max, &v, what, errmsg);
	if (rc == QSG_OK)
		*dst = (unsigned)v;
	return rc;
}

static int set_addr(char *dst, const char *s, const char *what, char *errmsg)
{
	char host[FSM_ADDR_MAX + 1];
	int port;
	if (strlen(s) > FSM_ADDR_MAX ||
	    qsg_hostport_split(s, strlen(s), host, sizeof host, &port) != QSG_OK)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s: '%s' is not HOST:PORT", what, s);
	strcpy(dst, s);
	return QSG_OK;
}

static struct qsgd_member_cfg *member_by_name(struct qsgd_config *c, const char *name, int add)
{
	for (unsigned i = 0; i < c->n_members; i++)
		if (strcmp(c->members[i].name, name) == 0)
			return &c->members[i];
	if (!add || c->n_members >= QSGD_MAX_MEMBERS)
		return NULL;
	struct qsgd_member_cfg *m = &c->members[c->n_members++];
	memset(m, 0, sizeof *m);
	snprintf(m->name, sizeof m->name, "%s", name);
	return m;
}

/* inih state: the config and the first error. */
struct ini_state {
	struct qsgd_config *c;
	char errmsg[QSG_ERRMSG_SIZE];
	int rc;
};

static int conf_handler(void *user, const char *section, const char *key, const char *value)
{
	struct ini_state *st = user;
	struct qsgd_config *c = st->c;
	char what[160];
	char *e = st->errmsg;
	int rc = QSG_OK;
	unsigned long v;

	if (st->rc != QSG_OK)
		return 0;
	snprintf(what, sizeof what, "[%s] %s", section, key);
	if (strcmp(section, "qmgr") == 0) {
		if (strcmp(key, "name") == 0)
			rc = copy_str(c->name, sizeof c->name, value, what, e);
		else if (strcmp(key, "group") == 0)
			rc = copy_str(c->group, sizeof c->group, value, what, e);
		else if (strcmp(key, "dir") == 0)
			rc = copy_str(c->dir, sizeof c->dir, value, what, e);
		else if (strcmp(key, "log_level") == 0) {
			c->log_level = qlog_parse_level(value);
			if (c->log_level < 0)
				rc = qsg_errf(e, QSG_RC_CONFIG,
					      "%s: '%s' is not error, warn, info or debug", what,
					      value);
		} else if (strcmp(key, "loop_warn_ms") == 0)
			rc = set_unsigned(&c->loop_warn_ms, value, 0, 600000, what, e);
		else
			goto unknown;
	} else if (strcmp(section, "raft") == 0) {
		if (strcmp(key, "id") == 0) {
			rc = parse_uint(value, 1, UINT32_MAX, &v, what, e);
			c->id = (uint32_t)v;
		} else if (strcmp(key, "address") == 0)
			rc = set_addr(c->raft, value, what, e);
		else if (strcmp(key, "join") == 0) {
			if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
			    strcmp(value, "1") == 0)
				c->join = 1;
			else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
				 strcmp(value, "0") == 0)
				c->join = 0;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: expected yes or no", what);
		} else if (strcmp(key, "election_timeout_ms") == 0)
			rc = set_unsigned(&c->election_timeout_ms, value, 50, 600000, what, e);
		else if (strcmp(key, "apply_budget_ms") == 0)
			rc = set_unsigned(&c->apply_budget_ms, value, 0, 10000, what, e);
		else if (strcmp(key, "append_timeout_ms") == 0)
			rc = set_unsigned(&c->append_timeout_ms, value, 500, 600000, what, e);
		else if (strcmp(key, "heartbeat_ms") == 0)
			rc = set_unsigned(&c->heartbeat_ms, value, 10, 60000, what, e);
		else if (strcmp(key, "snapshot_threshold") == 0)
			rc = set_unsigned(&c->snapshot_threshold, value, 16, UINT_MAX, what, e);
		else if (strcmp(key, "snapshot_trailing") == 0)
			rc = set_unsigned(&c->snapshot_trailing, value, 0, UINT_MAX, what, e);
		else if (strcmp(key, "snapshot_delta") == 0) {
			if (strcmp(value, "on") == 0 || strcmp(value, "off") == 0)
				c->snapshot_delta = strcmp(value, "on") == 0;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: expected on or off", what);
		} else if (strcmp(key, "snapshot_mode") == 0) {
			if (strcmp(value, "fork") == 0)
				c->snapshot_mode = QSGD_SNAPSHOT_FORK;
			else if (strcmp(value, "inline") == 0)
				c->snapshot_mode = QSGD_SNAPSHOT_INLINE;
			else
				rc =
				    qsg_errf(e, QSG_RC_CONFIG, "%s: expected fork or inline", what);
		} else
			goto unknown;
	} else if (strcmp(section, "store") == 0) {
		if (strcmp(key, "cache_mb") == 0)
			rc = set_unsigned(&c->store_cache_mb, value, 0, 1024u * 1024, what, e);
		else if (strcmp(key, "segment_mb") == 0)
			rc = set_unsigned(&c->store_segment_mb, value, 1, 2047, what, e);
		else if (strcmp(key, "compact_ratio") == 0)
			rc = set_unsigned(&c->store_compact_ratio, value, 0, 99, what, e);
		else if (strcmp(key, "slice_ms") == 0)
			rc = set_unsigned(&c->store_slice_ms, value, 1, 1000, what, e);
		else if (strcmp(key, "write_buffer_kb") == 0)
			rc = set_unsigned(&c->store_write_buffer_kb, value, 0, 64u * 1024, what, e);
		else if (strcmp(key, "bytes_per_sync_kb") == 0)
			rc = set_unsigned(&c->store_bytes_per_sync_kb, value, 0, 1024u * 1024, what,
					  e);
		else
			goto unknown;
	} else if (strcmp(section, "amqp") == 0) { /* docs/protocols.md "AMQP 1.0" */
		if (strcmp(key, "address") == 0)
			rc = set_addr(c->amqp, value, what, e);
		else if (strcmp(key, "idle_timeout_ms") == 0)
			rc = set_unsigned(&c->amqp_idle_ms, value, 0, 3600u * 1000, what, e);
		else
			goto unknown;
	} else if (strcmp(section, "listener") == 0) {
		if (strcmp(key, "address") == 0)
			rc = set_addr(c->listen, value, what, e);
		else
			goto unknown;
	} else if (strcmp(section, "http") == 0) {
		if (strcmp(key, "address") == 0)
			rc = set_addr(c->http, value, what, e);
		else
			goto unknown;
	} else if (strcmp(section, "stomp") == 0) { /* docs/protocols.md */
		if (strcmp(key, "address") == 0)
			rc = set_addr(c->stomp, value, what, e);
		else if (strcmp(key, "max_prefetch") == 0)
			rc = set_unsigned(&c->stomp_max_prefetch, value, 1, 1024, what, e);
		else
			goto unknown;
	} else if (strcmp(section, "log") == 0) {
		if (strcmp(key, "format") == 0) {
			c->log_format = qlog_parse_format(value);
			if (c->log_format < 0)
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: '%s' is not json or text",
					      what, value);
		} else if (strcmp(key, "level") == 0) {
			c->log_level = qlog_parse_level(value);
			if (c->log_level < 0)
				rc = qsg_errf(e, QSG_RC_CONFIG,
					      "%s: '%s' is not error, warn, info or debug", what,
					      value);
		} else
			goto unknown;
	} else if (strcmp(section, "lease") == 0) {
		if (strcmp(key, "lease_ms") == 0)
			rc = set_unsigned(&c->lease_ms, value, 100, 3600000, what, e);
		else if (strcmp(key, "renew_ms") == 0)
			rc = set_unsigned(&c->renew_ms, value, 10, 3600000, what, e);
		else if (strcmp(key, "session_expiry_s") == 0)
			rc = set_unsigned(&c->session_expiry_s, value, 1, 100u * 86400, what, e);
		else if (strcmp(key, "expire_interval_ms") == 0)
			rc = set_unsigned(&c->expire_interval_ms, value, 100, 3600000, what, e);
		else
			goto unknown;
	} else if (strcmp(section, "chinit") == 0) {
		if (strcmp(key, "autostart") == 0) {
			if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
			    strcmp(value, "1") == 0)
				c->chinit_autostart = 1;
			else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
				 strcmp(value, "0") == 0)
				c->chinit_autostart = 0;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: expected yes or no", what);
		} else {
			goto unknown;
		}
	} else if (strcmp(section, "batch") == 0) {
		if (strcmp(key, "max_entry_bytes") == 0)
			rc = set_unsigned(&c->max_entry_bytes, value, 64 * 1024,
					  1024u * 1024 * 1024, what, e);
		else if (strcmp(key, "max_inflight") == 0)
			rc = set_unsigned(&c->max_inflight, value, 1, 1024, what, e);
		else
			goto unknown;
	} else if (strcmp(section, "tls") == 0) {
		c->tls_enabled = 1;
		if (strcmp(key, "key") == 0)
			rc = copy_str(c->tls_key, sizeof c->tls_key, value, what, e);
		else if (strcmp(key, "cert") == 0)
			rc = copy_str(c->tls_cert, sizeof c->tls_cert, value, what, e);
		else if (strcmp(key, "ca") == 0)
			rc = copy_str(c->tls_ca, sizeof c->tls_ca, value, what, e);
		else if (strcmp(key, "verify") == 0) {
			if (strcmp(value, "required") == 0)
				c->tls_verify = QSGD_TLS_VERIFY_REQUIRED;
			else if (strcmp(value, "optional") == 0)
				c->tls_verify = QSGD_TLS_VERIFY_OPTIONAL;
			else if (strcmp(value, "none") == 0)
				c->tls_verify = QSGD_TLS_VERIFY_NONE;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG,
					      "%s: expected required, optional or none", what);
		} else if (strcmp(key, "mode") == 0) {
			if (strcmp(value, "required") == 0)
				c->tls_mode = QSGD_TLS_MODE_REQUIRED;
			else if (strcmp(value, "optional") == 0)
				c->tls_mode = QSGD_TLS_MODE_OPTIONAL;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: expected required or optional",
					      what);
		} else if (strcmp(key, "raft") == 0) {
			if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 ||
			    strcmp(value, "1") == 0)
				c->tls_raft = 1;
			else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 ||
				 strcmp(value, "0") == 0)
				c->tls_raft = 0;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: expected yes or no", what);
		} else if (strcmp(key, "handshake_timeout_ms") == 0)
			rc = set_unsigned(&c->tls_handshake_ms, value, 100, 600000, what, e);
		else if (strcmp(key, "crl") == 0)
			rc = copy_str(c->tls_crl, sizeof c->tls_crl, value, what, e);
		else if (strcmp(key, "crl_check") == 0) {
			if (strcmp(value, "leaf") == 0)
				c->tls_crl_check = QSGD_TLS_CRL_LEAF;
			else if (strcmp(value, "chain") == 0)
				c->tls_crl_check = QSGD_TLS_CRL_CHAIN;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: expected leaf or chain", what);
		} else
			goto unknown;
	} else if (strcmp(section, "security") == 0) {
		c->security_section = 1;
		if (strcmp(key, "authentication") == 0) {
			if (strcmp(value, "required") == 0)
				c->auth_mode = QSGD_AUTH_REQUIRED;
			else if (strcmp(value, "optional") == 0)
				c->auth_mode = QSGD_AUTH_OPTIONAL;
			else if (strcmp(value, "none") == 0)
				c->auth_mode = QSGD_AUTH_NONE;
			else
				rc = qsg_errf(e, QSG_RC_CONFIG,
					      "%s: expected required, optional or none", what);
		} else if (strcmp(key, "pbkdf2_iterations") == 0) {
			rc = set_unsigned(&c->pbkdf2_iterations, value, PWHASH_ITER_MIN,
					  PWHASH_ITER_MAX, what, e);
		} else if (strcmp(key, "fail_delay_ms") == 0) {
			rc = set_unsigned(&c->fail_delay_ms, value, 0, 60000, what, e);
		} else if (strcmp(key, "admin_user") == 0) {
			rc = copy_str(c->admin_user, sizeof c->admin_user, value, what, e);
			for (char *p = c->admin_user; rc == QSG_OK && *p != '\0'; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			if (rc == QSG_OK && !qsg_name_ok(c->admin_user, FSM_NAME_MAX, false))
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: 1..48 of A-Z a-z 0-9 . _ / %%",
					      what);
		} else if (strcmp(key, "admin_group") == 0) {
			rc = copy_str(c->admin_group, sizeof c->admin_group, value, what, e);
			for (char *p = c->admin_group; rc == QSG_OK && *p != '\0'; p++)
				if (*p >= 'a' && *p <= 'z')
					*p = (char)(*p - 'a' + 'A');
			if (rc == QSG_OK && !qsg_name_ok(c->admin_group, FSM_NAME_MAX, false))
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: 1..48 of A-Z a-z 0-9 . _ / %%",
					      what);
		} else if (strcmp(key, "admin_password_hash") == 0) {
			struct pwhash h;
			char m[QSG_ERRMSG_SIZE];
			rc = copy_str(c->admin_password_hash, sizeof c->admin_password_hash, value,
				      what, e);
			if (rc == QSG_OK && pwhash_parse(value, &h, m) != QSG_OK)
				rc = qsg_errf(e, QSG_RC_CONFIG, "%s: %s", what, m);
		} else {
			goto unknown;
		}
	} else if (strncmp(section, "member ", 7) == 0) {
		const char *mname = section + 7;
		while (*mname == ' ')
			mname++;
		if (mname[0] == '\0' || strlen(mname) > FSM_NAME_MAX) {
			rc = qsg_errf(e, QSG_RC_CONFIG, "[%s]: bad member name", section);
			goto out;
		}
		struct qsgd_member_cfg *m = member_by_name(c, mname, 1);
		if (m == NULL) {
			rc = qsg_errf(e, QSG_RC_CONFIG, "[%s]: more than %d members", section,
				      QSGD_MAX_MEMBERS);
			goto out;
		}
		if (strcmp(key, "id") == 0) {
			rc = parse_uint(value, 1, UINT32_MAX, &v, what, e);
			m->id = (uint32_t)v;
		} else if (strcmp(key, "raft") == 0)
			rc = set_addr(m->raft, value, what, e);
		else if (strcmp(key, "listen") == 0)
			rc = set_addr(m->listen, value, what, e);
		else
			goto unknown;
	} else {
		rc = qsg_errf(e, QSG_RC_CONFIG, "unknown section [%s]", section);
	}
out:
	st->rc = rc;
	return rc == QSG_OK;
unknown:
	st->rc = qsg_errf(e, QSG_RC_CONFIG, "unknown key %s", what);
	return 0;
}

int qsgd_config_load_file(struct qsgd_config *c, const char *path, char *errmsg)
{
	struct ini_state st = {.c = c, .rc = QSG_OK};
	int r = ini_parse(path, conf_handler, &st);
	if (r == -1)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s: cannot open: %s", path,
				strerror(errno));
	if (r == -2)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s: out of memory", path);
	if (st.rc != QSG_OK)
		return qsg_errf(errmsg, st.rc, "%s:%d: %s", path, r, st.errmsg);
	if (r > 0)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s:%d: syntax error", path, r);
	return QSG_OK;
}

/* --member NAME:ID:RAFTHOST:RAFTPORT:LISTENHOST:LISTENPORT */
static int parse_member_flag(const char *s, struct qsgd_member_cfg *m, char *errmsg)
{
	char buf[512];
	char *f[6];
	int n = 0;
	if (strlen(s) >= sizeof buf)
		goto bad;
	strcpy(buf, s);
	char *p = buf;
	while (n < 6) {
		f[n++] = p;
		char *colon = strchr(p, ':');
		if (colon == NULL)
			break;
		*colon = '\0';
		p = colon + 1;
	}
	if (n != 6 || strchr(f[5], ':') != NULL)
		goto bad;
	memset(m, 0, sizeof *m);
	unsigned long v;
	char addr[FSM_ADDR_MAX + 32];
	if (copy_str(m->name, sizeof m->name, f[0], "--member name", errmsg) != QSG_OK)
		return QSG_RC_CONFIG;
	if (parse_uint(f[1], 1, UINT32_MAX, &v, "--member id", errmsg) != QSG_OK)
		return QSG_RC_CONFIG;
	m->id = (uint32_t)v;
	snprintf(addr, sizeof addr, "%s:%s", f[2], f[3]);
	if (set_addr(m->raft, addr, "--member raft address", errmsg) != QSG_OK)
		return QSG_RC_CONFIG;
	snprintf(addr, sizeof addr, "%s:%s", f[4], f[5]);
	if (set_addr(m->listen, addr, "--member listen address", errmsg) != QSG_OK)
		return QSG_RC_CONFIG;
	return QSG_OK;
bad:
	return qsg_errf(errmsg, QSG_RC_CONFIG,
			"--member '%s': expected NAME:ID:RAFTHOST:RAFTPORT:LISTENHOST:LISTENPORT",
			s);
}

void qsgd_usage(FILE *out)
{
	fprintf(out,
		"usage: qsgd [-f FILE] [--name QM] [--group G] [--id N] [--raft HOST:PORT]\n"
		"            [--listen HOST:PORT] [--dir DIR]\n"
		"            [--member NAME:ID:RAFTHOST:RAFTPORT:LISTENHOST:LISTENPORT]...\n"
		"            [--log-level error|warn|info|debug] [--snapshot-threshold N]\n"
		"            [--lease-ms N] [--renew-ms N] [--election-timeout-ms N]\n"
		"            [--no-chinit] [--join] [--http HOST:PORT] [--log-format text|json]\n"
		"            [--authentication required|optional|none]\n"
		"Flags override the file. Without members the group is this member alone.\n"
		"Exit codes: 0 stopped, 1 configuration error, 2 data directory locked,\n"
		"            70 fatal Raft error.\n");
}

enum {
	OPT_NAME = 256,
	OPT_GROUP,
	OPT_ID,
	OPT_RAFT,
	OPT_LISTEN,
	OPT_DIR,
	OPT_MEMBER,
	OPT_LOG_LEVEL,
	OPT_SNAP,
	OPT_LEASE,
	OPT_RENEW,
	OPT_ELECTION,
	OPT_NO_CHINIT,
	OPT_JOIN,
	OPT_HTTP,
	OPT_LOG_FORMAT,
	OPT_AUTH,
	OPT_HELP,
};

static const struct option long_opts[] = {
    {"file", required_argument, NULL, 'f'},
    {"name", required_argument, NULL, OPT_NAME},
    {"group", required_argument, NULL, OPT_GROUP},
    {"id", required_argument, NULL, OPT_ID},
    {"raft", required_argument, NULL, OPT_RAFT},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"dir", required_argument, NULL, OPT_DIR},
    {"member", required_argument, NULL, OPT_MEMBER},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"snapshot-threshold", required_argument, NULL, OPT_SNAP},
    {"lease-ms", required_argument, NULL, OPT_LEASE},
    {"renew-ms", required_argument, NULL, OPT_RENEW},
    {"election-timeout-ms", required_argument, NULL, OPT_ELECTION},
    {"no-chinit", no_argument, NULL, OPT_NO_CHINIT},
    {"join", no_argument, NULL, OPT_JOIN},
    {"http", required_argument, NULL, OPT_HTTP},
    {"log-format", required_argument, NULL, OPT_LOG_FORMAT},
    {"authentication", required_argument, NULL, OPT_AUTH},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

int qsgd_config_load(struct qsgd_config *c, int argc, char **argv, char *errmsg)
{
	const char *file = NULL;
	int opt, rc;
	unsigned long v;

	qsgd_config_defaults(c);
	/* Pass 1: find the file and reject unknown flags. */
	opterr = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":f:", long_opts, NULL)) != -1) {
		if (opt == 'f')
			file = optarg;
		else if (opt == OPT_HELP)
			return qsg_errf(errmsg, QSG_RC_INVALID, "help");
		else if (opt == '?')
			return qsg_errf(errmsg, QSG_RC_CONFIG, "unknown option '%s'",
					argv[optind - 1]);
		else if (opt == ':')
			return qsg_errf(errmsg, QSG_RC_CONFIG, "option '%s' needs a value",
					argv[optind - 1]);
	}
	if (optind < argc)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "unexpected argument '%s'", argv[optind]);
	if (file != NULL && (rc = qsgd_config_load_file(c, file, errmsg)) != QSG_OK)
		return rc;

	/* Pass 2: flags override the file. --member flags replace the file's list. */
	int members_from_flags = 0;
	optind = 0;
	while ((opt = getopt_long(argc, argv, ":f:", long_opts, NULL)) != -1) {
		rc = QSG_OK;
		switch (opt) {
		case OPT_NAME:
			rc = copy_str(c->name, sizeof c->name, optarg, "--name", errmsg);
			break;
		case OPT_GROUP:
			rc = copy_str(c->group, sizeof c->group, optarg, "--group", errmsg);
			break;
		case OPT_ID:
			rc = parse_uint(optarg, 1, UINT32_MAX, &v, "--id", errmsg);
			c->id = (uint32_t)v;
			break;
		case OPT_RAFT:
			rc = set_addr(c->raft, optarg, "--raft", errmsg);
			break;
		case OPT_LISTEN:
			rc = set_addr(c->listen, optarg, "--listen", errmsg);
			break;
		case OPT_DIR:
			rc = copy_str(c->dir, sizeof c->dir, optarg, "--dir", errmsg);
			break;
		case OPT_MEMBER:
			if (!members_from_flags) {
				c->n_members = 0;
				members_from_flags = 1;
			}
			if (c->n_members >= QSGD_MAX_MEMBERS)
				return qsg_errf(errmsg, QSG_RC_CONFIG, "more than %d members",
						QSGD_MAX_MEMBERS);
			rc = parse_member_flag(optarg, &c->members[c->n_members], errmsg);
			if (rc == QSG_OK)
				c->n_members++;
			break;
		case OPT_LOG_LEVEL:
			c->log_level = qlog_parse_level(optarg);
			if (c->log_level < 0)
				rc = qsg_errf(errmsg, QSG_RC_CONFIG,
					      "--log-level: '%s' is not error, warn, info or debug",
					      optarg);
			break;
		case OPT_SNAP:
			rc = set_unsigned(&c->snapshot_threshold, optarg, 16, UINT_MAX,
					  "--snapshot-threshold", errmsg);
			break;
		case OPT_LEASE:
			rc = set_unsigned(&c->lease_ms, optarg, 100, 3600000, "--lease-ms", errmsg);
			break;
		case OPT_RENEW:
			rc = set_unsigned(&c->renew_ms, optarg, 10, 3600000, "--renew-ms", errmsg);
			break;
		case OPT_ELECTION:
			rc = set_unsigned(&c->election_timeout_ms, optarg, 50, 600000,
					  "--election-timeout-ms", errmsg);
			break;
		case OPT_JOIN:
			c->join = 1;
			break;
		case OPT_NO_CHINIT:
			c->chinit_autostart = 0;
			break;
		case OPT_HTTP:
			rc = set_addr(c->http, optarg, "--http", errmsg);
			break;
		case OPT_AUTH: /* as [security] authentication (the section counts as given) */
			c->security_section = 1;
			if (strcmp(optarg, "required") == 0)
				c->auth_mode = QSGD_AUTH_REQUIRED;
			else if (strcmp(optarg, "optional") == 0)
				c->auth_mode = QSGD_AUTH_OPTIONAL;
			else if (strcmp(optarg, "none") == 0)
				c->auth_mode = QSGD_AUTH_NONE;
			else
				rc = qsg_errf(
				    errmsg, QSG_RC_CONFIG,
				    "--authentication: expected required, optional or none");
			break;
		case OPT_LOG_FORMAT:
			c->log_format = qlog_parse_format(optarg);
			if (c->log_format < 0)
				rc = qsg_errf(errmsg, QSG_RC_CONFIG,
					      "--log-format: '%s' is not json or text", optarg);
			break;
		default:
			break;
		}
		if (rc != QSG_OK)
			return rc;
	}
	return qsgd_config_validate(c, errmsg);
}

const struct qsgd_member_cfg *qsgd_config_member(const struct qsgd_config *c, uint32_t id)
{
	for (unsigned i = 0; i < c->n_members; i++)
		if (c->members[i].id == id)
			return &c->members[i];
	return NULL;
}

int qsgd_config_validate(struct qsgd_config *c, char *errmsg)
{
	if (c->name[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"no queue manager name ([qmgr] name, --name)");
	if (c->group[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_CONFIG, "no group name ([qmgr] group, --group)");
	if (c->dir[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_CONFIG, "no data directory ([qmgr] dir, --dir)");
	if (c->id == 0)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "no Raft id ([raft] id, --id)");
	if (c->raft[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_CONFIG, "no Raft address ([raft] address, --raft)");
	if (c->listen[0] == '\0')
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"no client listener address ([listener] address, --listen)");
	if (c->renew_ms >= c->lease_ms)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"renew_ms (%u) must be less than lease_ms (%u)", c->renew_ms,
				c->lease_ms);
	if (c->heartbeat_ms >= c->election_timeout_ms)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"heartbeat_ms (%u) must be less than election_timeout_ms (%u)",
				c->heartbeat_ms, c->election_timeout_ms);
	if (c->n_members == 0) {
		struct qsgd_member_cfg *m = &c->members[0];
		memset(m, 0, sizeof *m);
		strcpy(m->name, c->name);
		m->id = c->id;
		strcpy(m->raft, c->raft);
		strcpy(m->listen, c->listen);
		c->n_members = 1;
	}
	for (unsigned i = 0; i < c->n_members; i++) {
		const struct qsgd_member_cfg *m = &c->members[i];
		if (m->id == 0 || m->raft[0] == '\0' || m->listen[0] == '\0')
			return qsg_errf(errmsg, QSG_RC_CONFIG,
					"member %s: id, raft and listen are all required", m->name);
		for (unsigned j = 0; j < i; j++) {
			const struct qsgd_member_cfg *o = &c->members[j];
			if (strcmp(o->name, m->name) == 0)
				return qsg_errf(errmsg, QSG_RC_CONFIG, "member %s listed twice",
						m->name);
			if (o->id == m->id)
				return qsg_errf(errmsg, QSG_RC_CONFIG,
						"members %s and %s have the same id %u", o->name,
						m->name, m->id);
			if (strcmp(o->raft, m->raft) == 0 || strcmp(o->listen, m->listen) == 0 ||
			    strcmp(o->raft, m->listen) == 0 || strcmp(o->listen, m->raft) == 0)
				return qsg_errf(errmsg, QSG_RC_CONFIG,
						"members %s and %s share an address", o->name,
						m->name);
		}
		if (strcmp(m->raft, m->listen) == 0)
			return qsg_errf(errmsg, QSG_RC_CONFIG,
					"member %s: raft and listen addresses are the same",
					m->name);
	}
	if (c->stomp[0] != '\0' &&
	    (strcmp(c->stomp, c->listen) == 0 || strcmp(c->stomp, c->raft) == 0 ||
	     strcmp(c->stomp, c->http) == 0))
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"stomp address %s is also the listener, Raft or http address",
				c->stomp);
	if (c->http[0] != '\0' &&
	    (strcmp(c->http, c->listen) == 0 || strcmp(c->http, c->raft) == 0))
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"http address %s is also the listener or Raft address", c->http);
	if (c->tls_enabled) {
		if (c->tls_key[0] == '\0' || c->tls_cert[0] == '\0')
			return qsg_errf(errmsg, QSG_RC_CONFIG,
					"[tls]: key and cert are required (this member's own)");
		if (c->tls_ca[0] == '\0' && c->tls_verify != QSGD_TLS_VERIFY_NONE)
			return qsg_errf(errmsg, QSG_RC_CONFIG,
					"[tls]: ca is required unless verify = none");
		if (c->tls_ca[0] == '\0' && c->tls_raft)
			return qsg_errf(errmsg, QSG_RC_CONFIG,
					"[tls]: ca is required for TLS on Raft (raft = yes, the "
					"default: members are always verified); raft = no keeps "
					"Raft in plaintext");
		if (c->tls_crl[0] != '\0' && c->tls_ca[0] == '\0')
			return qsg_errf(errmsg, QSG_RC_CONFIG,
					"[tls]: crl needs ca (a CRL is checked with the CA that "
					"signed it)");
	}
	const struct qsgd_member_cfg *self = NULL;
	for (unsigned i = 0; i < c->n_members; i++)
		if (strcmp(c->members[i].name, c->name) == 0)
			self = &c->members[i];
	if (self == NULL)
		return qsg_errf(errmsg, QSG_RC_CONFIG, "this member (%s) is not in the member list",
				c->name);
	if (self->id != c->id || strcmp(self->raft, c->raft) != 0 ||
	    strcmp(self->listen, c->listen) != 0)
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"member %s: list says id %u raft %s listen %s, but this member is "
				"id %u raft %s listen %s",
				c->name, self->id, self->raft, self->listen, c->id, c->raft,
				c->listen);
	if (c->amqp[0] != '\0' &&
	    (strcmp(c->amqp, c->listen) == 0 || strcmp(c->amqp, c->raft) == 0 ||
	     strcmp(c->amqp, c->http) == 0 || strcmp(c->amqp, c->stomp) == 0))
		return qsg_errf(errmsg, QSG_RC_CONFIG,
				"amqp address %s is also another listener's or the Raft address",
				c->amqp);
	/* Last, so that a configuration's own mistakes are named first. */
	if (c->auth_mode == QSGD_AUTH_REQUIRED &&
	    (!c->tls_enabled || c->tls_verify == QSGD_TLS_VERIFY_NONE))
		return qsg_errf(errmsg, QSG_RC_CONFIG, "%s",
				c->security_section
				    ? "[security] authentication = required needs [tls] with "
				      "verify required or optional: passwords must not cross "
				      "the network in clear, and member links are accepted "
				      "only from a verified member certificate"
				    : "no [security] section: authentication is required by "
				      "default, and it needs [tls] (key, cert, ca) so that "
				      "passwords and member links are protected; configure "
				      "[tls] and [security] (docs/security.md \"Secure by "
				      "default\"), or, for a local demo only, write [security] "
				      "authentication = none (insecure: anyone who reaches the "
				      "ports can do anything)");
	return QSG_OK;
}
