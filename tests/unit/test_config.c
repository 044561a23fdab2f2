/* Unit tests of src/qsgd/config.c: a full INI file, the defaults, flags over
 * the file, and every rejected value with its message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "qsgd/config.h"
#include "qsgd/log.h"

/* Write text to a fresh temporary file; returns its path (static buffer). */
static const char *write_ini(const char *text)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/qsg-test-config-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t n = strlen(text);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

#define BASE_INI                                                                                   \
	"[qmgr]\nname = QM1\ngroup = QSG\ndir = /tmp/qm1\n"                                        \
	"[raft]\nid = 1\naddress = 127.0.0.1:7001\n"                                               \
	"[listener]\naddress = 127.0.0.1:1414\n"                                                   \
	"[security]\nauthentication = none\n"

static const char full_ini[] = "; a complete file\n"
			       "[qmgr]\n"
			       "name = QM1\n"
			       "group = QSG\n"
			       "dir = /var/lib/qsg/qm1\n"
			       "log_level = warn\n"
			       "[raft]\n"
			       "id = 1\n"
			       "address = 10.0.0.1:7001\n"
			       "election_timeout_ms = 2000\n"
			       "append_timeout_ms = 7000\n"
			       "heartbeat_ms = 150\n"
			       "snapshot_threshold = 1000\n"
			       "snapshot_trailing = 100\n"
			       "join = yes\n"
			       "[listener]\n"
			       "address = 10.0.0.1:1414\n"
			       "[http]\n"
			       "address = 10.0.0.1:9100\n"
			       "[log]\n"
			       "format = json\n"
			       "level = debug\n"
			       "[lease]\n"
			       "lease_ms = 3000\n"
			       "renew_ms = 500\n"
			       "session_expiry_s = 60\n"
			       "expire_interval_ms = 2500\n"
			       "[chinit]\n"
			       "autostart = no\n"
			       "[security]\n"
			       "authentication = none\n"
			       "[batch]\n"
			       "max_entry_bytes = 65536\n"
			       "max_inflight = 4\n"
			       "[member QM1]\n"
			       "id = 1\n"
			       "raft = 10.0.0.1:7001\n"
			       "listen = 10.0.0.1:1414\n"
			       "[member QM2]\n"
			       "id = 2\n"
			       "raft = 10.0.0.2:7001\n"
			       "listen = 10.0.0.2:1414\n"
			       "[member QM3]\n"
			       "id = 3\n"
			       "raft = 10.0.0.3:7001\n"
			       "listen = 10.0.0.3:1414\n";

static void defaults(void **state)
{
	(void)state;
	struct qsgd_config c;
	qsgd_config_defaults(&c);
	assert_int_equal(c.log_level, QLOG_INFO);
	assert_int_equal(c.log_format, QLOG_TEXT);
	assert_int_equal(c.election_timeout_ms, 1000);
	assert_int_equal(c.append_timeout_ms, 5000);
	assert_int_equal(c.heartbeat_ms, 100);
	assert_int_equal(c.snapshot_threshold, 8192);
	assert_int_equal(c.snapshot_trailing, 2048);
	assert_int_equal(c.lease_ms, 1000);
	assert_int_equal(c.renew_ms, 200);
	assert_int_equal(c.session_expiry_s, 3600);
	assert_int_equal(c.chinit_autostart, 1);
	assert_int_equal(c.join, 0);
	assert_int_equal(c.max_entry_bytes, 4u * 1024 * 1024);
	assert_int_equal(c.max_inflight, 16);
	assert_int_equal(c.leader_wait_ms, 3000);
	assert_int_equal(c.expire_interval_ms, 10000);
	assert_int_equal(c.n_members, 0);
	assert_string_equal(c.http, "");
}

