// Thread and signal costs inside the process, one line each: NAME VALUE.
//   futex_pingpong_ns   a round trip between two threads through raw FUTEX_WAIT/WAKE
//   create_join_us      pthread_create + pthread_join of an empty thread
//   signal_raise_ns     raise() to a handler and back
//   spin_alone_ms       a CPU-bound loop in one thread
//   spin_shared_ms      the same loop in each of two threads at once (wall time: on
//                       uk-run's one vCPU, twice the first plus the cost of preemption)
#define _GNU_SOURCE
#define FUTEX_WAIT_PRIVATE 128
#define FUTEX_WAKE_PRIVATE 129
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static atomic_int word;
static void fwait(int v) { syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void fwake(void) { syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

enum { ROUNDS = 20000 };
static void *ponger(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        while (atomic_load(&word) != 1)
            fwait(0);
        atomic_store(&word, 0);
        fwake();
    }
    return NULL;
}

static void *empty(void *arg) { return arg; }
static volatile long handled;
static void on_usr1(int s) { (void)s; handled++; }

static volatile unsigned long sink;
static void *spin(void *arg)
{
    unsigned long s = 0;
    for (unsigned long i = 0; i < 200000000UL; i++)
        s += i ^ (unsigned long)arg;
    sink = s;
    return NULL;
}

int main(void)
{
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        pthread_t t;
        atomic_store(&word, 0);
        pthread_create(&t, NULL, ponger, NULL);
        double t0 = now();
        for (int i = 0; i < ROUNDS; i++) {
            atomic_store(&word, 1);
            fwake();
            while (atomic_load(&word) != 0)
                fwait(1);
        }
        double per = (now() - t0) / ROUNDS;
        pthread_join(t, NULL);
        if (per < best)
            best = per;
    }
    printf("futex_pingpong_ns %.0f\n", best);

    best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        for (int i = 0; i < 2000; i++) {
            pthread_t t;
            pthread_create(&t, NULL, empty, NULL);
            pthread_join(t, NULL);
        }
        double per = (now() - t0) / 2000 / 1000;
        if (per < best)
            best = per;
    }
    printf("create_join_us %.1f\n", best);

    signal(SIGUSR1, on_usr1);
    best = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        for (int i = 0; i < 100000; i++)
            raise(SIGUSR1);
        double per = (now() - t0) / 100000;
        if (per < best)
            best = per;
    }
    printf("signal_raise_ns %.0f\n", best);

    double alone = 1e30, shared = 1e30;
    for (int r = 0; r < 5; r++) {
        double t0 = now();
        pthread_t a, b;
        pthread_create(&a, NULL, spin, (void *)1);
        pthread_join(a, NULL);
        double t1 = now();
        pthread_create(&a, NULL, spin, (void *)2);
        pthread_create(&b, NULL, spin, (void *)3);
        pthread_join(a, NULL);
        pthread_join(b, NULL);
        double t2 = now();
        if (t1 - t0 < alone)
            alone = t1 - t0;
        if (t2 - t1 < shared)
            shared = t2 - t1;
    }
    printf("spin_alone_ms %.1f\n", alone / 1e6);
    printf("spin_shared_ms %.1f\n", shared / 1e6);
    return 0;
}
