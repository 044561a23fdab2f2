# tests/integration/chantls.mk: TLS on channels (owner: chan,
# docs/channels.md "TLS on channels"): a TLS group and a TLS remote queue
# manager; SSLCIPH, SSLPEER, plaintext partners refused, REFRESH SECURITY.
TESTS += tests/integration/test_chan_tls.sh
EXTRA_DIST += tests/integration/test_chan_tls.sh
