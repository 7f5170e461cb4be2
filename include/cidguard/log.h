/*
 * Logging through the host: the library never prints.  The daemon or CLI
 * installs one callback; until then messages are dropped.  The level is
 * checked before the message is formatted, so disabled levels cost a compare.
 */
#ifndef CIDGUARD_LOG_H
#define CIDGUARD_LOG_H

#include "export.h"

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum cg_log_level { CG_LOG_ERROR = 0, CG_LOG_WARN = 1, CG_LOG_INFO = 2, CG_LOG_DEBUG = 3 };

typedef void (*cg_log_cb)(enum cg_log_level level, const char *msg, void *arg);

/* Installs the callback (NULL drops everything) and the most verbose level
 * passed to it.  Call before any other thread uses the library. */
CG_EXTERN void cg_log_set(cg_log_cb cb, enum cg_log_level max_level, void *arg);
/* Whether a message at `level` would reach the callback. */
CG_EXTERN bool cg_log_enabled(enum cg_log_level level);
/* Passes `msg` to the callback when `level` is enabled.  The companion
 * libraries (libcidguard-policy, -log, -atis) log through it, so that one
 * cg_log_set() serves them all. */
CG_EXTERN void cg_log_message(enum cg_log_level level, const char *msg);

#ifdef __cplusplus
}
#endif
#endif