static void full_file(void **state)
{
	(void)state;
	struct qsgd_config c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	const char *path = write_ini(full_ini);
	char *argv[] = {"qsgd", "-f", (char *)path, NULL};
	int rc = qsgd_config_load(&c, 3, argv, errmsg);
	unlink(path);
	assert_int_equal(rc, QSG_OK);
	assert_string_equal(c.name, "QM1");
	assert_string_equal(c.group, "QSG");
	assert_string_equal(c.dir, "/var/lib/qsg/qm1");
	assert_int_equal(c.log_level, QLOG_DEBUG); /* [log] level comes later */
	assert_int_equal(c.log_format, QLOG_JSON);
	assert_int_equal(c.id, 1);
	assert_string_equal(c.raft, "10.0.0.1:7001");
	assert_int_equal(c.election_timeout_ms, 2000);
	assert_int_equal(c.append_timeout_ms, 7000);
	assert_int_equal(c.heartbeat_ms, 150);
	assert_int_equal(c.snapshot_threshold, 1000);
	assert_int_equal(c.snapshot_trailing, 100);
	assert_int_equal(c.join, 1);
	assert_string_equal(c.listen, "10.0.0.1:1414");
	assert_string_equal(c.http, "10.0.0.1:9100");
	assert_int_equal(c.lease_ms, 3000);
	assert_int_equal(c.renew_ms, 500);
	assert_int_equal(c.session_expiry_s, 60);
	assert_int_equal(c.expire_interval_ms, 2500);
	assert_int_equal(c.chinit_autostart, 0);
	assert_int_equal(c.max_entry_bytes, 65536);
	assert_int_equal(c.max_inflight, 4);
	assert_int_equal(c.n_members, 3);
	const struct qsgd_member_cfg *m = qsgd_config_member(&c, 2);
	assert_non_null(m);
	assert_string_equal(m->name, "QM2");
	assert_string_equal(m->raft, "10.0.0.2:7001");
	assert_string_equal(m->listen, "10.0.0.2:1414");
	assert_null(qsgd_config_member(&c, 4));
}

/* No member list: the group is this member alone. */
static void group_of_one(void **state)
{
	(void)state;
	struct qsgd_config c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	const char *path = write_ini(BASE_INI);
	char *argv[] = {"qsgd", "-f", (char *)path, NULL};
	int rc = qsgd_config_load(&c, 3, argv, errmsg);
	unlink(path);
	assert_int_equal(rc, QSG_OK);
	assert_int_equal(c.n_members, 1);
	assert_string_equal(c.members[0].name, "QM1");
	assert_int_equal(c.members[0].id, 1);
	assert_string_equal(c.members[0].raft, "127.0.0.1:7001");
	assert_string_equal(c.members[0].listen, "127.0.0.1:1414");
	assert_int_equal(c.lease_ms, 1000); /* defaults kept */
}

static void flags_override_file(void **state)
{
	(void)state;
	struct qsgd_config c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	const char *path = write_ini(full_ini);
	char *argv[] = {"qsgd",
			"-f",
			(char *)path,
			"--name",
			"QM2",
			"--id",
			"2",
			"--raft",
			"10.0.0.2:7001",
			"--listen",
			"10.0.0.2:1414",
			"--lease-ms",
			"5000",
			"--renew-ms",
			"1000",
			"--election-timeout-ms",
			"3000",
			"--snapshot-threshold",
			"64",
			"--log-level",
			"error",
			"--log-format",
			"text",
			"--no-chinit",
			"--http",
			"10.0.0.2:9100",
			NULL};
	int rc = qsgd_config_load(&c, (int)(sizeof argv / sizeof argv[0]) - 1, argv, errmsg);
	unlink(path);
	assert_int_equal(rc, QSG_OK);
	assert_string_equal(c.name, "QM2");
	assert_int_equal(c.id, 2);
	assert_int_equal(c.lease_ms, 5000);
	assert_int_equal(c.renew_ms, 1000);
	assert_int_equal(c.election_timeout_ms, 3000);
	assert_int_equal(c.snapshot_threshold, 64);
	assert_int_equal(c.log_level, QLOG_ERROR);
	assert_int_equal(c.log_format, QLOG_TEXT);
	assert_int_equal(c.chinit_autostart, 0);
	assert_string_equal(c.http, "10.0.0.2:9100");
	assert_int_equal(c.n_members, 3); /* from the file */
}

/* --member flags replace the file's member list. */
static void member_flags(void **state)
{
	(void)state;
	struct qsgd_config c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char *argv[] = {"qsgd",
			"--name",
			"A",
			"--group",
			"G",
			"--dir",
			"/tmp/a",
			"--id",
			"7",
			"--raft",
			"127.0.0.1:7001",
			"--listen",
			"127.0.0.1:1414",
			"--member",
			"A:7:127.0.0.1:7001:127.0.0.1:1414",
			"--member",
			"B:8:127.0.0.1:7002:127.0.0.1:1415",
			"--join",
			"--authentication",
			"none",
			NULL};
	int rc = qsgd_config_load(&c, (int)(sizeof argv / sizeof argv[0]) - 1, argv, errmsg);
	assert_int_equal(rc, QSG_OK);
	assert_int_equal(c.n_members, 2);
	assert_int_equal(c.join, 1);
	const struct qsgd_member_cfg *m = qsgd_config_member(&c, 8);
	assert_non_null(m);
	assert_string_equal(m->name, "B");
	assert_string_equal(m->raft, "127.0.0.1:7002");
	assert_string_equal(m->listen, "127.0.0.1:1415");
}

