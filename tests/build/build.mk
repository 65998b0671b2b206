# tests/build/: checks of the build itself (what a plain `make` does from a clean tree).
BLACKBOX += tests/build/plain-make.sh

# The programs `all` builds, one per line: for tests/build/plain-make.sh.
.PHONY: print-programs
print-programs:
	@printf '%s\n' $(BINS) $(FIXTURES)
