/*
 * cidguardd configuration: an INI file, every directive in one table with
 * its default and its meaning (redis.conf style); docs/cidguardd.conf is
 * the annotated example generated from the same words.  The start-up banner
 * that says where the configuration listens is here too.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

enum kind { STR, INT, BOOL };

/* Why one value (or one item of a list) is refused, or NULL. */
typedef const char *check_fn(const char *value);

struct directive {
    const char *section, *name;
    enum kind kind;
    size_t off, size;
    int min, max; /* an integer's bounds; a list's most items (0: no more than fit) */
    const char *def, *doc;
    bool list;       /* ';'-separated: blanks around items and empty items dropped */
    check_fn *check; /* each item (or the value), after the kind's own check */
};

#define FIELD(f) .off = offsetof(struct cgd_conf, f), .size = sizeof(((struct cgd_conf *)0)->f)
#define S(sec, nm, f, dflt, text)                                                                  \
    {                                                                                              \
        .section = sec, .name = nm, .kind = STR, FIELD(f), .def = dflt, .doc = text                \
    }
/* a string checked by fn */
#define SC(sec, nm, f, dflt, fn, text)                                                             \
    {                                                                                              \
        .section = sec, .name = nm, .kind = STR, FIELD(f), .def = dflt, .doc = text, .check = fn   \
    }
/* a ';'-separated list, each item checked by fn (NULL: any) */
#define L(sec, nm, f, dflt, fn, text)                                                              \
    {                                                                                              \
        .section = sec, .name = nm, .kind = STR, FIELD(f), .def = dflt, .doc = text, .list = true, \
        .check = fn                                                                                \
    }
/* the same with at most `most` items */
#define LN(sec, nm, f, dflt, fn, most, text)                                                       \
    {                                                                                              \
        .section = sec, .name = nm, .kind = STR, FIELD(f), .def = dflt, .doc = text, .list = true, \
        .check = fn, .max = most                                                                   \
    }
#define I(sec, nm, f, mn, mx, dflt, text)                                                          \
    {                                                                                              \
        .section = sec, .name = nm, .kind = INT, FIELD(f), .min = mn, .max = mx, .def = dflt,      \
        .doc = text                                                                                \
    }
#define IC(sec, nm, f, mn, mx, dflt, fn, text)                                                     \
    {                                                                                              \
        .section = sec, .name = nm, .kind = INT, FIELD(f), .min = mn, .max = mx, .def = dflt,      \
        .doc = text, .check = fn                                                                   \
    }
#define B(sec, nm, f, dflt, text)                                                                  \
    {                                                                                              \
        .section = sec, .name = nm, .kind = BOOL, FIELD(f), .min = 0, .max = 1, .def = dflt,       \
        .doc = text                                                                                \
    }

static const char *is_cidr(const char *v)
{
    return cg_cidr_valid(v) ? NULL : "not an address or CIDR";
}

/* an address or CIDR, or cert:NAME for a peer known by its TLS certificate */
static const char *is_peer(const char *v)
{
    if (strncmp(v, "cert:", 5) == 0)
        return !v[5]                           ? "a cert: entry without a name"
               : strlen(v + 5) > 255           ? "a certificate name longer than 255 bytes"
               : strpbrk(v + 5, " \t") != NULL ? "a certificate name with a blank in it"
                                               : NULL;
    return cg_cidr_valid(v) ? NULL : "not an address, CIDR or cert:NAME";
}

/* an attestation level, or none for no minimum */
static const char *is_attest(const char *v)
{
    return (v[0] && strchr("ABC", v[0]) && !v[1]) || strcmp(v, "none") == 0 ? NULL
                                                                            : "not A, B, C or none";
}

static const char *is_country_code(const char *v)
{
    size_t n = strlen(v);
    return n >= 1 && n <= 3 && v[0] != '0' && strspn(v, "0123456789") == n
               ? NULL
               : "not a country code (1-3 digits, no '+' or 00)";
}

static const char *is_sip_refusal(const char *v)
{
    return strcmp(v, "603") == 0 || strcmp(v, "608") == 0 ? NULL : "neither 603 nor 608";
}

bool cgd_action_item(const char *item, enum cg_policy_reason *reason, enum cg_action *action)
{
    const char *eq = strchr(item, '=');
    int a, r;
    if (!eq)
        return false;
    for (a = 0; a < CG_ACTION__COUNT && strcmp(eq + 1, cg_action_str((enum cg_action)a)); a++)
        ;
    for (r = 0;
         r < CG_PR__COUNT &&
         (strlen(cg_policy_reason_code((enum cg_policy_reason)r)) != (size_t)(eq - item) ||
          strncmp(item, cg_policy_reason_code((enum cg_policy_reason)r), (size_t)(eq - item)));
         r++)
        ;
    if (a == CG_ACTION__COUNT || r == CG_PR__COUNT)
        return false;
    *reason = (enum cg_policy_reason)r;
    *action = (enum cg_action)a;
    return true;
}

/* An origin campaign detection knows (exempt.h): an SPC's accounts, one
 * account, or a trunk by the name the call path gives it (call.c) */
