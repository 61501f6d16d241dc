// Process costs inside one run, one line each: NAME VALUE (microseconds,
// the median of 200 after a warm-up), with argv[1] a static program to run
// (busybox) and argv[2] its argument (true).
//   fork_exit_wait_us    fork, the child _exits, the parent waits
//   fork_exec_wait_us    fork, the child execs argv[1] argv[2], the parent waits
//   spawn_wait_us        posix_spawn (vfork and exec) of the same, then wait
//   pipe_ping_us         a one-byte round trip between two processes over two pipes
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
enum { N = 200 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v)
{
    qsort(v, N, sizeof *v, cmp);
    return v[N / 2];
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char *args[] = {argv[1], argv[2], NULL};
    double t[N];
    for (int i = -10; i < N; i++) {
        double a = now();
        pid_t c = fork();
        if (c == 0)
            _exit(0);
        waitpid(c, NULL, 0);
        if (i >= 0)
            t[i] = now() - a;
    }
    printf("fork_exit_wait_us %.1f\n", median(t));
    for (int i = -5; i < N; i++) {
        double a = now();
        pid_t c = fork();
        if (c == 0) {
            execve(argv[1], args, environ);
            _exit(127);
        }
        waitpid(c, NULL, 0);
        if (i >= 0)
            t[i] = now() - a;
    }
    printf("fork_exec_wait_us %.1f\n", median(t));
    for (int i = -5; i < N; i++) {
        double a = now();
        pid_t c;
        if (posix_spawn(&c, argv[1], NULL, NULL, args, environ) != 0)
            return 1;
        waitpid(c, NULL, 0);
        if (i >= 0)
            t[i] = now() - a;
    }
    printf("spawn_wait_us %.1f\n", median(t));
    int ab[2], ba[2];
    if (pipe(ab) || pipe(ba))
        return 1;
    pid_t c = fork();
    if (c == 0) {
        char b;
        close(ab[1]);
        close(ba[0]);
        while (read(ab[0], &b, 1) == 1)
            write(ba[1], &b, 1);
        _exit(0);
    }
    for (int i = -10; i < N; i++) {
        char b = 'x';
        double a = now();
        write(ab[1], &b, 1);
        read(ba[0], &b, 1);
        if (i >= 0)
            t[i] = now() - a;
    }
    close(ab[1]);
    waitpid(c, NULL, 0);
    printf("pipe_ping_us %.1f\n", median(t));
    return 0;
}
