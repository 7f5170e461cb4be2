/* The daemon's configuration reader: the file checked line by line into
 * the directives' table.  The input is the file, kept
 * in an anonymous memory file named through /proc/self/fd (the reader
 * takes only a regular file).  A configuration that loads holds its
 * numbers within their ranges and its strings within their fields. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    static struct cgd_conf a;
    if (fd < 0) {
        if ((fd = memfd_create("cg-fuzz-config", 0)) < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (pwrite(fd, data, size, 0) != (ssize_t)size || ftruncate(fd, (off_t)size) != 0)
        abort();
    cgd_conf_defaults(&a);
    if (cgd_conf_load(&a, path) == 0 &&
        (a.workers < 0 || a.workers > 64 || a.max_pending < 1 ||
         strnlen(a.state_dir, sizeof a.state_dir) == sizeof a.state_dir ||
         strnlen(a.trust, sizeof a.trust) == sizeof a.trust))
        abort();
    return 0;
}
