# src/admin build fragment (included by the top-level Makefile.am).
# Owner: MQSC administration. Produces libqsgadmin.la: the MQSC parser
# (mqsc*.c) and the executor (admin*.c), linked into qsgd and test_mqsc.
# Depends on libqsgfsm.la and libqsgcommon.la (fsm, proto, common); never on
# qsgd, which reaches the group through struct admin_env.
noinst_LTLIBRARIES += libqsgadmin.la
libqsgadmin_la_SOURCES = \
	src/admin/admin.h src/admin/admin_int.h src/admin/admin.c \
	src/admin/admin_queue.c src/admin/admin_chan.c \
	src/admin/admin_display.c src/admin/admin_member.c \
	src/admin/admin_submit.c src/admin/admin_util.c \
	src/admin/mqsc.h src/admin/mqsc_int.h src/admin/mqsc.c src/admin/mqsc_items.c \
	src/admin/mqsc_names.c src/admin/mqsc_user.c src/admin/admin_user.c \
	src/admin/mqsc_authrec.c src/admin/admin_authrec.c \
	src/admin/mqsc_chlauth.c src/admin/admin_chlauth.c \
	src/chan/chssl.h src/chan/chssl.c
