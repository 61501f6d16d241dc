/* pthreads under uk-run: each mode prints what it checked; the output is
 * deterministic (no thread ids, no timings), so native and uk-run runs
 * must match byte for byte.
 *
 *   threads pingpong   a mutex and two condition variables, 2000 round trips
 *   threads many       200 threads created and joined, 8 at a time live
 *   threads tls        __thread (initial-exec and local-exec) per thread
 *   threads cancel     pthread_cancel at cancellation points (sleep, read, cond wait)
 *   threads robust     a robust mutex whose owner dies: EOWNERDEAD, then consistent
 *   threads pi         a priority-inheritance mutex under contention, and trylock
 *   threads sync       barriers, rwlocks, semaphores, pthread_once, detach
 *   threads exit       pthread_exit from main while another thread finishes the work
 *   threads preempt    main spins, with no syscall, until a new thread sets a flag: only
 *                      preemption lets that thread run on uk-run's one vCPU
 *   threads exec       a second thread execs /proc/self/exe while a third sleeps: the new
 *                      program runs alone, as the process's first thread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ping = PTHREAD_COND_INITIALIZER, pong = PTHREAD_COND_INITIALIZER;
static int turn, rounds_done;

static void *ponger(void *arg)
{
    int n = *(int *)arg;
    pthread_mutex_lock(&m);
    for (int i = 0; i < n; i++) {
        while (turn != 1)
            pthread_cond_wait(&ping, &m);
        turn = 0;
        rounds_done++;
        pthread_cond_signal(&pong);
    }
    pthread_mutex_unlock(&m);
    return NULL;
}

static int mode_pingpong(void)
{
    int n = 2000;
    pthread_t t;
    pthread_create(&t, NULL, ponger, &n);
    pthread_mutex_lock(&m);
    for (int i = 0; i < n; i++) {
        turn = 1;
        pthread_cond_signal(&ping);
        while (turn != 0)
            pthread_cond_wait(&pong, &m);
    }
    pthread_mutex_unlock(&m);
    pthread_join(t, NULL);
    printf("pingpong: %d round trips\n", rounds_done);
    return 0;
}

static void *square(void *arg)
{
    long v = (long)arg;
    return (void *)(v * v);
}

static int mode_many(void)
{
    long sum = 0;
    for (int base = 0; base < 200; base += 8) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++)
            if (pthread_create(&t[i], NULL, square, (void *)(long)(base + i)) != 0) {
                printf("create failed\n");
                return 1;
            }
        for (int i = 0; i < 8; i++) {
            void *r;
            pthread_join(t[i], &r);
            sum += (long)r;
        }
    }
    printf("many: 200 threads, sum of squares %ld\n", sum);
    return 0;
}

static __thread int tls_ie = 7;
static __thread char tls_buf[64] = "initial";
__attribute__((tls_model("local-exec"))) static __thread long tls_le = 11;

static void *tls_worker(void *arg)
{
    long id = (long)arg;
    int ok = tls_ie == 7 && strcmp(tls_buf, "initial") == 0 && tls_le == 11;
    tls_ie = (int)id;
    tls_le = id * 100;
    snprintf(tls_buf, sizeof tls_buf, "thread %ld", id);
    usleep(1000);
    char expect[64];
    snprintf(expect, sizeof expect, "thread %ld", id);
    ok = ok && tls_ie == id && tls_le == id * 100 && strcmp(tls_buf, expect) == 0;
    return (void *)(long)ok;
}

static int mode_tls(void)
{
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, tls_worker, (void *)(i + 1));
    int all = 1;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        all = all && r;
    }
    printf("tls: each thread saw its own initial values and kept its writes: %d\n", all);
    printf("tls: main thread's values untouched: %d\n", tls_ie == 7 && tls_le == 11 && strcmp(tls_buf, "initial") == 0);
    return 0;
}

static int cleanups;
static void cleanup(void *arg)
{
    (void)arg;
    cleanups++;
}

static int pipefd[2];
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static void *cancel_sleep(void *arg)
{
    (void)arg;
    pthread_cleanup_push(cleanup, NULL);
    for (;;)
        sleep(10);
    pthread_cleanup_pop(0);
    return NULL;
}

static void *cancel_read(void *arg)
{
    (void)arg;
    char c;
    pthread_cleanup_push(cleanup, NULL);
    for (;;)
        if (read(pipefd[0], &c, 1) < 0)
            break;
    pthread_cleanup_pop(0);
    return NULL;
}

static void unlock_m(void *arg)
{
    pthread_mutex_unlock(arg);
}

static void *cancel_cond(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(unlock_m, &m);
    pthread_cleanup_push(cleanup, NULL);
    for (;;)
        pthread_cond_wait(&never, &m);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return NULL;
}

static int mode_cancel(void)
{
    if (pipe(pipefd) != 0)
        return 1;
    void *(*fns[3])(void *) = { cancel_sleep, cancel_read, cancel_cond };
    const char *names[3] = { "sleep", "read", "cond_wait" };
    for (int i = 0; i < 3; i++) {
        pthread_t t;
        pthread_create(&t, NULL, fns[i], NULL);
        usleep(20000);
        pthread_cancel(t);
        void *r;
        pthread_join(t, &r);
        printf("cancel in %s: canceled %d\n", names[i], r == PTHREAD_CANCELED);
    }
    printf("cancel: cleanup handlers ran %d times\n", cleanups);
    printf("cancel: mutex free afterwards: %d\n", pthread_mutex_trylock(&m) == 0);
    pthread_mutex_unlock(&m);
    return 0;
}

static pthread_mutex_t robust;

static void *die_holding(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&robust);
    return NULL; /* exits holding it */
}

