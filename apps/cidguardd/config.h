/*
 * The daemon's configuration: every directive of the INI file in one
 * struct, loaded over the defaults (config.c holds the table of
 * directives with their bounds and meanings).
 */
#ifndef CIDGUARDD_CONFIG_H
#define CIDGUARDD_CONFIG_H

#include <stdbool.h>

#include "cidguard/cidguard.h"

#define CGD_PATH 512
#define CGD_LIST 2048

struct cgd_conf {
    char state_dir[256];
    char http_listen[64], sip_verify_listen[64], sip_sign_listen[64], sign_http_listen[64];
    char sip_tls_verify_listen[64], sip_tls_sign_listen[64]; /* "" = no SIP over TLS */
    char tls_cert[CGD_PATH], tls_key[CGD_PATH], tls_client_ca[CGD_PATH];
    bool tls_require_client_cert;
    bool https; /* both HTTP listeners speak TLS */
    int workers;
    int max_pending;     /* parked calls per worker before 503 */
    bool share_ports;    /* start beside another daemon on the same ports */
    int max_connections; /* TCP connections per listener per worker */
    int max_connections_per_source;
    int message_timeout_ms; /* a SIP/TCP message must arrive whole in this time */
    int udp_coalesce_us;    /* a busy worker's longest wait for more datagrams */
    char trust[CGD_LIST];   /* ';'-separated PEM files */
    char crl[CGD_LIST];
    int freshness;
    bool crl_required;
    int crl_refresh;    /* seconds between CRL reloads (and crl_url fetches); 0 = off */
    char crl_url[1024]; /* a CRL to download, e.g. the STI-PA's */
    char country_code[8];
    bool rfc9410_reason;        /* Reason: STIR;...;ppi= instead of Reason: SIP;... */
    char fetch_allow[CGD_LIST]; /* CIDRs exempt from the private-address deny list */
    bool allow_http;
    int timeout_ms, max_bytes;
    char ca_file[CGD_PATH]; /* CA bundle for HTTPS fetches ("" = system) */
    int negative_ttl;       /* seconds a failed x5u is not fetched again */
    char sign_key[CGD_PATH], sign_x5u[1024], customers[CGD_PATH];
    /* [sign] signers (one signer per customer or reseller) and origid (stable or per_call) */
    char sign_signers[CGD_PATH], sign_origid[16];
    bool sign_unknown;                 /* C-attested signatures for callers who are not customers */
    bool sign_http_by_address;         /* the signing API knows customers by address too */
    char sign_customer_from[CGD_LIST]; /* SBCs trusted to name the signing customer; "" none */
    int sign_rate;                     /* signatures per second per customer; 0 = no limit */
    /* [sign] signing_log: its SQLite file ("" = state_dir/signings.db, "off" = none) */
    char signing_log[CGD_PATH];
    int signing_log_days, signing_log_max_mb;
    char traceback_tokens[CGD_LIST]; /* ';'-separated sha256:HEX; "" = no traceback endpoint */
    char dno[CGD_PATH], protected_numbers[CGD_PATH], ingress[CGD_PATH], ofcom[CGD_LIST];
    char tgrp_from[CGD_LIST]; /* SBCs trusted to set tgrp; "" = none */
    char nanpa[CGD_PATH], cocodes[CGD_LIST], actions[CGD_LIST];
    bool uk_rules, nanp_rules, mark_international;
    int sign_customer_calls, sign_customer_numbers, sign_customer_share, sign_refuse_response;
    char uk_mobile_spcs[16 * 33];
    char roaming_check_url[CG_URL_MAX + 1];
    int roaming_check_timeout_ms, roaming_check_ttl;
    char min_attest_uk[5], min_attest_other[5]; /* A, B, C or none */
    int block_response, rate_calls, rate_numbers;
    /* [policy] campaign_*: campaign behaviour kept online (cidguard/behaviour.h), and the
     * origins never given campaign_suspected (exempt.h) */
    bool campaign_detection;
    int campaign_window, campaign_min_numbers, campaign_hold, campaign_origins;
    char campaign_exempt[4 * CGD_LIST];
    int campaign_time_scale;     /* the behaviour clock's speed-up, for replays (1 = real time) */
    char decision_log[CGD_PATH]; /* SQLite file; "" = state_dir/decisions.db; "off" */
    int decision_log_days;       /* retention; 0 = keep everything */
    int decision_log_max_mb;     /* size cap; 0 = none */
    char redis_url[256];         /* [redis] url: shared state for clusters; "" = in process */
    char redis_prefix[64];
    int redis_timeout_ms;
    bool redis_lists;    /* lists stored in Redis replace the files */
    bool redis_campaign; /* campaign behaviour shared with the other daemons */
    /* [redis] sentinels ("host:port;...") and the master they watch, their own
     * credentials; cluster: seed nodes ("" = neither) */
    char redis_sentinels[1024], redis_master_name[128];
    char redis_sentinel_user[128], redis_sentinel_password[128];
    char redis_cluster[1024];
    /* [intent]: the keys file ("" = no intent API), limits, and the rate (intents per
     * second per key) with its burst */
    char intent_keys[CGD_PATH];
    int intent_max_valid_for, intent_max_uses, intent_max_entries, intent_max_batch;
    int intent_rate, intent_burst;
    bool zero_config;                  /* no config file: test PKI in state_dir */
    int fast_keys_mb, fast_keys_after; /* [verify] busy keys' tables: budget, promotion */
};

void cgd_conf_defaults(struct cgd_conf *c);
/* Loads FILE over the defaults; on error prints "FILE:LINE: message" to
 * stderr and returns -1. */
int cgd_conf_load(struct cgd_conf *c, const char *file);
/* Prints the annotated table of directives (cidguardd --directives). */
void cgd_conf_print_directives(void);
/* One item of [policy] actions, "reason=action", read into *reason and
 * *action; false when it is not one. */
bool cgd_action_item(const char *item, enum cg_policy_reason *reason, enum cg_action *action);
/* The start-up banner on stdout, at info: where the daemon listens, and
 * how to try it. */
void cgd_conf_banner(const struct cgd_conf *conf, int workers);

#endif
