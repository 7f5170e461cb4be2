/* cidguard intent: register, list and cancel call intents through a
 * daemon's intent API (docs/cli.md), and make API keys. */
#include <getopt.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cli.h"

static const char help[] =
    "usage: cidguard intent add    [--url URL] [--key KEY] FROM TO [VALID_FOR]\n"
    "       cidguard intent list   [--url URL] [--key KEY] [--from NUMBER]\n"
    "       cidguard intent cancel [--url URL] [--key KEY] FROM TO\n"
    "       cidguard intent import [--url URL] [--key KEY] [--batch N] FILE.csv\n"
    "       cidguard intent key\n"
    "  add: registers that FROM (a protected number of the key) is about to call TO, for\n"
    "  VALID_FOR seconds (default: the daemon's, 120 or its max_valid_for).\n"
    "  list: the key's live intents (--from: of one number; shared ones through Redis).\n"
    "  cancel: removes one intent.\n"
    "  import: a CSV file from,to[,valid_for] ('#' comments, optional header).  The whole\n"
    "  file is checked first: any bad line is reported and nothing is sent.  The intents\n"
    "  then go in batches of N (default 1000, at most the daemon's max_batch); a refused\n"
    "  batch stops the import, and the batches before it stay registered.\n"
    "  key: prints a new random key and the line for the daemon's [intent] keys file.\n"
    "options:\n"
    "  --url URL       the daemon's HTTP API, e.g. http://127.0.0.1:8085 (default), or the\n"
    "                  full http(s)://host:port/intent/v1\n"
    "  --key KEY       the API key; default: the environment variable CIDGUARD_INTENT_KEY\n"
    "                  (which, unlike an argument, other users cannot see in ps)\n"
    "  --cacert FILE   CAs for an https:// URL (default: the system's)\n"
    "exit status: 0 done, 1 the daemon refused (its answer on stderr), 2 usage or I/O error.\n";

struct client {
    CURL *curl;
    char url[2048];
    char auth[4200];
    struct curl_slist *headers;
    char *body;
    size_t len;
};

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    struct client *c = arg;
    size_t add = size * n;
    char *np;
    if (c->len + add > (16u << 20))
        return 0; /* a runaway answer */
    if (!(np = realloc(c->body, c->len + add + 1)))
        return 0;
    c->body = np;
    memcpy(c->body + c->len, p, add);
    c->len += add;
    c->body[c->len] = '\0';
    return add;
}

static void client_init(struct client *c, const char *url, const char *key, const char *cacert)
{
    size_t n;
    memset(c, 0, sizeof *c);
    if (!key || !*key)
        cli_die("intent: no key (--key, or the environment variable CIDGUARD_INTENT_KEY)");
    if (strlen(key) > CG_CUSTOMER_TOKEN_MAX || strcspn(key, " \t\r\n") != strlen(key))
        cli_die("intent: the key must be printable, without blanks, at most %u bytes",
                CG_CUSTOMER_TOKEN_MAX);
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        cli_die("intent: --url wants http:// or https://, not \"%s\"", url);
    n = strlen(url);
    while (n && url[n - 1] == '/')
        n--;
    if (n >= 10 && strncmp(url + n - 10, "/intent/v1", 10) == 0)
        snprintf(c->url, sizeof c->url, "%.*s", (int)n, url);
    else if (strchr(strstr(url, "//") + 2, '/') &&
             (size_t)(strchr(strstr(url, "//") + 2, '/') - url) < n)
        cli_die("intent: --url is the daemon's address (http://host:port) or ends in /intent/v1");
    else
        snprintf(c->url, sizeof c->url, "%.*s/intent/v1", (int)n, url);
    snprintf(c->auth, sizeof c->auth, "Authorization: Bearer %s", key);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (!(c->curl = curl_easy_init()))
        cli_die("intent: libcurl failed to start");
    c->headers = curl_slist_append(NULL, c->auth);
    c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
    c->headers = curl_slist_append(c->headers, "Expect:");
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c->curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, c);
    if (cacert)
        curl_easy_setopt(c->curl, CURLOPT_CAINFO, cacert);
}

