/* Processes under uk-run: fork, vfork, posix_spawn, wait*, pipes between
 * processes, shared descriptors and memory, process groups, SIGCHLD and
 * re-parenting. Each mode prints what it checked; the output holds no pids
 * and no timings, and a parent prints only after the children it reports on
 * are done (children flush before they end), so native and uk-run runs must
 * match byte for byte.
 *
 *   procs status       exit statuses and fatal signals through waitpid; wait4 with
 *                      rusage; waitid WNOWAIT; WNOHANG; ECHILD; waitpid(-1)
 *   procs vfork        vfork + _exit, vfork + execv of this program, posix_spawn
 *                      (also with a dup2 file action), posix_spawn of a missing file
 *   procs pipes        1 MiB through a pipe, EOF, poll across processes, 4 writers of
 *                      atomic 512-byte messages, SIGPIPE and EPIPE
 *   procs fds          an open file description shared across fork: offset, status
 *                      flags (shared) and FD_CLOEXEC (not shared)
 *   procs cow          copy-on-write: globals, heap, stack, private mappings
 *   procs pgrp         setpgid, getpgid, setsid, getsid, kill to a group, kill(0, 0),
 *                      getppid
 *   procs sigchld      SIGCHLD with SA_SIGINFO; SIG_IGN and SA_NOCLDWAIT auto-reap
 *   procs orphan       a grandchild is re-parented when its parent exits
 *   procs subreaper    PR_SET_CHILD_SUBREAPER: the orphan comes to us, and we reap it
 *   procs shared       MAP_SHARED anonymous and file memory written by children
 *   procs harness      an LTP-style runner: a child per case, results in a shared
 *                      file mapping, one case crashes
 *   procs child-hello  prints one line and exits 3 (run by the vfork mode)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static const char *errname(int e)
{
    switch (e) {
    case 0: return "0";
    case ENOENT: return "ENOENT";
    case ECHILD: return "ECHILD";
    case EPIPE: return "EPIPE";
    case ESRCH: return "ESRCH";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EAGAIN: return "EAGAIN";
    case EINTR: return "EINTR";
    case EACCES: return "EACCES";
    case ENOSYS: return "ENOSYS";
    default: {
        static char buf[32];
        snprintf(buf, sizeof buf, "errno %d", e);
        return buf;
    }
    }
}

static const char *signame(int s)
{
    switch (s) {
    case SIGKILL: return "SIGKILL";
    case SIGTERM: return "SIGTERM";
    case SIGSEGV: return "SIGSEGV";
    case SIGABRT: return "SIGABRT";
    case SIGPIPE: return "SIGPIPE";
    case SIGUSR1: return "SIGUSR1";
    case SIGCHLD: return "SIGCHLD";
    default: return "?";
    }
}

/* Prints how a wait status says a process ended. */
static void print_status(const char *what, int st)
{
    printf("%s: WIFEXITED=%d", what, WIFEXITED(st) ? 1 : 0);
    if (WIFEXITED(st))
        printf(" WEXITSTATUS=%d", WEXITSTATUS(st));
    printf(" WIFSIGNALED=%d", WIFSIGNALED(st) ? 1 : 0);
    if (WIFSIGNALED(st))
        printf(" WTERMSIG=%d (%s)", WTERMSIG(st), signame(WTERMSIG(st)));
    printf(" WIFSTOPPED=%d\n", WIFSTOPPED(st) ? 1 : 0);
}

/* fork after flushing stdout; exits the program if fork fails. */
static pid_t xfork(void)
{
    fflush(stdout);
    fflush(stderr);
    pid_t p = fork();
    if (p < 0) {
        printf("fork failed: %s\n", errname(errno));
        exit(100);
    }
    return p;
}

/* waitpid for one pid, retrying EINTR; returns the status, or -1 after
 * printing the error. */
static int xwait(pid_t pid)
{
    int st;
    pid_t r;
    do
        r = waitpid(pid, &st, 0);
    while (r < 0 && errno == EINTR);
    if (r != pid) {
        printf("waitpid: returned %s, %s\n", r == pid ? "the pid" : r < 0 ? "-1" : "another pid",
               errname(r < 0 ? errno : 0));
        return -1;
    }
    return st;
}