static const char *is_origin(const char *v)
{
    size_t spc = strcspn(v, "/"), i;
    if (strncmp(v, "ingress:", 8) == 0)
        return !v[8]                   ? "an ingress: entry without a name"
               : strlen(v + 8) > 63    ? "an ingress name longer than 63 bytes"
               : strpbrk(v + 8, " \t") ? "an ingress name with a blank in it"
                                       : NULL;
    for (i = 0; i < spc && isalnum((unsigned char)v[i]); i++)
        ;
    if (spc == 0 || spc > CG_SPC_MAX || i < spc)
        return "not SPC, SPC/ORIGID or ingress:NAME (an SPC is 1 to 32 letters and digits)";
    if (!v[spc])
        return NULL;
    return !v[spc + 1]                           ? "an SPC/ without an origid"
           : strlen(v + spc + 1) > CG_ORIGID_MAX ? "an origid longer than 128 bytes"
           : strpbrk(v + spc + 1, " \t") != NULL ? "an origid with a blank in it"
                                                 : NULL;
}

static const char *is_action(const char *v)
{
    enum cg_policy_reason r;
    enum cg_action a;
    return cgd_action_item(v, &r, &a) ? NULL
                                      : "not reason=allow|label|withhold|block with a known reason";
}

static const struct directive table[] = {
    S("server", "state_dir", state_dir, "",
      "where the daemon keeps its test PKI and certificate repository; default "
      "/var/lib/cidguard as root, else ~/.cidguard"),
    S("server", "http_listen", http_listen, "127.0.0.1:8085",
      "HTTP API and certificate repository"),
    S("server", "sip_verify_listen", sip_verify_listen, "127.0.0.1:5060",
      "SIP verification listener, UDP and TCP"),
    S("server", "sip_sign_listen", sip_sign_listen, "127.0.0.1:5070",
      "SIP signing listener, UDP and TCP"),
    S("server", "sip_tls_verify_listen", sip_tls_verify_listen, "",
      "SIP verification over TLS (e.g. 0.0.0.0:5061); needs [tls] cert; empty = none"),
    S("server", "sip_tls_sign_listen", sip_tls_sign_listen, "",
      "SIP signing over TLS; needs [tls] cert; empty = none"),
    S("server", "sign_http_listen", sign_http_listen, "",
      "the HTTP signing API (POST /stir/v1/signing), on its own listener; empty = no signing "
      "API (zero configuration: 127.0.0.1:8086); beyond loopback it needs customers with tokens"),
    I("server", "workers", workers, 0, 64, "0",
      "worker threads, one event loop each; 0 = one per core"),
    S("server", "decision_log", decision_log, "",
      "SQLite decision log, one record per verified call; empty = STATE_DIR/decisions.db, off = "
      "none"),
    I("server", "decision_log_days", decision_log_days, 0, 3650, "90",
      "days of decisions kept (pruned hourly by the writer); 0 = keep everything"),
    I("server", "decision_log_max_mb", decision_log_max_mb, 0, 1000000, "4096",
      "megabytes the decision log may take on disk; above it the oldest records are pruned "
      "first (cidguard_decision_log_pruned_total); 0 = no cap"),
    I("server", "max_pending", max_pending, 1, 1000000, "1000",
      "calls a worker may hold waiting for a certificate before it answers 503"),
    I("server", "max_connections", max_connections, 1, 1000000, "4096",
      "TCP connections each worker accepts on each listener (SIP verification, SIP signing, "
      "HTTP); more are closed at once"),
    I("server", "max_connections_per_source", max_connections_per_source, 1, 1000000, "256",
      "TCP connections each worker accepts from one address on each listener"),
    I("server", "message_timeout_ms", message_timeout_ms, 100, 600000, "10000",
      "a SIP/TCP request must arrive whole within this time of its first byte, else the "
      "connection is closed (slow senders hold descriptors)"),
    I("server", "udp_coalesce_us", udp_coalesce_us, 0, 1000, "200",
      "longest a busy worker waits for more SIP/UDP datagrams before it reads again, so that "
      "several share its wake-up and system calls (more calls a core at high load, at most this "
      "much more time an answer); only when the worker was busy over half of the last 20 ms; "
      "0 = never"),
    B("server", "share_ports", share_ports, "no",
      "start even when another process already listens on our ports with SO_REUSEPORT (the "
      "kernel then splits the traffic between them); by default that is refused"),
    S("tls", "cert", tls_cert, "",
      "the daemon's TLS certificate chain (PEM) for SIP over TLS and HTTPS"),
    S("tls", "key", tls_key, "", "its private key (PEM); empty = in the cert file"),
    S("tls", "client_ca", tls_client_ca, "",
      "CAs (PEM) whose client certificates are verified; a verified certificate's names (CN, DNS "
      "SANs) identify a customer of the same name, and an SBC listed as cert:NAME in tgrp_from or "
      "customer_from; empty = no client certificates asked"),
    B("tls", "require_client_cert", tls_require_client_cert, "no",
      "refuse TLS clients without a certificate from client_ca"),
    B("tls", "https", https, "no", "the HTTP API and the signing API speak HTTPS"),
    L("verify", "trust", trust, "", NULL,
      "trust anchors: PEM files separated by ';' (the STI-CA list)"),
    L("verify", "crl", crl, "", NULL,
      "CRL files separated by ';' (PEM or DER; indirect CRLs supported)"),
    I("verify", "freshness", freshness, 1, 86400, "60",
      "allowed age of iat, seconds, both directions"),
    I("verify", "crl_refresh", crl_refresh, 0, 86400, "3600",
      "seconds between CRL reloads (files re-read, crl_url downloaded); 0 = only on SIGHUP"),
    S("verify", "crl_url", crl_url, "",
      "a CRL to download on every refresh, e.g. the STI-PA CRL; kept in state_dir"),
    B("verify", "crl_required", crl_required, "yes",
      "fail closed: an issuer without a current CRL fails (only when crl is set)"),
    SC("verify", "country_code", country_code, "", is_country_code,
       "country code for national-format numbers in From/To (44: 020... -> 4420...)"),
    B("verify", "rfc9410_reason", rfc9410_reason, "no",
      "a failed call that continues gets Reason: STIR;cause=..;ppi=\"..<signature>\" (RFC 9410) "
      "instead of Reason: SIP;cause=.. (RFC 8224)"),
    I("verify", "fast_keys_mb", fast_keys_mb, 0, 65536, "64",
      "megabytes for busy keys' verification tables (about 160 KB per key, each verifying about "
      "twice as fast as without; the least busy key's table goes first); 0 = no tables"),
    I("verify", "fast_keys_after", fast_keys_after, 1, 1000000000, "1000",
      "calls a signing key verifies before its table is built (in the background)"),
    L("fetch", "allow", fetch_allow, "", is_cidr,
      "CIDRs exempt from the deny list (loopback, RFC 1918, link-local, metadata), ';'-separated"),
    B("fetch", "allow_http", allow_http, "no", "accept http:// x5u URLs (labs only)"),
    I("fetch", "timeout_ms", timeout_ms, 100, 30000, "2000", "total time for one x5u fetch"),
    I("fetch", "max_bytes", max_bytes, 1024, 65536, "16384", "largest x5u response accepted"),
    S("fetch", "ca_file", ca_file, "", "CA bundle for HTTPS fetches; empty = the system's"),
    I("fetch", "negative_ttl", negative_ttl, 1, 86400, "60",
      "seconds a failed x5u is answered from the cache before it is fetched again"),
    I("sign", "customer_calls_per_minute", sign_customer_calls, 0, 10000000, "0",
      "calls per minute per signing customer before its further calls are labelled (signed C); "
      "0 = off"),
    I("sign", "customer_numbers_per_minute", sign_customer_numbers, 0, 1000, "20",
      "distinct presented numbers per minute per signing customer before its further calls are "
      "labelled (rotation); 0 = off"),
    I("sign", "customer_protected_share", sign_customer_share, 0, 100, "30",
      "percent of a customer's calls in the last minute (from its 10th) presenting protected or "
      "bank-like numbers (03, 080, 084, 087) before its further calls are labelled; 0 = off"),
    IC("sign", "refuse_response", sign_refuse_response, 603, 608, "603", is_sip_refusal,
       "the SIP answer to a call the origination policy refuses to sign: 603 Decline or 608 "
       "Rejected"),
    S("sign", "key", sign_key, "", "the SP's private key (PEM)"),
    S("sign", "x5u", sign_x5u, "", "the URL where the SP certificate bundle is published"),
    S("sign", "customers", customers, "",
      "CSV customer,addresses,numbers[,tokens[,signer]]: who may sign (known by source address, "
      "or by a bearer token whose SHA-256 is in tokens); A for a customer's own numbers, B for "
      "its other numbers; anyone else is refused (403); signer names the customer's signer in "
      "the signers file (empty = key and x5u)"),
    S("sign", "signers", sign_signers, "",
      "CSV signer,key,certificate,x5u: one signer per customer or reseller, each with its own "
      "SP certificate (leaf first) published at x5u; a row that does not load (a key that is "
      "not the certificate's, a missing file) refuses the start; empty = only key and x5u"),
    S("sign", "origid", sign_origid, "stable",
      "stable: one origid per customer and ingress, keyed with STATE_DIR/origid.key (made at "
      "first start), which maps it back to the account; per_call: a random origid per call "
      "(unlinkable: keep the signing log to trace one)"),
    B("sign", "http_by_address", sign_http_by_address, "no",
      "the HTTP signing API also knows customers by source address (without a token or client "
      "certificate); off by default, since behind a reverse proxy every client would have the "
      "proxy's address; the SIP signing listener always does"),
    L("sign", "customer_from", sign_customer_from, "", is_peer,
      "addresses or CIDRs (';'-separated), or cert:NAME, of the SBCs trusted to name the signing "
      "customer (a SIP or HTTP header Cidguard-Customer: NAME, a customer of the customers "
      "file): that customer's attestation, policy, rates, signer and origid apply, and a name "
      "the file lacks is refused (403); the header from anyone else is ignored; empty = never "
      "trusted"),
    B("sign", "sign_unknown", sign_unknown, "no",
      "sign for callers who are not customers, at C, instead of refusing them"),
    I("sign", "rate_per_customer", sign_rate, 0, 1000000, "200",
      "signatures per second per customer (a one-second burst); more are refused (429 over "
      "HTTP, 503 over SIP); 0 = no limit"),
    S("sign", "signing_log", signing_log, "",
      "SQLite signing log, one record per signing request (customer, source, numbers, "
      "attestation, origid, signed or refused), for traceback (cidguard trace, GET "
      "/traceback/v1); empty = STATE_DIR/signings.db, off = none"),
    I("sign", "signing_log_days", signing_log_days, 0, 3650, "90",
      "days of signing records kept (pruned hourly by the writer); 0 = keep everything"),
    I("sign", "signing_log_max_mb", signing_log_max_mb, 0, 1000000, "4096",
      "megabytes the signing log may take on disk (about 300 bytes a call); above it the "
      "oldest records are pruned first; 0 = no cap"),
    L("sign", "traceback_tokens", traceback_tokens, "", NULL,
      "bearer tokens of the traceback endpoint (GET /traceback/v1 on http_listen), each written "
      "sha256:HEX (cidguard customers token), ';'-separated; empty = the endpoint is not served"),
    S("policy", "dno", dno, "",
      "Do-Not-Originate list (CSV number,note); calls presenting one are blocked"),
    S("policy", "protected", protected_numbers, "",
      "protected numbers (CSV number,brand,spcs,min_attest,intents,agents): presented only when "
      "their signer verifies them, their agent carries them, or their call intent is live"),
    S("policy", "ingress", ingress, "",
      "ingress table (CSV ingress,international (yes, no or roaming),addresses,note); tgrp on "
      "the R-URI from a "
      "trusted SBC, else source address"),
    L("policy", "tgrp_from", tgrp_from, "", is_peer,
      "addresses or CIDRs (';'-separated) of the SBCs that set the trunk group (RFC 4904 tgrp) "
      "on the Request-URI, or cert:NAME for an SBC known by its TLS client certificate; a tgrp "
      "from anywhere else is ignored; empty = never trusted"),
    L("policy", "ofcom", ofcom, "", NULL,
      "Ofcom number-block status files separated by ';' (S3/S5/S7/S8/S9): only allocated ranges"),
    S("policy", "nanpa", nanpa, "",
      "NANPA NPA report (CSV): +1 callers in an area code not in service are blocked"),
    L("policy", "cocodes", cocodes, "", NULL,
      "NPA-NXX status files in the CNA's format separated by ';': unassigned codes are blocked"),
    L("policy", "actions", actions, "", is_action,
      "per-reason actions overriding the defaults, e.g. rate_calls=block;stir_failed=allow "
      "(docs/verdicts.md lists the reasons and their defaults)"),
    B("policy", "uk_rules", uk_rules, "yes",
      "Ofcom CLI rules for +44 callers (length, 09, allocation)"),
    B("policy", "nanp_rules", nanp_rules, "yes", "NPA-NXX structure for +1 callers"),
    L("policy", "uk_mobile_spcs", uk_mobile_spcs, "", NULL,
      "SPCs of UK mobile networks (';'-separated, at most 16): a +447 caller from an "
      "international ingress verified by one of them is roaming, not withheld"),
    S("policy", "roaming_check_url", roaming_check_url, "",
      "a roaming-check service: for a +447 caller from an international ingress not otherwise "
      "shown roaming, GET URL?tn=447...; only 200 with {\"roaming\": true} confirms it, "
      "anything else (or no answer in time) withholds the caller ID; empty = no check"),
    I("policy", "roaming_check_timeout_ms", roaming_check_timeout_ms, 10, 5000, "300",
      "how long a call waits for the roaming check before it is withheld"),
    I("policy", "roaming_check_ttl", roaming_check_ttl, 1, 86400, "300",
      "seconds a roaming answer is remembered per number (an error: 5 seconds)"),
    B("policy", "mark_international", mark_international, "no",
      "answers for calls from an international ingress carry Cidguard-Origin: international, "
      "for the SBC to show the callee a marker"),
    SC("policy", "min_attest_uk", min_attest_uk, "B", is_attest,
       "least attestation a verified UK caller needs, else labelled; none = no minimum"),
    SC("policy", "min_attest_other", min_attest_other, "", is_attest,
       "the same for other numbers; empty = none"),
    IC("policy", "block_response", block_response, 603, 608, "608", is_sip_refusal,
       "the answer to a blocked call: 608 Rejected (RFC 8688) or 603 Decline"),
    I("policy", "rate_calls", rate_calls, 0, 10000000, "0",
      "calls per minute per ingress and per signing SPC before further calls are labelled; 0 = "
      "off"),
    I("policy", "rate_numbers", rate_numbers, 0, 1000, "0",
      "distinct calling numbers per minute per ingress and per SPC before labelling; 0 = off"),
    B("policy", "campaign_detection", campaign_detection, "yes",
      "keep each origin's behaviour (signing SPC and origid, else ingress) over a sliding window: "
      "once it behaves like a spoofing campaign, its calls get campaign_suspected"),
    I("policy", "campaign_window", campaign_window, 60, 3600, "600",
      "seconds of the sliding window of campaign_detection"),
    I("policy", "campaign_min_numbers", campaign_min_numbers, 2, 400, "16",
      "distinct presentation numbers an origin does not own (suspect ones twice) in the window "
      "before it can be a campaign by their number; also the distinct numbers an origin signs at A "
      "before its numbers count as subscribers' when another origin presents them"),
    I("policy", "campaign_hold", campaign_hold, 0, 604800, "86400",
      "seconds an account (a signing SPC and origid) stays suspected after it last behaved like "
      "a campaign (a tentative hold on subscribers' numbers ends sooner if its history shows them "
      "habitual); a trunk is suspected only while it does"),
    I("policy", "campaign_origins", campaign_origins, 256, 1048576, "4096",
      "origins kept (a power of two; the least recently seen is forgotten)"),
    LN("policy", "campaign_exempt", campaign_exempt, "", is_origin, 256,
       "origins whose calls never get campaign_suspected, though they are still observed: SPC "
       "(every account signed under it), SPC/ORIGID (one account) or ingress:NAME (a trunk: its "
       "ingress name, else its source address), ';'-separated, at most 256 and 8 KB; empty = none"),
    I("policy", "campaign_time_scale", campaign_time_scale, 1, 100000, "1",
      "the behaviour clock runs this many times faster than the wall clock: only for replaying "
      "recorded traffic sped up (cidguard-replay --speed); 1 in production"),
    S("redis", "url", redis_url, "",
      "redis://[[user]:password@]host[:port][/db]: replay cache, rate windows and lists shared by "
      "every daemon using it (user: a Redis 6+ ACL user; percent-encode '@', ':' and '/' in "
      "the password); empty = all state in this process. With sentinels or cluster it still "
      "gives the user, password and database, and without sentinels a node (a cluster seed) "
      "through which the lists are read"),
    L("redis", "sentinels", redis_sentinels, "", NULL,
      "host:port;host:port;...: Redis Sentinels to ask for the master (master_name), asked "
      "again whenever the connection drops or a write is refused (READONLY) after a failover; "
      "empty = url's server is the master"),
    S("redis", "master_name", redis_master_name, "",
      "the master's name in the sentinels' configuration (sentinel monitor NAME ...)"),
    S("redis", "sentinel_user", redis_sentinel_user, "",
      "ACL user for the sentinels' own AUTH; empty = the password alone, or none"),
    S("redis", "sentinel_password", redis_sentinel_password, "",
      "password of the sentinels (requirepass in sentinel.conf); empty = none"),
    L("redis", "cluster", redis_cluster, "", NULL,
      "host:port;host:port;...: seed nodes of a Redis Cluster; the daemon reads the slot map "
      "(CLUSTER SLOTS), sends each call's checks to the nodes of their slots and follows "
      "MOVED and ASK; database 0 only; empty = no cluster"),
    S("redis", "prefix", redis_prefix, "cidguard:", "prefix of every key cidguard writes"),
    I("redis", "timeout_ms", redis_timeout_ms, 5, 10000, "100",
      "a call waits this long for Redis before it is decided on local state (and the "
      "connection is made again)"),
    B("redis", "lists", redis_lists, "yes",
      "policy lists stored in Redis (cidguard policy push) replace the [policy] files and are "
      "reloaded within a second of a change"),
    B("redis", "campaign", redis_campaign, "yes",
      "with campaign_detection: every call's observation is published to a Redis stream and "
      "the other daemons' are read from it, so that each daemon judges an origin on all the "
      "daemons' calls however they are spread; read at start"),
    S("intent", "keys", intent_keys, "",
      "CSV name,key_sha256,numbers: the keys of the call-intent API (POST/DELETE/GET "
      "/intent/v1 on http_listen), each the SHA-256 of a bearer key (cidguard intent key) and "
      "the numbers (';'-separated, '+' optional, a trailing '*' makes a prefix) it may register; "
      "empty = no intent API"),
    I("intent", "max_valid_for", intent_max_valid_for, 1, 86400, "300",
      "longest validity of an intent, seconds"),
    I("intent", "max_uses", intent_max_uses, 1, 1000, "3",
      "calls one intent allows (each matching call uses one); read at start"),
    I("intent", "max_entries", intent_max_entries, 1, 100000000, "1000000",
      "intents the daemon's memory holds (about 64 bytes each at most); read at start"),
    I("intent", "max_batch", intent_max_batch, 1, 100000, "1000",
      "intents in one request (413 above); a body is also at most 64 KB, about 1,000 intents"),
    I("intent", "rate", intent_rate, 0, 10000000, "1000",
      "intents per second per key (a request costs its intents, a cancellation or listing one); "
      "over it, 429; 0 = no limit"),
    I("intent", "burst", intent_burst, 1, 10000000, "2000",
      "intents a key may send at once before rate applies (a larger batch costs all of "
      "them)"),
};
#define TABLE_N (sizeof table / sizeof table[0])