static void client_free(struct client *c)
{
    curl_slist_free_all(c->headers);
    curl_easy_cleanup(c->curl);
    free(c->body);
}

/* One request; returns the HTTP status (c->body holds the answer) or dies
 * when the daemon cannot be reached. */
static long request(struct client *c, const char *method, const char *query, const char *body)
{
    char url[sizeof c->url + 256];
    CURLcode rc;
    long status = 0;
    snprintf(url, sizeof url, "%s%s", c->url, query ? query : "");
    c->len = 0;
    if (c->body)
        c->body[0] = '\0';
    curl_easy_setopt(c->curl, CURLOPT_URL, url);
    curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    } else {
        curl_easy_setopt(c->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
    }
    if ((rc = curl_easy_perform(c->curl)) != CURLE_OK)
        cli_die("intent: %s: %s", c->url, curl_easy_strerror(rc));
    curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
    return status;
}

/* Prints a success's answer on stdout, a refusal's on stderr; the exit
 * status. */
static int outcome(const struct client *c, long status)
{
    const char *b = c->body ? c->body : "";
    if (status >= 200 && status < 300) {
        fputs(b, stdout);
        return 0;
    }
    fprintf(stderr, "cidguard: intent: HTTP %ld: %s", status, b);
    if (!*b || b[strlen(b) - 1] != '\n')
        fputc('\n', stderr);
    return EXIT_NOTPASS;
}

static void number(const char *what, const char *in, char out[CG_INTENT_TN_MAX + 1])
{
    if (cg_intent_number(in, strlen(in), out) != CG_OK)
        cli_die("intent: %s \"%s\" is not an E.164 number (+, country code, up to %d digits)", what,
                in, CG_INTENT_TN_MAX);
}

/* A batch as {"intents":[...]}, malloc'ed. */
static char *batch_json(const struct cg_intent *v, size_t n, bool with_valid_for)
{
    json_t *arr = json_array(), *top;
    char *s;
    size_t i;
    for (i = 0; i < n; i++) {
        json_t *o = json_pack("{s:s+,s:s+}", "from", "+", v[i].from, "to", "+", v[i].to);
        if (with_valid_for)
            json_object_set_new(o, "valid_for", json_integer(v[i].valid_for));
        json_array_append_new(arr, o);
    }
    top = json_pack("{s:o}", "intents", arr);
    s = json_dumps(top, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(top);
    if (!s)
        cli_die("out of memory");
    return s;
}

static void report(const char *file, int line, const char *msg, void *arg)
{
    (void)arg;
    fprintf(stderr, "%s:%d: %s\n", file, line, msg);
}

static int import(struct client *c, const char *path, size_t batch)
{
    size_t len, n, bad, i, done = 0, max = 0;
    char *text = cli_slurp(path, CG_INTENT_CSV_MAX, &len);
    struct cg_intent *v;
    int rc;
    for (i = 0; i < len; i++)
        max += text[i] == '\n';
    max++;
    if (!(v = calloc(max, sizeof *v)))
        cli_die("out of memory");
    /* the daemon applies its own max_valid_for: here only 1 to a day */
    rc = cg_intents_parse_csv(text, len, path, v, max, &n, &bad, 86400, report, NULL);
    if (rc != CG_OK)
        cli_die("intent import: %s: %s", path, cg_strerror(rc));
    if (bad)
        cli_die("intent import: %s: %zu bad line(s); nothing was sent", path, bad);
    if (!n)
        cli_die("intent import: %s: no intents", path);
    for (i = 0; i < n; i += batch) {
        size_t k = n - i < batch ? n - i : batch;
        char *body = batch_json(v + i, k, true);
        long status = request(c, "POST", NULL, body);
        free(body);
        if (status != 201) {
            fprintf(stderr,
                    "cidguard: intent import: the batch of lines %zu-%zu (intents) was refused; "
                    "%zu intent(s) registered before it\n",
                    i + 1, i + k, done);
            rc = outcome(c, status);
            free(v);
            free(text);
            return rc;
        }
        done += k;
    }
    printf("{\"registered\":%zu,\"batches\":%zu}\n", done, (n + batch - 1) / batch);
    free(v);
    free(text);
    return 0;
}

static int new_key(void)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char raw[32];
    char key[44], hash[CG_CUSTOMER_TOKEN_HASH_SIZE];
    size_t i;
    if (RAND_bytes(raw, sizeof raw) != 1)
        cli_die("intent key: no random bytes");
    /* 43 characters of base64url: 256 bits */
    for (i = 0; i < 43; i++) {
        size_t bit = i * 6, byte = bit / 8, off = bit % 8;
        unsigned v =
            ((unsigned)raw[byte] << 8 | (byte + 1 < sizeof raw ? raw[byte + 1] : 0)) >> (10 - off);
        key[i] = b64[v & 63];
    }
    key[43] = '\0';
    if (cg_customers_token_hash(key, 43, hash) != CG_OK)
        cli_die("intent key: no SHA-256");
    printf("key:  %s\n", key);
    printf("line: NAME,%s,NUMBERS\n", hash);
    return 0;
}

