# docs/man/: the manual pages, written in scdoc (Debian's scdoc package) and built into
# $(BUILD)/man/ by a plain `make`. @PREFIX@ and @SYSCONFDIR@ become the paths of this
# build, as in the units. The date in each page is $SOURCE_DATE_EPOCH (set by
# dpkg-buildpackage from debian/changelog), else the last commit's, so a rebuild of the
# same tree makes the same pages.
MAN_SRCS := $(sort $(wildcard docs/man/*.scd))
MAN_PAGES := $(MAN_SRCS:docs/man/%.scd=$(BUILD)/man/%)
MANDIR ?= $(PREFIX)/share/man
MAN_DATE := $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),0)

all: $(MAN_PAGES)

# Rebuilt when PREFIX or SYSCONFDIR change (the stamp is rewritten only then).
MAN_PATHS := $(BUILD)/man/.paths
$(shell mkdir -p $(BUILD)/man && { [ "$$(cat $(MAN_PATHS) 2>/dev/null)" = "$(PREFIX) $(SYSCONFDIR)" ] || \
	echo "$(PREFIX) $(SYSCONFDIR)" > $(MAN_PATHS); })

$(BUILD)/man/%: docs/man/%.scd $(MAN_PATHS)
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< | \
		SOURCE_DATE_EPOCH=$(MAN_DATE) scdoc > $@

INSTALL_TARGETS += install-man

# Each page into manN by its section, the number after the last dot of its name.
.PHONY: install-man
install-man: $(MAN_PAGES)
	@set -e; for p in $(MAN_PAGES); do \
		n=$$(basename $$p); s=$${n##*.}; \
		install -d -m 0755 $(DESTDIR)$(MANDIR)/man$$s; \
		install -m 0644 $$p $(DESTDIR)$(MANDIR)/man$$s/$$n; \
		echo "  MAN     $(MANDIR)/man$$s/$$n"; \
	done

BLACKBOX += tests/docs/man-complete.py
