# tests/browser/: the browser tier (Debian's chromium-headless-shell driven by playwright-core
# from npm, `node --test`); `make test` runs it after the black-box tier. Artefacts
# (screenshots, HTML of failed pages, webd logs) land in $(BUILD)/browser/.
.PHONY: test-browser
test-browser: all
	@BUILD=$(abspath $(BUILD)) tests/browser/run.sh