void cgd_conf_defaults(struct cgd_conf *c)
{
    size_t i;
    memset(c, 0, sizeof *c);
    for (i = 0; i < TABLE_N; i++) {
        const struct directive *d = &table[i];
        char *f = (char *)c + d->off;
        if (d->kind == STR)
            snprintf(f, d->size, "%s", d->def);
        else if (d->kind == INT)
            *(int *)f = atoi(d->def);
        else
            *(bool *)f = strcmp(d->def, "yes") == 0;
    }
}

static bool blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* A list's value, in place in its field f, with the blanks around its
 * items and its empty items taken out, each item checked; false, having
 * said why, when one is refused. */
static bool set_list(const struct directive *d, char *f, const char *file, int line)
{
    char *in = f, *out = f;
    int items = 0;
    while (*in) {
        char *e = strchr(in, ';'), *b = in;
        size_t n = e ? (size_t)(e - in) : strlen(in);
        char *next = in + n + (e != NULL); /* read before the item is moved */
        const char *why;
        for (; n && blank(*b); b++, n--)
            ;
        while (n && blank(b[n - 1]))
            n--;
        if (n) {
            if (d->max && ++items > d->max) {
                cgd_log(LOG_ERR, "%s:%d: [%s] %s: more than %d items", file, line, d->section,
                        d->name, d->max);
                return false;
            }
            if (out != f)
                *out++ = ';';
            memmove(out, b, n);
            out[n] = '\0';
            if (d->check && (why = d->check(out))) {
                cgd_log(LOG_ERR, "%s:%d: [%s] %s: \"%s\" is %s", file, line, d->section, d->name,
                        out, why);
                return false;
            }
            out += n;
        }
        in = next;
    }
    *out = '\0';
    return true;
}

