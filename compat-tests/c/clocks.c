/*
 * clocks.c - clocks and sleeps. Time values differ on every run, so only
 * relations are printed: "OK <what>" or "FAIL <what> (...)"; the exit
 * status is the number of failures.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/time.h>
#include <time.h>

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "OK" : "FAIL", what);
    if (!ok)
        failures++;
}

static int64_t ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static int64_t monotonic_ns(void)
{
    struct timespec t;
    if (clock_gettime(CLOCK_MONOTONIC, &t) != 0)
        return -1;
    return ns(&t);
}

#define MS 1000000LL

/* A sleep of 20 ms must take at least 20 ms and (generously) under 2 s. */
static void check_sleep(int64_t start, const char *what)
{
    int64_t elapsed = monotonic_ns() - start;
    int ok = elapsed >= 20 * MS && elapsed < 2000 * MS;
    printf("%s %s takes between 20 ms and 2 s\n", ok ? "OK" : "FAIL", what);
    if (!ok) {
        failures++;
        fprintf(stderr, "%s took %lld ns\n", what, (long long)elapsed);
    }
}

int main(void)
{
    static const struct {
        clockid_t id;
        const char *name;
    } clocks[] = {
        {CLOCK_REALTIME, "CLOCK_REALTIME"},
        {CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
        {CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
        {CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
    };
    for (unsigned i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec t = {-1, -1};
        int ok = clock_gettime(clocks[i].id, &t) == 0 && t.tv_sec >= 0 &&
                 t.tv_nsec >= 0 && t.tv_nsec < 1000000000;
        printf("%s clock_gettime(%s)\n", ok ? "OK" : "FAIL", clocks[i].name);
        failures += !ok;
    }

    struct timespec res = {0, 0};
    check(clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(&res) > 0 && ns(&res) <= MS,
          "clock_getres(CLOCK_MONOTONIC) is between 1 ns and 1 ms");

    /* CLOCK_MONOTONIC never goes backwards and does advance. */
    int64_t first = monotonic_ns(), prev = first, now = first;
    int never_back = 1;
    for (int i = 0; i < 100000 && now - first < 2 * MS; i++) {
        now = monotonic_ns();
        never_back &= now >= prev;
        prev = now;
    }
    check(never_back, "CLOCK_MONOTONIC never goes backwards");
    check(now > first, "CLOCK_MONOTONIC advances");

    /* The process CPU clock advances while the process computes. */
    struct timespec c0, c1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    volatile uint64_t sink = 0;
    for (uint64_t i = 0; i < 20000000; i++)
        sink += i;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    check(ns(&c1) > ns(&c0), "CLOCK_PROCESS_CPUTIME_ID advances while computing");

    /* gettimeofday() and time() agree with CLOCK_REALTIME within 2 s. */
    struct timespec rt;
    struct timeval tv;
    clock_gettime(CLOCK_REALTIME, &rt);
    int gtod_ok = gettimeofday(&tv, NULL) == 0;
    time_t t = time(NULL);
    int64_t rt_us = ns(&rt) / 1000, tv_us = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
    check(gtod_ok && tv_us - rt_us > -2000000 && tv_us - rt_us < 2000000,
          "gettimeofday agrees with CLOCK_REALTIME within 2 s");
    check(t - rt.tv_sec > -2 && t - rt.tv_sec < 2, "time agrees with CLOCK_REALTIME within 2 s");
    check(rt.tv_sec > 1600000000, "CLOCK_REALTIME is after September 2020");

    /* Sleeps. */
    struct timespec d = {0, 20 * MS};
    int64_t start = monotonic_ns();
    check(nanosleep(&d, NULL) == 0, "nanosleep(20 ms) returns 0");
    check_sleep(start, "nanosleep(20 ms)");

    start = monotonic_ns();
    check(clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL) == 0,
          "clock_nanosleep(CLOCK_MONOTONIC, relative 20 ms) returns 0");
    check_sleep(start, "clock_nanosleep(CLOCK_MONOTONIC, relative 20 ms)");

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    start = ns(&deadline);
    deadline.tv_nsec += 20 * MS;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_nsec -= 1000000000;
        deadline.tv_sec++;
    }
    check(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &deadline, NULL) == 0,
          "clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME now + 20 ms) returns 0");
    check_sleep(start, "clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME now + 20 ms)");

    /* An absolute deadline in the past returns at once. */
    struct timespec past = {0, 0};
    start = monotonic_ns();
    int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    check(r == 0 && monotonic_ns() - start < 1000 * MS,
          "clock_nanosleep to a past deadline returns at once");

    struct timespec bad = {0, 1000000000};
    check(nanosleep(&bad, NULL) == -1 && errno == EINVAL, "nanosleep with tv_nsec = 1e9 fails with EINVAL");

    printf("failures %d\n", failures);
    return failures;
}