int cmd_intent(int argc, char **argv)
{
    static const struct option opts[] = {{"url", required_argument, NULL, 'u'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"from", required_argument, NULL, 'f'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"cacert", required_argument, NULL, 'c'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *url = "http://127.0.0.1:8085", *key = getenv("CIDGUARD_INTENT_KEY");
    const char *from = NULL, *cacert = NULL, *sub;
    size_t batch = 1000;
    struct client c;
    int o, rc;
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(help, argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : 0;
    }
    sub = argv[1];
    argc--;
    argv++;
    optind = 1;
    while ((o = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (o) {
        case 'u':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 'b':
            batch = (size_t)cli_int("--batch", optarg, 1, CG_INTENT_BATCH_MAX);
            break;
        case 'c':
            cacert = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            cli_bad_option(o, argv[optind - 1], "intent");
        }
    }
    argc -= optind;
    argv += optind;
    if (strcmp(sub, "key") == 0 && argc == 0)
        return new_key();
    if (strcmp(sub, "add") == 0 && (argc == 2 || argc == 3)) {
        struct cg_intent v = {0};
        char *body;
        number("FROM", argv[0], v.from);
        number("TO", argv[1], v.to);
        if (argc == 3)
            v.valid_for = (int)cli_int("VALID_FOR", argv[2], 1, 86400);
        body = batch_json(&v, 1, argc == 3);
        client_init(&c, url, key, cacert);
        rc = outcome(&c, request(&c, "POST", NULL, body));
        free(body);
    } else if (strcmp(sub, "cancel") == 0 && argc == 2) {
        char f[CG_INTENT_TN_MAX + 1], t[CG_INTENT_TN_MAX + 1], q[96];
        number("FROM", argv[0], f);
        number("TO", argv[1], t);
        snprintf(q, sizeof q, "?from=%s&to=%s", f, t);
        client_init(&c, url, key, cacert);
        rc = outcome(&c, request(&c, "DELETE", q, NULL));
    } else if (strcmp(sub, "list") == 0 && argc == 0) {
        char f[CG_INTENT_TN_MAX + 1], q[64] = "";
        if (from) {
            number("--from", from, f);
            snprintf(q, sizeof q, "?from=%s", f);
        }
        client_init(&c, url, key, cacert);
        rc = outcome(&c, request(&c, "GET", q, NULL));
    } else if (strcmp(sub, "import") == 0 && argc == 1) {
        client_init(&c, url, key, cacert);
        rc = import(&c, argv[0], batch);
    } else {
        fputs(help, stderr);
        return EXIT_USAGE;
    }
    client_free(&c);
    return rc;
}
