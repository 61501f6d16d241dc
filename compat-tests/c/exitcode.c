/*
 * exitcode.c - terminate with a status chosen on the command line.
 *
 *   exitcode exit N     print a line (buffered), then exit(N)
 *   exitcode return N   print a line (buffered), then return N from main
 *   exitcode _exit N    print a line (buffered), then _exit(N): stdio
 *                       buffers are NOT flushed, so when stdout is a pipe
 *                       the line is lost (natively and under uk-run alike)
 *
 * The line is deliberately left in the stdio buffer: whether it shows up
 * depends on exit() flushing it and on stdout being a pipe, not a tty.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s exit|return|_exit STATUS\n", argv[0]);
        return 100;
    }
    const char *mode = argv[1];
    int status = atoi(argv[2]);

    printf("mode %s status %d (buffered, no newline)", mode, status);

    if (strcmp(mode, "exit") == 0)
        exit(status);
    if (strcmp(mode, "return") == 0)
        return status;
    if (strcmp(mode, "_exit") == 0)
        _exit(status);

    fprintf(stderr, "unknown mode %s\n", mode);
    return 101;
}
