/* Unit tests of the compact message descriptor (struct qmsg, src/fsm
 * fsm_int.h; docs/storage.md, "The in-memory descriptor"): the heap a
 * queued message costs, and the optional fields kept out of line. */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsm/fsm_int.h"

/* --- heap per message ------------------------------------------------------ */

/* A body provider that keeps nothing: the heap measured is the state's. */
static int nb_put(void *arg, uint64_t seqno, const void *props, uint32_t props_len,
		  const void *body, uint32_t body_len, uint32_t crc)
{
	(void)arg, (void)seqno, (void)props, (void)props_len, (void)body, (void)body_len, (void)crc;
	return QSG_OK;
}

static int nb_read(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len, uint32_t crc,
		   struct qsg_wbuf *out)
{
	(void)arg, (void)seqno, (void)props_len, (void)body_len, (void)crc, (void)out;
	return props_len == 0 && body_len == 0 ? QSG_OK : QSG_RC_IO;
}

static void nb_release(void *arg, uint64_t seqno)
{
	(void)arg, (void)seqno;
}

static void nb_claim(void *arg, uint64_t seqno, uint32_t props_len, uint32_t body_len,
		     uint32_t crc)
{
	(void)arg, (void)seqno, (void)props_len, (void)body_len, (void)crc;
}

static void nb_restored(void *arg, uint64_t last_seqno)
{
	(void)arg, (void)last_seqno;
}

static int nb_put_part(void *arg, uint64_t seqno, uint32_t part, const void *props,
		       uint32_t props_len, const void *body, uint32_t body_len, uint32_t crc)
{
	(void)arg, (void)seqno, (void)part, (void)props, (void)props_len, (void)body,
	    (void)body_len, (void)crc;
	return QSG_RC_IO;
}

static int nb_read_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc,
			struct qsg_wbuf *out)
{
	(void)arg, (void)seqno, (void)part, (void)len, (void)crc, (void)out;
	return QSG_RC_IO;
}

static void nb_claim_part(void *arg, uint64_t seqno, uint32_t part, uint32_t len, uint32_t crc)
{
	(void)arg, (void)seqno, (void)part, (void)len, (void)crc;
}

static const struct fsm_bodies no_bodies = {
    .put = nb_put,
    .read = nb_read,
    .release = nb_release,
    .claim = nb_claim,
    .restored = nb_restored,
    .put_part = nb_put_part,
    .read_part = nb_read_part,
    .claim_part = nb_claim_part,
};

#define BATCH 4096u

/* One entry of n commands, applied without results; every one must succeed. */
static void apply_n(struct fsm *f, const struct fsm_cmd *c, size_t n)
{
	struct qsg_wbuf e, w;
	char errmsg[QSG_ERRMSG_SIZE];
	qsg_wbuf_init(&e);
	qsg_wbuf_init(&w);
	fsm_entry_begin(&e, 1000000);
	for (size_t i = 0; i < n; i++) {
		qsg_wbuf_reset(&w);
		assert_int_equal(fsm_cmd_encode(&c[i], &w), QSG_OK);
		fsm_entry_add(&e, w.data, w.len);
	}
	assert_int_equal(e.err, QSG_OK);
	assert_int_equal(fsm_apply(f, e.data, e.len, NULL, errmsg), QSG_OK);
	qsg_wbuf_close(&e);
	qsg_wbuf_close(&w);
}

enum kind { K_GENERATED, K_USER_IDS, K_INDEXED };

/* Heap bytes per message of n empty committed messages of kind k (0 when
 * mallinfo2 does not see the allocations, as under a sanitizer). */
static double heap_per_msg(enum kind k, uint32_t n)
{
	struct fsm *f;
	assert_int_equal(fsm_init(&f, NULL), QSG_OK);
	fsm_set_bodies(f, &no_bodies);
	struct fsm_cmd *c = calloc(BATCH, sizeof *c);
	assert_non_null(c);
	c[0].op = FSM_OP_QDEFINE;
	strcpy(c[0].attrs.name, "Q");
	c[0].attrs.set = FSM_QA_MAXDEPTH | FSM_QA_INDXTYPE;
	c[0].attrs.maxdepth = 999999999;
	c[0].attrs.indxtype = k == K_INDEXED ? FSM_INDX_CORRELID : FSM_INDX_NONE;
	c[1].op = FSM_OP_ATTACH;
	c[1].client_id = 1;
	c[1].member_id = 1;
	apply_n(f, c, 2);
	struct mallinfo2 before = mallinfo2();
	for (uint32_t done = 0; done < n;) {
		uint32_t b = n - done < BATCH ? n - done : BATCH;
		for (uint32_t i = 0; i < b; i++) {
			memset(&c[i], 0, sizeof c[i]);
			c[i].op = FSM_OP_PUT;
			c[i].client_id = 1;
			c[i].epoch = 1;
			strcpy(c[i].queue, "Q");
			c[i].msg.priority = 4;
			uint32_t id = done + i + 1;
			if (k == K_GENERATED) {
				c[i].flags = FSM_F_GEN_MSGID;
			} else {
				memcpy(c[i].msg.msgid, &id, sizeof id);
				memcpy(c[i].msg.correlid, &id, sizeof id);
			}
		}
		apply_n(f, c, b);
		done += b;
	}
	struct mallinfo2 after = mallinfo2();
	struct fsm_qinfo info;
	assert_int_equal(fsm_queue_info(f, 0, "Q", &info), QSG_OK);
	assert_int_equal(info.curdepth, n);
	free(c);
	fsm_close(f);
	if (after.uordblks <= before.uordblks)
		return 0;
	return (double)(after.uordblks - before.uordblks) / n;
}

static void heap_per_message(void **state)
{
	(void)state;
	const uint32_t n = 1000000;
	double gen = heap_per_msg(K_GENERATED, n);
	double user = heap_per_msg(K_USER_IDS, n);
	double indexed = heap_per_msg(K_INDEXED, n);
	printf("# sizeof(struct qmsg) = %zu\n", sizeof(struct qmsg));
	printf("# heap per message, %u messages: generated msgid %.1f B, "
	       "msgid+correlid %.1f B, msgid+correlid on an indexed queue %.1f B\n",
	       n, gen, user, indexed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(heap_per_message),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
