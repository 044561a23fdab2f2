/* Unit tests for libqsg against a tiny in-process fake member: a thread with
 * a listening socket that speaks src/proto, keeps a session's put_seq and
 * uows_done like the state machine, and can be told to lose a reply. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libqsg/qsg.h"
#include "proto/proto.h"

enum fault {
	F_NONE,
	F_CLOSE_BEFORE, /* close the connection without applying */
	F_CLOSE_AFTER, /* apply, then close without replying */
	F_UNKNOWN_AFTER, /* apply, reply OUTCOME_UNKNOWN */
	F_NO_LEADER, /* do not apply, reply NO_LEADER */
};

struct fake {
	pthread_mutex_t mu;
	pthread_t thread;
	int lfd;
	int port;
	bool stop;
	/* script: the fault for the next request of op fault_op */
	uint8_t fault_op;
	enum fault fault;
	/* session state, as the state machine keeps it */
	uint64_t epoch, put_seq, uows_done;
	unsigned depth; /* committed messages */
	unsigned uow_puts, uow_gets;
	unsigned maxdepth;
	/* observations */
	unsigned hellos, puts, commits, admins;
	unsigned last_priority;
	uint64_t put_seqs[16];
};

static void reply(int fd, struct proto_resp *r)
{
	struct qsg_wbuf w;
	qsg_wbuf_init(&w);
	if (proto_resp_encode(r, &w) != QSG_OK)
		abort(); /* no cmocka asserts off the main thread */
	size_t off = 0;
	while (off < w.len) {
		ssize_t k = send(fd, w.data + off, w.len - off, MSG_NOSIGNAL);
		if (k <= 0)
			break;
		off += (size_t)k;
	}
	qsg_wbuf_close(&w);
}

static void backout(struct fake *f)
{
	f->depth += f->uow_gets;
	f->uow_gets = 0;
	f->uow_puts = 0;
}

