# tests/integration/obs.mk: /metrics, /healthz, /readyz on a live group (owner: obs).
TESTS += tests/integration/test_metrics.sh
EXTRA_DIST += tests/integration/test_metrics.sh
