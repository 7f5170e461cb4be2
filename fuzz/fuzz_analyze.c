/* The analyzer's readers (CSV call records and Asterisk Master.csv, plain
 * or gzip) and writers; the first byte picks the format.
 *
 * cg_analyze reads a path and writes a directory (or, unless the first
 * byte's second and third bits are set, only the summary).  Going through files on
 * an ordinary disk made the file system the cost of every input (ext4
 * flushes a file rewritten in place when it is closed), so the input lives
 * in an anonymous memory file, named through /proc/self/fd, and the reports
 * go to a directory on a memory file system, both set up once. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cidguard/cidguard.h"

static int in_fd = -1;
static char in_path[64], out_dir[128];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    (void)argc;
    (void)argv;
    in_fd = memfd_create("cg-fuzz-analyze", 0);
    if (in_fd < 0) {
        perror("memfd_create");
        abort();
    }
    snprintf(in_path, sizeof in_path, "/proc/self/fd/%d", in_fd);
    snprintf(out_dir, sizeof out_dir, "%s/cg-fuzz-analyze-%d", base, (int)getpid());
    return 0;
}

/* The report directory goes when the run ends (the writers create it). */
__attribute__((destructor)) static void cleanup(void)
{
    static const char *const files[] = {"campaigns.json", "victims.csv", "origins.csv",
                                        "report.html"};
    char p[192];
    size_t i;
    if (!out_dir[0])
        return;
    for (i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", out_dir, files[i]);
        unlink(p);
    }
    rmdir(out_dir);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    struct cg_analyze_opts o = {0};
    struct cg_analyze_summary s;
    char err[256];
    if (!size)
        return 0;
    /* written over the last input, then cut to size: truncating to zero
     * first gave the memory file's pages back only to fault them in again */
    if (pwrite(in_fd, data + 1, size - 1, 0) != (ssize_t)(size - 1) ||
        ftruncate(in_fd, (off_t)(size - 1)) != 0)
        abort();
    o.format = data[0] & 1 ? CG_CDR_ASTERISK : CG_CDR_CSV;
    /* one thread: the reader's rows are staged and taken in as with more
     * (the same code, in turn), without starting threads for each input */
    o.threads = 1;
    /* The second and third bits: the reports are written (both set), or
     * the summary alone.  Four files created per input were half a run's
     * cost; the writers still see every fourth input, and the fuzzer keeps
     * the inputs whose reports reach new code as it keeps any other. */
    cg_analyze(in_path, (data[0] & 6) == 6 ? out_dir : NULL, &o, &s, err, sizeof err);
    return 0;
}
