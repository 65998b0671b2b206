# bench/zip.sh: the streamed zip of a folder (svc-web/webd-zip.c) in 64 KiB slices, 1 GiB
# file and 5000 small files, beside `zip -0 -r` of the same tree.
BENCHES += bench/zip.sh

$(BUILD)/bench-zip: $(BUILD)/obj/bench/zip.o $(BUILD)/obj/svc-web/webd-zip.o $(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,libarchive)
bench/zip.sh: $(BUILD)/bench-zip
