/* Signal handlers, timers and event descriptors under uk-run. Every mode
 * prints only what is deterministic (no times, no ids).
 *
 *   handlers flags     SA_SIGINFO fields, the mask inside a handler, SA_NODEFER, SA_RESETHAND, nesting
 *   handlers faults    SIGSEGV (si_addr, si_code), SIGFPE, SIGILL, SIGTRAP and SIGBUS-free recovery by siglongjmp;
 *                      a handler that returns after fixing the cause
 *   handlers altstack  SA_ONSTACK runs on the sigaltstack; sigaltstack reports SS_ONSTACK inside
 *   handlers wait      sigpending, sigsuspend, sigtimedwait (taken, and timing out), sigqueue's value, pause + alarm
 *   handlers timers    alarm, setitimer periodic, timer_create (SIGEV_SIGNAL, SIGEV_THREAD_ID, SIGEV_NONE), overruns
 *   handlers restart   a read blocked in one thread, interrupted from another: SA_RESTART restarts, else EINTR;
 *                      nanosleep's remaining time
 *   handlers events    eventfd, timerfd, epoll (level, edge, oneshot) across threads
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t hits, depth, max_depth, usr2_blocked_inside;
static volatile int last_code, last_value;

static void on_usr1(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    hits++;
    last_code = si->si_code;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    usr2_blocked_inside = sigismember(&cur, SIGUSR2) && sigismember(&cur, s);
}

static void nested(int s)
{
    (void)s;
    depth++;
    if (depth > max_depth)
        max_depth = depth;
    if (depth < 3)
        raise(SIGUSR1); /* SA_NODEFER: runs again inside */
    depth--;
}

static void count(int s)
{
    (void)s;
    hits++;
}

static int mode_flags(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("flags: handler ran %d time(s), si_code SI_TKILL: %d, SIGUSR1 and sa_mask blocked inside: %d\n", (int)hits,
           last_code == SI_TKILL, (int)usr2_blocked_inside);
    kill(getpid(), SIGUSR1);
    printf("flags: kill gives SI_USER: %d\n", last_code == SI_USER);
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    printf("flags: mask restored after return: %d\n", !sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2));

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = nested;
    sa.sa_flags = SA_NODEFER;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("flags: SA_NODEFER nests to depth %d\n", (int)max_depth);

    hits = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    printf("flags: SA_RESETHAND ran once and reset to SIG_DFL: %d %d\n", (int)hits, now.sa_handler == SIG_DFL);

    /* Blocked while pending, then delivered once when unblocked (standard signals do not queue). */
    hits = 0;
    signal(SIGUSR2, count);
    sigset_t b;
    sigemptyset(&b);
    sigaddset(&b, SIGUSR2);
    sigprocmask(SIG_BLOCK, &b, NULL);
    raise(SIGUSR2);
    raise(SIGUSR2);
    printf("flags: blocked: delivered %d\n", (int)hits);
    sigprocmask(SIG_UNBLOCK, &b, NULL);
    printf("flags: unblocked: delivered %d\n", (int)hits);
    return 0;
}

static sigjmp_buf jb;
static volatile void *fault_addr;
static volatile int fault_sig, fault_code;

static void on_fault(int s, siginfo_t *si, void *uc)
{
    (void)uc;
    fault_sig = s;
    fault_code = si->si_code;
    fault_addr = si->si_addr;
    siglongjmp(jb, 1);
}

static char *fixable;
static void fix_it(int s, siginfo_t *si, void *uc)
{
    (void)s;
    (void)uc;
    /* Make the page writable: the faulting store runs again and succeeds. */
    mprotect((void *)((uintptr_t)si->si_addr & ~(uintptr_t)4095), 4096, PROT_READ | PROT_WRITE);
    hits++;
}

static int mode_faults(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO;
    for (int s = 1; s < 32; s++)
        if (s != SIGKILL && s != SIGSTOP)
            sigaction(s, &sa, NULL);

    if (!sigsetjmp(jb, 1))
        *(volatile int *)16 = 1;
    printf("faults: NULL+16 store: sig %d SEGV_MAPERR %d addr %p\n", fault_sig, fault_code == SEGV_MAPERR, fault_addr);

    char *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!sigsetjmp(jb, 1))
        ro[8] = 1;
    printf("faults: read-only store: sig %d SEGV_ACCERR %d at offset %ld\n", fault_sig, fault_code == SEGV_ACCERR,
           (long)((char *)fault_addr - ro));

    volatile int zero = 0;
    if (!sigsetjmp(jb, 1))
        printf("%d\n", 1 / zero);
    printf("faults: divide by zero: sig %d FPE_INTDIV %d\n", fault_sig, fault_code == FPE_INTDIV);

    if (!sigsetjmp(jb, 1))
        __asm__ volatile("ud2");
    printf("faults: ud2: sig %d ILL_ILLOPN %d\n", fault_sig, fault_code == ILL_ILLOPN);

    if (!sigsetjmp(jb, 1))
        __asm__ volatile("int3");
    printf("faults: int3: sig %d SI_KERNEL %d\n", fault_sig, fault_code == SI_KERNEL);

    /* The mask is back after siglongjmp (sigsetjmp saved it): a second fault is caught too. */
    if (!sigsetjmp(jb, 1))
        *(volatile int *)24 = 1;
    printf("faults: second SIGSEGV caught: %d\n", fault_sig == SIGSEGV);

    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fix_it;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    fixable = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    hits = 0;
    fixable[100] = 42;
    printf("faults: handler fixed the page and returned: hits %d value %d\n", (int)hits, fixable[100]);
    return 0;
}