static void help_and_bad_flags(void **state)
{
	(void)state;
	struct qsgd_config c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	char *help[] = {"qsgd", "--help", NULL};
	assert_int_equal(qsgd_config_load(&c, 2, help, errmsg), QSG_RC_INVALID);
	assert_string_equal(errmsg, "help");
	char *unknown[] = {"qsgd", "--bogus", NULL};
	assert_int_equal(qsgd_config_load(&c, 2, unknown, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "unknown option '--bogus'"));
	char *noval[] = {"qsgd", "--name", NULL};
	assert_int_equal(qsgd_config_load(&c, 2, noval, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "option '--name' needs a value"));
	char *extra[] = {"qsgd", "stray", NULL};
	assert_int_equal(qsgd_config_load(&c, 2, extra, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "unexpected argument 'stray'"));
	char *missing[] = {"qsgd", "-f", "/nonexistent/qsgd.ini", NULL};
	assert_int_equal(qsgd_config_load(&c, 3, missing, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "cannot open"));
	char *badmember[] = {"qsgd", "--member", "A:1:h:1", NULL};
	assert_int_equal(qsgd_config_load(&c, 3, badmember, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "expected NAME:ID:RAFTHOST:RAFTPORT:LISTENHOST:LISTENPORT"));
	char *badlevel[] = {"qsgd", "--log-level", "loud", NULL};
	assert_int_equal(qsgd_config_load(&c, 3, badlevel, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "'loud' is not error, warn, info or debug"));
	char *badlease[] = {"qsgd", "--lease-ms", "99", NULL};
	assert_int_equal(qsgd_config_load(&c, 3, badlease, errmsg), QSG_RC_CONFIG);
	assert_non_null(strstr(errmsg, "--lease-ms: 99 out of range 100..3600000"));
}

/* A file with BASE_INI plus one more line (in its own section) is rejected
 * with a message containing `want`. */
struct reject {
	const char *extra;
	const char *want;
};

static const struct reject rejects[] = {
    {"[qmgr]\nlog_level = loud\n", "[qmgr] log_level: 'loud' is not error, warn, info or debug"},
    {"[qmgr]\ncolour = blue\n", "unknown key [qmgr] colour"},
    {"[nonsense]\nx = 1\n", "unknown section [nonsense]"},
    {"[raft]\nid = 0\n", "[raft] id: 0 out of range 1..4294967295"},
    {"[raft]\nid = -1\n", "[raft] id: '-1' is not a number"},
    {"[raft]\nid = 12x\n", "[raft] id: '12x' is not a number"},
    {"[raft]\naddress = nowhere\n", "[raft] address: 'nowhere' is not HOST:PORT"},
    {"[raft]\njoin = maybe\n", "[raft] join: expected yes or no"},
    {"[raft]\nelection_timeout_ms = 49\n",
     "[raft] election_timeout_ms: 49 out of range 50..600000"},
    {"[raft]\nappend_timeout_ms = 499\n", "[raft] append_timeout_ms: 499 out of range 500..600000"},
    {"[raft]\nheartbeat_ms = 9\n", "[raft] heartbeat_ms: 9 out of range 10..60000"},
    {"[raft]\nsnapshot_threshold = 15\n", "[raft] snapshot_threshold: 15 out of range 16.."},
    {"[raft]\nsnapshot_trailing = x\n", "[raft] snapshot_trailing: 'x' is not a number"},
    {"[raft]\nwhat = 1\n", "unknown key [raft] what"},
    {"[listener]\naddress = 1414\n", "[listener] address: '1414' is not HOST:PORT"},
    {"[listener]\nport = 1414\n", "unknown key [listener] port"},
    {"[http]\naddress = :\n", "[http] address: ':' is not HOST:PORT"},
    {"[http]\nport = 1\n", "unknown key [http] port"},
    {"[log]\nformat = xml\n", "[log] format: 'xml' is not json or text"},
    {"[log]\nlevel = chatty\n", "[log] level: 'chatty' is not error, warn, info or debug"},
    {"[log]\nfile = x\n", "unknown key [log] file"},
    {"[lease]\nlease_ms = 99\n", "[lease] lease_ms: 99 out of range 100..3600000"},
    {"[lease]\nrenew_ms = 9\n", "[lease] renew_ms: 9 out of range 10..3600000"},
    {"[lease]\nsession_expiry_s = 0\n", "[lease] session_expiry_s: 0 out of range 1..8640000"},
    {"[lease]\nexpire_interval_ms = 99\n",
     "[lease] expire_interval_ms: 99 out of range 100..3600000"},
    {"[lease]\ngrace = 1\n", "unknown key [lease] grace"},
    {"[chinit]\nautostart = often\n", "[chinit] autostart: expected yes or no"},
    {"[chinit]\nx = 1\n", "unknown key [chinit] x"},
    {"[batch]\nmax_entry_bytes = 1024\n",
     "[batch] max_entry_bytes: 1024 out of range 65536..1073741824"},
    {"[batch]\nmax_inflight = 0\n", "[batch] max_inflight: 0 out of range 1..1024"},
    {"[batch]\nmax_inflight = 1025\n", "[batch] max_inflight: 1025 out of range 1..1024"},
    {"[batch]\nx = 1\n", "unknown key [batch] x"},
    {"[member ]\nid = 1\n", "[member ]: bad member name"},
    {"[member A]\nid = 0\n", "[member A] id: 0 out of range"},
    {"[member A]\nraft = x\n", "[member A] raft: 'x' is not HOST:PORT"},
    {"[member A]\nlisten = x\n", "[member A] listen: 'x' is not HOST:PORT"},
    {"[member A]\nweight = 1\n", "unknown key [member A] weight"},
    {"[member A1]\nid=1\n[member A2]\nid=2\n[member A3]\nid=3\n[member A4]\nid=4\n"
     "[member A5]\nid=5\n[member A6]\nid=6\n[member A7]\nid=7\n[member A8]\nid=8\n"
     "[member A9]\nid=9\n[member A10]\nid=10\n",
     "[member A10]: more than 9 members"},
    {"this is not ini\n", "syntax error"},
};