static int write_all(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until EOF or `cap` bytes; returns the count, or -1. */
static ssize_t read_all(int fd, void *buf, size_t cap)
{
    char *p = buf;
    size_t got = 0;
    while (got < cap) {
        ssize_t r = read(fd, p + got, cap - got);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* ---------------------------------------------------------------- status */

static void child_pause_forever(void)
{
    for (;;)
        pause();
}

static void child_buffered_exit(void)
{
    /* Not flushed: exit() flushes it in the child. */
    printf("child: buffered line written out by exit()\n");
    exit(9);
}

static int mode_status(void)
{
    struct {
        const char *what;
        int kind; /* 0: _exit(arg), 1: raise(arg), 2: parent kills with arg, 3: abort, 4: NULL write, 5: exit() with buffered output */
        int arg;
    } cases[] = {
        {"_exit(0)", 0, 0},
        {"_exit(1)", 0, 1},
        {"_exit(42)", 0, 42},
        {"_exit(255)", 0, 255},
        {"_exit(257)", 0, 257},
        {"killed by the parent with SIGKILL", 2, SIGKILL},
        {"killed by the parent with SIGTERM", 2, SIGTERM},
        {"raise(SIGTERM)", 1, SIGTERM},
        {"raise(SIGKILL)", 1, SIGKILL},
        {"raise(SIGSEGV)", 1, SIGSEGV},
        {"abort()", 3, 0},
        {"NULL write", 4, 0},
        {"exit(9) after buffered output", 5, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pid_t p = xfork();
        if (p == 0) {
            switch (cases[i].kind) {
            case 0: _exit(cases[i].arg);
            case 1: raise(cases[i].arg); _exit(99);
            case 2: child_pause_forever(); break;
            case 3: abort();
            case 4: *(volatile int *)0 = 1; _exit(98);
            case 5: child_buffered_exit(); break;
            }
            _exit(97);
        }
        if (cases[i].kind == 2)
            kill(p, cases[i].arg);
        int st = xwait(p);
        print_status(cases[i].what, st);
    }

    /* wait4 with a rusage pointer. */
    {
        pid_t p = xfork();
        if (p == 0) {
            volatile unsigned long x = 0;
            for (unsigned long i = 0; i < 1000000; i++)
                x += i;
            _exit(6);
        }
        struct rusage ru;
        memset(&ru, 0xff, sizeof ru);
        int st;
        pid_t r = wait4(p, &st, 0, &ru);
        printf("wait4: returned the pid=%d\n", r == p);
        print_status("wait4", st);
        /* (ru_maxrss is left out: Linux may report 0 for a small child.) */
        printf("wait4 rusage filled: utime.tv_usec in [0,1e6)=%d stime.tv_usec in [0,1e6)=%d "
               "utime.tv_sec in [0,60)=%d stime.tv_sec in [0,60)=%d\n",
               ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000,
               ru.ru_stime.tv_usec >= 0 && ru.ru_stime.tv_usec < 1000000,
               ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_sec < 60,
               ru.ru_stime.tv_sec >= 0 && ru.ru_stime.tv_sec < 60);
    }

    /* waitid with WNOWAIT leaves the zombie; waitpid then reaps it. */
    {
        pid_t p = xfork();
        if (p == 0)
            _exit(13);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r = waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT);
        printf("waitid WNOWAIT: r=%d si_pid==child=%d si_signo=%s si_code==CLD_EXITED=%d si_status=%d\n",
               r, si.si_pid == p, signame(si.si_signo), si.si_code == CLD_EXITED, si.si_status);
        memset(&si, 0, sizeof si);
        r = waitid(P_PID, (id_t)p, &si, WEXITED | WNOWAIT);
        printf("waitid WNOWAIT again: r=%d si_pid==child=%d si_status=%d\n", r, si.si_pid == p,
               si.si_status);
        int st = xwait(p);
        print_status("waitpid after waitid WNOWAIT", st);
        errno = 0;
        r = waitid(P_PID, (id_t)p, &si, WEXITED);
        printf("waitid after the reap: r=%d %s\n", r, errname(errno));
    }

    /* waitid on a killed child: CLD_KILLED. */
    {
        pid_t p = xfork();
        if (p == 0)
            child_pause_forever();
        kill(p, SIGKILL);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int r = waitid(P_ALL, 0, &si, WEXITED);
        printf("waitid P_ALL on a killed child: r=%d si_pid==child=%d si_code==CLD_KILLED=%d si_status=%s\n",
               r, si.si_pid == p, si.si_code == CLD_KILLED, signame(si.si_status));
    }

    /* WNOHANG answers 0 while the child lives (blocked reading a pipe). */
    {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        pid_t p = xfork();
        if (p == 0) {
            close(fds[1]);
            char c = 0;
            ssize_t r = read(fds[0], &c, 1);
            _exit(r == 1 ? c : 99);
        }
        close(fds[0]);
        int st = 12345;
        usleep(20000);
        pid_t r = waitpid(p, &st, WNOHANG);
        printf("WNOHANG while the child is blocked: r=%d status untouched=%d\n", (int)r, st == 12345);
        siginfo_t si;
        memset(&si, 0, sizeof si);
        int wr = waitid(P_PID, (id_t)p, &si, WEXITED | WNOHANG);
        printf("waitid WNOHANG while the child is blocked: r=%d si_pid=%d\n", wr, (int)si.si_pid);
        if (write(fds[1], "\x21", 1) != 1)
            printf("write failed\n");
        close(fds[1]);
        st = xwait(p);
        print_status("after release", st);
    }

    /* No children: ECHILD, with and without WNOHANG, for -1 and for a pid. */
    {
        int st;
        errno = 0;
        pid_t r = waitpid(-1, &st, 0);
        printf("waitpid(-1) with no children: r=%d %s\n", (int)r, errname(errno));
        errno = 0;
        r = waitpid(-1, &st, WNOHANG);
        printf("waitpid(-1, WNOHANG) with no children: r=%d %s\n", (int)r, errname(errno));
        errno = 0;
        r = waitpid(getpid(), &st, 0);
        printf("waitpid(own pid): r=%d %s\n", (int)r, errname(errno));
        errno = 0;
        r = wait(&st);
        printf("wait() with no children: r=%d %s\n", (int)r, errname(errno));
    }

    /* waitpid(-1) collects 3 children, in whatever order they end. */
    {
        pid_t kids[3];
        for (int i = 0; i < 3; i++) {
            kids[i] = xfork();
            if (kids[i] == 0) {
                usleep((unsigned)(3 - i) * 5000);
                _exit(10 * (i + 1));
            }
        }
        int codes[3], found = 0;
        for (int i = 0; i < 3; i++) {
            int st;
            pid_t r = waitpid(-1, &st, 0);
            for (int k = 0; k < 3; k++)
                if (r == kids[k])
                    found++;
            codes[i] = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        }
        for (int i = 0; i < 3; i++)
            for (int j = i + 1; j < 3; j++)
                if (codes[j] < codes[i]) {
                    int t = codes[i];
                    codes[i] = codes[j];
                    codes[j] = t;
                }
        printf("waitpid(-1) x3: pids were our children=%d, codes %d %d %d\n", found, codes[0], codes[1],
               codes[2]);
        int st;
        errno = 0;
        pid_t r = waitpid(-1, &st, 0);
        printf("then: r=%d %s\n", (int)r, errname(errno));
    }
    return 0;
}

/* ----------------------------------------------------------------- vfork */

static volatile int vfork_flag;

static int mode_vfork(const char *self)
{
    pid_t p;

    fflush(stdout);
    p = vfork();
    if (p == 0)
        _exit(5);
    print_status("vfork + _exit(5)", xwait(p));

    /* The child shares the parent's memory until it exits or execs, and the
     * parent waits meanwhile. */
    vfork_flag = 0;
    fflush(stdout);
    p = vfork();
    if (p == 0) {
        vfork_flag = 77;
        _exit(0);
    }
    printf("vfork: the parent sees the child's store=%d\n", vfork_flag == 77);
    print_status("vfork + store + _exit(0)", xwait(p));

    char *args[] = {(char *)self, (char *)"child-hello", NULL};
    fflush(stdout);
    p = vfork();
    if (p == 0) {
        execv(self, args);
        _exit(127);
    }
    print_status("vfork + execv child-hello", xwait(p));

    char missing[] = "./no-such-program-here";
    char *margs[] = {missing, NULL};
    fflush(stdout);
    p = vfork();
    if (p == 0) {
        execv(missing, margs);
        _exit(errno == ENOENT ? 44 : 45);
    }
    print_status("vfork + execv of a missing file", xwait(p));

    pid_t sp;
    fflush(stdout);
    int e = posix_spawn(&sp, self, NULL, NULL, args, environ);
    printf("posix_spawn: %s\n", errname(e));
    if (e == 0)
        print_status("posix_spawn child-hello", xwait(sp));

    /* posix_spawn with a dup2 file action: the child's stdout is a pipe. */
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    fflush(stdout);
    e = posix_spawn(&sp, self, &fa, NULL, args, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    printf("posix_spawn with dup2: %s\n", errname(e));
    if (e == 0) {
        char buf[256];
        ssize_t n = read_all(fds[0], buf, sizeof buf - 1);
        buf[n < 0 ? 0 : n] = 0;
        printf("read from the spawned child's stdout: %s", buf);
        print_status("posix_spawn with dup2", xwait(sp));
    }
    close(fds[0]);

    e = posix_spawn(&sp, missing, NULL, NULL, margs, environ);
    printf("spawn-missing: %s\n", e == ENOENT ? "ENOENT" : errname(e));
    if (e == 0)
        /* Some libcs report the failure as exit status 127 instead. */
        print_status("spawn-missing child", xwait(sp));
    e = posix_spawnp(&sp, "no-such-program-anywhere", NULL, NULL, margs, environ);
    printf("spawnp-missing: %s\n", e == ENOENT ? "ENOENT" : errname(e));
    if (e == 0)
        print_status("spawnp-missing child", xwait(sp));
    return 0;
}

/* ----------------------------------------------------------------- pipes */

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i * 7 + i / 251);
}

#define NWRITERS 4
#define NMSG 200
#define MSGLEN 512

static int mode_pipes(void)
{
    /* 1 MiB from a child in chunks of varying size. */
    {
        const size_t total = 1 << 20;
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        pid_t p = xfork();
        if (p == 0) {
            close(fds[0]);
            static unsigned char buf[5000];
            size_t off = 0, k = 0;
            while (off < total) {
                size_t n = 1 + (k++ * 997) % sizeof buf;
                if (n > total - off)
                    n = total - off;
                for (size_t i = 0; i < n; i++)
                    buf[i] = pattern(off + i);
                if (write_all(fds[1], buf, n) != 0)
                    _exit(1);
                off += n;
            }
            _exit(0);
        }
        close(fds[1]);
        static unsigned char in[65536];
        size_t got = 0;
        unsigned long h = 2166136261u, mismatches = 0;
        for (;;) {
            ssize_t r = read(fds[0], in, sizeof in);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0)
                break;
            for (ssize_t i = 0; i < r; i++) {
                if (in[i] != pattern(got + (size_t)i))
                    mismatches++;
                h = ((h ^ in[i]) * 16777619u) & 0xffffffffu;
            }
            got += (size_t)r;
        }
        close(fds[0]);
        printf("1 MiB pipe: %zu bytes, fnv1a %08lx, mismatches %lu\n", got, h, mismatches);
        print_status("writer", xwait(p));
    }

    /* EOF as soon as the child closes its end, while it still lives; poll
     * sees the data the child writes later. */
    {
        int data[2], hold[2];
        if (pipe(data) != 0 || pipe(hold) != 0)
            return 1;
        pid_t p = xfork();
        if (p == 0) {
            close(data[0]);
            close(hold[1]);
            usleep(20000);
            if (write_all(data[1], "hello", 5) != 0)
                _exit(1);
            close(data[1]);
            char c;
            ssize_t r = read(hold[0], &c, 1);
            _exit(r == 0 ? 0 : 2);
        }
        close(data[1]);
        close(hold[0]);
        struct pollfd pfd = {.fd = data[0], .events = POLLIN};
        int pr = poll(&pfd, 1, 10000);
        printf("poll on a child's pipe: r=%d POLLIN=%d\n", pr, (pfd.revents & POLLIN) != 0);
        char buf[16];
        ssize_t n = read_all(data[0], buf, sizeof buf);
        printf("read until EOF with the child alive: %zd bytes \"%.*s\"\n", n, (int)(n < 0 ? 0 : n), buf);
        pr = poll(&pfd, 1, 0);
        printf("poll after EOF: r=%d POLLHUP=%d\n", pr, (pfd.revents & POLLHUP) != 0);
        int st = 12345;
        printf("child still alive: %d\n", waitpid(p, &st, WNOHANG) == 0);
        close(hold[1]);
        print_status("holder", xwait(p));
        close(data[0]);
    }

    /* 4 writers, 200 messages of 512 bytes each (<= PIPE_BUF: atomic). */
    {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        pid_t kids[NWRITERS];
        for (int w = 0; w < NWRITERS; w++) {
            kids[w] = xfork();
            if (kids[w] == 0) {
                close(fds[0]);
                unsigned char msg[MSGLEN];
                for (int m = 0; m < NMSG; m++) {
                    memset(msg, 'A' + w, sizeof msg);
                    msg[0] = (unsigned char)w;
                    msg[1] = (unsigned char)m;
                    msg[MSGLEN - 1] = '\n';
                    if (write(fds[1], msg, MSGLEN) != MSGLEN)
                        _exit(1);
                    if (m % 16 == 0)
                        sched_yield();
                }
                _exit(0);
            }
        }
        close(fds[1]);
        static unsigned char all[NWRITERS * NMSG * MSGLEN + 1];
        ssize_t n = read_all(fds[0], all, sizeof all);
        close(fds[0]);
        int bad = 0, out_of_order = 0, count = 0, next[NWRITERS] = {0};
        for (ssize_t off = 0; off + MSGLEN <= n; off += MSGLEN) {
            unsigned char *m = all + off;
            int w = m[0];
            count++;
            if (w >= NWRITERS) {
                bad++;
                continue;
            }
            int ok = m[MSGLEN - 1] == '\n';
            for (int i = 2; i < MSGLEN - 1; i++)
                if (m[i] != 'A' + w)
                    ok = 0;
            if (!ok)
                bad++;
            if (m[1] != (unsigned char)next[w])
                out_of_order++;
            next[w] = m[1] + 1;
        }
        printf("4 writers: %zd bytes, %d messages, %d interleaved, %d out of order, per writer %d %d %d %d\n",
               n, count, bad, out_of_order, next[0], next[1], next[2], next[3]);
        int allok = 1;
        for (int w = 0; w < NWRITERS; w++) {
            int st = xwait(kids[w]);
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                allok = 0;
        }
        printf("writers all exited 0: %d\n", allok);
    }

    /* SIGPIPE: no read end anywhere (closed before the fork). */
    {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        close(fds[0]);
        pid_t p = xfork();
        if (p == 0) {
            ssize_t r = write(fds[1], "x", 1);
            _exit(r < 0 && errno == EPIPE ? 3 : 4);
        }
        close(fds[1]);
        print_status("write with no reader", xwait(p));
    }

    /* The reader exits while the writer blocks on a full pipe. */
    {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        pid_t reader = xfork();
        if (reader == 0) {
            close(fds[1]);
            char buf[100];
            ssize_t r = read(fds[0], buf, sizeof buf);
            _exit(r > 0 ? 0 : 1);
        }
        close(fds[0]);
        pid_t writer = xfork();
        if (writer == 0) {
            static char big[1 << 20];
            memset(big, 'z', sizeof big);
            ssize_t r = write(fds[1], big, sizeof big);
            _exit(r < 0 && errno == EPIPE ? 3 : 4);
        }
        close(fds[1]);
        print_status("reader of a few bytes", xwait(reader));
        print_status("writer blocked when the reader left", xwait(writer));
    }

    /* SIGPIPE ignored: EPIPE, in a child and in the parent. */
    {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        close(fds[0]);
        pid_t p = xfork();
        if (p == 0) {
            signal(SIGPIPE, SIG_IGN);
            errno = 0;
            ssize_t r = write(fds[1], "x", 1);
            printf("child with SIGPIPE ignored: write r=%zd %s\n", r, errname(errno));
            fflush(stdout);
            _exit(0);
        }
        print_status("child with SIGPIPE ignored", xwait(p));
        signal(SIGPIPE, SIG_IGN);
        errno = 0;
        ssize_t r = write(fds[1], "x", 1);
        printf("parent with SIGPIPE ignored: write r=%zd %s\n", r, errname(errno));
        signal(SIGPIPE, SIG_DFL);
        close(fds[1]);
    }
    return 0;
}

/* ------------------------------------------------------------------- fds */

static int mode_fds(void)
{
    const char *name = "procs-fds.tmp";
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        printf("open: %s\n", errname(errno));
        return 1;
    }
    pid_t p = xfork();
    if (p == 0) {
        _exit(write(fd, "abc", 3) == 3 ? 0 : 1);
    }
    print_status("child wrote abc", xwait(p));
    printf("parent's offset after the child's write: %ld\n", (long)lseek(fd, 0, SEEK_CUR));
    if (write(fd, "def", 3) != 3)
        printf("write def failed\n");
    lseek(fd, 0, SEEK_SET);
    char buf[32] = {0};
    ssize_t n = read(fd, buf, sizeof buf - 1);
    printf("read back: %zd \"%s\"\n", n, buf);

    /* The child seeks; the parent sees the offset. */
    p = xfork();
    if (p == 0)
        _exit(lseek(fd, 2, SEEK_SET) == 2 ? 0 : 1);
    xwait(p);
    n = read(fd, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("after the child's lseek(2): read \"%s\"\n", buf);

    /* Status flags are the description's (shared); FD_CLOEXEC is the
     * descriptor's (not shared). */
    p = xfork();
    if (p == 0) {
        int fl = fcntl(fd, F_GETFL);
        int a = fcntl(fd, F_SETFL, fl | O_APPEND);
        int b = fcntl(fd, F_SETFD, FD_CLOEXEC);
        _exit(a == 0 && b == 0 ? 0 : 1);
    }
    xwait(p);
    printf("O_APPEND set by the child seen by the parent: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    printf("FD_CLOEXEC set by the child seen by the parent: %d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    lseek(fd, 0, SEEK_SET);
    if (write(fd, "ghi", 3) != 3)
        printf("write ghi failed\n");
    printf("offset after an O_APPEND write: %ld\n", (long)lseek(fd, 0, SEEK_CUR));

    /* The child closes its copy; the parent's still works. A dup in the
     * child shares the description too. */
    p = xfork();
    if (p == 0) {
        int d = dup(fd);
        int ok = d >= 0 && write(d, "jkl", 3) == 3;
        close(d);
        close(fd);
        _exit(ok ? 0 : 1);
    }
    print_status("child dup+write+close", xwait(p));
    lseek(fd, 0, SEEK_SET);
    n = read(fd, buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("file now: \"%s\"\n", buf);

    /* A file the child creates is there for the parent. */
    p = xfork();
    if (p == 0) {
        int f = open("procs-fds2.tmp", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int ok = f >= 0 && write(f, "from the child\n", 15) == 15;
        close(f);
        _exit(ok ? 0 : 1);
    }
    xwait(p);
    int f = open("procs-fds2.tmp", O_RDONLY);
    n = f >= 0 ? read(f, buf, sizeof buf - 1) : -1;
    buf[n < 0 ? 0 : n] = 0;
    printf("file created by the child: %s", buf);
    close(f);
    unlink("procs-fds2.tmp");

    close(fd);
    unlink(name);
    printf("cleaned up: %d\n", access(name, F_OK) != 0 && errno == ENOENT);
    return 0;
}

/* ------------------------------------------------------------------- cow */

static int cow_global = 1;
static char cow_bss[8192];

static int mode_cow(void)
{
    int local = 2;
    char *heap = malloc(100000);
    strcpy(heap, "heap-original");
    char *anon = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (anon == MAP_FAILED)
        return 1;
    strcpy(anon + 4096, "anon-original");
    strcpy(cow_bss + 4000, "bss-original");

    const char *name = "procs-cow.tmp";
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "file-original", 14) != 14)
        return 1;
    char *fmap = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    if (fmap == MAP_FAILED)
        return 1;

    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t p = xfork();
    if (p == 0) {
        close(fds[1]);
        cow_global = 100;
        local = 200;
        strcpy(heap, "heap-child");
        strcpy(anon + 4096, "anon-child");
        strcpy(cow_bss + 4000, "bss-child");
        strcpy(fmap, "fmap-child");
        printf("child sees: %d %d %s %s %s %s\n", cow_global, local, heap, anon + 4096, cow_bss + 4000, fmap);
        fflush(stdout);
        /* Wait until the parent has written its own values. */
        char c;
        if (read(fds[0], &c, 1) != 1)
            _exit(2);
        printf("child still sees: %d %d %s %s %s %s\n", cow_global, local, heap, anon + 4096,
               cow_bss + 4000, fmap);
        fflush(stdout);
        _exit(0);
    }
    close(fds[0]);
    /* Write in the parent while the child is alive: its copy is its own. */
    usleep(10000);
    cow_global = 3;
    local = 4;
    strcpy(heap, "heap-parent");
    if (write(fds[1], "g", 1) != 1)
        return 1;
    close(fds[1]);
    int st = xwait(p);
    print_status("cow child", st);
    printf("parent sees: %d %d %s %s %s %s\n", cow_global, local, heap, anon + 4096, cow_bss + 4000, fmap);
    char buf[32] = {0};
    if (pread(fd, buf, sizeof buf - 1, 0) < 0)
        return 1;
    printf("file: %s\n", buf);

    /* A child's mmap, munmap and brk leave the parent's memory alone. */
    p = xfork();
    if (p == 0) {
        munmap(anon, 3 * 4096);
        void *more = malloc(10 << 20);
        memset(more, 1, 10 << 20);
        sbrk(1 << 20);
        _exit(0);
    }
    xwait(p);
    printf("after the child unmapped it: %s\n", anon + 4096);

    munmap(fmap, 4096);
    close(fd);
    unlink(name);
    free(heap);
    return 0;
}

/* ------------------------------------------------------------------ pgrp */

static int mode_pgrp(void)
{
    pid_t me = getpid();
    printf("kill(0, 0): %d\n", kill(0, 0));
    printf("kill(getpid(), 0): %d\n", kill(me, 0));
    printf("getpgid(0) == getpgrp(): %d\n", getpgid(0) == getpgrp());
    printf("getsid(0) == getsid(getpid()): %d\n", getsid(0) == getsid(me));

    /* setpgid(0, 0) in a child. */
    {
        int up[2], down[2];
        if (pipe(up) != 0 || pipe(down) != 0)
            return 1;
        pid_t p = xfork();
        if (p == 0) {
            close(up[0]);
            close(down[1]);
            int ok = setpgid(0, 0) == 0;
            int bits = ok | (getpgrp() == getpid()) << 1 | (getppid() == me) << 2 |
                       (getsid(0) == getsid(me)) << 3;
            char c = (char)bits;
            if (write(up[1], &c, 1) != 1)
                _exit(99);
            if (read(down[0], &c, 1) < 0)
                _exit(98);
            _exit(0);
        }
        close(up[1]);
        close(down[0]);
        char c = 0;
        if (read(up[0], &c, 1) != 1)
            printf("no report from the child\n");
        printf("child: setpgid(0,0) ok=%d getpgrp()==getpid()=%d getppid()==parent=%d same session=%d\n",
               c & 1, (c >> 1) & 1, (c >> 2) & 1, (c >> 3) & 1);
        printf("parent: getpgid(child)==child=%d getpgid(child)!=getpgrp()=%d getsid(child)==getsid(0)=%d\n",
               getpgid(p) == p, getpgid(p) != getpgrp(), getsid(p) == getsid(0));
        printf("kill(-child, 0): %d\n", kill(-p, 0));
        close(down[1]);
        close(up[0]);
        print_status("setpgid child", xwait(p));
        errno = 0;
        int r = kill(p, 0);
        printf("kill(reaped child, 0): %d %s\n", r, errname(errno));
        errno = 0;
        r = kill(-p, 0);
        printf("kill(-gone group, 0): %d %s\n", r, errname(errno));
        errno = 0;
        r = getpgid(p);
        printf("getpgid(reaped child): %d %s\n", r, errname(errno));
    }

    /* setsid in a child. */
    {
        pid_t p = xfork();
        if (p == 0) {
            pid_t s = setsid();
            int bits = (s == getpid()) | (getsid(0) == getpid()) << 1 | (getpgrp() == getpid()) << 2;
            errno = 0;
            int again = setsid();
            bits |= (again == -1 && errno == EPERM) << 3;
            _exit(bits);
        }
        int st = xwait(p);
        int bits = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
        printf("setsid child: setsid()==getpid()=%d getsid(0)==getpid()=%d getpgrp()==getpid()=%d "
               "second setsid EPERM=%d\n",
               bits & 1, (bits >> 1) & 1, (bits >> 2) & 1, (bits >> 3) & 1);
    }

    /* A group leader cannot setsid; a process cannot join a group of
     * another session. */
    {
        int up[2], down[2];
        if (pipe(up) != 0 || pipe(down) != 0)
            return 1;
        pid_t p = xfork();
        if (p == 0) {
            close(up[0]);
            close(down[1]);
            setpgid(0, 0);
            errno = 0;
            int r = setsid();
            char c = (char)(r == -1 && errno == EPERM);
            if (write(up[1], &c, 1) != 1)
                _exit(99);
            if (read(down[0], &c, 1) < 0)
                _exit(98);
            _exit(0);
        }
        close(up[1]);
        close(down[0]);
        char c = 0;
        if (read(up[0], &c, 1) != 1)
            printf("no report\n");
        printf("setsid by a group leader: EPERM=%d\n", c);
        close(down[1]);
        close(up[0]);
        xwait(p);
    }

    /* kill(-pgid, SIGTERM) reaches both members of a new group. */
    {
        int ready[2];
        if (pipe(ready) != 0)
            return 1;
        pid_t a = xfork();
        if (a == 0) {
            close(ready[0]);
            setpgid(0, 0);
            if (write(ready[1], "a", 1) != 1)
                _exit(99);
            child_pause_forever();
        }
        setpgid(a, a);
        pid_t b = xfork();
        if (b == 0) {
            close(ready[0]);
            setpgid(0, a);
            if (write(ready[1], "b", 1) != 1)
                _exit(99);
            child_pause_forever();
        }
        int rb = setpgid(b, a);
        close(ready[1]);
        char buf[2];
        ssize_t n = read(ready[0], buf, 1);
        n += read(ready[0], buf + 1, 1);
        close(ready[0]);
        printf("group of two: parent's setpgid(b, a)=%d both ready=%d getpgid(a)==a=%d getpgid(b)==a=%d\n", rb,
               n == 2, getpgid(a) == a, getpgid(b) == a);
        printf("kill(-a, SIGTERM): %d\n", kill(-a, SIGTERM));
        print_status("group member a", xwait(a));
        print_status("group member b", xwait(b));
        printf("we survived our children's group kill\n");
    }

    /* kill(0, sig) reaches the whole group, the sender included: done in a
     * new group, so that nothing outside this program gets the signal. */
    {
        pid_t p = xfork();
        if (p == 0) {
            if (setpgid(0, 0) != 0)
                _exit(90);
            signal(SIGUSR1, SIG_IGN);
            int ready[2];
            if (pipe(ready) != 0)
                _exit(91);
            pid_t g = fork();
            if (g == 0) {
                signal(SIGUSR1, SIG_DFL);
                close(ready[0]);
                if (write(ready[1], "r", 1) != 1)
                    _exit(99);
                child_pause_forever();
            }
            close(ready[1]);
            char c;
            if (read(ready[0], &c, 1) != 1)
                _exit(92);
            int r = kill(0, SIGUSR1);
            int st = 0;
            if (waitpid(g, &st, 0) != g)
                _exit(93);
            /* We ignore SIGUSR1 and survive; the grandchild dies of it. */
            _exit(r == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1 ? 0 : 94);
        }
        print_status("kill(0, SIGUSR1) in a new group: member killed, sender ignoring it survives", xwait(p));
    }

    /* getppid() in a child is our pid. */
    {
        pid_t p = xfork();
        if (p == 0)
            _exit(getppid() == me ? 1 : 2);
        int st = xwait(p);
        printf("child's getppid()==parent's getpid(): %d\n", WIFEXITED(st) && WEXITSTATUS(st) == 1);
    }
    return 0;
}

/* --------------------------------------------------------------- sigchld */

static volatile sig_atomic_t chld_count;
static volatile int chld_code, chld_status, chld_signo;
static volatile pid_t chld_pid;

static void on_chld(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    chld_signo = sig;
    chld_code = si->si_code;
    chld_status = si->si_status;
    chld_pid = si->si_pid;
    chld_count++;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static int mode_sigchld(void)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGCHLD);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);

    /* Exit with 7. */
    sigprocmask(SIG_BLOCK, &block, &old);
    chld_count = 0;
    pid_t p = xfork();
    if (p == 0)
        _exit(7);
    while (chld_count == 0)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("SIGCHLD: signo=%s si_code==CLD_EXITED=%d si_status=%d si_pid==child=%d count=%d\n",
           signame(chld_signo), chld_code == CLD_EXITED, chld_status, chld_pid == p, (int)chld_count);
    print_status("reaped after SIGCHLD", xwait(p));

    /* Killed by SIGTERM. */
    sigprocmask(SIG_BLOCK, &block, &old);
    chld_count = 0;
    p = xfork();
    if (p == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        child_pause_forever();
    }
    kill(p, SIGTERM);
    while (chld_count == 0)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("SIGCHLD: si_code==CLD_KILLED=%d si_status=%s si_pid==child=%d\n", chld_code == CLD_KILLED,
           signame(chld_status), chld_pid == p);
    xwait(p);

    /* The signal is pending while blocked, then delivered once. */
    sigprocmask(SIG_BLOCK, &block, &old);
    chld_count = 0;
    p = xfork();
    if (p == 0)
        _exit(8);
    int st;
    waitpid(p, &st, 0); /* reaped while blocked: the signal stays pending */
    sigset_t pend;
    sigpending(&pend);
    printf("SIGCHLD pending after the reap: %d\n", sigismember(&pend, SIGCHLD));
    sigprocmask(SIG_SETMASK, &old, NULL);
    printf("handler ran once unblocked: %d status=%d\n", (int)chld_count, chld_status);

    /* A blocking call is interrupted by SIGCHLD (no SA_RESTART): ppoll
     * unblocks it atomically, so the signal cannot come before the wait. */
    {
        int fds[2];
        if (pipe(fds) != 0)
            return 1;
        sigprocmask(SIG_BLOCK, &block, &old);
        chld_count = 0;
        p = xfork();
        if (p == 0)
            _exit(1);
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        struct timespec ten = {10, 0};
        errno = 0;
        int r = ppoll(&pfd, 1, &ten, &old);
        printf("ppoll interrupted by SIGCHLD: r=%d %s handler ran=%d\n", r, errname(errno), (int)chld_count);
        sigprocmask(SIG_SETMASK, &old, NULL);
        xwait(p);

        /* And a plain read: the child waits until we are (very probably)
         * blocked; an alarm ends the read if SIGCHLD came too early. */
        chld_count = 0;
        p = xfork();
        if (p == 0) {
            usleep(30000);
            _exit(1);
        }
        struct sigaction al;
        memset(&al, 0, sizeof al);
        al.sa_handler = on_alarm;
        sigemptyset(&al.sa_mask);
        sigaction(SIGALRM, &al, NULL);
        char c;
        errno = 0;
        alarm(5);
        ssize_t n = read(fds[0], &c, 1);
        alarm(0);
        printf("read interrupted by SIGCHLD: r=%zd %s handler ran=%d\n", n, errname(errno), (int)chld_count);
        xwait(p);
        close(fds[0]);
        close(fds[1]);
    }

    /* SIG_IGN: the child is reaped at once; waitpid waits for it, then
     * answers ECHILD. */
    signal(SIGCHLD, SIG_IGN);
    p = xfork();
    if (p == 0) {
        usleep(10000);
        _exit(7);
    }
    errno = 0;
    pid_t r = waitpid(p, &st, 0);
    printf("SIG_IGN: waitpid r=%d %s\n", (int)r, errname(errno));
    errno = 0;
    r = kill(p, 0);
    printf("SIG_IGN: the child is gone: kill r=%d %s\n", (int)r, errname(errno));

    /* SA_NOCLDWAIT with the default action. */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = SA_NOCLDWAIT;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    p = xfork();
    if (p == 0)
        _exit(7);
    errno = 0;
    r = waitpid(p, &st, 0);
    printf("SA_NOCLDWAIT: waitpid r=%d %s\n", (int)r, errname(errno));

    /* SA_NOCLDWAIT with a handler: still auto-reaped, and SIGCHLD still sent. */
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_chld;
    sa.sa_flags = SA_SIGINFO | SA_NOCLDWAIT;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGCHLD, &sa, NULL);
    sigprocmask(SIG_BLOCK, &block, &old);
    chld_count = 0;
    p = xfork();
    if (p == 0)
        _exit(11);
    while (chld_count == 0)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = 0;
    r = waitpid(p, &st, 0);
    printf("SA_NOCLDWAIT with a handler: signal status=%d, waitpid r=%d %s\n", chld_status, (int)r,
           errname(errno));

    /* Back to the default: a zombie waits for us again. */
    signal(SIGCHLD, SIG_DFL);
    p = xfork();
    if (p == 0)
        _exit(12);
    print_status("SIG_DFL again", xwait(p));
    return 0;
}

