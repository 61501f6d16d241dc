//! The C test programs of `compat-tests/c/`, each built with gcc and with
//! musl-gcc (`-static -O1`), run natively and under uk-run: stdout, stderr
//! and the exit status must be identical.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use compat_tests::uk_run;
use compat_tests::{
    assert_all_same, check_c, compare_c, compare_c_with, Case, Comparison, Status, Toolchain,
};

#[test]
fn hello() {
    let uk = uk_run!("hello");
    check_c(&uk, "hello", |c| c);
}

/// Arguments that are easy to get wrong: empty, spaces, options (which
/// uk-run must pass on, not parse), non-UTF-8 bytes and a long one.
fn tricky_args() -> Vec<OsString> {
    vec![
        OsString::from(""),
        OsString::from("a b"),
        OsString::from("--help"),
        OsString::from("-v"),
        OsString::from("--"),
        OsString::from("-"),
        OsString::from("café"),
        OsString::from_vec(b"raw\xff\x01bytes".to_vec()),
        OsString::from("x".repeat(5000)),
    ]
}

fn args_case(c: Case) -> Case {
    c.args(tricky_args())
        .env("UKT_A", "1")
        .env("UKT_B", "x y")
        .env("OTHER", "not printed")
}

#[test]
fn args_argv_env_auxv() {
    let uk = uk_run!("args_argv_env_auxv");
    check_c(&uk, "args", args_case);
}

#[test]
fn args_no_arguments() {
    let uk = uk_run!("args_no_arguments");
    check_c(&uk, "args", |c| c);
}

/// argv[0] and AT_EXECFN are the program path as typed, here relative.
#[test]
fn args_relative_program_path() {
    let uk = uk_run!("args_relative_program_path");
    check_c(&uk, "args", |c| args_case(c).in_cwd_as("args-prog"));
}

/// A large argument vector and environment.
#[test]
fn args_many() {
    let uk = uk_run!("args_many");
    check_c(&uk, "args", |c| {
        let mut c = c.args((0..3000).map(|i| format!("arg{i}")));
        for i in 0..300 {
            c = c.env(format!("UKT_V{i:03}"), format!("value {i}"));
        }
        c
    });
}

/// Not one of the two required builds: a static-pie (ET_DYN, no PT_INTERP)
/// build, the layout Rust's musl target produces. musl-gcc cannot link
/// static-pie, so only gcc.
#[test]
fn args_static_pie() {
    let uk = uk_run!("args_static_pie");
    let cs = compare_c_with(&uk, "args", &[Toolchain::GccStaticPie], args_case);
    assert_all_same(&cs);
}

/// exitcode.c in one mode with statuses 0, 1, 42, 255, 256 and -1.
fn exitcode(test: &str, mode: &str) {
    let uk = uk_run!(test);
    let mut all: Vec<Comparison> = Vec::new();
    for status in ["0", "1", "42", "255", "256", "-1"] {
        all.extend(compare_c(&uk, "exitcode", |c| c.args([mode, status])));
    }
    assert_all_same(&all);
}

#[test]
fn exitcode_exit() {
    exitcode("exitcode_exit", "exit");
}

#[test]
fn exitcode_return_from_main() {
    exitcode("exitcode_return_from_main", "return");
}

/// _exit() skips stdio's flush: the buffered line is lost natively, because
/// stdout is a pipe, and must be lost under uk-run too.
#[test]
fn exitcode_underscore_exit() {
    exitcode("exitcode_underscore_exit", "_exit");
}

#[test]
fn bigout_1mib_each_stream() {
    let uk = uk_run!("bigout_1mib_each_stream");
    let cs = check_c(&uk, "bigout", |c| c.args(["1048576", "1048576"]));
    for c in &cs {
        assert_eq!(
            c.native.stdout.len(),
            1 << 20,
            "{}: native stdout length",
            c.label
        );
        assert_eq!(
            c.native.stderr.len(),
            1 << 20,
            "{}: native stderr length",
            c.label
        );
    }
}

/// Short outputs that do not end with a newline, and none at all.
#[test]
fn bigout_small_without_newline() {
    let uk = uk_run!("bigout_small_without_newline");
    let mut all = Vec::new();
    for (out, err) in [
        ("5", "3"),
        ("1", "0"),
        ("0", "1"),
        ("0", "0"),
        ("100", "70"),
    ] {
        all.extend(compare_c(&uk, "bigout", |c| c.args([out, err])));
    }
    assert_all_same(&all);
}

#[test]
fn memory() {
    let uk = uk_run!("memory");
    check_c(&uk, "memory", |c| c);
}

#[test]
fn clocks() {
    let uk = uk_run!("clocks");
    check_c(&uk, "clocks", |c| c);
}

