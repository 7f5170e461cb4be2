/*
 * The daemon's messages (log.h): formatted once, prefixed per line under
 * the journal, written with one write(2).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cidguard/log.h>

#include "log.h"

/* Whether fd 1 and fd 2 are the journal's stream; set before any thread
 * starts and only read after. */
static int on_journal[3];

/* systemd names the stream it connects to a service's stdout and stderr in
 * JOURNAL_STREAM (device:inode); a descriptor that is another file (the
 * service redirected it, or a child inherited the variable) gets no prefix. */
static int is_journal(int fd)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;
    return env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(fd, &st) == 0 &&
           (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

/* Writes the pieces with one writev, then whatever a short write left. */
static void write_all(int fd, struct iovec *iov, int cnt)
{
    while (cnt > 0) {
        ssize_t w = writev(fd, iov, cnt);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        while (cnt > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
}

/* Formats the message, adds its newline and, under the journal, the "<N>"
 * at every line's start; then writes it whole.  The journal's stream socket
 * and a pipe take a message of ordinary length (up to PIPE_BUF for a pipe)
 * in one piece, and a file opened for appending any write, so a message
 * from one thread never splits another's. */
__attribute__((format(printf, 3, 0))) static void emit(int fd, int prio, const char *fmt,
                                                       va_list ap)
{
    char small[1024], *text = small, *lined = NULL;
    char prefix[3] = {'<', (char)('0' + (prio & 7)), '>'};
    struct iovec iov[3];
    size_t n, i, lines = 0;
    va_list copy;
    int len;
    va_copy(copy, ap);
    len = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (len < 0)
        return;
    if ((size_t)len >= sizeof small) {
        text = malloc((size_t)len + 1);
        if (text) {
            vsnprintf(text, (size_t)len + 1, fmt, ap);
        } else {
            text = small; /* written cut rather than lost */
            len = sizeof small - 1;
        }
    }
    n = (size_t)len;
    /* Under the journal a message of several lines (the banner) gets the
     * prefix after each of its newlines too. */
    for (i = 0; on_journal[fd] && i < n; i++)
        lines += text[i] == '\n';
    if (lines && (lined = malloc(n + 3 * lines))) {
        char *o = lined;
        for (i = 0; i < n; i++) {
            *o++ = text[i];
            if (text[i] == '\n') {
                memcpy(o, prefix, 3);
                o += 3;
            }
        }
    }
    iov[0] = (struct iovec){prefix, on_journal[fd] ? 3 : 0};
    iov[1] = (struct iovec){lined ? lined : text, lined ? n + 3 * lines : n};
    iov[2] = (struct iovec){"\n", 1};
    write_all(fd, iov, 3);
    free(lined);
    if (text != small)
        free(text);
}

void cgd_log(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(STDERR_FILENO, prio, fmt, ap);
    va_end(ap);
}

void cgd_log_out(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    emit(STDOUT_FILENO, prio, fmt, ap);
    va_end(ap);
}

/* The library's levels at their syslog priorities. */
static void library_message(enum cg_log_level level, const char *msg, void *arg)
{
    static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    (void)arg;
    cgd_log((unsigned)level < sizeof prio / sizeof *prio ? prio[level] : LOG_DEBUG, "cidguardd: %s",
            msg);
}

void cgd_log_init(void)
{
    on_journal[STDOUT_FILENO] = is_journal(STDOUT_FILENO);
    on_journal[STDERR_FILENO] = is_journal(STDERR_FILENO);
    cg_log_set(library_message, CG_LOG_INFO, NULL);
}