/* ---------------------------------------------------------------- orphan */

static int mode_orphan(void)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t p = xfork();
    if (p == 0) {
        pid_t me = getpid();
        pid_t g = fork();
        if (g == 0) {
            int changed = 0;
            for (int i = 0; i < 5000; i++) {
                if (getppid() != me) {
                    changed = 1;
                    break;
                }
                usleep(1000);
            }
            const char *msg = changed ? "reparented\n" : "not reparented\n";
            if (write_all(fds[1], msg, strlen(msg)) != 0)
                _exit(1);
            _exit(0);
        }
        _exit(g > 0 ? 0 : 1);
    }
    close(fds[1]);
    print_status("middle child", xwait(p));
    char buf[64];
    ssize_t n = read_all(fds[0], buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("grandchild says: %s", buf);
    close(fds[0]);
    return 0;
}

static int mode_subreaper(void)
{
    int r = prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
    printf("PR_SET_CHILD_SUBREAPER: %d\n", r);
    int v = -1;
    r = prctl(PR_GET_CHILD_SUBREAPER, &v, 0, 0, 0);
    printf("PR_GET_CHILD_SUBREAPER: %d value=%d\n", r, v);
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    pid_t top = getpid();
    pid_t p = xfork();
    if (p == 0) {
        pid_t me = getpid();
        pid_t g = fork();
        if (g == 0) {
            int changed = 0;
            for (int i = 0; i < 5000; i++) {
                if (getppid() != me) {
                    changed = 1;
                    break;
                }
                usleep(1000);
            }
            char msg[64];
            snprintf(msg, sizeof msg, "reparented=%d to us=%d\n", changed, getppid() == top);
            if (write_all(fds[1], msg, strlen(msg)) != 0)
                _exit(1);
            _exit(21);
        }
        _exit(g > 0 ? 0 : 1);
    }
    close(fds[1]);
    print_status("middle child", xwait(p));
    char buf[64];
    ssize_t n = read_all(fds[0], buf, sizeof buf - 1);
    buf[n < 0 ? 0 : n] = 0;
    printf("grandchild says: %s", buf);
    close(fds[0]);
    int st = 0;
    pid_t w = waitpid(-1, &st, 0);
    printf("we reaped the grandchild: %d\n", w > 0);
    print_status("grandchild", st);
    errno = 0;
    w = waitpid(-1, &st, 0);
    printf("then: r=%d %s\n", (int)w, errname(errno));
    return 0;
}

