/* Address matching for ingress tables and fetch allow lists. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidguard/policy.h"
#include "core/internal.h"

bool cg_addr_in_cidr(const void *addr, const char *cidr)
{
    const struct sockaddr *sa = addr;
    char a[64], *slash;
    unsigned char want[16], have[16];
    int bits, fam, len, i;
    if (!cg__strlcpy(a, cidr, sizeof a))
        return false;
    slash = strchr(a, '/');
    if (slash)
        *slash = '\0';
    if (inet_pton(AF_INET, a, want) == 1) {
        fam = AF_INET;
        len = 4;
    } else if (inet_pton(AF_INET6, a, want) == 1) {
        fam = AF_INET6;
        len = 16;
    } else {
        return false;
    }
    bits = slash ? atoi(slash + 1) : len * 8;
    if (sa->sa_family != fam || bits < 0 || bits > len * 8)
        return false;
    if (fam == AF_INET)
        memcpy(have, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else
        memcpy(have, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    for (i = 0; i < len && bits > 0; i++, bits -= 8) {
        unsigned char mask = (unsigned char)(bits >= 8 ? 0xff : 0xff << (8 - bits));
        if ((want[i] & mask) != (have[i] & mask))
            return false;
    }
    return true;
}
