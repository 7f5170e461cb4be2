/* cidguard: STIR/SHAKEN signing, verification and policy.  Umbrella header. */
#ifndef CIDGUARD_H
#define CIDGUARD_H

#include "export.h"

#include "error.h"
#include "log.h"
#include "tn.h"
#include "identity.h"
#include "passport.h"
#include "key.h"
#include "cert.h"
#include "verify.h"
#include "sign.h"
#include "atis.h"
#include "sip.h"
#include "siptx.h"
#include "policy.h"
#include "customers.h"
#include "declog.h"
#include "redis.h"
#include "intent.h"
#include "analyze.h"
#include "version.h"

/* The headers' version; cg_version() gives the running library's. */
#define CIDGUARD_VERSION CG_VERSION_STRING

#endif
