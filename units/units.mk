# units/: the systemd units, sysusers.d and tmpfiles.d files. "*.in" files get their
# paths substituted at install time (so a different PREFIX never leaves stale units).
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d

UNIT_FILES := $(sort $(wildcard units/*.socket units/*.service units/*.target units/*.slice \
                                units/*.socket.in units/*.service.in units/*.target.in units/*.slice.in))
unit_subst = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'

INSTALL_TARGETS += install-units

.PHONY: install-units
install-units:
	install -d -m 0755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR)
	@set -e; for f in $(UNIT_FILES); do \
		n=$$(basename $$f .in); \
		$(unit_subst) $$f > $(DESTDIR)$(UNITDIR)/.$$n.tmp; \
		chmod 0644 $(DESTDIR)$(UNITDIR)/.$$n.tmp; \
		mv -f $(DESTDIR)$(UNITDIR)/.$$n.tmp $(DESTDIR)$(UNITDIR)/$$n; \
		echo "  UNIT    $(UNITDIR)/$$n"; \
	done
	$(unit_subst) units/left4me.sysusers > $(DESTDIR)$(SYSUSERSDIR)/left4me.conf
	$(unit_subst) units/left4me.tmpfiles > $(DESTDIR)$(TMPFILESDIR)/left4me.conf
	chmod 0644 $(DESTDIR)$(SYSUSERSDIR)/left4me.conf $(DESTDIR)$(TMPFILESDIR)/left4me.conf
	@if [ -z "$(DESTDIR)" ]; then \
		echo "install-units: now run: systemd-sysusers && systemd-tmpfiles --create && systemctl daemon-reload"; fi

.PHONY: uninstall-units
uninstall-units:
	rm -f $(foreach f,$(UNIT_FILES),$(DESTDIR)$(UNITDIR)/$(notdir $(f:.in=))) \
	      $(DESTDIR)$(SYSUSERSDIR)/left4me.conf $(DESTDIR)$(TMPFILESDIR)/left4me.conf
