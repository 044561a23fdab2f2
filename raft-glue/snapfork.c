/* Snapshot capture in a forked child; see snapfork.h for the contract and
 * docs/storage.md ("Snapshots that never stall: fork capture") for why.
 *
 * The child. fork() copies only the calling (loop) thread; the image holds
 * the state machine exactly as it was, and nothing in the parent can change
 * it afterwards (copy on write). The child must not run anything that relies
 * on the other threads of the parent (libuv's pool, its own loop), so it:
 *  - inherits a fully blocked signal mask: the parent blocks every signal
 *    around fork(), so no handler of the parent (libuv's signal pipe, for
 *    one) can ever run in the child; SIGSEGV/SIGBUS still kill it;
 *  - asks for SIGKILL when the parent dies (PR_SET_PDEATHSIG; the "parent"
 *    is the forking thread, the loop thread, which lives as long as the
 *    process), so it never outlives the member holding its files;
 *  - calls only the state machine's pure encoder (glue_sm.snapshot: no I/O,
 *    no clocks, no locks but malloc's) and write(2) on the pipe. glibc's
 *    fork() takes every malloc arena lock around the fork, so malloc in the
 *    child is safe even if a pool thread was inside malloc at that moment;
 *  - ends with _exit(): no atexit handlers, no stdio flush of buffers that
 *    were inherited half-full, no libuv or libraft teardown.
 *  - closes every inherited descriptor but the pipe's write end, first
 *    thing (close_range). An inherited socket would otherwise outlive the
 *    parent's close for the length of an encode: its peer would see no FIN,
 *    and its epoll registration (keyed by the open file, which the child
 *    keeps alive) could deliver stale events to a new socket that reused
 *    the fd number in the parent. The data directory lock is the parent's
 *    (flock is per open file: closing the child's copy releases nothing).
 *
 * The parent reads in the thread pool with poll(): a stalled child (no byte
 * for stall_ms) or snapfork_abort() kills it. The child is always reaped by
 * the collecting thread (never by the loop), so a pid is never signalled
 * after it was reaped. */
#include "snapfork.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../src/common/crc32c.h"

#define SF_HDR 16
#define SF_TRL 24
#define SF_POLL_MS 200
#define SF_MAX_LEN ((uint64_t)1 << 40)
static const char sf_magic[8] = {'Q', 'S', 'G', 'S', 'N', 'A', 'P', '1'};
static const char sf_end[8] = {'Q', 'S', 'G', 'S', 'E', 'N', 'D', '1'};

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		p[i] = (uint8_t)(v >> (8 * i));
	}
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--) {
		v = (v << 8) | p[i];
	}
	return v;
}

void snapfork_init(struct snapfork *s)
{
	memset(s, 0, sizeof *s);
	s->fd = -1;
	atomic_init(&s->abort, 0);
	s->stall_ms = 60000;
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len > (1u << 20) ? (1u << 20) : len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void child_run(int wfd, const struct glue_sm *sm, int fault, pid_t parent)
{
	struct qsg_wbuf w;
	uint8_t hdr[SF_HDR], trl[SF_TRL];
	uint64_t t0, sum;
	size_t half;
	int rc;

	if (wfd > 3) {
		(void)close_range(3, (unsigned)wfd - 1, 0);
	}
	(void)close_range((unsigned)wfd + 1, ~0u, 0);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(3); /* the parent died before the prctl */
	}
	t0 = now_us();
	qsg_wbuf_init(&w);
	rc = sm->snapshot(sm->data, &w);
	if (rc != QSG_OK || w.err != QSG_OK || w.len == 0) {
		_exit(2);
	}
	memcpy(hdr, sf_magic, 8);
	put64(hdr + 8, w.len);
	sum = qsg_crc32c(0, w.data, w.len);
	if (fault == SNAPFORK_FAULT_CHECKSUM) {
		sum ^= 1;
	}
	put64(trl, sum);
	put64(trl + 8, now_us() - t0);
	memcpy(trl + 16, sf_end, 8);
	if (write_all(wfd, hdr, sizeof hdr) != 0) {
		_exit(4);
	}
	if (fault == SNAPFORK_FAULT_HALF) {
		half = w.len / 2;
		(void)write_all(wfd, w.data, half);
		_exit(0);
	}
	if (write_all(wfd, w.data, w.len) != 0 || write_all(wfd, trl, sizeof trl) != 0) {
		_exit(4);
	}
	_exit(0);
}

int snapfork_start(struct snapfork *s, const struct glue_sm *sm)
{
	sigset_t all, old;
	int fds[2];
	uint64_t t0;
	pid_t pid, self;
	int err;

	if (s->pid != 0 || s->fd >= 0) {
		return qsg_errf(s->errmsg, QSG_RC_BUSY, "snapshot capture already in progress");
	}
	atomic_store(&s->abort, 0);
	s->buf = NULL;
	s->len = 0;
	s->encode_us = 0;
	t0 = now_us();
	if (pipe2(fds, O_CLOEXEC) != 0) {
		return qsg_errf(s->errmsg, QSG_RC_IO, "snapshot pipe: %s", strerror(errno));
	}
	(void)fcntl(fds[1], F_SETPIPE_SZ, 1 << 20);
	self = getpid();
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		child_run(fds[1], sm, s->fault, self);
		_exit(5);
	}
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return qsg_errf(s->errmsg, QSG_RC_STORAGE_NOT_AVAILABLE, "snapshot fork: %s",
				strerror(err));
	}
	s->pid = pid;
	s->fd = fds[0];
	s->fork_us = now_us() - t0;
	return QSG_OK;
}

