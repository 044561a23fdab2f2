# tests/integration/tlsclient.mk: TLS on client connections and forwarding
# (owner: src/qsgd/tlsstream.c, src/libqsg/tlsio.c).
TESTS += tests/integration/test_tls_client.sh
EXTRA_DIST += tests/integration/test_tls_client.sh
