# svc-web/: left4me-webd (h2o evloop: HTTP + the admin RPC socket), its tests and bench.
CLI_SRCS += cli/cmd-web.c
WEBD_SRCS := svc-web/main.c svc-web/webd.c svc-web/webd-http.c \
             svc-web/webd-sse.c svc-web/webd-json.c svc-web/webd-client.c \
             svc-web/webd-html.c svc-web/webd-form.c svc-web/webd-auth.c svc-web/webd-db.c svc-web/webd-fleet.c svc-web/webd-overlays.c svc-web/webd-tokens.c svc-web/webd-spec.c \
             svc-web/webd-work.c svc-web/webd-passwords.c svc-web/webd-request.c svc-web/webd-page.c \
             svc-web/webd-admin.c svc-web/webd-backend.c svc-web/webd-hostlist.c svc-web/webd-jobwatch.c svc-web/webd-statefeed.c \
             svc-web/page-account.c svc-web/page-admin.c \
             svc-web/page-jobs.c svc-web/page-servers.c svc-web/page-blueprints.c svc-web/page-overlays.c svc-web/page-files.c svc-web/page-api.c svc-web/page-tokens.c \
             svc-web/webd-uploads.c
# A folder downloaded as a .zip, streamed a slice at a time (libarchive writes the format).
WEBD_SRCS += svc-web/webd-zip.c
# multipart/form-data bodies (uploads from forms without JavaScript), parsed in memory.
WEBD_SRCS += svc-web/webd-multipart.c
WEBD_OBJS := $(WEBD_SRCS:%.c=$(BUILD)/obj/%.o)
WEBD_LIB_OBJS := $(filter-out $(BUILD)/obj/svc-web/main.o,$(WEBD_OBJS))
WEBD_LIBS = $(call pc_libs,libh2o-evloop libsystemd msgpack yaml-0.1 sqlite3 libsodium openssl libarchive) -lpthread
# Static files (the web UI's CSS/JS/images) are installed here and served under /static/.
LEFT4ME_WEBDIR ?= $(PREFIX)/share/left4me/web

