/* A detached background thread that takes no signals (they stay with the
 * loop thread): the one way raft-glue's helpers (aiodefer.c, rheap.c)
 * start their threads. */
#ifndef GLUE_BGTHREAD_H
#define GLUE_BGTHREAD_H

#include <stdbool.h>
#include <stdint.h>

/* Start fn(arg) on a new detached thread with every signal blocked; true
 * if it started. */
bool glue_bgthread_start(void *(*fn)(void *), void *arg);
/* CLOCK_MONOTONIC in microseconds: how long a thread's work took. */
uint64_t glue_bgthread_now_us(void);

#endif
