#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard policy check [--dno FILE] [--protected FILE] [--ingress FILE]\n"
    "                             [--ofcom FILE]... [--nanpa FILE] [--cocodes FILE]...\n"
    "                             [--no-uk-rules] [--no-nanp-rules]\n"
    "                             [--min-attest-uk A|B|C] [--uk-mobile-spcs SPC;...]\n"
    "                             [--caller TN [--presented TN] [--callee TN] [--intent]\n"
    "                              [--verstat passed|failed|none] [--attest A|B|C]\n"
    "                              [--orig TN] [--spc CODE] [--trunk NAME] [--roaming]\n"
    "                              [--country-code CC]]\n"
    "  Loads the policy lists the daemon would load, reporting every unusable line as\n"
    "  FILE:LINE: message on stderr, and with --caller prints the decision for one call\n"
    "  as JSON: --caller is the network number (P-Asserted-Identity), --presented the\n"
    "  number the callee is shown (From) when it differs, --orig the number the PASSporT\n"
    "  signed (default: the caller), --intent says a live call intent exists for the\n"
    "  call's protected numbers, --roaming that a roaming check confirmed the caller.  Exit 0: "
    "loaded (and allowed); 1: the call would be labelled or blocked;\n"
    "  2: bad usage or an unreadable file.\n"
    "  'cidguard policy push|add|remove|show --help' edits the lists (files or Redis).\n";

static int bad_lines;
/* Why the last file was refused whole (a report with line 0), for its
 * one-line error. */
static char refused[256];

static void report(const char *file, int line, const char *msg, void *arg)
{
    (void)arg;
    if (line == 0) {
        snprintf(refused, sizeof refused, "%s", msg);
        return;
    }
    fprintf(stderr, "%s:%d: %s (line skipped)\n", file, line, msg);
    bad_lines++;
}

/* Why a list could not be loaded: the loader's own words, else the code's. */
static const char *why(int rc)
{
    return refused[0] ? refused : cg_strerror(rc);
}