/* The directive [section] name, or NULL, having said why it is unknown. */
static const struct directive *find(const char *file, int line, const char *section,
                                    const char *name)
{
    size_t i;
    for (i = 0; i < TABLE_N; i++)
        if (strcmp(table[i].section, section) == 0 && strcmp(table[i].name, name) == 0)
            return &table[i];
    if (strcmp(section, "policy") == 0 && strcmp(name, "roaming_447") == 0)
        cgd_log(LOG_ERR,
                "%s:%d: [policy] roaming_447 is gone: a +447 caller from an international ingress "
                "is withheld unless shown roaming (uk_mobile_spcs, roaming_check_url, or an "
                "ingress row whose international column says roaming); delete the line",
                file, line);
    else
        cgd_log(LOG_ERR, "%s:%d: unknown directive [%s] %s", file, line, section, name);
    return NULL;
}

/* Directive d's value into *c; false, having said why with the file and
 * line, when it is refused.  An empty value takes the default. */
static bool set_value(struct cgd_conf *c, const struct directive *d, const char *file, int line,
                      const char *value)
{
    char *f = (char *)c + d->off, *end;
    const char *why;
    long v;
    if (!*value)
        value = d->def;
    if (d->check && !d->list && *value && (why = d->check(value))) { /* "": an empty default */
        cgd_log(LOG_ERR, "%s:%d: [%s] %s: \"%s\" is %s", file, line, d->section, d->name, value,
                why);
        return false;
    }
    switch (d->kind) {
    case STR:
        if (strlen(value) >= d->size) {
            cgd_log(LOG_ERR, "%s:%d: [%s] %s is longer than %zu bytes", file, line, d->section,
                    d->name, d->size - 1);
            return false;
        }
        strcpy(f, value);
        return !d->list || set_list(d, f, file, line);
    case INT:
        errno = 0;
        v = strtol(value, &end, 10);
        if (*end || errno || v < d->min || v > d->max) {
            cgd_log(LOG_ERR, "%s:%d: [%s] %s wants an integer from %d to %d, not \"%s\"", file,
                    line, d->section, d->name, d->min, d->max, value);
            return false;
        }
        *(int *)f = (int)v;
        return true;
    case BOOL:
        if (strcmp(value, "yes") && strcmp(value, "no")) {
            cgd_log(LOG_ERR, "%s:%d: [%s] %s wants yes or no, not \"%s\"", file, line, d->section,
                    d->name, value);
            return false;
        }
        *(bool *)f = strcmp(value, "yes") == 0;
        return true;
    }
    return false;
}

