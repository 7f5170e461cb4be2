/* cidguard: the command line.  See docs/cli.md. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
    "usage: cidguard <command> [options]\n"
    "\n"
    "commands:\n"
    "  pki init DIR [--spc CODE]...   create a test STI PKI (root, intermediate, SP certificates)\n"
    "  sign ...                       sign a call; prints the Identity header value\n"
    "  verify ...                     verify an Identity header; prints a JSON verdict\n"
    "  verify --batch FILE|- ...      verify ATIS-1000082 requests, one JSON object a line\n"
    "  inspect VALUE|FILE             decode an Identity header, PASSporT or certificate\n"
    "  policy check ...               load the policy lists, report bad lines, decide a call\n"
    "  policy push|add|remove|show    edit the policy lists in their files or in Redis\n"
    "  customers token|check ...      make a customer's API token; check a customers file\n"
    "  analyze FILE ...               find spoofing campaigns, victims and origins in call "
    "records\n"
    "  simulate --out DIR ...         write call records with known answers (for analyze --truth)\n"
    "  intent add|list|cancel|import|key   register a protected number's call intents\n"
    "  trace --log FILE ...           who placed a call we signed (the signing log)\n"
    "  version                        print the version\n"
    "\n"
    "'cidguard <command> --help' describes each command.\n";

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    if (strcmp(argv[1], "pki") == 0)
        return cmd_pki(argc - 1, argv + 1);
    if (strcmp(argv[1], "sign") == 0)
        return cmd_sign(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "policy") == 0)
        return cmd_policy(argc - 1, argv + 1);
    if (strcmp(argv[1], "customers") == 0)
        return cmd_customers(argc - 1, argv + 1);
    if (strcmp(argv[1], "analyze") == 0)
        return cmd_analyze(argc - 1, argv + 1);
    if (strcmp(argv[1], "simulate") == 0)
        return cmd_simulate(argc - 1, argv + 1);
    if (strcmp(argv[1], "intent") == 0)
        return cmd_intent(argc - 1, argv + 1);
    if (strcmp(argv[1], "trace") == 0)
        return cmd_trace(argc - 1, argv + 1);
    if (strcmp(argv[1], "inspect") == 0)
        return cmd_inspect(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("cidguard %s\n", CIDGUARD_VERSION);
        return 0;
    }
    cli_die("unknown command \"%s\" (try 'cidguard --help')", argv[1]);
}