/* Handle one request; returns false to close the connection. */
static bool handle(struct fake *f, int fd, const struct proto_req *q)
{
	struct proto_resp r = {.op = q->op, .reqid = q->reqid};
	static const uint8_t body[] = "fake-body";
	enum fault fault = F_NONE;
	if (q->op == PROTO_PUT) {
		if (f->puts < 16)
			f->put_seqs[f->puts] = q->u.put.seq;
		f->puts++;
	}
	/* libqsg gets with GETX (same reply as GET for a whole message). */
	uint8_t op = q->op == PROTO_GETX ? PROTO_GET : q->op;
	if (f->fault_op == op) {
		fault = f->fault;
		f->fault_op = 0;
	}
	if (fault == F_CLOSE_BEFORE)
		return false;
	if (fault == F_NO_LEADER) {
		r.rc = QSG_RC_NO_LEADER;
		reply(fd, &r);
		return true;
	}
	switch (op) {
	case PROTO_HELLO:
		f->hellos++;
		backout(f);
		r.u.hello.epoch = ++f->epoch;
		r.u.hello.put_seq = f->put_seq;
		r.u.hello.uows_done = f->uows_done;
		r.u.hello.member_id = 1;
		r.u.hello.qmgr = (struct qsg_slice){(const uint8_t *)"QM1", 3};
		break;
	case PROTO_PUT:
		f->last_priority = q->u.put.msg.priority;
		if (q->u.put.seq <= f->put_seq) {
			r.u.put.duplicate = 1;
		} else if (q->u.put.seq > f->put_seq + 1) {
			r.rc = QSG_RC_SEQUENCE_GAP;
		} else {
			f->put_seq = q->u.put.seq;
			if (f->depth + f->uow_puts >= f->maxdepth)
				r.rc = QSG_RC_Q_FULL;
			else if (q->u.put.flags & FSM_F_SYNCPOINT)
				f->uow_puts++;
			else
				f->depth++;
			r.u.put.msgid[0] = (uint8_t)q->u.put.seq;
		}
		break;
	case PROTO_GET:
		if (f->depth == 0) {
			r.rc = QSG_RC_NO_MSG_AVAILABLE;
			break;
		}
		f->depth--;
		if (q->u.get.flags & FSM_F_SYNCPOINT)
			f->uow_gets++;
		r.u.get.msg.priority = 4;
		r.u.get.msg.body = (struct qsg_slice){body, sizeof body - 1};
		break;
	case PROTO_COMMIT:
		f->commits++;
		if (q->u.commit.uow == f->uows_done + 1) {
			f->uows_done++;
			f->depth += f->uow_puts;
			f->uow_puts = f->uow_gets = 0;
		}
		break;
	case PROTO_BACKOUT:
		backout(f);
		break;
	case PROTO_ADMIN: {
		struct proto_admin_writer aw;
		static const char dp[] = "DISPLAY QUEUE(Q) DEFPRTY";
		f->admins++;
		proto_admin_init(&aw);
		proto_admin_begin(&aw);
		if (q->u.admin.text.len == sizeof dp - 1 &&
		    memcmp(q->u.admin.text.p, dp, sizeof dp - 1) == 0) {
			proto_admin_attr(&aw, "QUEUE", "Q");
			proto_admin_attr(&aw, "DEFPRTY", "4");
			proto_admin_to_resp(&aw, &r);
			reply(fd, &r);
			proto_admin_close(&aw);
			return true;
		}
		proto_admin_attr(&aw, "QUEUE", "A");
		proto_admin_attr(&aw, "CURDEPTH", "1");
		proto_admin_begin(&aw);
		proto_admin_attr(&aw, "QUEUE", "B");
		proto_admin_to_resp(&aw, &r);
		reply(fd, &r);
		proto_admin_close(&aw);
		return true;
	}
	default:
		break;
	}
	if (fault == F_CLOSE_AFTER)
		return false;
	if (fault == F_UNKNOWN_AFTER)
		r.rc = QSG_RC_OUTCOME_UNKNOWN;
	if (r.rc != QSG_OK) {
		r.text = (struct qsg_slice){(const uint8_t *)"fake", 4};
		memset(&r.u, 0, sizeof r.u);
	}
	reply(fd, &r);
	return true;
}

static void serve(struct fake *f, int fd)
{
	uint8_t *buf = malloc(1 << 20);
	size_t len = 0;
	if (buf == NULL)
		abort();
	for (;;) {
		size_t flen;
		if (proto_frame_check(buf, len, &flen) != QSG_OK)
			break;
		if (flen == 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, 50) == 0) {
				pthread_mutex_lock(&f->mu);
				bool stop = f->stop;
				pthread_mutex_unlock(&f->mu);
				if (stop)
					break;
				continue;
			}
			ssize_t k = recv(fd, buf + len, (1 << 20) - len, 0);
			if (k <= 0)
				break;
			len += (size_t)k;
			continue;
		}
		struct proto_req q;
		char msg[QSG_ERRMSG_SIZE];
		bool keep = false;
		if (proto_req_decode(buf, flen, &q, msg) == QSG_OK) {
			pthread_mutex_lock(&f->mu);
			keep = handle(f, fd, &q);
			pthread_mutex_unlock(&f->mu);
		}
		if (!keep)
			break;
		memmove(buf, buf + flen, len - flen);
		len -= flen;
	}
	/* Like DETACH: the session's uow is backed out. */
	pthread_mutex_lock(&f->mu);
	backout(f);
	pthread_mutex_unlock(&f->mu);
	close(fd);
	free(buf);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	for (;;) {
		pthread_mutex_lock(&f->mu);
		bool stop = f->stop;
		pthread_mutex_unlock(&f->mu);
		if (stop)
			break;
		struct pollfd p = {.fd = f->lfd, .events = POLLIN};
		if (poll(&p, 1, 50) != 1)
			continue;
		int fd = accept(f->lfd, NULL, NULL);
		if (fd >= 0)
			serve(f, fd);
	}
	return NULL;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof *f);
	assert_non_null(f);
	pthread_mutex_init(&f->mu, NULL);
	f->maxdepth = 100;
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(f->lfd >= 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	socklen_t sl = sizeof a;
	assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &sl), 0);
	f->port = ntohs(a.sin_port);
	assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;
	pthread_mutex_lock(&f->mu);
	f->stop = true;
	pthread_mutex_unlock(&f->mu);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	pthread_mutex_destroy(&f->mu);
	free(f);
	return 0;
}