/*
 * The file is read here, line by line, rather than by an INI library.
 * inih (Debian's libinih) was used first and read some lines in ways an
 * operator does not expect, saying nothing: an indented line continued
 * the directive above it (and replaced its value), " ;" started a comment
 * (so "trust = a.pem ; b.pem" lost b.pem), text after a section's "]" was
 * ignored, a repeated directive silently won, and a line longer than its
 * buffer (200 bytes, fixed when the library is built) was read as two, so
 * a list of trunks or tokens had to be cut.  Checking every line before
 * inih took it still left that buffer, so the parser is this function:
 * only one plain form is taken, blank lines, comment lines (# or ; first),
 * "[section]" and "name = value", each on a line of its own with LF or
 * CRLF ends.  Anything else is refused with its file and line.  A value is
 * as long as its field allows; the file as a whole is bounded.
 */
#define CONF_FILE_MAX (1 << 20)
#define CONF_NAME_MAX 64

/* The file's bytes (at most CONF_FILE_MAX), NUL-terminated; a FIFO or a
 * device could block the reader or feed it without end, so only a regular
 * file is read. */
static char *conf_read(const char *file, size_t *len)
{
    int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    char *buf = NULL;
    size_t n = 0;
    ssize_t r;
    if (fd < 0 || fstat(fd, &st) != 0) {
        cgd_log(LOG_ERR, "cidguardd: cannot read %s: %s", file, strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        cgd_log(LOG_ERR, "cidguardd: cannot read %s: %s", file,
                S_ISDIR(st.st_mode) ? "a directory" : "not a regular file");
        goto fail;
    }
    if (st.st_size > CONF_FILE_MAX) {
        cgd_log(LOG_ERR, "%s: larger than %d bytes", file, CONF_FILE_MAX);
        goto fail;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        cgd_log(LOG_ERR, "cidguardd: out of memory reading %s", file);
        goto fail;
    }
    /* one byte more than fstat said: a file written to as it is read is
     * refused rather than read in part */
    while (n <= (size_t)st.st_size && (r = read(fd, buf + n, (size_t)st.st_size + 1 - n)) != 0) {
        if (r < 0) {
            if (errno == EINTR)
                continue;
            cgd_log(LOG_ERR, "cidguardd: cannot read %s: %s", file, strerror(errno));
            goto fail;
        }
        n += (size_t)r;
    }
    if (n != (size_t)st.st_size) {
        cgd_log(LOG_ERR, "cidguardd: %s changed while it was read; try again", file);
        goto fail;
    }
    close(fd);
    buf[n] = '\0';
    *len = n;
    return buf;
fail:
    free(buf);
    if (fd >= 0)
        close(fd);
    return NULL;
}

static bool name_ok(const char *s, size_t n)
{
    size_t i;
    if (n == 0 || n > CONF_NAME_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_')
            return false;
    return true;
}

/* Why one line of the file (n bytes, its end taken off) is refused, or
 * NULL; a section line sets section, a directive *name and *value, each
 * NUL-terminated in place. */
static const char *conf_line(char *s, size_t n, char section[CONF_NAME_MAX + 1], char **name,
                             char **value)
{
    size_t i, e, j;
    char *eq, *v;
    *name = NULL;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\0')
            return "a NUL byte";
        if (ch == '\r')
            return "a carriage return inside the line (lines end in LF or CRLF)";
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return "a control character (only blanks and tabs separate words)";
    }
    for (i = 0; i < n && blank(s[i]); i++)
        ;
    if (i == n || s[i] == '#' || s[i] == ';')
        return NULL; /* blank or a comment, of any length */
    if (i > 0)
        return "an indented line: a directive or section starts at the start of its line "
               "(continuation lines are not read)";
    /* Values are paths, addresses, numbers and tokens.  Outside ASCII,
     * Unicode has many characters that show as nothing or as a blank, or
     * reorder the text around them ("decision_log = off" and a no-break
     * space named a file); no list of them stays complete, so a directive
     * or section line is ASCII, and a comment may hold anything. */
    for (j = i; j < n; j++)
        if ((unsigned char)s[j] >= 0x80)
            return "a character outside ASCII in a directive (an invisible or "
                   "direction-changing one would make the line read otherwise than it looks; "
                   "other text belongs in a comment)";
    while (n > 0 && blank(s[n - 1]))
        n--;
    if (s[0] == '[') {
        char *close = memchr(s, ']', n);
        if (!close)
            return "a section line without ']'";
        if ((size_t)(close - s) + 1 != n)
            return "text after a section's ']' (a comment has a line of its own)";
        if (!name_ok(s + 1, (size_t)(close - s - 1)))
            return "a section name is letters, digits and '_'";
        memcpy(section, s + 1, (size_t)(close - s - 1));
        section[close - s - 1] = '\0';
        return NULL;
    }
    if (!(eq = memchr(s, '=', n)))
        return "neither a [section] nor name = value";
    for (e = (size_t)(eq - s); e > 0 && blank(s[e - 1]); e--)
        ;
    if (!name_ok(s, e))
        return "a directive's name is letters, digits and '_', before '='";
    if (!section[0])
        return "a directive before the first [section]";
    for (i = (size_t)(eq - s) + 1; i < n && blank(s[i]); i++)
        ;
    v = s + i;
    if (i < n && (s[i] == ';' || s[i] == '#'))
        return "a value starting with ';' or '#' (other INI readers take it for a comment): "
               "leave the value empty, and write the comment on a line of its own";
    if (i < n && (s[i] == '"' || s[i] == '\''))
        return "a quoted value (the quotes would be part of it): write it without them";
    for (j = i + 1; j < n; j++)
        if (blank(s[j - 1]) && (s[j] == ';' || s[j] == '#'))
            return s[j] == ';'
                       ? "';' after a blank inside a value: a comment has a line of its "
                         "own, and list items are written a;b"
                       : "'#' after a blank inside a value: a comment has a line of its own";
    s[e] = '\0'; /* a blank or the '=' */
    s[n] = '\0'; /* a blank, the line's end, or the file's NUL */
    *name = s;
    *value = v;
    return NULL;
}
int cgd_conf_load(struct cgd_conf *c, const char *file)
{
    char section[CONF_NAME_MAX + 1] = "", *in, *p, *end;
    int first[TABLE_N] = {0}; /* the line each directive was set on, for repeats */
    int lineno = 0;
    size_t len, n = 0;
    bool ok = true;
    if (!(in = conf_read(file, &len)))
        return -1;
    p = in;
    end = in + len;
    if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) /* a UTF-8 byte order mark */
        p += 3;
    for (; p < end; p++) {
        char *nl = memchr(p, '\n', (size_t)(end - p)), *name, *value;
        size_t ln = (size_t)((nl ? nl : end) - p);
        const struct directive *d;
        const char *why;
        lineno++;
        if (ln && p[ln - 1] == '\r')
            ln--;
        if ((why = conf_line(p, ln, section, &name, &value))) {
            cgd_log(LOG_ERR, "%s:%d: %s", file, lineno, why);
            ok = false;
        } else if (name && !(d = find(file, lineno, section, name))) {
            ok = false;
        } else if (name && first[d - table]) {
            cgd_log(LOG_ERR, "%s:%d: [%s] %s is set again (first on line %d): give it once", file,
                    lineno, section, name, first[d - table]);
            ok = false;
        } else if (name) {
            first[d - table] = lineno;
            n++;
            ok = set_value(c, d, file, lineno, value) && ok;
        }
        if (!nl)
            break;
        p = nl;
    }
    free(in);
    if (!ok) { /* each refused line has been logged */
        cgd_log(LOG_ERR, "cidguardd: %s not loaded", file);
        return -1;
    }
    if (n == 0)
        cgd_log(LOG_WARNING, "%s: no directives, so every directive takes its default", file);
    c->zero_config = false;
    return 0;
}

