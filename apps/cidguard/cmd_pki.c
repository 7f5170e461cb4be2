#include <getopt.h>
#include <string.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard pki init DIR [--spc CODE]... [--days N] [--crl-url URL]\n"
    "       cidguard pki revoke DIR CERT.pem\n"
    "  Writes a test STI PKI into DIR: root.pem/.key, ca.pem/.key, crl.pem and, per SPC,\n"
    "  sp-CODE.pem (leaf + intermediate: serve it at your x5u URL), sp-CODE.key and\n"
    "  sp-CODE-leaf.pem.  The default SPC is 1001.  crl.pem is an indirect CRL signed by\n"
    "  crl-signer.pem, like the STI-PA's; 'revoke' adds a certificate to it.\n"
    "  For labs and tests only.\n";

int cmd_pki(int argc, char **argv)
{
    static const struct option opts[] = {{"spc", required_argument, 0, 's'},
                                         {"days", required_argument, 0, 'd'},
                                         {"crl-url", required_argument, 0, 'c'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *spcs[32];
    struct cg_pki_opts o = {0};
    const char *why;
    size_t i;
    int c, rc;

    if (argc == 4 && strcmp(argv[1], "revoke") == 0) {
        rc = cg_pki_revoke(argv[2], argv[3], &why);
        if (rc != CG_OK)
            cli_die("pki revoke: %s", why ? why : cg_strerror(rc));
        printf("%s revoked in %s/crl.pem\n", argv[3], argv[2]);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "init") != 0) {
        if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
            fputs(help, stdout);
            return 0;
        }
        cli_die("usage: cidguard pki init DIR [--spc CODE]... | pki revoke DIR CERT.pem");
    }
    argc--;
    argv++;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (o.nspcs >= 32)
                cli_die("at most 32 --spc");
            spcs[o.nspcs++] = optarg;
            break;
        case 'd':
            o.days = (int)cli_int("--days", optarg, 1, 3650);
            break;
        case 'c':
            o.crl_url = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(c, argv[optind - 1], "pki");
        }
    }
    if (optind != argc - 1)
        cli_die("pki init wants exactly one directory");
    o.dir = argv[optind];
    if (o.nspcs == 0)
        spcs[o.nspcs++] = "1001";
    o.spcs = spcs;
    rc = cg_pki_init(&o, &why);
    if (rc != CG_OK)
        cli_die("pki init: %s", why ? why : cg_strerror(rc));
    printf("test PKI written to %s\n", o.dir);
    printf("  trust anchor:  %s/root.pem\n  intermediate:  %s/ca.pem\n"
           "  CRL:           %s/crl.pem (indirect, signed by crl-signer.pem)\n",
           o.dir, o.dir, o.dir);
    for (i = 0; i < o.nspcs; i++)
        printf("  SPC %-10s key %s/sp-%s.key, x5u bundle %s/sp-%s.pem\n", spcs[i], o.dir, spcs[i],
               o.dir, spcs[i]);
    return 0;
}