/// fault.c in `mode`: both runs print their line on each stream and then
/// die of the same signal.
fn fault(test: &str, mode: &str) {
    let uk = uk_run!(test);
    let cs = check_c(&uk, "fault", |c| c.arg(mode));
    for c in &cs {
        assert!(
            matches!(c.native.status, Status::Signaled(_)),
            "{}: the native run should die of a signal, got {}",
            c.label,
            c.native.status
        );
        let out = format!("fault: {mode}: stdout line before the fault\n");
        let err = format!("fault: {mode}: stderr line before the fault\n");
        assert_eq!(
            c.native.stdout,
            out.as_bytes(),
            "{}: native stdout",
            c.label
        );
        assert_eq!(
            c.native.stderr,
            err.as_bytes(),
            "{}: native stderr",
            c.label
        );
    }
}

#[test]
fn fault_segv_store() {
    fault("fault_segv_store", "segv");
}

#[test]
fn fault_segv_load() {
    fault("fault_segv_load", "segv_load");
}

#[test]
fn fault_ud2() {
    fault("fault_ud2", "ud2");
}

#[test]
fn fault_divide_by_zero() {
    fault("fault_divide_by_zero", "div");
}

#[test]
fn fault_int3() {
    fault("fault_int3", "int3");
}

#[test]
fn fault_abort() {
    fault("fault_abort", "abort");
}

#[test]
fn jit() {
    let uk = uk_run!("jit");
    check_c(&uk, "jit", |c| c);
}

#[test]
fn fakesyscall() {
    let uk = uk_run!("fakesyscall");
    check_c(&uk, "fakesyscall", |c| c);
}

#[test]
fn sysinfo() {
    let uk = uk_run!("sysinfo");
    check_c(&uk, "sysinfo", |c| c.stdin("some input\n"));
}

#[test]
fn signals_ignore_and_mask() {
    let uk = uk_run!("signals_ignore_and_mask");
    check_c(&uk, "signals", |c| c.arg("basic"));
}

/// Beyond the basics: a blocked signal stays pending; SIG_IGN discards it.
#[test]
fn signals_pending_while_blocked() {
    let uk = uk_run!("signals_pending_while_blocked");
    check_c(&uk, "signals", |c| c.arg("pending"));
}

/// signals.c in a fatal mode: both runs die of the same signal.
fn fatal_signal(test: &str, mode: &str) {
    let uk = uk_run!(test);
    let cs = check_c(&uk, "signals", |c| c.arg(mode));
    for c in &cs {
        assert!(
            matches!(c.native.status, Status::Signaled(_)),
            "{}: the native run should die of a signal, got {}",
            c.label,
            c.native.status
        );
        assert!(
            !c.native.stdout.is_empty() && !c.native.stderr.is_empty(),
            "{}: output",
            c.label
        );
    }
}

#[test]
fn signals_kill_sigterm() {
    fatal_signal("signals_kill_sigterm", "kill");
}

#[test]
fn signals_raise_sigkill() {
    fatal_signal("signals_raise_sigkill", "raise");
}

/// files.c, one section in one place: "cwd" works in a fresh directory of
/// the current directory (shared with the host under uk-run), "tmp" in
/// /tmp (the guest's own in-memory /tmp under uk-run).
fn files(test: &str, section: &str, place: &str) {
    let uk = uk_run!(test);
    let cs = check_c(&uk, "files", |c| c.args([section, place]));
    for c in &cs {
        let out = String::from_utf8_lossy(&c.native.stdout);
        assert!(
            c.native.status == Status::Exited(0) && out.contains("\ncleanup: 1\n"),
            "{}: the native run should end normally and clean up, got {}:\n{out}",
            c.label,
            c.native.status
        );
    }
}

/// The errno of the common failures of open/openat, read/write, lseek,
/// mkdir/rmdir/unlink, rename, link/symlink/readlink, chdir/getcwd,
/// stat/access, truncate and close.
#[test]
fn files_errors_cwd() {
    files("files_errors_cwd", "errors", "cwd");
}

#[test]
fn files_errors_tmp() {
    files("files_errors_tmp", "errors", "tmp");
}

/// fcntl, dup/dup2/dup3, shared and separate offsets, close twice.
#[test]
fn files_fds_cwd() {
    files("files_fds_cwd", "fds", "cwd");
}

#[test]
fn files_fds_tmp() {
    files("files_fds_tmp", "fds", "tmp");
}

/// O_APPEND, O_TRUNC, O_EXCL, pread/pwrite, lseek and holes, readv/writev,
/// ftruncate, unlink and rename of open files.
#[test]
fn files_io_cwd() {
    files("files_io_cwd", "io", "cwd");
}

#[test]
fn files_io_tmp() {
    files("files_io_tmp", "io", "tmp");
}

/// readdir/getdents64, rewinddir, telldir/seekdir, large directories; in
/// the current directory also readdir while the directory changes.
#[test]
fn files_dirs_cwd() {
    files("files_dirs_cwd", "dirs", "cwd");
}

#[test]
fn files_dirs_tmp() {
    files("files_dirs_tmp", "dirs", "tmp");
}

