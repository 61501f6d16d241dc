/*
 * limits.c - allocation past RLIMIT_AS, RLIMIT_DATA and RLIMIT_STACK.
 *
 *   limits as|data|stack
 *
 * as, data: lowers the limit to 64 MiB, then allocates (malloc, mmap, brk,
 * mremap) past it: each must fail with ENOMEM, and smaller ones succeed.
 * stack: lowers RLIMIT_STACK to 1 MiB and recurses past it in a child of
 * nothing (there is no fork): the program dies of SIGSEGV, as natively.
 *
 * exhaust, touch: for uk-run with a small --memory only (natively they
 * would take the machine's memory): exhaust allocates and writes 1 MiB
 * blocks until malloc returns NULL; touch writes every page of a 1 GiB
 * MAP_NORESERVE reservation, which ends in an out-of-memory SIGKILL.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#define MiB (1024L * 1024)

static void show(const char *what, int ok) {
    printf("%s: %s%s\n", what, ok ? "ok" : "failed", !ok && errno == ENOMEM ? " (ENOMEM)" : "");
}

static void set(int res, long bytes) {
    struct rlimit r;
    getrlimit(res, &r);
    r.rlim_cur = bytes;
    printf("setrlimit: %d\n", setrlimit(res, &r));
    struct rlimit back;
    getrlimit(res, &back);
    printf("getrlimit cur == set: %d\n", back.rlim_cur == (rlim_t)bytes);
}

static int depth(int n) {
    volatile char pad[4096];
    pad[0] = (char)n;
    return n == 0 ? pad[0] : depth(n - 1) + pad[0];
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: limits as|data|stack\n");
        return 2;
    }
    if (strcmp(argv[1], "stack") == 0) {
        printf("recursing 512 KiB: %d\n", depth(128) >= 0);
        set(RLIMIT_STACK, 1 * MiB);
        printf("recursing 256 KiB: %d\n", depth(64) >= 0);
        printf("recursing 4 MiB:\n");
        depth(1024);
        printf("not reached\n");
        return 0;
    }
    if (strcmp(argv[1], "exhaust") == 0) {
        long n = 0;
        char *p;
        while (n < 4096 && (p = malloc(1 * MiB)) != NULL) {
            memset(p, 1, 1 * MiB);
            n++;
        }
        printf("malloc returned NULL: %d (errno ENOMEM: %d)\n", n < 4096, errno == ENOMEM);
        return 0;
    }
    if (strcmp(argv[1], "touch") == 0) {
        char *r = mmap(NULL, 1024 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        printf("reserved: %d\n", r != MAP_FAILED);
        for (long off = 0; r != MAP_FAILED && off < 1024 * MiB; off += 4096)
            r[off] = 1;
        printf("touched all of it\n");
        return 0;
    }
    int res = strcmp(argv[1], "as") == 0 ? RLIMIT_AS : RLIMIT_DATA;
    /* The address space already in use counts under RLIMIT_AS: leave room. */
    set(res, 96 * MiB);
    errno = 0;
    void *big = malloc(200 * MiB);
    show("malloc 200 MiB", big != NULL);
    free(big);
    void *small = malloc(8 * MiB);
    show("malloc 8 MiB", small != NULL);
    if (small)
        memset(small, 1, 8 * MiB);
    free(small);
    errno = 0;
    void *m = mmap(NULL, 200 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("mmap 200 MiB", m != MAP_FAILED);
    m = mmap(NULL, 16 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    show("mmap 16 MiB", m != MAP_FAILED);
    errno = 0;
    void *g = m == MAP_FAILED ? MAP_FAILED : mremap(m, 16 * MiB, 300 * MiB, MREMAP_MAYMOVE);
    show("mremap to 300 MiB", g != MAP_FAILED);
    if (m != MAP_FAILED)
        munmap(m, 16 * MiB);
    errno = 0;
    void *cur = sbrk(0);
    void *b = sbrk(200 * MiB);
    show("sbrk 200 MiB", b != (void *)-1);
    printf("brk unchanged: %d\n", sbrk(0) == cur);
    /* Many small allocations until the limit: malloc returns NULL, no crash. */
    long n = 0;
    while (malloc(1 * MiB) != NULL && n < 1000)
        n++;
    printf("1 MiB allocations stopped before 1000: %d\n", n < 1000);
    return 0;
}
