//! Threads, futexes, signal handlers and timers (issue 7): C programs with
//! gcc and musl, static Go programs and a Rust std::thread program, each
//! run natively and under uk-run; stdout, stderr and status must match.

use compat_tests::{c_modes, uk_run};
use compat_tests::{build_go, build_rust, check, check_c, compare, Case, Status};

c_modes!("threads":
    threads_mutex_condvar_pingpong => "pingpong",
    threads_many_created_and_joined => "many",
    threads_tls_initial_and_local_exec => "tls",
    threads_cancel_at_cancellation_points => "cancel",
    threads_robust_mutex_owner_dies => "robust",
    threads_priority_inheritance_mutex => "pi",
    threads_barrier_rwlock_semaphore_once => "sync",
    threads_main_exits_first => "exit",
    threads_spinning_thread_is_preempted => "preempt",
    threads_execve_from_a_second_thread => "exec",
);

c_modes!("handlers":
    handlers_siginfo_masks_nodefer_resethand => "flags",
    handlers_faults_recovered_or_fixed => "faults",
    handlers_sigaltstack => "altstack",
    handlers_sigsuspend_sigtimedwait_sigqueue_pause => "wait",
    handlers_alarm_itimer_posix_timers => "timers",
    handlers_sa_restart_and_eintr => "restart",
    handlers_eventfd_timerfd_epoll => "events",
);

/// signals.c's handler mode, which before this issue ended the program.
#[test]
fn signals_handler_runs() {
    let uk = uk_run!("signals_handler_runs");
    check_c(&uk, "signals", |c| c.arg("handler"));
}

fn go(test: &str, mode: &str) {
    let uk = uk_run!(test);
    check(&uk, &Case::new(build_go("gotest")).arg(mode).label(test));
}

#[test]
fn go_hello() {
    go("go_hello", "hello");
}

#[test]
fn go_goroutines_channels_waitgroup() {
    go("go_goroutines_channels_waitgroup", "goroutines");
}

#[test]
fn go_timers_and_tickers() {
    go("go_timers_and_tickers", "timers");
}

#[test]
fn go_gc_stress() {
    go("go_gc_stress", "gc");
}

#[test]
fn go_os_files_and_pipes() {
    go("go_os_files_and_pipes", "files");
}

#[test]
fn go_os_signal_delivery() {
    go("go_os_signal_delivery", "signals");
}

#[test]
fn go_recovered_nil_dereference() {
    go("go_recovered_nil_dereference", "nilderef");
}

#[test]
fn go_gomaxprocs_above_one() {
    go("go_gomaxprocs_above_one", "parallel");
}

/// A crash: the same trace's first line and exit status 2. (The whole trace
/// is compared too: it holds no address that differs between the runs.)
#[test]
fn go_crash_trace() {
    let uk = uk_run!("go_crash_trace");
    let c = compare(&uk, &Case::new(build_go("gotest")).arg("crash").label("go_crash_trace"));
    assert_eq!(c.native.status, Status::Exited(2), "the native run should exit 2");
    let first = |b: &[u8]| String::from_utf8_lossy(b).lines().next().unwrap_or_default().to_string();
    assert_eq!(first(&c.uk_run.stderr), first(&c.native.stderr), "first line of the trace");
    assert_eq!(c.uk_run.status, c.native.status);
    c.assert_same();
}

/// A Rust program built for x86_64-unknown-linux-musl in the test itself.
#[test]
fn rust_std_thread_word_count() {
    let uk = uk_run!("rust_std_thread_word_count");
    check(&uk, &Case::new(build_rust("wordcount")).label("rust_std_thread_word_count"));
}

c_modes!("sysvipc":
    sysv_message_queues => "msg",
    sysv_semaphore_sets => "sem",
    sysv_shared_memory => "shm",
    posix_named_semaphores_across_threads => "named",
);
