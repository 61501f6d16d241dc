/*
 * memory.c - the memory-management system calls a static program uses:
 * brk, malloc (small, large, mmap-threshold sized), anonymous mmap and
 * munmap, mprotect, mremap and madvise(MADV_DONTNEED).
 *
 * Every check prints "OK <what>" or "FAIL <what>"; the exit status is the
 * number of failures. No address is printed.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define KiB 1024UL
#define MiB (1024UL * 1024UL)

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "OK" : "FAIL", what);
    if (!ok)
        failures++;
}

/* Fills `len` bytes at `p` with a pattern that depends on the offset and a seed. */
static void fill(volatile unsigned char *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)(i * 31 + (i >> 12) + seed);
}

/* Checks bytes [from, from + len) of a region filled by fill(p, ..., seed). */
static int verify_at(const volatile unsigned char *p, size_t from, size_t len, unsigned seed)
{
    for (size_t i = from; i < from + len; i++)
        if (p[i] != (unsigned char)(i * 31 + (i >> 12) + seed))
            return 0;
    return 1;
}

static int verify(const volatile unsigned char *p, size_t len, unsigned seed)
{
    return verify_at(p, 0, len, seed);
}

static int all_zero(const volatile unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != 0)
            return 0;
    return 1;
}

static uintptr_t raw_brk(uintptr_t addr)
{
    return (uintptr_t)syscall(SYS_brk, addr);
}

/*
 * brk is exercised with the raw system call (musl's sbrk only supports an
 * increment of 0). The results are recorded first and printed afterwards,
 * so that stdio's own allocations cannot interleave with the experiment;
 * the break is restored to where it was.
 */
static void test_brk(void)
{
    uintptr_t start = raw_brk(0);
    uintptr_t base = (start + 4095) & ~(uintptr_t)4095;

    uintptr_t grown = raw_brk(base + 1 * MiB);
    int grow_ok = start != 0 && grown == base + 1 * MiB;
    int rw_ok = 0, shrink_ok = 0, regrow_ok = 0, zero_ok = 0, restore_ok = 0;
    if (grow_ok) {
        volatile unsigned char *p = (volatile unsigned char *)base;
        fill(p, 1 * MiB, 1);
        rw_ok = verify(p, 1 * MiB, 1);

        uintptr_t shrunk = raw_brk(base + 256 * KiB);
        shrink_ok = shrunk == base + 256 * KiB && raw_brk(0) == base + 256 * KiB;

        /* Growing again must hand out zeroed memory above the old break. */
        uintptr_t regrown = raw_brk(base + 1 * MiB);
        regrow_ok = regrown == base + 1 * MiB;
        if (regrow_ok)
            zero_ok = verify(p, 256 * KiB, 1) && all_zero(p + 256 * KiB, 768 * KiB);
    }
    restore_ok = raw_brk(start) == start;

    check(start != 0, "brk(0) returns the current break");
    check(grow_ok, "brk grows by 1 MiB");
    check(rw_ok, "brk memory is readable and writable");
    check(shrink_ok, "brk shrinks");
    check(regrow_ok, "brk grows again after shrinking");
    check(zero_ok, "brk memory above the old break is zero after regrowing");
    check(restore_ok, "brk restored to its initial value");
}

static void test_malloc(void)
{
    static const size_t sizes[] = {
        1, 8, 16, 24, 100, 1000, 4095, 4096, 4097, 64 * KiB, 128 * KiB - 1,
        128 * KiB, 128 * KiB + 1, 256 * KiB, 1 * MiB, 8 * MiB, 64 * MiB,
    };
    enum { N = sizeof sizes / sizeof sizes[0] };
    unsigned char *blocks[N];
    int ok = 1;

    for (unsigned i = 0; i < N; i++) {
        blocks[i] = malloc(sizes[i]);
        if (!blocks[i]) {
            ok = 0;
            continue;
        }
        fill(blocks[i], sizes[i], i);
    }
    for (unsigned i = 0; i < N; i++)
        if (blocks[i] && !verify(blocks[i], sizes[i], i))
            ok = 0;
    for (unsigned i = 0; i < N; i++)
        free(blocks[i]);
    check(ok, "malloc of sizes 1 B .. 64 MiB, all readable and writable");

    /* Many small allocations, freed in an interleaved order. */
    enum { MANY = 10000 };
    static unsigned char *many[MANY];
    ok = 1;
    for (unsigned i = 0; i < MANY; i++) {
        many[i] = malloc(1 + i % 300);
        if (!many[i])
            ok = 0;
        else
            fill(many[i], 1 + i % 300, i);
    }
    for (unsigned i = 0; i < MANY; i += 2)
        free(many[i]);
    for (unsigned i = 1; i < MANY; i += 2)
        if (many[i] && !verify(many[i], 1 + i % 300, i))
            ok = 0;
    for (unsigned i = 1; i < MANY; i += 2)
        free(many[i]);
    check(ok, "10000 small mallocs and frees");

    /* realloc across the mmap threshold keeps the contents. */
    unsigned char *r = malloc(1000);
    ok = r != NULL;
    if (ok) {
        fill(r, 1000, 7);
        r = realloc(r, 4 * MiB);
        ok = r && verify(r, 1000, 7);
        if (ok) {
            fill(r, 4 * MiB, 8);
            r = realloc(r, 100);
            ok = r && verify(r, 100, 8);
        }
        free(r);
    }
    check(ok, "realloc grow past the mmap threshold and shrink keeps contents");

    unsigned char *c = calloc(1, 2 * MiB);
    check(c && all_zero(c, 2 * MiB), "calloc of 2 MiB is zeroed");
    free(c);
}