# The web dir as served: our static files, htmx and its SSE extension from npm, and the
# editor bundle built from npm packages (package-lock.json pins them; nothing is fetched
# at run time). `make run`, the browser tier and `make install` all serve this directory.
WEB_DIR := $(BUILD)/web
WEB_STATIC := $(wildcard svc-web/static/*)
WEB_ASSETS := $(WEB_STATIC:svc-web/static/%=$(WEB_DIR)/%) $(WEB_DIR)/htmx.min.js $(WEB_DIR)/sse.js
$(WEB_DIR)/%: svc-web/static/%
	@mkdir -p $(@D)
	cp $< $@
$(WEB_DIR)/htmx.min.js: node_modules/htmx.org/dist/htmx.min.js
	@mkdir -p $(@D)
	cp $< $@
$(WEB_DIR)/sse.js: node_modules/htmx-ext-sse/dist/sse.min.js
	@mkdir -p $(@D)
	cp $< $@
# The code editor (CodeMirror 6 and our cfg language, svc-web/editor/), bundled into one
# script that only pages with an editor load. Rebuilt when a source or the lock changes.
EDITOR_SRCS := $(wildcard svc-web/editor/*.js)
WEB_ASSETS += $(WEB_DIR)/editor.js
$(WEB_DIR)/editor.js: $(EDITOR_SRCS) package-lock.json | node_modules/.bin/esbuild
	@mkdir -p $(@D)
	node_modules/.bin/esbuild svc-web/editor/editor.js --bundle --minify --format=iife --target=es2020 \
		--log-level=warning --outfile=$@
# Its gzip copy (a third of the size): h2o's file handler sends it to a browser that accepts
# gzip (H2O_FILE_FLAG_SEND_COMPRESSED in webd-http.c). -n: no name or time inside, so the
# same bundle gives the same bytes.
WEB_ASSETS += $(WEB_DIR)/editor.js.gz
$(WEB_DIR)/editor.js.gz: $(WEB_DIR)/editor.js
	gzip -9 -n -c $< >$@
node_modules/htmx.org/dist/htmx.min.js node_modules/htmx-ext-sse/dist/sse.min.js node_modules/.bin/esbuild:
	@echo "missing $@: run 'make deps' (npm ci)" >&2; exit 1

BINS += $(BUILD)/left4me-webd
all: $(WEB_ASSETS)
INSTALL_TARGETS += install-web



$(WEBD_OBJS) $(BUILD)/obj/tests/svc-web/%.o: ALL_CFLAGS += -DLEFT4ME_WEBDIR='"$(LEFT4ME_WEBDIR)"' \
	$(call pc_cflags,libh2o-evloop)

$(BUILD)/left4me-webd: $(WEBD_OBJS) $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(WEBD_LIBS)

# ---- tests -------------------------------------------------------------------------------
UNIT_TESTS += $(BUILD)/test-webd
BLACKBOX += tests/svc-web/blackbox.sh

TEST_WEBD_SRCS := tests/svc-web/test-json.c tests/svc-web/test-sse.c tests/svc-web/test-routes.c \
                  tests/svc-web/test-sse-stream.c tests/svc-web/test-client.c tests/svc-web/test-work.c \
                  tests/svc-web/test-uploads.c \
                  tests/proto/testd-run.c
# test-client drives webd-client.c against the protocol test daemon (tests/proto/testd-run.c).
$(BUILD)/test-webd: $(TEST_WEBD_SRCS:%.c=$(BUILD)/obj/%.o) $(WEBD_LIB_OBJS) $(LIBLEFT4ME) | $(BUILD)/left4me-testd
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(WEBD_LIBS) $(call pc_libs,criterion)

# The web UI's pure modules (no sockets, no loop): HTML writer, form/cookie parsing, auth,
# web.db, tested on their own.
WEBD_CORE_SRCS := svc-web/webd-html.c svc-web/webd-form.c svc-web/webd-auth.c \
                  svc-web/webd-db.c svc-web/webd-fleet.c svc-web/webd-overlays.c svc-web/webd-tokens.c svc-web/webd-spec.c
WEBD_CORE_LIBS = $(call pc_libs,sqlite3 libsodium yaml-0.1 msgpack)
UNIT_TESTS += $(BUILD)/test-webd-core
TEST_WEBD_CORE_SRCS := tests/svc-web/test-html.c tests/svc-web/test-form.c tests/svc-web/test-auth.c \
                       tests/svc-web/test-db.c tests/svc-web/test-fleet.c tests/svc-web/test-tokens.c
WEBD_CORE_SRCS += svc-web/webd-multipart.c
TEST_WEBD_CORE_SRCS += tests/svc-web/test-multipart.c
$(BUILD)/test-webd-core: $(TEST_WEBD_CORE_SRCS:%.c=$(BUILD)/obj/%.o) $(WEBD_CORE_SRCS:%.c=$(BUILD)/obj/%.o) \
		$(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(WEBD_CORE_LIBS) $(call pc_libs,criterion)

# The streamed zip writer on its own: trees with hostile entries, read back by python3's
# zipfile (an independent reader).
UNIT_TESTS += $(BUILD)/test-webd-zip
$(BUILD)/test-webd-zip: $(BUILD)/obj/tests/svc-web/test-zip.o $(BUILD)/obj/svc-web/webd-zip.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libarchive criterion)

# libFuzzer: the form/query/cookie parsers, the next validator and the HTML writer, built
# with clang like tests/proto's fuzz-rpc; `make fuzz-form FUZZ_TIME=600` runs it longer.
FUZZ_FORM_SRCS := proto/utf8.c svc-web/webd-form.c svc-web/webd-html.c tests/svc-web/fuzz-form.c
$(BUILD)-fuzz/fuzz-form: $(FUZZ_FORM_SRCS) svc-web/webd-form.h svc-web/webd-html.h proto/utf8.h base/util.h
	@mkdir -p $(@D)
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_FORM_SRCS)

.PHONY: fuzz-form test-fuzz-smoke-form
fuzz-form: $(BUILD)-fuzz/fuzz-form
	@mkdir -p $(BUILD)-fuzz/corpus-form
	$(BUILD)-fuzz/fuzz-form -max_total_time=$(FUZZ_TIME) -max_len=4096 $(BUILD)-fuzz/corpus-form \
		tests/svc-web/corpus-form

# Part of `make test-fuzz-smoke` (tests/proto/proto.mk defines the rest).
test-fuzz-smoke: test-fuzz-smoke-form
test-fuzz-smoke-form: $(BUILD)-fuzz/fuzz-form
	@mkdir -p $(BUILD)-fuzz/corpus-form
	@if $(BUILD)-fuzz/fuzz-form -max_total_time=20 -max_len=4096 -print_final_stats=1 \
		$(BUILD)-fuzz/corpus-form tests/svc-web/corpus-form >$(BUILD)-fuzz/smoke-form.log 2>&1; then \
		grep -E "^stat::(number_of_executed_units|peak_rss_mb)" $(BUILD)-fuzz/smoke-form.log; \
		echo "fuzz smoke (form): PASS"; \
	else tail -n 40 $(BUILD)-fuzz/smoke-form.log; echo "fuzz smoke (form): FAIL"; exit 1; fi

# libFuzzer: the multipart/form-data parser; an input is a Content-Type line and the body.
# `make fuzz-multipart FUZZ_TIME=600` runs it longer.
FUZZ_MULTIPART_SRCS := proto/utf8.c svc-web/webd-multipart.c tests/svc-web/fuzz-multipart.c
$(BUILD)-fuzz/fuzz-multipart: $(FUZZ_MULTIPART_SRCS) svc-web/webd-multipart.h proto/utf8.h base/util.h
	@mkdir -p $(@D)
	clang -std=gnu17 -g -O1 -D_GNU_SOURCE -I. -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
		-o $@ $(FUZZ_MULTIPART_SRCS)

.PHONY: fuzz-multipart test-fuzz-smoke-multipart
fuzz-multipart: $(BUILD)-fuzz/fuzz-multipart
	@mkdir -p $(BUILD)-fuzz/corpus-multipart
	$(BUILD)-fuzz/fuzz-multipart -max_total_time=$(FUZZ_TIME) -max_len=16384 $(BUILD)-fuzz/corpus-multipart \
		tests/svc-web/corpus-multipart

test-fuzz-smoke: test-fuzz-smoke-multipart
test-fuzz-smoke-multipart: $(BUILD)-fuzz/fuzz-multipart
	@mkdir -p $(BUILD)-fuzz/corpus-multipart
	@if $(BUILD)-fuzz/fuzz-multipart -max_total_time=20 -max_len=16384 -print_final_stats=1 \
		$(BUILD)-fuzz/corpus-multipart tests/svc-web/corpus-multipart >$(BUILD)-fuzz/smoke-multipart.log 2>&1; then \
		grep -E "^stat::(number_of_executed_units|peak_rss_mb)" $(BUILD)-fuzz/smoke-multipart.log; \
		echo "fuzz smoke (multipart): PASS"; \
	else tail -n 40 $(BUILD)-fuzz/smoke-multipart.log; echo "fuzz smoke (multipart): FAIL"; exit 1; fi

# ---- install ----------------------------------------------------------------------------
.PHONY: install-web
install-web: $(WEB_ASSETS)
	install -d -m 0755 $(DESTDIR)$(LEFT4ME_WEBDIR)
	@for f in $(WEB_ASSETS); do \
		install -m 0644 $$f $(DESTDIR)$(LEFT4ME_WEBDIR)/$$(basename $$f) && \
		echo "  WEB     $(LEFT4ME_WEBDIR)/$$(basename $$f)" || exit 1; \
	done

# Real-systemd scenarios (tests/e2e/run.sh boots the container once for all of them).
E2E += tests/e2e/web-10-service.sh tests/e2e/web-20-servers.sh tests/e2e/web-30-overlays.sh tests/e2e/web-40-files.sh \
       tests/e2e/web-50-api.sh
