/* The daemon's configuration reader: the file checked line by line into
 * the directives' table.  The input is the file, kept in an anonymous
 * memory file named through /proc/self/fd (the reader takes only a regular
 * file).  A configuration that loads holds its numbers within their ranges,
 * its strings within their fields, and its lists without blank or empty
 * items. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* The daemon's log, for the reader's messages: each is formatted (a fault
 * in one shows under the sanitizers) and dropped; writing them was most of
 * a run. */
__attribute__((format(printf, 1, 0))) static void format(const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
}

void cgd_log(int prio, const char *fmt, ...)
{
    va_list ap;
    (void)prio;
    va_start(ap, fmt);
    format(fmt, ap);
    va_end(ap);
}

void cgd_log_out(int prio, const char *fmt, ...)
{
    va_list ap;
    (void)prio;
    va_start(ap, fmt);
    format(fmt, ap);
    va_end(ap);
}

/* A list as the reader leaves it: items joined by ';', none empty, none
 * starting or ending with a blank. */
static bool list_clean(const char *s)
{
    size_t n = strlen(s);
    return n == 0 || (s[0] != ';' && s[n - 1] != ';' && !strstr(s, ";;") && !strstr(s, "; ") &&
                      !strstr(s, " ;") && !strstr(s, ";\t") && !strstr(s, "\t;") && s[0] != ' ' &&
                      s[0] != '\t' && s[n - 1] != ' ' && s[n - 1] != '\t');
}

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
         strnlen(a.trust, sizeof a.trust) == sizeof a.trust || !list_clean(a.trust) ||
         !list_clean(a.fetch_allow) || !list_clean(a.tgrp_from) || !list_clean(a.actions)))
        abort();
    return 0;
}