/* ---------------------------------------------------------------- shared */

static int mode_shared(void)
{
    struct area {
        int counter;
        int locked_counter;
        int lock;
        int marks[4];
    };
    struct area *a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (a == MAP_FAILED) {
        printf("mmap: %s\n", errname(errno));
        return 1;
    }
    pid_t kids[4];
    for (int i = 0; i < 4; i++) {
        kids[i] = xfork();
        if (kids[i] == 0) {
            for (int k = 0; k < 1000; k++) {
                __atomic_fetch_add(&a->counter, 1, __ATOMIC_SEQ_CST);
                while (__atomic_exchange_n(&a->lock, 1, __ATOMIC_ACQUIRE))
                    sched_yield();
                a->locked_counter++;
                __atomic_store_n(&a->lock, 0, __ATOMIC_RELEASE);
                if (k % 100 == 0)
                    sched_yield();
            }
            a->marks[i] = i + 1;
            _exit(0);
        }
    }
    for (int i = 0; i < 4; i++)
        xwait(kids[i]);
    printf("shared anonymous: atomic counter %d, locked counter %d, marks %d %d %d %d\n", a->counter,
           a->locked_counter, a->marks[0], a->marks[1], a->marks[2], a->marks[3]);

    /* The parent's writes reach a child too. */
    a->counter = 31337;
    pid_t p = xfork();
    if (p == 0)
        _exit(a->counter == 31337 ? 0 : 1);
    print_status("child sees the parent's write", xwait(p));
    munmap(a, 4096);

    /* A shared file mapping inherited by a child. */
    const char *name = "procs-shared.tmp";
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) != 0) {
        printf("file: %s\n", errname(errno));
        return 1;
    }
    char *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        printf("mmap file: %s\n", errname(errno));
        return 1;
    }
    p = xfork();
    if (p == 0) {
        strcpy(m + 100, "written by the child");
        _exit(0);
    }
    xwait(p);
    printf("shared file mapping after the child: \"%s\"\n", m + 100);
    char buf[64] = {0};
    if (pread(fd, buf, 20, 100) < 0)
        printf("pread: %s\n", errname(errno));
    printf("file contents after the child: \"%s\"\n", buf);

    /* A MAP_SHARED mapping the child makes itself of the same file. */
    p = xfork();
    if (p == 0) {
        char *c = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (c == MAP_FAILED)
            _exit(1);
        strcpy(c + 200, "the child's own mapping");
        munmap(c, 4096);
        _exit(0);
    }
    xwait(p);
    printf("parent's mapping sees the child's own mapping: \"%s\"\n", m + 200);
    munmap(m, 4096);
    close(fd);
    unlink(name);
    return 0;
}

