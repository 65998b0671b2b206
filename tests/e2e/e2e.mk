# tests/e2e/: the real-systemd tier. `make test-e2e` boots one container (run.sh) and runs
# these scenarios in it; `make run` uses demo.sh. See deploy/README.md.
E2E += tests/e2e/10-verify.sh tests/e2e/20-activation.sh tests/e2e/30-independence.sh tests/e2e/docs-first-server.sh \
       tests/e2e/40-permissions.sh tests/e2e/callers.sh tests/e2e/50-security.sh

.PHONY: demo-stop demo-shell
demo-stop:
	@tests/e2e/demo.sh stop
demo-shell:
	@tests/e2e/demo.sh shell
