/*
 * hostsig.c - for signals sent to uk-run itself: writes a line without a
 * newline to stdout and a string through a MAP_SHARED mapping of
 * "shared.txt", says so by creating "ready" (files reach the host at once;
 * console output to a pipe is buffered in the guest), then waits (spinning, or in a read of
 * stdin with argument "read"). With argument "ignore" it ignores SIGTERM
 * and finishes after a while. With "handler" a handler for SIGINT and
 * SIGTERM ends the spin; with "readhandler" one (without SA_RESTART)
 * interrupts the read of stdin.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_signal(int s)
{
    caught = s;
    static const char msg[] = " [handler ran]";
    if (write(1, msg, sizeof msg - 1) < 0)
        _exit(9);
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "spin";
    if (strcmp(mode, "ignore") == 0)
        signal(SIGTERM, SIG_IGN);
    int handler = strcmp(mode, "handler") == 0, readhandler = strcmp(mode, "readhandler") == 0;
    if (handler || readhandler) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
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
    if (readhandler) {
        char b[16];
        ssize_t n = read(0, b, sizeof b);
        printf(" ... read answered %zd (%s) after signal %d\n", n, n < 0 && errno == EINTR ? "EINTR" : "?", (int)caught);
        return 4;
    }
    if (handler) {
        while (!caught)
            ;
        printf(" ... spin ended by signal %d\n", (int)caught);
        return 3;
    }
    volatile unsigned long x = 0;
    unsigned long n = strcmp(mode, "ignore") == 0 ? 300000000UL : 30000000000UL;
    for (unsigned long i = 0; i < n; i++)
        x += i;
    printf(" ... finished\n");
    return 0;
}
