/* exitmem.so: preloaded into a program, appends "RSSANON_KIB RSSFILE_KIB" to the file named by
 * $EXITMEM_OUT when it exits. RssAnon is the memory the process has to itself (heap, stack, the
 * pages relocation wrote); RssFile is the executable's and libraries' pages mapped from the page
 * cache, shared with every other process running them. Peak RSS (peakrss.c) counts both. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((destructor)) static void report(void) {
    const char *out = getenv("EXITMEM_OUT");
    FILE *status = fopen("/proc/self/status", "r");
    if (!out || !status) return;
    long anon = -1, file = -1;
    char line[256];
    while (fgets(line, sizeof line, status)) {
        sscanf(line, "RssAnon: %ld", &anon);
        sscanf(line, "RssFile: %ld", &file);
    }
    fclose(status);
    FILE *f = fopen(out, "a");
    if (!f) return;
    fprintf(f, "%ld %ld\n", anon, file);
    fclose(f);
}
