# deploy/: installing the programs, the example config and the docs.
# Layout: $(PREFIX)/bin/l4d2ctl, $(PREFIX)/lib/left4me/left4me-{hostd,jobd,logd,webd},
# test stand-ins (only with install-fixtures) in $(PREFIX)/lib/left4me/testing/.
LEFT4ME_LIBDIR ?= $(PREFIX)/lib/left4me
LEFT4ME_DOCDIR ?= $(PREFIX)/share/doc/left4me
# The example script overlays, for `l4d2ctl web seed-script-overlays`.
LEFT4ME_SEEDDIR ?= $(PREFIX)/share/left4me/script-overlays
LEFT4ME_DAEMONS := left4me-hostd left4me-jobd left4me-logd left4me-webd left4me-build-exec
LEFT4ME_FIXTURES := $(BUILD)/fake-srcds $(BUILD)/rcon-cli $(BUILD)/a2s-query \
                    $(if $(wildcard $(BUILD)/fake-steamcmd),$(BUILD)/fake-steamcmd,tests/fixtures/fake-steamcmd)

# bash-completion loads completions/<command> on demand from here.
BASHCOMPDIR ?= $(PREFIX)/share/bash-completion/completions

INSTALL_TARGETS += install-bins install-config install-docs install-script-overlays install-completion
BLACKBOX += tests/docs/completion.sh

# Installs whatever has been built, and says what it skipped (`make install` builds first).
.PHONY: install-bins
install-bins:
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(LEFT4ME_LIBDIR)
	@if [ -e $(BUILD)/l4d2ctl ]; then \
		install -m 0755 $(BUILD)/l4d2ctl $(DESTDIR)$(PREFIX)/bin/l4d2ctl && \
		echo "  BIN     $(PREFIX)/bin/l4d2ctl"; \
	else echo "install-bins: $(BUILD)/l4d2ctl is not built; skipped" >&2; fi
	install -m 0755 deploy/left4me-tls-selfsigned $(DESTDIR)$(LEFT4ME_LIBDIR)/left4me-tls-selfsigned
	@echo "  BIN     $(LEFT4ME_LIBDIR)/left4me-tls-selfsigned"
	@for d in $(LEFT4ME_DAEMONS); do \
		if [ -e $(BUILD)/$$d ]; then \
			install -m 0755 $(BUILD)/$$d $(DESTDIR)$(LEFT4ME_LIBDIR)/$$d && \
			echo "  BIN     $(LEFT4ME_LIBDIR)/$$d" || exit 1; \
		else echo "install-bins: $(BUILD)/$$d is not built; skipped" >&2; fi; \
	done

# Test stand-ins (fake game server, RCON client, fake steamcmd): for the container tests
# and the demo only, never part of `make install`.
.PHONY: install-fixtures
install-fixtures:
	install -d -m 0755 $(DESTDIR)$(LEFT4ME_LIBDIR)/testing
	@for f in $(LEFT4ME_FIXTURES); do \
		if [ -e $$f ]; then \
			install -m 0755 $$f $(DESTDIR)$(LEFT4ME_LIBDIR)/testing/$$(basename $$f) && \
			echo "  FIXTURE $(LEFT4ME_LIBDIR)/testing/$$(basename $$f)" || exit 1; \
		else echo "install-fixtures: $$f does not exist; skipped" >&2; fi; \
	done

# The example config, only if there is none (never overwrite an admin's file). Mode
# 0640; its group becomes left4me by systemd-tmpfiles (the group may not exist yet here).
.PHONY: install-config
install-config:
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/left4me
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/left4me/left4me.yaml ]; then \
		echo "install-config: $(SYSCONFDIR)/left4me/left4me.yaml exists; left alone"; \
	else \
		install -m 0640 deploy/left4me.yaml $(DESTDIR)$(SYSCONFDIR)/left4me/left4me.yaml && \
		echo "  CONFIG  $(SYSCONFDIR)/left4me/left4me.yaml"; \
		if [ -z "$(DESTDIR)" ] && getent group left4me >/dev/null; then \
			chgrp left4me $(SYSCONFDIR)/left4me $(SYSCONFDIR)/left4me/left4me.yaml; fi; \
	fi

.PHONY: install-docs
install-docs:
	install -d -m 0755 $(DESTDIR)$(LEFT4ME_DOCDIR)
	install -m 0644 deploy/README.md $(DESTDIR)$(LEFT4ME_DOCDIR)/README.md
	@if [ -e docs/security.md ]; then install -m 0644 docs/security.md $(DESTDIR)$(LEFT4ME_DOCDIR)/security.md; fi

.PHONY: install-script-overlays
install-script-overlays:
	install -d -m 0755 $(DESTDIR)$(LEFT4ME_SEEDDIR)
	@for f in deploy/script-overlays/*.sh; do \
		install -m 0644 $$f $(DESTDIR)$(LEFT4ME_SEEDDIR)/$$(basename $$f) && \
		echo "  SEED    $(LEFT4ME_SEEDDIR)/$$(basename $$f)" || exit 1; \
	done

.PHONY: install-completion
install-completion:
	install -d -m 0755 $(DESTDIR)$(BASHCOMPDIR)
	install -m 0644 deploy/completion/l4d2ctl $(DESTDIR)$(BASHCOMPDIR)/l4d2ctl
	@echo "  COMPL   $(BASHCOMPDIR)/l4d2ctl"

# ---- Debian package -------------------------------------------------------------------
# debian/ (debhelper 13): `make deb` builds the binary package from this tree and leaves
# it, with its .buildinfo and .changes, in $(BUILD)/ (nothing is written beside the tree;
# debian/rules puts the .deb where LEFT4ME_DEB_DIR says).
DEB_OUT = $(abspath $(BUILD))
.PHONY: deb
deb:
	@mkdir -p $(DEB_OUT)
	LEFT4ME_DEB_DIR=$(DEB_OUT) dpkg-buildpackage -us -uc -b \
		--buildinfo-option=-u$(DEB_OUT) --changes-option=-u$(DEB_OUT) \
		--buildinfo-file=$(DEB_OUT)/left4me.buildinfo --changes-file=$(DEB_OUT)/left4me.changes
	@ls -l $(DEB_OUT)/left4me_*.deb

# The package under a real systemd in a container of its own (tests/e2e/package.sh): install,
# a server running through an upgrade, remove, purge. Part of `make test` (test-e2e).
.PHONY: test-package
test-package: deb
	@BUILD=$(abspath $(BUILD)) tests/e2e/package.sh $(DEB_OUT)/left4me_$(VERSION)_$(shell dpkg --print-architecture).deb
