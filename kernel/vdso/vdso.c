/* uk-run's vDSO: clock_gettime, gettimeofday, time, clock_getres and
 * getcpu without entering the kernel. The clock is the guest kernel's own:
 * the TSC scaled by a 32.32 multiplier from a reference point, with the
 * parameters in the data page `vvar` (written once, by the kernel at boot;
 * they never change). Clocks it does not keep (CPU time) go to the kernel
 * through the syscall trampoline at address 0, as a rewritten syscall does. */
#include <stdint.h>

struct timespec_k {
    long tv_sec;
    long tv_nsec;
};
struct timeval_k {
    long tv_sec;
    long tv_usec;
};

/* Layout shared with the kernel (kernel/src/main.rs, VdsoData). */
struct vvar {
    uint64_t tsc_ref;
    uint64_t mult;
    uint64_t realtime_ref;
    uint64_t monotonic_ref;
};

/* Not red-zone code: the fallback's `call *%rax` pushes below rsp (built with -mno-red-zone). */
__attribute__((section(".vvar"), aligned(4096), used)) static volatile struct vvar vvar;

static inline uint64_t elapsed(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    uint64_t d = (((uint64_t)hi << 32) | lo) - vvar.tsc_ref;
    return (uint64_t)(((unsigned __int128)d * vvar.mult) >> 32);
}

static long sys(long nr, long a, long b)
{
    long ret;
    register long rdi __asm__("rdi") = a;
    register long rsi __asm__("rsi") = b;
    /* The trampoline at address `nr` leads to the kernel's entry. */
    __asm__ volatile("call *%%rax" : "=a"(ret) : "a"(nr), "r"(rdi), "r"(rsi) : "rcx", "r11", "rdx", "r8", "r9", "r10", "memory");
    return ret;
}

enum { REALTIME = 0, MONOTONIC = 1, MONOTONIC_RAW = 4, REALTIME_COARSE = 5, MONOTONIC_COARSE = 6, BOOTTIME = 7, TAI = 11 };

static int base_of(long clock, uint64_t *base)
{
    switch (clock) {
    case REALTIME:
    case REALTIME_COARSE:
    case TAI:
        *base = vvar.realtime_ref;
        return 1;
    case MONOTONIC:
    case MONOTONIC_RAW:
    case MONOTONIC_COARSE:
    case BOOTTIME:
        *base = vvar.monotonic_ref;
        return 1;
    }
    return 0;
}

int __vdso_clock_gettime(long clock, struct timespec_k *ts)
{
    uint64_t base;
    if (!base_of(clock, &base))
        return (int)sys(228, clock, (long)ts);
    uint64_t ns = base + elapsed();
    ts->tv_sec = (long)(ns / 1000000000);
    ts->tv_nsec = (long)(ns % 1000000000);
    return 0;
}
int clock_gettime(long, struct timespec_k *) __attribute__((weak, alias("__vdso_clock_gettime")));

int __vdso_gettimeofday(struct timeval_k *tv, void *tz)
{
    if (tv) {
        uint64_t ns = vvar.realtime_ref + elapsed();
        tv->tv_sec = (long)(ns / 1000000000);
        tv->tv_usec = (long)(ns % 1000000000 / 1000);
    }
    if (tz)
        *(uint64_t *)tz = 0;
    return 0;
}
int gettimeofday(struct timeval_k *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));

long __vdso_time(long *t)
{
    long s = (long)((vvar.realtime_ref + elapsed()) / 1000000000);
    if (t)
        *t = s;
    return s;
}
long time(long *) __attribute__((weak, alias("__vdso_time")));

int __vdso_clock_getres(long clock, struct timespec_k *res)
{
    uint64_t base;
    if (!base_of(clock, &base))
        return (int)sys(229, clock, (long)res);
    if (res) {
        res->tv_sec = 0;
        res->tv_nsec = 1;
    }
    return 0;
}
int clock_getres(long, struct timespec_k *) __attribute__((weak, alias("__vdso_clock_getres")));

/* One vCPU, one node. */
long __vdso_getcpu(unsigned *cpu, unsigned *node, void *cache)
{
    (void)cache;
    if (cpu)
        *cpu = 0;
    if (node)
        *node = 0;
    return 0;
}
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