static qsg_conn *connect_fake(struct fake *f)
{
	char list[64], err[QSG_ERRMSG_SIZE];
	qsg_conn *c;
	snprintf(list, sizeof list, "127.0.0.1:%d", f->port);
	assert_int_equal(qsg_connect(list, "test", &c, err), QSG_OK);
	assert_int_equal(qsg_set_reconnect_timeout(c, 5000), QSG_OK);
	return c;
}

static void script(struct fake *f, uint8_t op, enum fault fault)
{
	pthread_mutex_lock(&f->mu);
	f->fault_op = op;
	f->fault = fault;
	pthread_mutex_unlock(&f->mu);
}

static uint64_t get_field(struct fake *f, const uint64_t *p)
{
	pthread_mutex_lock(&f->mu);
	uint64_t v = *p;
	pthread_mutex_unlock(&f->mu);
	return v;
}

static unsigned get_ufield(struct fake *f, const unsigned *p)
{
	pthread_mutex_lock(&f->mu);
	unsigned v = *p;
	pthread_mutex_unlock(&f->mu);
	return v;
}

static int put1(qsg_conn *c, int options)
{
	struct qsg_md md = QSG_MD_DEFAULT;
	return qsg_put(c, "Q", &md, "x", 1, options);
}

static void put_plain(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f);
	struct qsg_md md = QSG_MD_DEFAULT;
	md.priority = 5;
	assert_int_equal(qsg_put(c, "Q", &md, "hello", 5, 0), QSG_OK);
	assert_int_equal(md.msgid[0], 1);
	assert_int_equal(get_ufield(f, &f->last_priority), 5);
	assert_int_equal(get_ufield(f, &f->admins), 0);
	/* Priority as the queue's default: learnt once with DISPLAY. */
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(get_ufield(f, &f->last_priority), 4);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(get_ufield(f, &f->admins), 1);
	assert_int_equal(get_field(f, &f->put_seq), 3);
	assert_int_equal(get_ufield(f, &f->depth), 3);
	assert_string_equal(qsg_qmgr_name(c), "QM1");
	qsg_disconnect(c);
}

/* Reply lost after the put was applied: HELLO's put_seq >= seq, so the put
 * succeeds without being resent. */
static void put_reply_lost_applied(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f);
	assert_int_equal(put1(c, 0), QSG_OK);
	script(f, PROTO_PUT, F_CLOSE_AFTER);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(get_ufield(f, &f->puts), 2);
	assert_int_equal(get_ufield(f, &f->hellos), 2);
	assert_int_equal(get_ufield(f, &f->depth), 2);
	script(f, PROTO_PUT, F_UNKNOWN_AFTER);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(get_ufield(f, &f->puts), 3);
	assert_int_equal(get_ufield(f, &f->depth), 3);
	qsg_disconnect(c);
}

/* Connection lost before the put was applied: put_seq < seq, so it is
 * resent with the same seq, once. */
static void put_lost_resent(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f);
	script(f, PROTO_PUT, F_CLOSE_BEFORE);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(get_ufield(f, &f->puts), 2);
	assert_int_equal(f->put_seqs[0], 1);
	assert_int_equal(f->put_seqs[1], 1);
	assert_int_equal(get_ufield(f, &f->depth), 1);
	script(f, PROTO_PUT, F_NO_LEADER);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(get_ufield(f, &f->puts), 4);
	assert_int_equal(f->put_seqs[2], 2);
	assert_int_equal(f->put_seqs[3], 2);
	assert_int_equal(get_ufield(f, &f->depth), 2);
	qsg_disconnect(c);
}

