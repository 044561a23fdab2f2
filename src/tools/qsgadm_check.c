/* qsgadm check NAME [ARG]: health checks of one member (ping, running,
 * quorum, quorum-critical, listeners, channels [NAME]); one "ok:" or
 * "failed:" line each. See qsgadm.c and docs/admin.md. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "qsgadm.h"

/* ------------------------------------------------------------------------
 * qsgadm check NAME
 * ------------------------------------------------------------------------ */

struct check {
	struct ctx *x;
	const char *name;
	qsg_conn *c;
	struct reply r;
	char qmname[64];
};

static int check_line(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int check_line(bool ok, const char *name, const char *fmt, ...)
{
	char buf[TEXT_SIZE];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	printf("%s: %s: %s\n", ok ? "ok" : "failed", name, buf);
	fflush(stdout);
	return ok ? 0 : 1;
}

/* Connect to the check's member (x->conn_list) and learn its name. */
static int check_connect(struct check *k)
{
	char errmsg[QSG_ERRMSG_SIZE] = "";
	const char *list = k->x->conn_list != NULL ? k->x->conn_list : getenv("QSG_CONN");
	int rc = connect_timeout(list, k->x->member_timeout, &k->c, errmsg);
	if (rc != QSG_OK)
		return check_line(false, k->name, "cannot connect to %s: %s (%d): %s",
				  list ? list : "(no QSG_CONN)", qsg_reason_name(rc), rc,
				  errmsg[0] ? errmsg : qsg_reason_text(rc));
	rc = do_admin(k->c, "DISPLAY QMGR QMNAME", &k->r);
	if (rc != QSG_OK || k->r.nobj == 0 || obj_get(&k->r.obj[0], "QMNAME") == NULL)
		return check_line(false, k->name, "DISPLAY QMGR failed: %s", k->r.text);
	snprintf(k->qmname, sizeof k->qmname, "%s", obj_get(&k->r.obj[0], "QMNAME"));
	return 0;
}

static int check_ping(struct check *k)
{
	int rc = check_connect(k);
	if (rc != 0)
		return rc;
	rc = do_admin(k->c, "PING QMGR", &k->r);
	if (rc != QSG_OK)
		return check_line(false, k->name, "%s: PING QMGR: %s", k->qmname, k->r.text);
	return check_line(true, k->name, "%s answers PING QMGR", k->qmname);
}

static int check_running(struct check *k)
{
	int rc = check_connect(k);
	if (rc != 0)
		return rc;
	rc = do_admin(k->c, "DISPLAY GROUP LEASE", &k->r);
	if (rc != QSG_OK)
		return check_line(false, k->name, "%s: DISPLAY GROUP: %s", k->qmname, k->r.text);
	for (size_t i = 0; i < k->r.nobj; i++) {
		const char *n = obj_get(&k->r.obj[i], "QMNAME");
		const char *l = obj_get(&k->r.obj[i], "LEASE");
		if (n == NULL || strcmp(n, k->qmname) != 0)
			continue;
		if (l != NULL && strcmp(l, "ACTIVE") == 0)
			return check_line(true, k->name, "%s is running, lease ACTIVE", k->qmname);
		return check_line(false, k->name, "%s answers but its lease is %s", k->qmname,
				  l != NULL ? l : "unknown");
	}
	return check_line(false, k->name, "%s answers but is not a member of the group yet",
			  k->qmname);
}

/* DISPLAY QMSTATUS: summary, this member's object. */
static int check_qmstatus(struct check *k, const struct robj **sum, const struct robj **self)
{
	int rc = check_connect(k);
	if (rc != 0)
		return rc;
	rc = do_admin(k->c, "DISPLAY QMSTATUS TYPE(RAFT) ALL", &k->r);
	if (rc != QSG_OK)
		return check_line(false, k->name, "%s: DISPLAY QMSTATUS: %s", k->qmname, k->r.text);
	*sum = summary_of(&k->r);
	*self = NULL;
	for (size_t i = 0; i < k->r.nobj; i++) {
		const char *n = obj_get(&k->r.obj[i], "QMNAME");
		if (n != NULL && strcmp(n, k->qmname) == 0)
			*self = &k->r.obj[i];
	}
	if (*sum == NULL || obj_get(*sum, "QUORUM") == NULL || obj_get(*sum, "MAJORITY") == NULL)
		return check_line(false, k->name, "%s: DISPLAY QMSTATUS gave no summary",
				  k->qmname);
	return 0;
}

static int check_quorum(struct check *k)
{
	const struct robj *sum, *self;
	int rc = check_qmstatus(k, &sum, &self);
	if (rc != 0)
		return rc;
	const char *leader = obj_get(sum, "LEADER");
	unsigned insync = 0, voters = 0, majority = (unsigned)atoi(obj_get(sum, "MAJORITY"));
	if (sscanf(obj_get(sum, "QUORUM"), "%u/%u", &insync, &voters) != 2)
		return check_line(false, k->name, "bad QUORUM(%s)", obj_get(sum, "QUORUM"));
	if (leader == NULL || leader[0] == '\0')
		return check_line(false, k->name, "no leader known to %s (%u/%u voters in sync)",
				  k->qmname, insync, voters);
	if (voters == 0 || insync < majority)
		return check_line(false, k->name,
				  "leader %s, only %u/%u voters in sync, a majority is %u", leader,
				  insync, voters, majority);
	return check_line(true, k->name, "leader %s, %u/%u voters in sync (majority %u)", leader,
			  insync, voters, majority);
}

static int check_quorum_critical(struct check *k)
{
	const struct robj *sum, *self;
	int rc = check_qmstatus(k, &sum, &self);
	if (rc != 0)
		return rc;
	unsigned insync = 0, voters = 0, majority = (unsigned)atoi(obj_get(sum, "MAJORITY"));
	if (sscanf(obj_get(sum, "QUORUM"), "%u/%u", &insync, &voters) != 2)
		return check_line(false, k->name, "bad QUORUM(%s)", obj_get(sum, "QUORUM"));
	bool counts = self != NULL && obj_get(self, "VOTER") != NULL &&
		      strcmp(obj_get(self, "VOTER"), "YES") == 0 &&
		      obj_get(self, "INSYNC") != NULL &&
		      strcmp(obj_get(self, "INSYNC"), "YES") == 0;
	unsigned without = counts && insync > 0 ? insync - 1 : insync;
	if (without < majority)
		return check_line(false, k->name,
				  "stopping %s would lose quorum: %u voter(s) in sync without it, "
				  "a majority is %u of %u",
				  k->qmname, without, majority, voters);
	return check_line(true, k->name,
			  "%s can stop: %u voter(s) in sync without it, a majority is %u of %u",
			  k->qmname, without, majority, voters);
}

/* TCP connect to host:port within timeout_ms. */
static int tcp_probe(const char *addr, int timeout_ms, char *err, size_t errsize)
{
	char host[160], port[16];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || colon == addr || strlen(colon + 1) >= sizeof port ||
	    (size_t)(colon - addr) >= sizeof host) {
		snprintf(err, errsize, "not host:port");
		return -1;
	}
	size_t hn = (size_t)(colon - addr);
	if (addr[0] == '[' && hn >= 2 && addr[hn - 1] == ']') {
		memcpy(host, addr + 1, hn - 2);
		host[hn - 2] = '\0';
	} else {
		memcpy(host, addr, hn);
		host[hn] = '\0';
	}
	snprintf(port, sizeof port, "%s", colon + 1);
	struct addrinfo hints, *ai = NULL;
	memset(&hints, 0, sizeof hints);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	int g = getaddrinfo(host, port, &hints, &ai);
	if (g != 0) {
		snprintf(err, errsize, "%s", gai_strerror(g));
		return -1;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ok = -1;
	if (fd < 0) {
		snprintf(err, errsize, "socket: %s", strerror(errno));
	} else if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
		ok = 0;
	} else if (errno != EINPROGRESS) {
		snprintf(err, errsize, "%s", strerror(errno));
	} else {
		struct pollfd pfd = {.fd = fd, .events = POLLOUT};
		int soerr = 0;
		socklen_t sl = sizeof soerr;
		int p = poll(&pfd, 1, timeout_ms);
		if (p == 0)
			snprintf(err, errsize, "no answer within %d ms", timeout_ms);
		else if (p < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
			snprintf(err, errsize, "%s", strerror(errno));
		else if (soerr != 0)
			snprintf(err, errsize, "%s", strerror(soerr));
		else
			ok = 0;
	}
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return ok;
}

static int check_listeners(struct check *k)
{
	const char *list = k->x->conn_list != NULL ? k->x->conn_list : getenv("QSG_CONN");
	if (list == NULL || list[0] == '\0')
		return check_line(false, k->name, "no address: give -c host:port or set QSG_CONN");
	char *copy = strdup(list);
	if (copy == NULL)
		return check_line(false, k->name, "out of memory");
	int failed = 0;
	char *save = NULL;
	for (char *a = strtok_r(copy, ",", &save); a != NULL; a = strtok_r(NULL, ",", &save)) {
		char err[256] = "", errmsg[QSG_ERRMSG_SIZE] = "";
		qsg_conn *c = NULL;
		if (tcp_probe(a, (int)(k->x->member_timeout * 1000), err, sizeof err) != 0) {
			failed |= check_line(false, k->name, "%s does not accept connections: %s",
					     a, err);
			continue;
		}
		int rc = connect_timeout(a, k->x->member_timeout, &c, errmsg);
		if (rc == QSG_OK)
			rc = do_admin(c, "PING QMGR", &k->r);
		else
			snprintf(k->r.text, sizeof k->r.text, "%s (%d): %s", qsg_reason_name(rc),
				 rc, errmsg[0] ? errmsg : qsg_reason_text(rc));
		qsg_disconnect(c);
		if (rc != QSG_OK)
			failed |= check_line(false, k->name,
					     "%s accepts connections but does not answer PING: %s",
					     a, k->r.text);
		else
			failed |=
			    check_line(true, k->name, "%s accepts connections and answers PING", a);
	}
	free(copy);
	return failed;
}

static int check_channels(struct check *k, const char *channel)
{
	char cmd[128];
	int rc = check_connect(k);
	if (rc != 0)
		return rc;
	snprintf(cmd, sizeof cmd, "DISPLAY CHSTATUS(%s) CHLTYPE(SDR) STATUS",
		 channel != NULL ? channel : "*");
	rc = do_admin(k->c, cmd, &k->r);
	if (rc != QSG_OK)
		return check_line(false, k->name, "%s", k->r.text);
	if (k->r.nobj == 0) {
		if (channel != NULL)
			return check_line(false, k->name, "sender channel %s has no status",
					  channel);
		return check_line(true, k->name, "no sender channel has a status entry");
	}
	struct strbuf bad = {0};
	unsigned nbad = 0;
	for (size_t i = 0; i < k->r.nobj; i++) {
		const char *n = obj_get(&k->r.obj[i], "CHANNEL");
		const char *st = obj_get(&k->r.obj[i], "STATUS");
		if (st != NULL && strcmp(st, "RUNNING") == 0)
			continue;
		sb_printf(&bad, "%s%s(%s)", nbad++ ? ", " : "", n ? n : "?", st ? st : "?");
	}
	if (nbad > 0) {
		rc = check_line(false, k->name, "%u of %zu sender channels not running: %s", nbad,
				k->r.nobj, sb_str(&bad));
		free(bad.p);
		return rc;
	}
	free(bad.p);
	return check_line(true, k->name, "%zu sender channel(s) running", k->r.nobj);
}

int cmd_check(struct ctx *x, const char *name, const char *arg)
{
	struct check k = {.x = x, .name = name};
	int rc;
	if (strcmp(name, "ping") == 0)
		rc = check_ping(&k);
	else if (strcmp(name, "running") == 0)
		rc = check_running(&k);
	else if (strcmp(name, "quorum") == 0)
		rc = check_quorum(&k);
	else if (strcmp(name, "quorum-critical") == 0)
		rc = check_quorum_critical(&k);
	else if (strcmp(name, "listeners") == 0)
		rc = check_listeners(&k);
	else if (strcmp(name, "channels") == 0)
		rc = check_channels(&k, arg);
	else {
		fprintf(stderr,
			"qsgadm: unknown check '%s' (ping, running, quorum, quorum-critical, "
			"listeners, channels [NAME])\n",
			name);
		return 2;
	}
	if (arg != NULL && strcmp(name, "channels") != 0) {
		fprintf(stderr, "qsgadm: check %s takes no argument\n", name);
		rc = 2;
	}
	qsg_disconnect(k.c);
	reply_clear(&k.r);
	return rc;
}
