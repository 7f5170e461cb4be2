/* The cidguard command line: shared helpers.  Commands use the public API
 * only; person-facing errors are one line on stderr and exit status 2. */
#ifndef CG_CLI_H
#define CG_CLI_H

#include <stdio.h>

#include <jansson.h>

#include "cidguard/cidguard.h"

#define EXIT_PASS 0
#define EXIT_NOTPASS 1
#define EXIT_USAGE 2

/* Prints "cidguard: <message>" on stderr and exits 2. */
void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* getopt_long returned `c` (':' for a missing value, else an unknown
 * option) for `arg`: says so, pointing at 'cidguard CMD --help', and exits. */
void cli_bad_option(int c, const char *arg, const char *cmd) __attribute__((noreturn));
/* Reads a file (or "-" for stdin) of at most `max` bytes; dies on failure. */
char *cli_slurp(const char *path, size_t max, size_t *len);
/* Parses a non-negative integer option or dies naming the option. */
long long cli_int(const char *opt, const char *s, long long min, long long max);
/* A numbering plan from a country code ("44" -> UK rules, "1" -> NANP). */
const struct cg_tn_plan *cli_plan(const char *cc);

int cmd_pki(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_lists(int argc, char **argv);     /* policy push|add|remove|show */
int cmd_customers(int argc, char **argv); /* customers token|check */
int cmd_analyze(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_intent(int argc, char **argv); /* intent add|list|cancel|import|key */
int cmd_trace(int argc, char **argv);  /* who placed a call we signed */

#endif