static int mode_robust(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&robust, &a);
    pthread_t t;
    pthread_create(&t, NULL, die_holding, NULL);
    pthread_join(t, NULL);
    int r = pthread_mutex_lock(&robust);
    printf("robust: lock after the owner died: %s\n", r == EOWNERDEAD ? "EOWNERDEAD" : strerror(r));
    printf("robust: consistent: %d\n", pthread_mutex_consistent(&robust));
    printf("robust: unlock: %d\n", pthread_mutex_unlock(&robust));
    printf("robust: lock again: %d\n", pthread_mutex_lock(&robust));
    pthread_mutex_unlock(&robust);
    return 0;
}

static pthread_mutex_t pi;
static long pi_count;

static void *pi_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&pi);
        pi_count++;
        if (i % 1000 == 0)
            sched_yield();
        pthread_mutex_unlock(&pi);
    }
    return NULL;
}

static void *pi_try(void *arg)
{
    (void)arg;
    return (void *)(long)pthread_mutex_trylock(&pi);
}

static int mode_pi(void)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    int r = pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT);
    printf("pi: setprotocol: %d\n", r);
    pthread_mutex_init(&pi, &a);
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, pi_worker, NULL);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("pi: count %ld\n", pi_count);
    pthread_mutex_lock(&pi);
    pthread_t o;
    void *res;
    pthread_create(&o, NULL, pi_try, NULL);
    pthread_join(o, &res);
    printf("pi: trylock by another thread while held: %s\n", (long)res == EBUSY ? "EBUSY" : strerror((int)(long)res));
    pthread_mutex_unlock(&pi);
    return 0;
}

static pthread_barrier_t bar;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static sem_t sem;
static int shared_total, once_runs, serial_seen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void once_fn(void)
{
    once_runs++;
}

static void *sync_worker(void *arg)
{
    long id = (long)arg;
    pthread_once(&once, once_fn);
    for (int round = 0; round < 50; round++) {
        pthread_rwlock_wrlock(&rw);
        shared_total += (int)id;
        pthread_rwlock_unlock(&rw);
        if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) {
            pthread_rwlock_rdlock(&rw);
            serial_seen++;
            pthread_rwlock_unlock(&rw);
        }
    }
    sem_post(&sem);
    return NULL;
}