static void deterministic_not_retried(void **state)
{
	struct fake *f = *state;
	f->maxdepth = 1;
	qsg_conn *c = connect_fake(f);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(put1(c, 0), QSG_RC_Q_FULL);
	assert_non_null(strstr(qsg_last_error(c), "QSG_RC_Q_FULL"));
	assert_int_equal(get_ufield(f, &f->puts), 2);
	assert_int_equal(get_ufield(f, &f->hellos), 1);
	/* The refused put consumed its seq; the next one follows. */
	void *b;
	size_t n;
	assert_int_equal(qsg_get(c, "Q", NULL, 0, 0, &b, &n), QSG_OK);
	assert_int_equal(n, 9);
	assert_memory_equal(b, "fake-body", 9);
	qsg_free(b);
	assert_int_equal(qsg_get(c, "Q", NULL, 0, 0, &b, &n), QSG_RC_NO_MSG_AVAILABLE);
	assert_null(b);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(f->put_seqs[2], 3);
	qsg_disconnect(c);
}

static void commit_outcomes(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f);
	/* Commit applied, reply lost: uows_done >= uow -> committed. */
	assert_int_equal(put1(c, QSG_PMO_SYNCPOINT), QSG_OK);
	script(f, PROTO_COMMIT, F_CLOSE_AFTER);
	assert_int_equal(qsg_commit(c), QSG_OK);
	assert_int_equal(get_field(f, &f->uows_done), 1);
	assert_int_equal(get_ufield(f, &f->depth), 1);
	/* Commit lost before apply: backed out. */
	assert_int_equal(put1(c, QSG_PMO_SYNCPOINT), QSG_OK);
	script(f, PROTO_COMMIT, F_CLOSE_BEFORE);
	assert_int_equal(qsg_commit(c), QSG_RC_BACKED_OUT);
	assert_int_equal(get_field(f, &f->uows_done), 1);
	assert_int_equal(get_ufield(f, &f->depth), 1);
	/* Normal commit numbering continues. */
	assert_int_equal(put1(c, QSG_PMO_SYNCPOINT), QSG_OK);
	assert_int_equal(qsg_commit(c), QSG_OK);
	assert_int_equal(get_field(f, &f->uows_done), 2);
	assert_int_equal(get_ufield(f, &f->depth), 2);
	/* Commit with no uow: nothing sent. */
	unsigned commits = get_ufield(f, &f->commits);
	assert_int_equal(qsg_commit(c), QSG_OK);
	assert_int_equal(get_ufield(f, &f->commits), commits);
	qsg_disconnect(c);
}

/* A uow open when the connection breaks is gone: the next syncpoint op or
 * commit says BACKED_OUT once, then the connection is usable again. */
static void uow_lost(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f);
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(put1(c, 0), QSG_OK);
	void *b;
	size_t n;
	assert_int_equal(qsg_get(c, "Q", NULL, QSG_GMO_SYNCPOINT, 0, &b, &n), QSG_OK);
	qsg_free(b);
	assert_int_equal(get_ufield(f, &f->depth), 1);
	script(f, PROTO_PUT, F_CLOSE_AFTER); /* a non-syncpoint put breaks it */
	assert_int_equal(put1(c, 0), QSG_OK);
	assert_int_equal(get_ufield(f, &f->depth), 3); /* locked message back + put */
	assert_int_equal(qsg_commit(c), QSG_RC_BACKED_OUT);
	assert_int_equal(qsg_commit(c), QSG_OK);

	/* A syncpoint get whose reply is lost: BACKED_OUT, message back. */
	script(f, PROTO_GET, F_CLOSE_AFTER);
	assert_int_equal(qsg_get(c, "Q", NULL, QSG_GMO_SYNCPOINT, 0, &b, &n), QSG_RC_BACKED_OUT);
	assert_int_equal(get_ufield(f, &f->depth), 3);
	assert_int_equal(qsg_get(c, "Q", NULL, QSG_GMO_SYNCPOINT, 0, &b, &n), QSG_OK);
	qsg_free(b);
	assert_int_equal(qsg_backout(c), QSG_OK);
	assert_int_equal(get_ufield(f, &f->depth), 3);

	/* A get outside syncpoint whose reply is lost: outcome unknown. */
	script(f, PROTO_GET, F_CLOSE_AFTER);
	assert_int_equal(qsg_get(c, "Q", NULL, 0, 0, &b, &n), QSG_RC_OUTCOME_UNKNOWN);
	assert_int_equal(get_ufield(f, &f->depth), 2);
	qsg_disconnect(c);
}