int cmd_policy(int argc, char **argv)
{
    static const struct option opts[] = {{"dno", required_argument, 0, 'd'},
                                         {"protected", required_argument, 0, 'p'},
                                         {"ingress", required_argument, 0, 'i'},
                                         {"ofcom", required_argument, 0, 'o'},
                                         {"no-uk-rules", no_argument, 0, 'U'},
                                         {"no-nanp-rules", no_argument, 0, 'N'},
                                         {"min-attest-uk", required_argument, 0, 'm'},
                                         {"uk-mobile-spcs", required_argument, 0, 'M'},
                                         {"roaming", no_argument, 0, 'R'},
                                         {"presented", required_argument, 0, 'P'},
                                         {"callee", required_argument, 0, 'e'},
                                         {"orig", required_argument, 0, 'O'},
                                         {"intent", no_argument, 0, 'I'},
                                         {"caller", required_argument, 0, 'c'},
                                         {"verstat", required_argument, 0, 'v'},
                                         {"attest", required_argument, 0, 'a'},
                                         {"spc", required_argument, 0, 's'},
                                         {"trunk", required_argument, 0, 't'},
                                         {"country-code", required_argument, 0, 'k'},
                                         {"nanpa", required_argument, 0, 'n'},
                                         {"cocodes", required_argument, 0, 'C'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    struct cg_policy_config cfg = {.uk_rules = true, .nanp_rules = true, .min_attest_uk = 'B'};
    const char *dno = NULL, *prot = NULL, *ing = NULL, *ofcom[16], *caller = NULL, *nanpa = NULL,
               *cocodes[16], *verstat = "passed", *attest = "A", *spc = "", *trunk = NULL,
               *cc = NULL, *presented = NULL, *callee = NULL, *orig = NULL;
    bool roaming = false, intent = false;
    size_t nofcom = 0, ncocodes = 0, i;
    struct cg_policy *p;
    int c, rc;

    if (argc >= 2 && (!strcmp(argv[1], "push") || !strcmp(argv[1], "add") ||
                      !strcmp(argv[1], "remove") || !strcmp(argv[1], "show")))
        return cmd_lists(argc - 1, argv + 1);
    if (argc < 2 || strcmp(argv[1], "check") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(help, stdout);
            return 0;
        }
        cli_die("usage: cidguard policy check [options] (try 'cidguard policy --help')");
    }
    argc--;
    argv++;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dno = optarg;
            break;
        case 'p':
            prot = optarg;
            break;
        case 'i':
            ing = optarg;
            break;
        case 'o':
            if (nofcom == 16)
                cli_die("at most 16 --ofcom");
            ofcom[nofcom++] = optarg;
            break;
        case 'n':
            nanpa = optarg;
            break;
        case 'C':
            if (ncocodes == 16)
                cli_die("at most 16 --cocodes");
            cocodes[ncocodes++] = optarg;
            break;
        case 'U':
            cfg.uk_rules = false;
            break;
        case 'N':
            cfg.nanp_rules = false;
            break;
        case 'm':
            if (strlen(optarg) != 1 || !strchr("ABC", optarg[0]))
                cli_die("--min-attest-uk must be A, B or C");
            cfg.min_attest_uk = optarg[0];
            break;
        case 'M':
            snprintf(cfg.uk_mobile_spcs, sizeof cfg.uk_mobile_spcs, "%s", optarg);
            break;
        case 'R':
            roaming = true;
            break;
        case 'P':
            presented = optarg;
            break;
        case 'e':
            callee = optarg;
            break;
        case 'O':
            orig = optarg;
            break;
        case 'I':
            intent = true;
            break;
        case 'c':
            caller = optarg;
            break;
        case 'v':
            verstat = optarg;
            break;
        case 'a':
            attest = optarg;
            break;
        case 's':
            spc = optarg;
            break;
        case 't':
            trunk = optarg;
            break;
        case 'k':
            cc = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(c, argv[optind - 1], "policy");
        }
    }
    if (optind != argc)
        cli_die("unexpected argument \"%s\"", argv[optind]);
    if (cg_policy_new(&p, &cfg) != CG_OK)
        cli_die("cannot build the policy (--uk-mobile-spcs: at most 16 SPCs)");
    if (dno && (rc = cg_policy_load_dno(p, dno, report, NULL)))
        cli_die("cannot load %s: %s", dno, why(rc));
    if (prot && (rc = cg_policy_load_protected(p, prot, report, NULL)))
        cli_die("cannot load %s: %s", prot, why(rc));
    if (ing && (rc = cg_policy_load_ingress(p, ing, report, NULL)))
        cli_die("cannot load %s: %s", ing, why(rc));
    for (i = 0; i < nofcom; i++)
        if ((rc = cg_policy_load_ofcom(p, ofcom[i], report, NULL)))
            cli_die("cannot load %s: %s", ofcom[i], why(rc));
    if (nanpa && (rc = cg_policy_load_nanpa(p, nanpa, report, NULL)))
        cli_die("cannot load %s: %s", nanpa, why(rc));
    for (i = 0; i < ncocodes; i++)
        if ((rc = cg_policy_load_cocodes(p, cocodes[i], report, NULL)))
            cli_die("cannot load %s: %s", cocodes[i], why(rc));
    rc = 0;
    if (caller) {
        struct cg_verdict v;
        struct cg_policy_call call = {0};
        struct cg_decision d;
        char tn[CG_TN_MAX + 1], pres[CG_TN_MAX + 1], to[CG_TN_MAX + 1], reasons[400],
            on_caller[400], on_pres[400];
        unsigned flags = 0;
        json_t *o;
        memset(&v, 0, sizeof v);
        if (cg_tn_canon(caller, strlen(caller), cli_plan(cc), tn) != CG_OK)
            cli_die("--caller is not a telephone number");
        if (presented && cg_tn_canon(presented, strlen(presented), cli_plan(cc), pres) != CG_OK)
            cli_die("--presented is not a telephone number");
        if (callee && cg_tn_canon(callee, strlen(callee), cli_plan(cc), to) != CG_OK)
            cli_die("--callee is not a telephone number");
        if (orig && cg_tn_canon(orig, strlen(orig), cli_plan(cc), v.orig) != CG_OK)
            cli_die("--orig is not a telephone number");
        v.verstat = !strcmp(verstat, "passed")   ? CG_VERSTAT_PASSED
                    : !strcmp(verstat, "failed") ? CG_VERSTAT_FAILED
                    : !strcmp(verstat, "none")
                        ? CG_VERSTAT_NONE
                        : (cli_die("--verstat must be passed, failed or none"), 0);
        if (strlen(attest) != 1 || !strchr("ABC", attest[0]))
            cli_die("--attest must be A, B or C");
        v.attest = attest[0];
        snprintf(v.spc, sizeof v.spc, "%s", spc);
        call.verdict = &v;
        call.caller = tn;
        call.presented = presented ? pres : NULL;
        call.callee = callee ? to : NULL;
        call.ingress = trunk ? cg_policy_ingress_flags(p, trunk, NULL, &flags) : NULL;
        if (trunk && !call.ingress)
            fprintf(stderr, "cidguard: trunk \"%s\" is not in the ingress list\n", trunk);
        call.international = flags & CG_INGRESS_INTERNATIONAL;
        call.roaming_partner = flags & CG_INGRESS_ROAMING;
        call.roaming_confirmed = roaming ? CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED : 0;
        if (intent) /* what the daemon would find in its intent store */
            call.intents = CG_POLICY_NUM_CALLER | CG_POLICY_NUM_PRESENTED;
        cg_policy_decide(p, NULL, &call, &d);
        cg_decision_reasons(&d, reasons, sizeof reasons);
        cg_policy_reasons_str(d.caller_reasons, on_caller, sizeof on_caller);
        cg_policy_reasons_str(d.presented_reasons, on_pres, sizeof on_pres);
        o = json_pack("{s:s,s:s?,s:s,s:s,s:s,s:s,s:s?,s:s?}", "caller", tn, "presented",
                      call.presented, "action", cg_action_str(d.action), "verstat",
                      cg_verstat_str(d.verstat), "reasons", reasons, "caller_reasons", on_caller,
                      "presented_reasons", call.presented ? on_pres : NULL, "brand",
                      d.brand[0] ? d.brand : NULL);
        {
            char *out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            puts(out ? out : "{}");
            free(out);
        }
        json_decref(o);
        rc = d.action == CG_ACTION_ALLOW ? 0 : 1;
    } else {
        printf("policy lists loaded%s\n", bad_lines ? " (some lines skipped: see above)" : "");
    }
    cg_policy_free(p);
    return rc;
}
