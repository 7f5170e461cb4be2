/* Address matching for ingress tables and fetch allow lists.  An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket shows an
 * IPv4 peer) is the IPv4 address it carries, on either side: a peer's
 * address is unmapped before it is compared, and a mapped CIDR of 96 bits or
 * more is the IPv4 CIDR it carries. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidguard/policy.h"
#include "core/internal.h"

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* The address bytes of `sa` (4, or 16 when IPv6 and not mapped) into
 * `out`; their count, 0 for another family. */
static int peer_bytes(const struct sockaddr *sa, unsigned char out[16])
{
    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        if (memcmp(out, v4mapped, sizeof v4mapped) != 0)
            return 16;
        memmove(out, out + 12, 4);
        return 4;
    }
    return 0;
}

/* The prefix length after '/': decimal, at most `max`, blanks around it
 * allowed; -1 for anything else (which then matches nothing, where it used
 * to be read as 0 and match everything). */
static int prefix_bits(const char *s, int max)
{
    int bits = 0, digits = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    for (; *s >= '0' && *s <= '9' && digits < 4; s++, digits++)
        bits = bits * 10 + (*s - '0');
    while (*s == ' ' || *s == '\t')
        s++;
    return digits && digits < 4 && !*s && bits <= max ? bits : -1;
}

/* The address and prefix of `cidr` ("192.0.2.0/24", "2001:db8::/32", or
 * one address; a mapped IPv6 CIDR of 96 bits or more made IPv4) into
 * want[] and *bits; the address's length (4 or 16), 0 when it is not one. */
static int parse_cidr(const char *cidr, unsigned char want[16], int *bits)
{
    char a[64], *slash;
    int len;
    if (!cidr || !cg__strlcpy(a, cidr, sizeof a))
        return 0;
    slash = strchr(a, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, a, want) == 1)
        len = 4;
    else if (inet_pton(AF_INET6, a, want) == 1)
        len = 16;
    else
        return 0;
    *bits = slash ? prefix_bits(slash + 1, len * 8) : len * 8;
    if (*bits < 0)
        return 0;
    if (len == 16 && *bits >= 96 && memcmp(want, v4mapped, sizeof v4mapped) == 0) {
        memmove(want, want + 12, 4);
        len = 4;
        *bits -= 96;
    }
    return len;
}

bool cg_cidr_valid(const char *cidr)
{
    unsigned char want[16];
    int bits;
    return parse_cidr(cidr, want, &bits) != 0;
}

bool cg_addr_in_cidr(const void *addr, const char *cidr)
{
    const struct sockaddr *sa = addr;
    unsigned char want[16], have[16];
    int bits, len, i;
    if (!sa || !(len = parse_cidr(cidr, want, &bits)))
        return false;
    if (peer_bytes(sa, have) != len)
        return false;
    for (i = 0; i < len && bits > 0; i++, bits -= 8) {
        unsigned char mask = (unsigned char)(bits >= 8 ? 0xff : 0xff << (8 - bits));
        if ((want[i] & mask) != (have[i] & mask))
            return false;
    }
    return true;
}

bool cg_addr_in_cidr_list(const void *addr, const char *list, char sep,
                          bool (*other)(const char *entry, void *arg), void *arg)
{
    const char *p = list;
    while (p && *p) {
        const char *e = strchr(p, sep), *b = p;
        char one[5 + 256]; /* cert: and a certificate name of up to 255 bytes */
        size_t n = e ? (size_t)(e - p) : strlen(p);
        /* blanks around an entry are not part of it ("a; b") */
        for (; n && (*b == ' ' || *b == '\t'); b++, n--)
            ;
        while (n && (b[n - 1] == ' ' || b[n - 1] == '\t'))
            n--;
        if (n && n < sizeof one) {
            memcpy(one, b, n);
            one[n] = '\0';
            if (other && strncmp(one, "cert:", 5) == 0 ? other(one + 5, arg)
                                                       : cg_addr_in_cidr(addr, one))
                return true;
        }
        p = e ? e + 1 : NULL;
    }
    return false;
}
