# base/: the bottom layer (util, log). Includes nothing from proto/, daemon/ or svc-*/.
LIBLEFT4ME_SRCS += base/util.c base/log.c
