#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard sign --key KEY --x5u URL --orig TN --dest TN[,TN...] --attest A|B|C\n"
    "                     [--origid ID] [--iat SECONDS] [--country-code CC]\n"
    "                     [--ppt shaken|div --div TN]\n"
    "                     [--nam NAME] [--apn TN] [--icn URL] [--jcl URL] [--jcd JCARD_JSON]\n"
    "                     [--crn REASON] [--rcdi JSON|STRING]\n"
    "  Prints the Identity header value.  Numbers may be +E.164, tel:/sip: URIs, or national\n"
    "  format with --country-code (44: 020... becomes 4420...).  origid defaults to a fresh\n"
    "  UUID and iat to now.  --nam ... --rcdi add RFC 9795 Rich Call Data claims.\n";

int cmd_sign(int argc, char **argv)
{
    static const struct option opts[] = {{"key", required_argument, 0, 'k'},
                                         {"x5u", required_argument, 0, 'x'},
                                         {"orig", required_argument, 0, 'o'},
                                         {"dest", required_argument, 0, 'd'},
                                         {"attest", required_argument, 0, 'a'},
                                         {"origid", required_argument, 0, 'i'},
                                         {"iat", required_argument, 0, 't'},
                                         {"country-code", required_argument, 0, 'c'},
                                         {"ppt", required_argument, 0, 'p'},
                                         {"div", required_argument, 0, 'v'},
                                         {"nam", required_argument, 0, 'n'},
                                         {"crn", required_argument, 0, 'r'},
                                         {"apn", required_argument, 0, 'A'},
                                         {"icn", required_argument, 0, 'I'},
                                         {"jcl", required_argument, 0, 'L'},
                                         {"jcd", required_argument, 0, 'J'},
                                         {"rcdi", required_argument, 0, 'R'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *keypath = NULL, *x5u = NULL, *attest = NULL, *cc = NULL, *ppt = "shaken";
    char *dests = NULL, *tok, *save;
    const char *dest[CG_PASSPORT_DEST_MAX];
    struct cg_sign_request req = {0};
    struct cg_rcd rcd = {0};
    struct cg_key *key;
    struct cg_signer *signer;
    char *identity;
    const char *why;
    int c, rc;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keypath = optarg;
            break;
        case 'x':
            x5u = optarg;
            break;
        case 'o':
            req.orig = optarg;
            break;
        case 'd':
            dests = optarg;
            break;
        case 'a':
            attest = optarg;
            break;
        case 'i':
            req.origid = optarg;
            break;
        case 't':
            req.iat = cli_int("--iat", optarg, 1, 253402300799LL);
            break;
        case 'c':
            cc = optarg;
            break;
        case 'p':
            ppt = optarg;
            break;
        case 'v':
            req.div = optarg;
            break;
        case 'n':
            rcd.nam = optarg;
            rcd.present = true;
            break;
        case 'r':
            rcd.crn = optarg;
            rcd.present = true;
            break;
        case 'A':
            rcd.apn = optarg;
            rcd.present = true;
            break;
        case 'I':
            rcd.icn = optarg;
            rcd.present = true;
            break;
        case 'L':
            rcd.jcl = optarg;
            rcd.present = true;
            break;
        case 'J':
            rcd.jcd = optarg;
            rcd.present = true;
            break;
        case 'R':
            rcd.rcdi = optarg;
            rcd.present = true;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(c, argv[optind - 1], "sign");
        }
    }
    if (optind != argc)
        cli_die("unexpected argument \"%s\"", argv[optind]);
    if (!keypath || !x5u || !req.orig || !dests)
        cli_die("sign needs --key, --x5u, --orig and --dest");
    if (strcmp(ppt, "shaken") == 0) {
        req.ppt = CG_PPT_SHAKEN;
        if (!attest || strlen(attest) != 1 || !strchr("ABC", attest[0]))
            cli_die("--attest must be A, B or C");
        req.attest = attest[0];
    } else if (strcmp(ppt, "div") == 0) {
        req.ppt = CG_PPT_DIV;
        if (!req.div)
            cli_die("--ppt div needs --div (the original called number)");
    } else {
        cli_die("--ppt must be shaken or div");
    }
    req.plan = cli_plan(cc);
    for (tok = strtok_r(dests, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (req.ndest >= CG_PASSPORT_DEST_MAX)
            cli_die("at most %d --dest numbers", CG_PASSPORT_DEST_MAX);
        dest[req.ndest++] = tok;
    }
    req.dest = dest;
    if (rcd.present)
        req.rcd = &rcd;

    rc = cg_key_load_file(&key, keypath);
    if (rc != CG_OK)
        cli_die("cannot load key %s: %s", keypath, cg_strerror(rc));
    if (!cg_key_is_private(key))
        cli_die("%s is not a private key", keypath);
    rc = cg_signer_new(&signer, key, x5u);
    if (rc != CG_OK)
        cli_die("--x5u must be an http(s) URL without spaces, quotes or angle brackets");
    rc = cg_sign(signer, &req, &identity, &why);
    if (rc != CG_OK)
        cli_die("cannot sign: %s", why ? why : cg_strerror(rc));
    puts(identity);
    free(identity);
    cg_signer_free(signer);
    cg_key_free(key);
    return 0;
}
