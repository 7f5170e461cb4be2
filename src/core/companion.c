/*
 * The few internal helpers that the companion shared libraries
 * (libcidguard-policy, libcidguard-log, libcidguard-atis) need from the
 * core.  libcidguard.so exports its public API only, so each companion
 * links its own hidden copy of these instead (cg__strlcpy from
 * src/core/strlcpy.c, compiled into each).  Logging goes through the
 * core's public cg_log_message(), so one cg_log_set() serves every library.
 * Not part of the static archive, which has the originals (core/log.c).
 */
#include <stdio.h>

#include "core/internal.h"

/* Never called: the cg__log() macro only tests that it is set, and the
 * level test is left to the core (cg_log_enabled), whose settings can
 * change at any time. */
static void companion_log_cb(enum cg_log_level level, const char *msg, void *arg)
{
    (void)level;
    (void)msg;
    (void)arg;
}

enum cg_log_level cg__log_max = CG_LOG_DEBUG;
cg_log_cb cg__log_cb = companion_log_cb;

void cg__log_emit(enum cg_log_level lvl, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    if (!cg_log_enabled(lvl))
        return;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cg_log_message(lvl, buf);
}
