/* The systemd notification protocol, without libsystemd: datagrams to the
 * unix socket named by $NOTIFY_SOCKET (a path, or "@name" for the abstract
 * namespace). Without NOTIFY_SOCKET every call does nothing.
 *
 *   READY=1      the member is active (its first lease renewal acknowledged)
 *   STATUS=...   one line of text for `systemctl status`
 *   WATCHDOG=1   every WATCHDOG_USEC/2 while the loop runs
 *   STOPPING=1   a clean stop has begun */
#ifndef QSGD_SDNOTIFY_H
#define QSGD_SDNOTIFY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

struct sdnotify {
	int fd; /* -1: disabled */
	struct sockaddr_un addr;
	socklen_t addr_len;
	uint64_t watchdog_usec; /* 0: no watchdog asked for */
};

/* Read the environment values given (normally getenv("NOTIFY_SOCKET"),
 * getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID")); pid is getpid(). A
 * socket name that is too long or a socket that cannot be made leaves the
 * notifier disabled; errmsg (QSG_ERRMSG_SIZE) then says why and QSG_RC_CONFIG
 * is returned (not fatal for the caller). */
int sdnotify_init(struct sdnotify *n, const char *notify_socket, const char *watchdog_usec,
		  const char *watchdog_pid, long pid, char *errmsg);
void sdnotify_close(struct sdnotify *n);
bool sdnotify_enabled(const struct sdnotify *n);
/* Send one message ("READY=1\nSTATUS=..."). Returns QSG_OK, QSG_RC_IO or
 * QSG_OK when disabled. */
int sdnotify_send(struct sdnotify *n, const char *msg);

#endif
