/* The analyzer's readers (CSV call records and Asterisk Master.csv, plain
 * or gzip) and writers: the input goes through a temporary file, as
 * cg_analyze reads paths; the first byte picks the format. */
#include <stdio.h>
#include <unistd.h>

#include "cidguard/cidguard.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static char path[64], out[64];
    struct cg_analyze_opts o = {0};
    struct cg_analyze_summary s;
    char err[256];
    FILE *f;
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/cg-fuzz-analyze-%d.csv", (int)getpid());
        snprintf(out, sizeof out, "/tmp/cg-fuzz-analyze-%d.out", (int)getpid());
    }
    if (!size || !(f = fopen(path, "wb")))
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);
    o.format = data[0] & 1 ? CG_CDR_ASTERISK : CG_CDR_CSV;
    cg_analyze(path, out, &o, &s, err, sizeof err);
    return 0;
}
