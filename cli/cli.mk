# l4d2ctl: the core (cli/l4d2ctl.c) plus each area's cli/cmd-<area>.c, added by that area's .mk.
CLI_SRCS += cli/l4d2ctl.c
BINS += $(BUILD)/l4d2ctl

# Second expansion: the areas' .mk files, included after this one, still add to CLI_SRCS.
.SECONDEXPANSION:
$(BUILD)/l4d2ctl: $$(patsubst %.c,$$(BUILD)/obj/%.o,$$(sort $$(CLI_SRCS))) $$(LIBLEFT4ME)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call pc_libs,msgpack yaml-0.1 libsystemd)
