/* libFuzzer target for the AMQP 1.0 endpoint's input (src/amqp): the bytes
 * go into one connection (proton's connection driver with our SASL
 * mechanisms, link and delivery handling, the coordinator, message
 * conversion) over a backend that answers at once. The first byte chooses
 * the configuration (ANONYMOUS allowed or authentication required) and how
 * the backend answers; the rest is fed in pieces whose sizes come from the
 * input. Nothing may crash, leak or loop; a malformed input only ends the
 * connection. Seeds: tests/fuzz/corpus/amqp (client sessions recorded from
 * python3-qpid-proton by tests/fuzz/amqp_record.py). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/amqpconn.h"
#include "common/qsg_err.h"

struct fb {
	uint8_t mode;
	unsigned gets;
	uint64_t txn;
	size_t written;
	bool closed;
};

static void f_auth(void *be, struct amqpconn *c, uint64_t req, const char *mech, const char *user,
		   const char *pw, size_t pwlen)
{
	struct fb *f = be;
	(void)mech;
	(void)pw;
	(void)pwlen;
	amqpconn_auth_done(c, req, f->mode & 1 ? QSG_OK : QSG_RC_NOT_AUTHORIZED, user);
}

static void f_put(void *be, struct amqpconn *c, uint64_t req, const char *queue, const char *link,
		  uint64_t txn, const struct amqp_in *msg)
{
	struct fb *f = be;
	(void)queue;
	(void)link;
	(void)txn;
	int rc = (f->mode & 2) && msg->m.body.len % 3 == 0 ? QSG_RC_Q_FULL : QSG_OK;
	amqpconn_put_done(c, req, rc, NULL);
}

static void f_get(void *be, struct amqpconn *c, uint64_t req, const char *queue, bool settled,
		  bool wait)
{
	struct fb *f = be;
	(void)queue;
	(void)settled;
	if (f->gets >= 8) {
		if (!wait)
			amqpconn_get_done(c, req, QSG_RC_NO_MSG_AVAILABLE, NULL, 0);
		return; /* waits until cancelled */
	}
	f->gets++;
	struct fsm_msg m;
	memset(&m, 0, sizeof m);
	m.priority = 4;
	m.backout_count = f->gets;
	m.body = (struct qsg_slice){(const uint8_t *)"body", 4};
	amqpconn_get_done(c, req, QSG_OK, &m, f->gets);
}

static void f_get_cancel(void *be, struct amqpconn *c, uint64_t req)
{
	(void)be;
	(void)c;
	(void)req;
}

static void f_settle(void *be, struct amqpconn *c, uint64_t req, uint64_t lock, enum amqp_act act,
		     uint64_t txn, const char *reason)
{
	(void)be;
	(void)lock;
	(void)act;
	(void)txn;
	(void)reason;
	amqpconn_settle_done(c, req, QSG_OK);
}

static void f_txn(void *be, struct amqpconn *c, uint64_t req, enum amqp_txn_op op, uint64_t txn)
{
	struct fb *f = be;
	if (op == AMQP_TXN_DECLARE)
		txn = ++f->txn;
	amqpconn_txn_done(
	    c, req, (f->mode & 4) && op == AMQP_TXN_COMMIT ? QSG_RC_BACKED_OUT : QSG_OK, txn, NULL);
}

static void f_closed(void *be, struct amqpconn *c)
{
	struct fb *f = be;
	(void)c;
	f->closed = true;
}

static const struct amqp_be_ops ops = {f_auth,	 f_put, f_get,	 f_get_cancel,
				       f_settle, f_txn, f_closed};

static void io_write(void *ctx, const uint8_t *p, size_t n)
{
	struct fb *f = ctx;
	(void)p;
	f->written += n;
}

static void io_close(void *ctx)
{
	(void)ctx;
}

static const struct amqpconn_io io = {io_write, io_close, NULL, NULL};

/* Proton 0.37 leaks the mechanism name of a repeated sasl-init (pn_do_init
 * overwrites it; amqpconn ends such a connection, so once per connection).
 * Leaks inside proton are not reported here; our own objects' lifetimes
 * are checked without suppression by test_amqp_driver.sh in the sanitizer
 * build (LeakSanitizer at amqpfake's orderly exit). */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libqpid-proton.so\n";
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct fb f = {.mode = data[0]};
	struct amqpconn_cfg cfg = {
	    .anonymous = !(f.mode & 8),
	    .require_auth = (f.mode & 8) != 0,
	    .idle_ms = 1000,
	    .credit = 4,
	    .max_message = 64 * 1024,
	    .container_id = "QM1",
	};
	struct amqpconn *c;
	char err[QSG_ERRMSG_SIZE];
	if (amqpconn_new(&c, &cfg, &ops, &f, &io, &f, "fuzz", err) != QSG_OK)
		return 0;
	data++;
	size--;
	/* Pieces: mode's high bits choose a split step (whole, or 1..7). */
	size_t step = (f.mode >> 5) ? (size_t)(f.mode >> 5) : size;
	int64_t now = 1;
	while (size) {
		size_t k = step < size ? step : size;
		amqpconn_input(c, data, k);
		data += k;
		size -= k;
		amqpconn_tick(c, now += 100);
	}
	amqpconn_eof(c);
	amqpconn_tick(c, now + 5000);
	amqpconn_free(c);
	return 0;
}
