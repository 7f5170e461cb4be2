/* Start-up files: the state directory and the zero-configuration set-up. */
#ifndef CIDGUARDD_ZEROCONF_H
#define CIDGUARDD_ZEROCONF_H

#include "config.h"

/* Fills in the default state directory when none is set (/var/lib/cidguard
 * for root, else ~/.cidguard) and creates it.  Prints why and returns -1. */
int cgd_state_dir(struct cgd_conf *c);
/* The test PKI, the certificate repository and a customers file in the
 * state directory, and the configuration that uses them. */
int cgd_zeroconf(struct cgd_conf *c);
/* After cgd_context_start: its own certificate into the cache. */
void cgd_zeroconf_preload(const struct cgd_conf *c);

#endif