static int mode_sync(void)
{
    pthread_barrier_init(&bar, NULL, 4);
    sem_init(&sem, 0, 0);
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, sync_worker, (void *)(i + 1));
    for (int i = 0; i < 4; i++)
        sem_wait(&sem);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    printf("sync: total %d, serial threads %d, once ran %d\n", shared_total, serial_seen, once_runs);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    int r = sem_timedwait(&sem, &ts);
    printf("sync: sem_timedwait on an empty semaphore: %s\n", r == -1 && errno == ETIMEDOUT ? "ETIMEDOUT" : "?");
    pthread_t d;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    printf("sync: detached thread created: %d\n", pthread_create(&d, &at, square, (void *)3L) == 0);
    usleep(10000);
    return 0;
}

static void *finisher(void *arg)
{
    (void)arg;
    usleep(20000);
    printf("exit: the last thread finished after main's pthread_exit\n");
    fflush(stdout);
    return NULL;
}

static int mode_exit(void)
{
    pthread_t t;
    pthread_create(&t, NULL, finisher, NULL);
    printf("exit: main calls pthread_exit\n");
    fflush(stdout);
    pthread_exit(NULL);
}

static volatile int flag;

static void *setter(void *arg)
{
    (void)arg;
    flag = 1;
    return NULL;
}

static void *sleepy_setter(void *arg)
{
    usleep(2000);
    flag = (int)(long)arg;
    return NULL;
}

static int mode_preempt(void)
{
    pthread_t t;
    pthread_create(&t, NULL, setter, NULL);
    unsigned long spins = 0;
    while (!flag)
        spins++;
    pthread_join(t, NULL);
    printf("preempt: the spinning thread saw the other's write\n");
    /* The other thread sleeps first: its wake-up must stop the spinner. */
    flag = 0;
    pthread_create(&t, NULL, sleepy_setter, (void *)2L);
    while (!flag)
        spins++;
    pthread_join(t, NULL);
    printf("preempt: and the write of a thread that slept first\n");
    flag = 0;
    pthread_create(&t, NULL, sleepy_setter, (void *)3L);
    while (!flag)
        sched_yield();
    pthread_join(t, NULL);
    printf("preempt: and with sched_yield in the loop\n");
    return 0;
}

static char **exec_argv;

static void *exec_runner(void *arg)
{
    (void)arg;
    char *args[] = { exec_argv[0], "exec-child", NULL };
    execv("/proc/self/exe", args);
    perror("execv");
    return NULL;
}

static void *long_sleeper(void *arg)
{
    (void)arg;
    sleep(100);
    return NULL;
}

static int mode_exec(char **argv)
{
    exec_argv = argv;
    pthread_t s, t;
    pthread_create(&s, NULL, long_sleeper, NULL);
    pthread_create(&t, NULL, exec_runner, NULL);
    pthread_join(t, NULL);
    return 1;
}

static int mode_exec_child(void)
{
    printf("exec: the new program's pid is its thread id: %d\n", getpid() == (pid_t)syscall(SYS_gettid));
    return 7;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "pingpong"))
        return mode_pingpong();
    if (!strcmp(mode, "many"))
        return mode_many();
    if (!strcmp(mode, "tls"))
        return mode_tls();
    if (!strcmp(mode, "cancel"))
        return mode_cancel();
    if (!strcmp(mode, "robust"))
        return mode_robust();
    if (!strcmp(mode, "pi"))
        return mode_pi();
    if (!strcmp(mode, "sync"))
        return mode_sync();
    if (!strcmp(mode, "exit"))
        return mode_exit();
    if (!strcmp(mode, "preempt"))
        return mode_preempt();
    if (!strcmp(mode, "exec"))
        return mode_exec(argv);
    if (!strcmp(mode, "exec-child"))
        return mode_exec_child();
    fprintf(stderr, "usage: %s pingpong|many|tls|cancel|robust|pi|sync|exit|preempt\n", argv[0]);
    return 2;
}
