# man/local.mk: manual pages (owner: obs).
dist_man1_MANS = man/qsgadm.1 man/qsgput.1 man/qsgget.1
dist_man8_MANS = man/qsgd.8
