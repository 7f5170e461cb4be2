/* The logging entry points for code outside libcidguard.so itself. */
#include "core/internal.h"

bool cg_log_enabled(enum cg_log_level level)
{
    return cg__log_cb && level <= cg__log_max;
}

void cg_log_message(enum cg_log_level level, const char *msg)
{
    if (cg_log_enabled(level))
        cg__log_emit(level, "%s", msg);
}