static char altstack[65536];
static volatile int on_alt, reported_onstack;

static void alt_handler(int s)
{
    (void)s;
    char here;
    on_alt = &here >= altstack && &here < altstack + sizeof altstack;
    stack_t cur;
    sigaltstack(NULL, &cur);
    reported_onstack = (cur.ss_flags & SS_ONSTACK) != 0;
}

static int mode_altstack(void)
{
    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0 };
    printf("altstack: sigaltstack: %d\n", sigaltstack(&ss, NULL));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = alt_handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("altstack: handler ran on the alternate stack: %d, saw SS_ONSTACK: %d\n", on_alt, reported_onstack);
    sa.sa_flags = 0;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    printf("altstack: without SA_ONSTACK it did not: %d\n", !on_alt);
    stack_t old;
    sigaltstack(NULL, &old);
    printf("altstack: still set, size %zu, flags %d\n", old.ss_size, old.ss_flags);
    ss.ss_size = 100;
    printf("altstack: too small: %s\n", sigaltstack(&ss, NULL) == -1 && errno == ENOMEM ? "ENOMEM" : "?");
    return 0;
}

static void on_alrm(int s)
{
    (void)s;
    hits++;
}

static int mode_wait(void)
{
    sigset_t b, pend;
    sigemptyset(&b);
    sigaddset(&b, SIGUSR1);
    sigaddset(&b, SIGUSR2);
    sigprocmask(SIG_BLOCK, &b, NULL);
    signal(SIGUSR1, count);
    raise(SIGUSR1);
    sigpending(&pend);
    printf("wait: SIGUSR1 pending: %d, SIGUSR2 pending: %d\n", sigismember(&pend, SIGUSR1), sigismember(&pend, SIGUSR2));
    sigset_t none;
    sigemptyset(&none);
    hits = 0;
    int r = sigsuspend(&none);
    printf("wait: sigsuspend returned %d EINTR %d after %d handler run(s)\n", r, errno == EINTR, (int)hits);

    raise(SIGUSR2);
    siginfo_t si;
    int s = sigwaitinfo(&b, &si);
    printf("wait: sigwaitinfo took %d (SIGUSR2 %d), si_code SI_TKILL %d\n", s, s == SIGUSR2, si.si_code == SI_TKILL);
    struct timespec ts = { 0, 20 * 1000 * 1000 };
    s = sigtimedwait(&b, &si, &ts);
    printf("wait: sigtimedwait with nothing pending: %d EAGAIN %d\n", s, errno == EAGAIN);

    union sigval v = { .sival_int = 4242 };
    sigqueue(getpid(), SIGUSR2, v);
    s = sigwaitinfo(&b, &si);
    printf("wait: sigqueue's value %d, si_code SI_QUEUE %d\n", si.si_value.sival_int, si.si_code == SI_QUEUE);

    /* Real-time signals queue: three sent, three taken, in order. */
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN + 2);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    for (int i = 0; i < 3; i++) {
        v.sival_int = i;
        sigqueue(getpid(), SIGRTMIN + 2, v);
    }
    printf("wait: real-time values:");
    for (int i = 0; i < 3; i++) {
        sigwaitinfo(&rt, &si);
        printf(" %d", si.si_value.sival_int);
    }
    printf("\n");

    signal(SIGALRM, on_alrm);
    hits = 0;
    alarm(1);
    pause();
    printf("wait: pause ended by SIGALRM: %d\n", (int)hits);
    return 0;
}

static volatile int thread_hits;
static void count_thread(int s)
{
    (void)s;
    thread_hits++;
}