static void rejected_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rejects / sizeof rejects[0]; i++) {
		char text[2048];
		struct qsgd_config c;
		char errmsg[QSG_ERRMSG_SIZE] = "";
		snprintf(text, sizeof text, "%s%s", BASE_INI, rejects[i].extra);
		const char *path = write_ini(text);
		char *argv[] = {"qsgd", "-f", (char *)path, NULL};
		int rc = qsgd_config_load(&c, 3, argv, errmsg);
		unlink(path);
		if (rc != QSG_RC_CONFIG || strstr(errmsg, rejects[i].want) == NULL)
			fail_msg("case %zu (%s): rc %d, message '%s', wanted '%s'", i,
				 rejects[i].extra, rc, errmsg, rejects[i].want);
	}
}

/* [tls]: absent = off; present = on with required/required and 10 s;
 * every value; the rejects. */
static void tls_section(void **state)
{
	(void)state;
	struct qsgd_config c;
	char errmsg[QSG_ERRMSG_SIZE] = "";
	const char *path = write_ini(BASE_INI);
	char *argv[] = {"qsgd", "-f", (char *)path, NULL};
	assert_int_equal(qsgd_config_load(&c, 3, argv, errmsg), QSG_OK);
	unlink(path);
	assert_int_equal(c.tls_enabled, 0);

	path = write_ini(BASE_INI "[tls]\nkey = /k.pem\ncert = /c.pem\nca = /ca.pem\n");
	argv[2] = (char *)path;
	assert_int_equal(qsgd_config_load(&c, 3, argv, errmsg), QSG_OK);
	unlink(path);
	assert_int_equal(c.tls_enabled, 1);
	assert_string_equal(c.tls_key, "/k.pem");
	assert_string_equal(c.tls_cert, "/c.pem");
	assert_string_equal(c.tls_ca, "/ca.pem");
	assert_int_equal(c.tls_verify, QSGD_TLS_VERIFY_REQUIRED);
	assert_int_equal(c.tls_mode, QSGD_TLS_MODE_REQUIRED);
	assert_int_equal(c.tls_handshake_ms, 10000);
	assert_int_equal(c.tls_raft, 1); /* Raft in TLS unless said otherwise */
	assert_string_equal(c.tls_crl, ""); /* no revocation check */
	assert_int_equal(c.tls_crl_check, QSGD_TLS_CRL_LEAF);

	path = write_ini(BASE_INI "[tls]\nkey = /k\ncert = /c\nca = /ca\ncrl = /crl.pem\n"
				  "crl_check = chain\n");
	argv[2] = (char *)path;
	assert_int_equal(qsgd_config_load(&c, 3, argv, errmsg), QSG_OK);
	unlink(path);
	assert_string_equal(c.tls_crl, "/crl.pem");
	assert_int_equal(c.tls_crl_check, QSGD_TLS_CRL_CHAIN);

	/* Without a CA only with raft = no (Raft peers are always verified). */
	path = write_ini(BASE_INI "[tls]\nkey = /k\ncert = /c\nverify = none\nmode = optional\n"
				  "handshake_timeout_ms = 500\nraft = no\n");
	argv[2] = (char *)path;
	assert_int_equal(qsgd_config_load(&c, 3, argv, errmsg), QSG_OK);
	unlink(path);
	assert_int_equal(c.tls_verify, QSGD_TLS_VERIFY_NONE);
	assert_int_equal(c.tls_mode, QSGD_TLS_MODE_OPTIONAL);
	assert_int_equal(c.tls_handshake_ms, 500);
	assert_int_equal(c.tls_raft, 0);

	static const struct reject bad[] = {
	    {"[tls]\nverify = maybe\n", "[tls] verify: expected required, optional or none"},
	    {"[tls]\nmode = sometimes\n", "[tls] mode: expected required or optional"},
	    {"[tls]\nhandshake_timeout_ms = 5\n", "[tls] handshake_timeout_ms"},
	    {"[tls]\ncipher = x\n", "unknown key [tls] cipher"},
	    {"[tls]\nca = /ca\n", "[tls]: key and cert are required"},
	    {"[tls]\nkey = /k\ncert = /c\n", "[tls]: ca is required unless verify = none"},
	    {"[tls]\nkey = /k\ncert = /c\nverify = optional\n", "[tls]: ca is required"},
	    {"[tls]\nraft = maybe\n", "[tls] raft: expected yes or no"},
	    {"[tls]\ncrl_check = all\n", "[tls] crl_check: expected leaf or chain"},
	    {"[tls]\nkey = /k\ncert = /c\nverify = none\nraft = no\ncrl = /crl.pem\n",
	     "[tls]: crl needs ca"},
	    {"[tls]\nkey = /k\ncert = /c\nverify = none\n",
	     "[tls]: ca is required for TLS on Raft"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[2048];
		snprintf(text, sizeof text, "%s%s", BASE_INI, bad[i].extra);
		path = write_ini(text);
		argv[2] = (char *)path;
		errmsg[0] = '\0';
		int rc = qsgd_config_load(&c, 3, argv, errmsg);
		unlink(path);
		if (rc != QSG_RC_CONFIG || strstr(errmsg, bad[i].want) == NULL)
			fail_msg("case %zu (%s): rc %d, message '%s', wanted '%s'", i, bad[i].extra,
				 rc, errmsg, bad[i].want);
	}
}

/* Whole-configuration checks (qsgd_config_validate). */
static const struct reject invalid[] = {
    /* [amqp]: in every mode (TLS as the client listener: its PLAIN
     * credentials are checked as a HELLO's), on an address of its own. */
    {"[qmgr]\nname = QM1\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\n"
     "address = h:2\n[security]\nauthentication = none\n[amqp]\naddress = h:5672\n"
     "idle_timeout_ms = 0\n",
     NULL},
    {"[qmgr]\nname = QM1\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\n"
     "address = h:2\n[tls]\nkey = /k\ncert = /c\nca = /ca\n[security]\nauthentication = "
     "required\n[amqp]\naddress = h:5672\n",
     NULL},
    {"[qmgr]\nname = QM1\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\n"
     "address = h:2\n[security]\nauthentication = none\n[amqp]\naddress = h:2\n",
     "amqp address h:2 is also another listener's or the Raft address"},
    /* Secure by default: no [security] means authentication required,
     * which needs [tls]. */
    {"[qmgr]\nname = QM1\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\n"
     "address = h:2\n",
     "no [security] section: authentication is required by default"},
    {"[qmgr]\nname = QM1\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\n"
     "address = h:2\n[security]\nauthentication = required\n",
     "[security] authentication = required needs [tls]"},
    {"[qmgr]\nname = QM1\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\n"
     "address = h:2\n[security]\nauthentication = none\n",
     NULL},
    {"[qmgr]\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\naddress = h:2\n",
     "no queue manager name ([qmgr] name, --name)"},
    {"[qmgr]\nname = Q\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\naddress = h:2\n",
     "no group name ([qmgr] group, --group)"},
    {"[qmgr]\nname = Q\ngroup = G\n[raft]\nid = 1\naddress = h:1\n[listener]\naddress = h:2\n",
     "no data directory ([qmgr] dir, --dir)"},
    {"[qmgr]\nname = Q\ngroup = G\ndir = /d\n[raft]\naddress = h:1\n[listener]\naddress = h:2\n",
     "no Raft id ([raft] id, --id)"},
    {"[qmgr]\nname = Q\ngroup = G\ndir = /d\n[raft]\nid = 1\n[listener]\naddress = h:2\n",
     "no Raft address ([raft] address, --raft)"},
    {"[qmgr]\nname = Q\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n",
     "no client listener address ([listener] address, --listen)"},
    {BASE_INI "[lease]\nlease_ms = 1000\nrenew_ms = 1000\n",
     "renew_ms (1000) must be less than lease_ms (1000)"},
    {BASE_INI "[raft]\nheartbeat_ms = 1000\n",
     "heartbeat_ms (1000) must be less than election_timeout_ms (1000)"},
    {BASE_INI "[member QM1]\nid = 1\nraft = 127.0.0.1:7001\n",
     "member QM1: id, raft and listen are all required"},
    {BASE_INI "[member QM1]\nid = 1\nraft = 127.0.0.1:7001\nlisten = 127.0.0.1:1414\n"
	      "[member QM2]\nid = 1\nraft = 127.0.0.1:7002\nlisten = 127.0.0.1:1415\n",
     "members QM1 and QM2 have the same id 1"},
    {BASE_INI "[member QM1]\nid = 1\nraft = 127.0.0.1:7001\nlisten = 127.0.0.1:1414\n"
	      "[member QM2]\nid = 2\nraft = 127.0.0.1:7001\nlisten = 127.0.0.1:1415\n",
     "members QM1 and QM2 share an address"},
    {BASE_INI "[member QM1]\nid = 1\nraft = 127.0.0.1:7001\nlisten = 127.0.0.1:1414\n"
	      "[member QM2]\nid = 2\nraft = 127.0.0.1:7002\nlisten = 127.0.0.1:7001\n",
     "members QM1 and QM2 share an address"},
    {"[qmgr]\nname = Q\ngroup = G\ndir = /d\n[raft]\nid = 1\naddress = h:1\n[listener]\n"
     "address = h:1\n",
     "member Q: raft and listen addresses are the same"},
    {BASE_INI "[http]\naddress = 127.0.0.1:1414\n",
     "http address 127.0.0.1:1414 is also the listener or Raft address"},
    {BASE_INI "[member QM2]\nid = 2\nraft = 127.0.0.1:7002\nlisten = 127.0.0.1:1415\n",
     "this member (QM1) is not in the member list"},
    {BASE_INI "[member QM1]\nid = 3\nraft = 127.0.0.1:7001\nlisten = 127.0.0.1:1414\n",
     "member QM1: list says id 3 raft 127.0.0.1:7001 listen 127.0.0.1:1414, but this member "
     "is id 1 raft 127.0.0.1:7001 listen 127.0.0.1:1414"},
};

static void invalid_configurations(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
		struct qsgd_config c;
		char errmsg[QSG_ERRMSG_SIZE] = "";
		const char *path = write_ini(invalid[i].extra);
		char *argv[] = {"qsgd", "-f", (char *)path, NULL};
		int rc = qsgd_config_load(&c, 3, argv, errmsg);
		unlink(path);
		if (invalid[i].want == NULL) {
			if (rc != QSG_OK)
				fail_msg("case %zu: rc %d, message '%s'", i, rc, errmsg);
			continue;
		}
		if (rc != QSG_RC_CONFIG || strstr(errmsg, invalid[i].want) == NULL)
			fail_msg("case %zu: rc %d, message '%s', wanted '%s'", i, rc, errmsg,
				 invalid[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),	       cmocka_unit_test(full_file),
	    cmocka_unit_test(group_of_one),    cmocka_unit_test(flags_override_file),
	    cmocka_unit_test(member_flags),    cmocka_unit_test(help_and_bad_flags),
	    cmocka_unit_test(rejected_values), cmocka_unit_test(invalid_configurations),
	    cmocka_unit_test(tls_section),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