/* --------------------------------------------------------------- harness */

#define NCASES 5
#define SLOT 64

static int mode_harness(void)
{
    const char *name = "procs-results.tmp";
    int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || ftruncate(fd, NCASES * SLOT) != 0) {
        printf("results file: %s\n", errname(errno));
        return 1;
    }
    char *results = mmap(NULL, NCASES * SLOT, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (results == MAP_FAILED) {
        printf("mmap: %s\n", errname(errno));
        return 1;
    }
    close(fd);
    pid_t kids[NCASES];
    for (int n = 1; n <= NCASES; n++) {
        kids[n - 1] = xfork();
        if (kids[n - 1] == 0) {
            char *slot = results + (n - 1) * SLOT;
            if (n == 4)
                raise(SIGSEGV);
            snprintf(slot, SLOT, "case %d: %s", n, n == 3 ? "fail" : "pass");
            _exit(n == 3 ? 1 : 0);
        }
    }
    int pass = 0, fail = 0, crashed = 0;
    for (int n = 1; n <= NCASES; n++) {
        int st = xwait(kids[n - 1]);
        char *slot = results + (n - 1) * SLOT;
        if (WIFSIGNALED(st)) {
            printf("case %d: crashed by signal %d\n", n, WTERMSIG(st));
            crashed++;
        } else if (slot[0] == 0) {
            printf("case %d: no result (exit status %d)\n", n, WEXITSTATUS(st));
            fail++;
        } else {
            printf("%.*s (exit status %d)\n", SLOT, slot, WEXITSTATUS(st));
            if (strstr(slot, "pass"))
                pass++;
            else
                fail++;
        }
    }
    printf("summary: %d passed, %d failed, %d crashed\n", pass, fail, crashed);
    munmap(results, NCASES * SLOT);
    unlink(name);
    return fail + crashed ? 1 : 0;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: procs MODE\n");
        return 2;
    }
    const char *m = argv[1];
    if (!strcmp(m, "status"))
        return mode_status();
    if (!strcmp(m, "vfork"))
        return mode_vfork(argv[0]);
    if (!strcmp(m, "pipes"))
        return mode_pipes();
    if (!strcmp(m, "fds"))
        return mode_fds();
    if (!strcmp(m, "cow"))
        return mode_cow();
    if (!strcmp(m, "pgrp"))
        return mode_pgrp();
    if (!strcmp(m, "sigchld"))
        return mode_sigchld();
    if (!strcmp(m, "orphan"))
        return mode_orphan();
    if (!strcmp(m, "subreaper"))
        return mode_subreaper();
    if (!strcmp(m, "shared"))
        return mode_shared();
    if (!strcmp(m, "harness"))
        return mode_harness();
    if (!strcmp(m, "child-hello")) {
        printf("hello from the child\n");
        return 3;
    }
    fprintf(stderr, "unknown mode %s\n", m);
    return 2;
}