void cgd_conf_print_directives(void)
{
    size_t i;
    const char *sec = "";
    for (i = 0; i < TABLE_N; i++) {
        const struct directive *d = &table[i];
        if (strcmp(sec, d->section)) {
            printf("%s[%s]\n", i ? "\n" : "", d->section);
            sec = d->section;
        }
        printf("# %s\n%s = %s\n", d->doc, d->name, d->def);
    }
}

void cgd_conf_banner(const struct cgd_conf *conf, int workers)
{
    const char *scheme = conf->https ? "https" : "http";
    cgd_log_out(LOG_INFO,
                "cidguardd %s: %d worker(s); state in %s%s\n"
                "  SIP verification  udp+tcp %s\n"
                "  SIP signing       udp+tcp %s",
                CIDGUARD_VERSION, workers, conf->state_dir,
                conf->zero_config ? " (zero-configuration: test PKI, SPC 1001)" : "",
                conf->sip_verify_listen, conf->sip_sign_listen);
    if (conf->sip_tls_verify_listen[0])
        cgd_log_out(LOG_INFO, "  SIP verification  tls %s", conf->sip_tls_verify_listen);
    if (conf->sip_tls_sign_listen[0])
        cgd_log_out(LOG_INFO, "  SIP signing       tls %s", conf->sip_tls_sign_listen);
    cgd_log_out(LOG_INFO,
                "  HTTP API          %s://%s/stir/v1/verification  /metrics /healthz /certs/",
                scheme, conf->http_listen);
    if (conf->sign_http_listen[0])
        cgd_log_out(LOG_INFO, "  HTTP signing API  %s://%s/stir/v1/signing", scheme,
                    conf->sign_http_listen);
    if (conf->sign_x5u[0])
        cgd_log_out(LOG_INFO, "  signing as x5u   %s", conf->sign_x5u);
    if (!conf->sign_http_listen[0])
        return;
    cgd_log_out(
        LOG_INFO,
        "Try it (signs a call, then verifies it):\n"
        "  ID=$(curl -s http://%s/stir/v1/signing -H 'Content-Type: application/json' -d "
        "'{\"signingRequest\":{\"attest\":\"A\",\"orig\":{\"tn\":\"442079460000\"},\"dest\":"
        "{\"tn\":[\"14155550100\"]}}}' | sed 's/.*\"identity\":\"\\([^\"]*\\)\".*/\\1/'); "
        "curl -s http://%s/stir/v1/verification -H 'Content-Type: application/json' -d "
        "\"{\\\"verificationRequest\\\":{\\\"from\\\":{\\\"tn\\\":\\\"442079460000\\\"},"
        "\\\"to\\\":{\\\"tn\\\":[\\\"14155550100\\\"]},\\\"time\\\":$(date +%%s),"
        "\\\"identity\\\":\\\"$ID\\\"}}\"; echo",
        conf->sign_http_listen, conf->http_listen);
}