static pthread_t main_thread;
static int mode_timers(void)
{
    signal(SIGALRM, on_alrm);
    hits = 0;
    struct itimerval it = { { 0, 10000 }, { 0, 10000 } };
    setitimer(ITIMER_REAL, &it, NULL);
    while (hits < 5)
        pause();
    struct itimerval off = { { 0, 0 }, { 0, 0 } }, old;
    setitimer(ITIMER_REAL, &off, &old);
    printf("timers: setitimer ticked %d times; old interval %ld us\n", (int)hits, (long)old.it_interval.tv_usec);
    getitimer(ITIMER_REAL, &old);
    printf("timers: disarmed: %d\n", old.it_value.tv_sec == 0 && old.it_value.tv_usec == 0);
    printf("timers: alarm(5) then alarm(0) left %u\n", (alarm(5), alarm(0)));

    /* A CPU-bound loop is interrupted by its timer: no syscall in the loop. */
    hits = 0;
    alarm(1);
    volatile unsigned long spin = 0;
    while (!hits)
        spin++;
    printf("timers: a busy loop was interrupted by SIGALRM: %d\n", (int)hits);

    timer_t t;
    struct sigevent sev;
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_SIGNAL;
    sev.sigev_signo = SIGUSR1;
    sev.sigev_value.sival_int = 77;
    printf("timers: timer_create: %d\n", timer_create(CLOCK_MONOTONIC, &sev, &t));
    sigset_t b;
    sigemptyset(&b);
    sigaddset(&b, SIGUSR1);
    sigprocmask(SIG_BLOCK, &b, NULL);
    struct itimerspec its = { { 0, 2000000 }, { 0, 2000000 } };
    timer_settime(t, 0, &its, NULL);
    siginfo_t si;
    sigwaitinfo(&b, &si);
    printf("timers: SIGEV_SIGNAL: value %d, SI_TIMER %d\n", si.si_value.sival_int, si.si_code == SI_TIMER);
    usleep(30000);
    sigwaitinfo(&b, &si);
    printf("timers: overruns counted while pending: %d\n", timer_getoverrun(t) > 3);
    timer_delete(t);

    main_thread = pthread_self();
    signal(SIGUSR2, count_thread);
    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGUSR2;
#ifdef sigev_notify_thread_id
    sev.sigev_notify_thread_id = (pid_t)syscall(SYS_gettid);
#else
    sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
#endif
    timer_create(CLOCK_REALTIME, &sev, &t);
    struct itimerspec once = { { 0, 0 }, { 0, 5000000 } };
    timer_settime(t, 0, &once, NULL);
    while (!thread_hits)
        usleep(1000);
    printf("timers: SIGEV_THREAD_ID reached the thread: %d\n", thread_hits);
    timer_delete(t);

    memset(&sev, 0, sizeof sev);
    sev.sigev_notify = SIGEV_NONE;
    timer_create(CLOCK_MONOTONIC, &sev, &t);
    struct itimerspec longone = { { 0, 0 }, { 100, 0 } }, cur;
    timer_settime(t, 0, &longone, NULL);
    timer_gettime(t, &cur);
    printf("timers: SIGEV_NONE counts down: %d\n", cur.it_value.tv_sec >= 99 && cur.it_value.tv_sec <= 100);
    timer_delete(t);
    printf("timers: deleted id is gone: %s\n", timer_gettime(t, &cur) == -1 && errno == EINVAL ? "EINVAL" : "?");
    return 0;
}

static int rpipe[2];
static pthread_t reader;
static volatile int interrupted_reads;

static void *kicker(void *arg)
{
    (void)arg;
    usleep(30000);
    pthread_kill(reader, SIGUSR1);
    usleep(30000);
    if (write(rpipe[1], "x", 1) != 1)
        abort();
    return NULL;
}

static int blocked_read(int flags)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count;
    sa.sa_flags = flags;
    sigaction(SIGUSR1, &sa, NULL);
    if (pipe(rpipe) != 0)
        return -2;
    reader = pthread_self();
    pthread_t k;
    pthread_create(&k, NULL, kicker, NULL);
    char c;
    hits = 0;
    ssize_t n = read(rpipe[0], &c, 1);
    int e = errno;
    pthread_join(k, NULL);
    close(rpipe[0]);
    close(rpipe[1]);
    errno = e;
    return (int)n;
}

static void *sleeper_kick(void *arg)
{
    usleep(30000);
    pthread_kill(*(pthread_t *)arg, SIGUSR1);
    return NULL;
}

static int mode_restart(void)
{
    int n = blocked_read(SA_RESTART);
    printf("restart: with SA_RESTART the read went on and got %d byte(s); handler ran %d\n", n, (int)hits);
    n = blocked_read(0);
    printf("restart: without it the read answered %d EINTR %d; handler ran %d\n", n, errno == EINTR, (int)hits);

    pthread_t self = pthread_self(), k;
    pthread_create(&k, NULL, sleeper_kick, &self);
    struct timespec req = { 5, 0 }, rem = { 0, 0 };
    int r = nanosleep(&req, &rem);
    pthread_join(k, NULL);
    printf("restart: nanosleep interrupted: %d EINTR %d, time left between 4 and 5 s: %d\n", r, errno == EINTR,
           rem.tv_sec == 4);
    return 0;
}

