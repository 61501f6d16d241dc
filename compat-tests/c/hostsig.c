/*
 * hostsig.c - for signals sent to uk-run itself: writes a line without a
 * newline to stdout and a string through a MAP_SHARED mapping of
 * "shared.txt", says so by creating "ready" (files reach the host at once;
 * console output to a pipe is buffered in the guest), then waits (spinning, or in a read of
 * stdin with argument "read"). With argument "ignore" it ignores SIGTERM
 * and finishes after a while.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "spin";
    if (strcmp(mode, "ignore") == 0)
        signal(SIGTERM, SIG_IGN);
    int fd = open("shared.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0)
        return 1;
    char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return 1;
    memcpy(p, "written through the mapping", 27);
    printf("partial line without newline");
    fflush(stdout);
    close(open("ready", O_WRONLY | O_CREAT, 0644));
    if (strcmp(mode, "read") == 0) {
        char b[16];
        if (read(0, b, sizeof b) < 0)
            return 2;
    }
    volatile unsigned long x = 0;
    unsigned long n = strcmp(mode, "ignore") == 0 ? 300000000UL : 30000000000UL;
    for (unsigned long i = 0; i < n; i++)
        x += i;
    printf(" ... finished\n");
    return 0;
}