static void test_mmap(void)
{
    size_t len = 16 * MiB;
    unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok = p != MAP_FAILED;
    check(ok, "mmap 16 MiB anonymous");
    if (!ok)
        return;
    check(((uintptr_t)p & 4095) == 0, "mmap result is page aligned");
    check(all_zero(p, len), "fresh anonymous mapping is zero");
    fill(p, len, 3);
    check(verify(p, len, 3), "16 MiB mapping keeps a written pattern");
    check(munmap(p, len) == 0, "munmap 16 MiB");

    /* Unmapping part of a mapping leaves the rest intact. */
    p = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ok = p != MAP_FAILED;
    if (ok) {
        fill(p, 3 * 4096, 4);
        ok = munmap(p + 4096, 4096) == 0 && verify(p, 4096, 4) &&
             verify_at(p, 2 * 4096, 4096, 4);
        munmap(p, 4096);
        munmap(p + 2 * 4096, 4096);
    }
    check(ok, "munmap of the middle page keeps the others");

    /* MAP_FIXED over an existing mapping replaces it with zero pages. */
    p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ok = p != MAP_FAILED;
    if (ok) {
        fill(p, 2 * 4096, 5);
        unsigned char *q = mmap(p + 4096, 4096, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
        ok = q == p + 4096 && verify(p, 4096, 5) && all_zero(q, 4096);
        munmap(p, 2 * 4096);
    }
    check(ok, "MAP_FIXED replaces a page with a zero page");

    check(munmap((void *)1, 4096) == -1, "munmap of an unaligned address fails");
}

static void test_mprotect(void)
{
    unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int ok = p != MAP_FAILED;
    if (ok) {
        fill(p, 4096, 9);
        ok = mprotect(p, 4096, PROT_READ) == 0 && verify(p, 4096, 9);
        check(ok, "mprotect PROT_READ keeps contents readable");
        ok = mprotect(p, 4096, PROT_READ | PROT_WRITE) == 0;
        if (ok) {
            fill(p, 4096, 10);
            ok = verify(p, 4096, 10);
        }
        check(ok, "mprotect back to PROT_READ|PROT_WRITE allows writing again");
        munmap(p, 4096);
    } else {
        check(0, "mmap for mprotect");
    }
}

static void test_mremap(void)
{
    size_t old_len = 16 * 4096, new_len = 4 * MiB;
    unsigned char *p = mmap(NULL, old_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        check(0, "mmap for mremap");
        return;
    }
    fill(p, old_len, 11);
    unsigned char *q = mremap(p, old_len, new_len, MREMAP_MAYMOVE);
    int ok = q != MAP_FAILED;
    check(ok, "mremap grow with MREMAP_MAYMOVE");
    if (!ok)
        return;
    check(verify(q, old_len, 11), "mremap keeps the old contents");
    check(all_zero(q + old_len, new_len - old_len), "mremap grown part is zero");
    fill(q, new_len, 12);
    check(verify(q, new_len, 12), "mremap grown mapping is writable");

    unsigned char *s = mremap(q, new_len, 4096, 0);
    check(s == q && verify(s, 4096, 12), "mremap shrink in place");
    munmap(s, 4096);
}

static void test_madvise(void)
{
    unsigned char *p = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        check(0, "mmap for madvise");
        return;
    }
    fill(p, 2 * 4096, 13);
    check(madvise(p, 4096, MADV_DONTNEED) == 0, "madvise MADV_DONTNEED");
    check(all_zero(p, 4096), "page reads back zero after MADV_DONTNEED");
    check(verify_at(p, 4096, 4096, 13), "the neighbouring page keeps its contents");
    munmap(p, 2 * 4096);
}

int main(void)
{
    test_brk();
    test_malloc();
    test_mmap();
    test_mprotect();
    test_mremap();
    test_madvise();
    printf("failures %d\n", failures);
    return failures;
}
