# deploy/local.mk: the systemd template unit and the sample configurations
# (owner: obs). The unit goes to $(systemdsystemunitdir), by default
# $(libdir)/systemd/system (override: make systemdsystemunitdir=/lib/systemd/system);
# ExecStart points at the configured $(bindir).
systemdsystemunitdir = $(libdir)/systemd/system
systemdsystemunit_DATA = deploy/qsgd@.service
CLEANFILES += deploy/qsgd@.service
deploy/qsgd@.service: $(top_srcdir)/deploy/qsgd@.service.in Makefile
	$(MKDIR_P) deploy
	sed -e 's|@bindir[@]|$(bindir)|g' $(top_srcdir)/deploy/qsgd@.service.in >$@.tmp
	mv $@.tmp $@

qsgexamplesdir = $(docdir)/examples
qsgexamples3dir = $(qsgexamplesdir)/3-members
qsgexamples3_DATA = deploy/examples/3-members/QM1.ini deploy/examples/3-members/QM2.ini \
	deploy/examples/3-members/QM3.ini
qsgexamples5dir = $(qsgexamplesdir)/5-members
qsgexamples5_DATA = deploy/examples/5-members/QM1.ini deploy/examples/5-members/QM2.ini \
	deploy/examples/5-members/QM3.ini deploy/examples/5-members/QM4.ini \
	deploy/examples/5-members/QM5.ini
EXTRA_DIST += deploy/qsgd@.service.in deploy/README.md $(qsgexamples3_DATA) $(qsgexamples5_DATA)
