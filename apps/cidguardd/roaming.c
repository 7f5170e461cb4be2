/*
 * The roaming answers' cache (roaming.h): a fixed table of slots, each
 * taken by one number (hashed), under one lock.  A lookup is a hash and a
 * compare: only calls from abroad presenting a UK mobile come here.
 */
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "cidguard/tn.h"
#include "roaming.h"

#define SLOTS 65536 /* a power of two; 1.7 MB */

struct slot {
    char tn[CG_TN_MAX + 1];
    int64_t expires;
    enum cgd_roaming_result result;
};

static struct slot slots[SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct slot *slot_of(const char *tn)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *tn; tn++)
        h = (h ^ (unsigned char)*tn) * 1099511628211ull;
    return &slots[h & (SLOTS - 1)];
}

int cgd_roaming_cached(const char *tn, int64_t now)
{
    struct slot *s = slot_of(tn);
    int r = -1;
    pthread_mutex_lock(&lock);
    if (s->expires > now && strcmp(s->tn, tn) == 0)
        r = (int)s->result;
    pthread_mutex_unlock(&lock);
    return r;
}

void cgd_roaming_store(const char *tn, enum cgd_roaming_result r, int64_t expires)
{
    struct slot *s = slot_of(tn);
    if (strlen(tn) > CG_TN_MAX)
        return;
    pthread_mutex_lock(&lock);
    strcpy(s->tn, tn);
    s->expires = expires;
    s->result = r;
    pthread_mutex_unlock(&lock);
}

enum cgd_roaming_result cgd_roaming_parse(long status, const char *body, size_t len)
{
    enum cgd_roaming_result r = CGD_ROAMING_ERROR;
    json_t *j, *v;
    if (status != 200 || !body || !(j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)))
        return CGD_ROAMING_ERROR;
    v = json_is_object(j) ? json_object_get(j, "roaming") : NULL;
    if (json_is_boolean(v)) /* anything but a boolean is no answer */
        r = json_is_true(v) ? CGD_ROAMING_YES : CGD_ROAMING_NO;
    json_decref(j);
    return r;
}