/// Deterministic stat fields: types, sizes, modes under umask, st_nlink of
/// files and directories, times set explicitly.
#[test]
fn files_stat_cwd() {
    files("files_stat_cwd", "stat", "cwd");
}

#[test]
fn files_stat_tmp() {
    files("files_stat_tmp", "stat", "tmp");
}

/// Files of more than one read-ahead chunk, and stat after listings and
/// changes.
#[test]
fn files_coherence_cwd() {
    files("files_coherence_cwd", "coherence", "cwd");
}

#[test]
fn files_coherence_tmp() {
    files("files_coherence_tmp", "coherence", "tmp");
}

/// Path resolution: nesting, "." and "..", symlinks, odd names.
#[test]
fn files_paths_cwd() {
    files("files_paths_cwd", "paths", "cwd");
}

#[test]
fn files_paths_tmp() {
    files("files_paths_tmp", "paths", "tmp");
}

/// /dev/null, /dev/zero, /dev/urandom, /tmp, / and /proc/self/exe.
#[test]
fn files_special() {
    files("files_special", "special", "cwd");
}

/// The groups of checks on which uk-run once differed from Linux (files.c,
/// section "pending"), all in one place: a group that differs again is
/// marked in pending_groups, and the other sections run it where it does
/// not. None differs today.
#[test]
fn files_pending_cwd() {
    files("files_pending_cwd", "pending", "cwd");
}

#[test]
fn files_pending_tmp() {
    files("files_pending_tmp", "pending", "tmp");
}

#[test]
fn statx_fallocate_copy_file_range() {
    let uk = uk_run!("statx");
    check_c(&uk, "statx", |c| c);
}

/// MAP_SHARED writes reach the file through munmap after close, and
/// through execve while still mapped.
#[test]
fn shared_mappings_written_back_at_munmap_and_execve() {
    let uk = uk_run!("mapexec");
    check_c(&uk, "mapexec", |c| c);
}

#[test]
fn lazy_reservation_larger_than_guest_ram() {
    let uk = uk_run!("lazy");
    check_c(&uk, "lazy", |c| c.stdin("hello"));
}

/// tmpfiles.c: files open but unlinked (tmpfile(), O_TMPFILE), every
/// timestamp call, shm_open and sem_open, in a share, in the in-memory /tmp
/// and in /dev/shm.
fn tmpfiles(test: &str, place: &str) {
    let uk = uk_run!(test);
    check_c(&uk, "tmpfiles", |c| c.arg(place));
}

#[test]
fn tmpfiles_cwd() {
    tmpfiles("tmpfiles_cwd", "cwd");
}

#[test]
fn tmpfiles_tmp() {
    tmpfiles("tmpfiles_tmp", "tmp");
}

#[test]
fn tmpfiles_dev_shm() {
    tmpfiles("tmpfiles_dev_shm", "shm");
}

/// limits.c: allocation past RLIMIT_AS and RLIMIT_DATA fails with ENOMEM
/// (malloc returns NULL), recursion past RLIMIT_STACK dies of SIGSEGV.
#[test]
fn limits_as_data_stack() {
    let uk = uk_run!("limits_as_data_stack");
    let mut all = Vec::new();
    for mode in ["as", "data", "stack"] {
        all.extend(compat_tests::compare_c(&uk, "limits", |c| c.arg(mode)));
    }
    assert_all_same(&all);
}

/// A program that fills --memory: malloc returns NULL first; memory it
/// reserved and then touches past what the VM has ends it by SIGKILL, with
/// one line saying why (Linux's OOM killer; no native run to compare).
#[test]
fn limits_guest_memory_exhausted() {
    let uk = uk_run!("limits_guest_memory_exhausted");
    for t in compat_tests::Toolchain::STATIC {
        let prog = compat_tests::build_c("limits", t);
        let dir = compat_tests::TempDir::new("oom");
        let out = uk.run(&["-m".as_ref(), "64M".as_ref(), prog.as_os_str(), "exhaust".as_ref()], dir.path(), b"");
        assert_eq!((out.status, String::from_utf8_lossy(&out.stdout).into_owned()), (Status::Exited(0), "malloc returned NULL: 1 (errno ENOMEM: 1)\n".to_string()), "{t:?}: {:?}", String::from_utf8_lossy(&out.stderr));
        let out = uk.run(&["-m".as_ref(), "64M".as_ref(), prog.as_os_str(), "touch".as_ref()], dir.path(), b"");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status, Status::Signaled(9), "{t:?}: {err:?}");
        assert_eq!(out.stdout, b"reserved: 1\n", "{t:?}: output before the kill is kept");
        assert!(err.starts_with("uk-run: out of guest memory") && err.matches('\n').count() == 1, "{t:?}: {err:?}");
    }
}

/// files.c's sections in /dev/shm (in memory under uk-run, tmpfs natively).
#[test]
fn files_all_sections_dev_shm() {
    for section in ["errors", "fds", "io", "dirs", "stat", "coherence", "paths"] {
        files(&format!("files_{section}_shm"), section, "shm");
    }
}
