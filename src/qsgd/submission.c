/* Submission records and their queues (submission.h). */
#include "submission.h"

#include <stdlib.h>
#include <time.h>
#include <uv.h>

#include "common/qsg_err.h"
#include "metrics.h"

void qsgd_subq_push(struct qsgd_subq *q, struct qsgd_sub *s)
{
	s->next = NULL;
	if (q->tail != NULL)
		q->tail->next = s;
	else
		q->head = s;
	q->tail = s;
	q->n++;
}

void qsgd_subq_push_front(struct qsgd_subq *q, struct qsgd_sub *s)
{
	s->next = q->head;
	q->head = s;
	if (q->tail == NULL)
		q->tail = s;
	q->n++;
}

struct qsgd_sub *qsgd_subq_pop(struct qsgd_subq *q)
{
	struct qsgd_sub *s = q->head;
	if (s == NULL)
		return NULL;
	q->head = s->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->n--;
	s->next = NULL;
	return s;
}

void qsgd_sub_complete(struct qsgd_sub *s, int status, const void *result, size_t len)
{
	if (s->stats != NULL && status == QSG_OK)
		qsgd_stats_latency(s->stats, (uv_hrtime() - s->submit_ns) / 1000);
	if (s->cb != NULL)
		s->cb(s->arg, status, result, len);
	free(s->cmd);
	free(s);
}

int64_t qsgd_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
