/* left4me-webd: everything is in webd.c (the daemon's hooks) and the daemon skeleton. */
#include <stdlib.h>

#include "svc-web/webd.h"

int main(int argc, char **argv) {
        return webd_main(argc, argv) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
