/* QSG_ASSERT(expr): an assertion for invariants whose check costs time (the
 * state machine's, some O(state)). Any module may use it.
 *
 * Compiled in when QSG_CHECKED is defined, compiled out (the expression is
 * not evaluated) otherwise. QSG_CHECKED is defined
 *  - by configure for --enable-debug and --enable-sanitize builds (QSG_CFLAGS);
 *  - always for the unit-test programs of the state machine, which link
 *    libqsgfsm_checked.la, the fsm sources compiled with -DQSG_CHECKED
 *    (tests/unit/fsm.mk);
 * and never in a release build. NDEBUG does not affect it (release builds
 * define NDEBUG; the two are independent on purpose: a checked build may
 * be optimised).
 *
 * A failed assertion prints "file:line: assertion failed: expr" on stderr
 * and aborts: a replica whose state breaks an invariant must not go on. Code
 * that exists only for the checks goes inside #ifdef QSG_CHECKED. */
#ifndef QSG_ASSERT_H
#define QSG_ASSERT_H

#ifdef QSG_CHECKED
#define QSG_ASSERT(expr) ((expr) ? (void)0 : qsg_assert_fail(#expr, __FILE__, __LINE__))
#else
#define QSG_ASSERT(expr) ((void)0)
#endif

/* Print the failed expression with its place and abort(). */
_Noreturn void qsg_assert_fail(const char *expr, const char *file, int line);

#endif
