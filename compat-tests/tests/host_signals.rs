//! Signals sent to uk-run itself (SIGTERM, SIGINT) go to the program: it
//! ends as a native program would, by the same signal, and nothing it wrote
//! is lost: its buffered output, and what it wrote through a MAP_SHARED
//! mapping. An ignored signal lets it finish.

use compat_tests::{build_c, TempDir, Toolchain, UkRun};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `hostsig MODE` under uk-run, sends `signal` once it is ready, and
/// returns (wait status, stdout, shared.txt's first 27 bytes).
fn run(toolchain: Toolchain, mode: &str, signal: i32) -> Option<(std::process::ExitStatus, String, String)> {
    run_as(toolchain, mode, signal, false)
}

/// As [`run`], natively (`native`) or under uk-run.
fn run_as(toolchain: Toolchain, mode: &str, signal: i32, native: bool) -> Option<(std::process::ExitStatus, String, String)> {
    let uk = UkRun::for_guest("host_signals")?;
    let prog = build_c("hostsig", toolchain);
    let dir = TempDir::new(&format!("hostsig-{mode}"));
    let mut cmd = if native { Command::new(&prog) } else { Command::new(uk.path()) };
    // SAFETY: between fork and exec, only async-signal-safe calls: the
    // program starts with no signal blocked, whatever the test harness blocks.
    unsafe {
        cmd.pre_exec(|| {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    if !native {
        cmd.arg(&prog);
    }
    let child = cmd
        .arg(mode)
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, out) = signal_when_ready(child, dir.path(), signal);
    let shared = std::fs::read(dir.path().join("shared.txt")).unwrap();
    Some((status, out, String::from_utf8_lossy(&shared[..27]).into_owned()))
}

/// Waits for the file "ready" in `dir` (the program has written what must
/// not be lost), sends `signal` to `child`, and returns how it ended and
/// its stdout.
fn signal_when_ready(mut child: std::process::Child, dir: &std::path::Path, signal: i32) -> (std::process::ExitStatus, String) {
    let start = Instant::now();
    while !dir.join("ready").exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "the program never got ready");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(50));
    // SAFETY: kill only sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "uk-run did not end after signal {signal}");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    (status, out)
}

#[test]
fn sigterm_while_running_ends_it_with_nothing_lost() {
    for tc in [Toolchain::Gcc, Toolchain::Musl] {
        let Some((status, out, shared)) = run(tc, "spin", libc::SIGTERM) else { return };
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{tc:?}: {status:?}");
        assert_eq!(out, "partial line without newline", "{tc:?}");
        assert_eq!(shared, "written through the mapping", "{tc:?}");
    }
}

#[test]
fn sigint_while_reading_stdin_ends_it_with_nothing_lost() {
    let Some((status, out, shared)) = run(Toolchain::Gcc, "read", libc::SIGINT) else { return };
    assert_eq!(status.signal(), Some(libc::SIGINT), "{status:?}");
    assert_eq!(out, "partial line without newline");
    assert_eq!(shared, "written through the mapping");
}

#[test]
fn an_ignored_signal_lets_it_finish() {
    let Some((status, out, _)) = run(Toolchain::Musl, "ignore", libc::SIGTERM) else { return };
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_eq!(out, "partial line without newline ... finished\n");
}

/// Ctrl-C (SIGINT) and SIGTERM sent to uk-run reach the program's handler,
/// in its own code (a spinning loop) and in a blocking read of stdin (EINTR,
/// no SA_RESTART): the same output and status as the native run.
#[test]
fn signals_sent_to_uk_run_reach_handlers() {
    for (tc, mode, signal) in [
        (Toolchain::Gcc, "handler", libc::SIGINT),
        (Toolchain::Musl, "handler", libc::SIGTERM),
        (Toolchain::Gcc, "readhandler", libc::SIGINT),
        (Toolchain::Musl, "readhandler", libc::SIGTERM),
    ] {
        let Some(native) = run_as(tc, mode, signal, true) else { return };
        let uk = run_as(tc, mode, signal, false).expect("uk-run");
        assert!(native.0.code().is_some_and(|c| c == 3 || c == 4), "{tc:?} {mode}: native {:?}", native.0);
        assert_eq!(uk.0.code(), native.0.code(), "{tc:?} {mode}: status");
        assert_eq!(uk.1, native.1, "{tc:?} {mode}: stdout");
        assert_eq!(uk.2, native.2, "{tc:?} {mode}: shared mapping");
    }
}

/// SIGTERM to uk-run while a shell waits for a child, with a grandchild in
/// the background: the first process (the shell) dies of it, as natively,
/// and no process of the guest outlives uk-run, nor is what any of them
/// wrote lost (natively the background job would live on as an orphan).
#[test]
fn sigterm_ends_the_first_process_and_takes_the_others() {
    let Some(uk) = UkRun::for_guest("sigterm_ends_the_first_process_and_takes_the_others") else { return };
    let dir = TempDir::new("hostsig-processes");
    let bb = dir.path().join("busybox");
    std::fs::copy(compat_tests::busybox(), &bb).unwrap();
    let script = format!(
        "echo first; (echo background > bg.txt; {b} sleep 30; echo never > never.txt) & {b} sleep 0.2; echo ready > ready; {b} sleep 30",
        b = bb.display()
    );
    let child = Command::new(uk.path())
        .arg(&bb)
        .args(["sh", "-c", &script])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, out) = signal_when_ready(child, dir.path(), libc::SIGTERM);
    assert_eq!(status.signal(), Some(libc::SIGTERM), "uk-run should die of SIGTERM as the shell does natively: {status:?}");
    assert_eq!(out, "first\n");
    assert_eq!(std::fs::read_to_string(dir.path().join("bg.txt")).unwrap(), "background\n");
    std::thread::sleep(Duration::from_millis(300));
    assert!(!dir.path().join("never.txt").exists(), "a guest process outlived uk-run");
}