/* Reads exactly len bytes; returns QSG_OK, or an error with s->errmsg set. */
static int read_full(struct snapfork *s, void *p, size_t len, const char *what)
{
	uint8_t *c = p;
	unsigned idle_ms = 0;
	struct pollfd pfd = {.fd = s->fd, .events = POLLIN};

	while (len > 0) {
		if (atomic_load(&s->abort)) {
			return qsg_errf(s->errmsg, QSG_RC_Q_MGR_STOPPING,
					"snapshot capture aborted");
		}
		int r = poll(&pfd, 1, SF_POLL_MS);
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return qsg_errf(s->errmsg, QSG_RC_IO, "snapshot pipe poll: %s",
					strerror(errno));
		}
		if (r == 0) {
			idle_ms += SF_POLL_MS;
			if (idle_ms >= s->stall_ms) {
				return qsg_errf(s->errmsg, QSG_RC_TIMEOUT,
						"snapshot child sent nothing for %u ms", idle_ms);
			}
			continue;
		}
		ssize_t n = read(s->fd, c, len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				continue;
			}
			return qsg_errf(s->errmsg, QSG_RC_IO, "snapshot pipe read: %s",
					strerror(errno));
		}
		if (n == 0) {
			return qsg_errf(s->errmsg, QSG_RC_BAD_FRAME,
					"snapshot stream truncated in the %s (%zu bytes missing)",
					what, len);
		}
		idle_ms = 0;
		c += n;
		len -= (size_t)n;
	}
	return QSG_OK;
}

/* Kills (when asked) and reaps the child; returns its wait status. */
static int reap(struct snapfork *s, bool kill_it)
{
	int st = 0;

	if (s->fd >= 0) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->pid == 0) {
		return 0;
	}
	if (kill_it) {
		(void)kill(s->pid, SIGKILL);
	}
	while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
	}
	s->pid = 0;
	return st;
}

int snapfork_collect(struct snapfork *s)
{
	uint8_t hdr[SF_HDR], trl[SF_TRL], extra;
	uint8_t *buf = NULL;
	uint64_t len;
	int st, rc;

	s->errmsg[0] = '\0';
	if (s->pid == 0 || s->fd < 0) {
		return qsg_errf(s->errmsg, QSG_RC_INVALID, "no snapshot capture in progress");
	}
	rc = read_full(s, hdr, sizeof hdr, "header");
	if (rc != QSG_OK) {
		goto fail;
	}
	len = get64(hdr + 8);
	if (memcmp(hdr, sf_magic, 8) != 0 || len == 0 || len > SF_MAX_LEN) {
		rc = qsg_errf(s->errmsg, QSG_RC_BAD_FRAME, "snapshot stream: bad header");
		goto fail;
	}
	buf = malloc((size_t)len);
	if (buf == NULL) {
		rc = qsg_errf(s->errmsg, QSG_RC_STORAGE_NOT_AVAILABLE,
			      "snapshot: no memory for %llu bytes", (unsigned long long)len);
		goto fail;
	}
	rc = read_full(s, buf, (size_t)len, "payload");
	if (rc == QSG_OK) {
		rc = read_full(s, trl, sizeof trl, "trailer");
	}
	if (rc != QSG_OK) {
		goto fail;
	}
	if (memcmp(trl + 16, sf_end, 8) != 0) {
		rc = qsg_errf(s->errmsg, QSG_RC_BAD_FRAME, "snapshot stream: bad trailer");
		goto fail;
	}
	if (get64(trl) != qsg_crc32c(0, buf, (size_t)len)) {
		rc = qsg_errf(s->errmsg, QSG_RC_BAD_FRAME, "snapshot stream: checksum mismatch");
		goto fail;
	}
	/* The stream must end here: EOF (the child closed it by exiting). */
	for (;;) {
		ssize_t n = read(s->fd, &extra, 1);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n != 0) {
			rc = qsg_errf(s->errmsg, QSG_RC_BAD_FRAME,
				      "snapshot stream: bytes after trailer");
			goto fail;
		}
		break;
	}
	st = reap(s, false);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		qsg_errf(s->errmsg, QSG_RC_UNEXPECTED_ERROR, "snapshot child %s %d",
			 WIFEXITED(st) ? "exited with" : "killed by signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		free(buf);
		return QSG_RC_UNEXPECTED_ERROR;
	}
	s->buf = buf;
	s->len = (size_t)len;
	s->encode_us = get64(trl + 8);
	return QSG_OK;

fail:
	free(buf);
	st = reap(s, true);
	if (WIFEXITED(st) && WEXITSTATUS(st) != 0 && rc == QSG_RC_BAD_FRAME) {
		/* The child's own verdict is the better explanation. */
		size_t n = strlen(s->errmsg);
		snprintf(s->errmsg + n, sizeof s->errmsg - n, " (child exit status %d%s)",
			 WEXITSTATUS(st), WEXITSTATUS(st) == 2 ? ": encode failed" : "");
	}
	return rc;
}

void snapfork_abort(struct snapfork *s)
{
	atomic_store(&s->abort, 1);
}

void snapfork_close(struct snapfork *s)
{
	(void)reap(s, true);
	free(s->buf);
	s->buf = NULL;
	s->len = 0;
}