static int count_objects(void *arg, size_t nattrs, const char *const *names,
			 const char *const *values)
{
	int *n = arg;
	assert_string_equal(names[0], "QUEUE");
	assert_string_equal(values[0], *n == 0 ? "A" : "B");
	if (*n == 0) {
		assert_int_equal(nattrs, 2);
		assert_string_equal(names[1], "CURDEPTH");
		assert_string_equal(values[1], "1");
	}
	(*n)++;
	return 0;
}

static void admin(void **state)
{
	struct fake *f = *state;
	qsg_conn *c = connect_fake(f);
	int n = 0;
	char text[64];
	assert_int_equal(qsg_admin(c, "DISPLAY QLOCAL(*)", count_objects, &n, text, sizeof text),
			 QSG_OK);
	assert_int_equal(n, 2);
	assert_string_equal(text, "");
	script(f, PROTO_ADMIN, F_CLOSE_BEFORE);
	assert_int_equal(qsg_admin(c, "DEFINE QLOCAL(X)", NULL, NULL, text, sizeof text),
			 QSG_RC_OUTCOME_UNKNOWN);
	qsg_disconnect(c);
}

static void connect_errors(void **state)
{
	struct fake *f = *state;
	char err[QSG_ERRMSG_SIZE];
	qsg_conn *c;
	assert_int_equal(qsg_connect("nocolon", NULL, &c, err), QSG_RC_INVALID);
	assert_null(c);
	assert_int_equal(qsg_connect("h:1x", NULL, &c, err), QSG_RC_INVALID);
	assert_int_equal(qsg_connect(",", NULL, &c, err), QSG_RC_INVALID);
	/* A port nobody listens on (ours, after closing it is racy: use the
	 * listener's port + 1 and accept that something might listen there). */
	char list[64];
	snprintf(list, sizeof list, "127.0.0.1:%d", f->port == 65535 ? 1 : f->port + 1);
	int rc = qsg_connect(list, NULL, &c, err);
	if (rc == QSG_OK)
		qsg_disconnect(c);
	else
		assert_int_equal(rc, QSG_RC_Q_MGR_NOT_AVAILABLE);
	/* The second address of a list is tried. */
	snprintf(list, sizeof list, "127.0.0.1:%d,127.0.0.1:%d", f->port == 65535 ? 1 : f->port + 1,
		 f->port);
	assert_int_equal(qsg_connect(list, NULL, &c, err), QSG_OK);
	assert_int_equal(put1(c, 0), QSG_OK);
	qsg_disconnect(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(put_plain, setup, teardown),
	    cmocka_unit_test_setup_teardown(put_reply_lost_applied, setup, teardown),
	    cmocka_unit_test_setup_teardown(put_lost_resent, setup, teardown),
	    cmocka_unit_test_setup_teardown(deterministic_not_retried, setup, teardown),
	    cmocka_unit_test_setup_teardown(commit_outcomes, setup, teardown),
	    cmocka_unit_test_setup_teardown(uow_lost, setup, teardown),
	    cmocka_unit_test_setup_teardown(admin, setup, teardown),
	    cmocka_unit_test_setup_teardown(connect_errors, setup, teardown),
	};
	return cmocka_run_group_tests_name("libqsg", tests, NULL, NULL);
}