static int efd;
static void *poster(void *arg)
{
    (void)arg;
    for (int i = 0; i < 3; i++) {
        usleep(5000);
        uint64_t one = 1;
        if (write(efd, &one, 8) != 8)
            abort();
    }
    return NULL;
}

static int mode_events(void)
{
    efd = eventfd(0, 0);
    pthread_t t;
    pthread_create(&t, NULL, poster, NULL);
    uint64_t got = 0, v;
    while (got < 3) {
        if (read(efd, &v, 8) != 8)
            abort();
        got += v;
    }
    pthread_join(t, NULL);
    printf("events: eventfd read %llu across threads\n", (unsigned long long)got);
    int nb = eventfd(0, EFD_NONBLOCK | EFD_SEMAPHORE);
    printf("events: empty nonblocking eventfd: %s\n", read(nb, &v, 8) == -1 && errno == EAGAIN ? "EAGAIN" : "?");
    v = 2;
    if (write(nb, &v, 8) != 8)
        abort();
    ssize_t r1 = read(nb, &v, 8);
    printf("events: semaphore mode reads 1 at a time: %zd %llu\n", r1, (unsigned long long)v);

    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    struct itimerspec its = { { 0, 3000000 }, { 0, 3000000 } };
    timerfd_settime(tfd, 0, &its, NULL);
    uint64_t exp = 0, e;
    while (exp < 3) {
        if (read(tfd, &e, 8) != 8)
            abort();
        exp += e;
    }
    printf("events: timerfd expired at least 3 times: %d\n", exp >= 3);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    int p[2];
    if (pipe(p) != 0)
        abort();
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 }, out[4];
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    ev.events = EPOLLIN;
    ev.data.u64 = 2;
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
    struct itimerspec off = { { 0, 0 }, { 0, 0 } };
    timerfd_settime(tfd, 0, &off, NULL);
    printf("events: epoll_wait with nothing ready, 10 ms: %d\n", epoll_wait(ep, out, 4, 10));
    if (write(p[1], "ab", 2) != 2)
        abort();
    int n = epoll_wait(ep, out, 4, 1000);
    printf("events: level-triggered pipe: %d event(s), data %llu, EPOLLIN %d\n", n, (unsigned long long)out[0].data.u64,
           (out[0].events & EPOLLIN) != 0);
    printf("events: still ready while unread: %d\n", epoll_wait(ep, out, 4, 0));
    ev.events = EPOLLIN | EPOLLET;
    ev.data.u64 = 3;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    printf("events: edge-triggered, first wait: %d\n", epoll_wait(ep, out, 4, 0));
    printf("events: edge-triggered, no new data: %d\n", epoll_wait(ep, out, 4, 0));
    if (write(p[1], "c", 1) != 1)
        abort();
    printf("events: edge-triggered, new data: %d\n", epoll_wait(ep, out, 4, 0));
    ev.events = EPOLLIN | EPOLLONESHOT;
    epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev);
    printf("events: oneshot: %d then %d\n", epoll_wait(ep, out, 4, 0), epoll_wait(ep, out, 4, 0));
    printf("events: adding twice: %s\n", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == -1 && errno == EEXIST ? "EEXIST" : "?");
    int f = open("/proc/self/cmdline", O_RDONLY);
    printf("events: a regular file: %s\n", epoll_ctl(ep, EPOLL_CTL_ADD, f, &ev) == -1 && errno == EPERM ? "EPERM" : "?");
    /* A thread blocked in epoll_wait is woken by a write from another. */
    epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL);
    char buf[8];
    if (read(p[0], buf, sizeof buf) < 0)
        abort();
    int q[2];
    if (pipe(q) != 0)
        abort();
    ev.events = EPOLLIN;
    ev.data.u64 = 9;
    epoll_ctl(ep, EPOLL_CTL_ADD, q[0], &ev);
    efd = q[1];
    pthread_create(&t, NULL, poster, NULL);
    n = epoll_wait(ep, out, 4, 5000);
    printf("events: woken by another thread's write: %d, data %llu\n", n, (unsigned long long)out[0].data.u64);
    pthread_join(t, NULL);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "";
    if (!strcmp(mode, "flags"))
        return mode_flags();
    if (!strcmp(mode, "faults"))
        return mode_faults();
    if (!strcmp(mode, "altstack"))
        return mode_altstack();
    if (!strcmp(mode, "wait"))
        return mode_wait();
    if (!strcmp(mode, "timers"))
        return mode_timers();
    if (!strcmp(mode, "restart"))
        return mode_restart();
    if (!strcmp(mode, "events"))
        return mode_events();
    fprintf(stderr, "usage: %s flags|faults|altstack|wait|timers|restart|events\n", argv[0]);
    return 2;
}
