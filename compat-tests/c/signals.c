/*
 * signals.c - signal dispositions, masks and fatal signals.
 *
 *   signals basic    SIG_IGN for SIGUSR1 then raise(SIGUSR1) carries on;
 *                    block SIGUSR2, query the mask, unblock it again
 *   signals handler  a handler installed with sigaction(SA_SIGINFO) runs
 *                    on raise(SIGUSR1) with the right siginfo, and the
 *                    program continues after it
 *   signals pending  SIGUSR2 raised while blocked stays pending; setting
 *                    it to SIG_IGN discards it
 *   signals kill     kill(getpid(), SIGTERM), default action: dies of SIGTERM
 *   signals raise    raise(SIGKILL): dies of SIGKILL
 *
 * Every step prints one line; the fatal modes print (and flush) a line to
 * stdout and stderr before dying.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void print_membership(const char *what, const sigset_t *set)
{
    printf("%s: SIGUSR1 %d SIGUSR2 %d SIGTERM %d\n", what, sigismember(set, SIGUSR1),
           sigismember(set, SIGUSR2), sigismember(set, SIGTERM));
}

static int mode_basic(void)
{
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigemptyset(&sa.sa_mask);
    printf("sigaction(SIGUSR1, SIG_IGN) == 0: %d\n", sigaction(SIGUSR1, &sa, NULL) == 0);
    printf("raise(SIGUSR1) == 0: %d\n", raise(SIGUSR1) == 0);
    printf("still running after an ignored SIGUSR1\n");
    printf("sigaction query: SIGUSR1 handler is SIG_IGN: %d\n",
           sigaction(SIGUSR1, NULL, &old) == 0 && old.sa_handler == SIG_IGN);
    printf("sigaction query: SIGUSR2 handler is SIG_DFL: %d\n",
           sigaction(SIGUSR2, NULL, &old) == 0 && old.sa_handler == SIG_DFL);

    sigset_t block, cur;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigemptyset(&cur);
    printf("sigprocmask(SIG_BLOCK, {SIGUSR2}) == 0: %d\n", sigprocmask(SIG_BLOCK, &block, NULL) == 0);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    print_membership("mask after blocking", &cur);
    printf("sigprocmask(SIG_UNBLOCK, {SIGUSR2}) == 0: %d\n", sigprocmask(SIG_UNBLOCK, &block, NULL) == 0);
    sigprocmask(SIG_BLOCK, NULL, &cur);
    print_membership("mask after unblocking", &cur);

    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_SETMASK, &block, NULL);
    sigprocmask(SIG_SETMASK, NULL, &cur);
    print_membership("mask after SIG_SETMASK {SIGUSR2, SIGTERM}", &cur);
    sigemptyset(&block);
    sigprocmask(SIG_SETMASK, &block, NULL);
    sigprocmask(SIG_SETMASK, NULL, &cur);
    print_membership("mask after SIG_SETMASK {}", &cur);
    printf("sigaction(SIGKILL) fails: %d\n", sigaction(SIGKILL, &sa, NULL) == -1);
    return 0;
}

static volatile sig_atomic_t handled_signo, handled_code_ok, handled_mask_ok;

static void on_usr1(int signo, siginfo_t *info, void *ctx)
{
    (void)ctx;
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    handled_signo = signo;
    handled_code_ok = info->si_signo == signo && info->si_pid == getpid();
    /* SIGUSR1 itself (no SA_NODEFER) and sa_mask's SIGUSR2 are blocked in the handler. */
    handled_mask_ok = sigismember(&cur, SIGUSR1) && sigismember(&cur, SIGUSR2);
}

static int mode_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_usr1;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGUSR2);
    printf("sigaction(SIGUSR1, handler) == 0: %d\n", sigaction(SIGUSR1, &sa, NULL) == 0);
    printf("raise(SIGUSR1) == 0: %d\n", raise(SIGUSR1) == 0);
    printf("handler ran with signo SIGUSR1: %d\n", handled_signo == SIGUSR1);
    printf("siginfo si_signo and si_pid right: %d\n", handled_code_ok);
    printf("SIGUSR1 and sa_mask blocked inside the handler: %d\n", handled_mask_ok);
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    print_membership("mask after the handler returned", &cur);
    return 0;
}

static int mode_pending(void)
{
    sigset_t block, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR2);
    sigprocmask(SIG_BLOCK, &block, NULL);
    printf("raise(SIGUSR2) while blocked == 0: %d\n", raise(SIGUSR2) == 0);
    sigemptyset(&pending);
    sigpending(&pending);
    print_membership("pending while blocked", &pending);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGUSR2, &sa, NULL);
    sigemptyset(&pending);
    sigpending(&pending);
    print_membership("pending after SIG_IGN", &pending);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
    printf("still running after unblocking\n");
    return 0;
}

static void announce(const char *mode)
{
    printf("signals: %s: stdout line before the signal\n", mode);
    fprintf(stderr, "signals: %s: stderr line before the signal\n", mode);
    fflush(stdout);
    fflush(stderr);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s basic|handler|pending|kill|raise\n", argv[0]);
        return 100;
    }
    const char *mode = argv[1];
    if (strcmp(mode, "basic") == 0)
        return mode_basic();
    if (strcmp(mode, "handler") == 0)
        return mode_handler();
    if (strcmp(mode, "pending") == 0)
        return mode_pending();
    if (strcmp(mode, "kill") == 0) {
        announce(mode);
        kill(getpid(), SIGTERM);
    } else if (strcmp(mode, "raise") == 0) {
        announce(mode);
        raise(SIGKILL);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 101;
    }
    printf("signals: %s: still alive after the signal\n", mode);
    return 102;
}
