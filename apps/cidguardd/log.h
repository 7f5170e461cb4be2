/*
 * The daemon's messages, each with the syslog priority its writer states
 * (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG from <syslog.h>).
 * Under systemd, where stderr is the journal's stream, every line starts
 * with an sd-daemon "<N>" prefix so that the journal files it at that
 * priority; elsewhere (a terminal, a file) the text is written as it is.
 * Each message is one write, so lines from several threads never mix.
 *
 * This header includes nothing from the daemon: every module may use it.
 */
#ifndef CIDGUARDD_LOG_H
#define CIDGUARDD_LOG_H

#include <syslog.h>

/* Finds out once, before any thread starts, whether stdout and stderr are
 * the journal's stream, and passes the library's messages (cg_log_set) to
 * cgd_log at their syslog priority. */
void cgd_log_init(void);
/* Writes the message and a newline to stderr.  A message of several lines
 * gets the prefix on each of them under the journal. */
void cgd_log(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same to stdout: the start-up banner. */
void cgd_log_out(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
