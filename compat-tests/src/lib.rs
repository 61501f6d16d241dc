//! Differential compatibility harness for uk-run.
//!
//! Every compat test runs one static x86-64 program twice — natively and as
//! `uk-run PROGRAM ARGS...` — with the same arguments, environment, stdin
//! bytes and working directory (a fresh temporary directory), and requires
//! stdout, stderr and the exit status (or the fatal signal) to be identical
//! byte for byte. Expected results are never written down: the native run is
//! the reference.
//!
//! The pieces:
//! - [`UkRun`] locates the uk-run binary (`$UK_RUN`, else
//!   `<workspace>/target/release/uk-run`) and decides whether guest tests can
//!   run at all (`/dev/kvm`).
//! - [`build_c`] compiles a program from `compat-tests/c/NAME.c` with one
//!   [`Toolchain`] into `<workspace>/target/compat/<toolchain>/NAME`, once,
//!   rebuilding when the source is newer or the command line changed.
//! - [`Case`] describes one invocation; [`compare`] runs it both ways and
//!   returns a [`Comparison`], whose [`Comparison::report`] explains any
//!   difference (which stream, first differing line, both exit statuses).
//! - [`check_c`] / [`compare_c`] do all of that for the gcc and the musl build
//!   of a C program.
//!
//! Tests run in parallel: every comparison gets its own temporary directory
//! and C builds are serialised per output file (and published by an atomic
//! rename, so concurrent test binaries cannot see half-written programs).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fmt::{self, Write as _};
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// The environment both runs get (besides a case's own variables): the
/// harness's environment is not passed on, so results do not depend on
/// whoever runs the tests.
const BASE_ENV: &[(&str, &str)] = &[("PATH", "/usr/local/bin:/usr/bin:/bin")];

/// How long one run may take before it is killed, unless
/// `UK_COMPAT_TIMEOUT_SECS` says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The static busybox used by the busybox tests.
pub const BUSYBOX: &str = "/usr/bin/busybox";

/// The workspace root: the parent of this crate's directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("compat-tests lives inside the workspace")
        .to_path_buf()
}

/// Directory of the C test programs' sources.
pub fn c_source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("c")
}

fn timeout() -> Duration {
    std::env::var("UK_COMPAT_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(DEFAULT_TIMEOUT)
}

// ---------------------------------------------------------------------------
// Locating uk-run
// ---------------------------------------------------------------------------

/// The uk-run binary under test.
#[derive(Debug, Clone)]
pub struct UkRun {
    path: PathBuf,
}

impl UkRun {
    /// For a test that boots a guest. Returns `None` — after printing a skip
    /// note — when `/dev/kvm` is missing, unless `CI=true`, where a missing
    /// `/dev/kvm` is a failure. Panics when the uk-run binary is missing.
    pub fn for_guest(test: &str) -> Option<UkRun> {
        if !Path::new("/dev/kvm").exists() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{test}: /dev/kvm is missing, and CI=true: compat tests must run in CI");
            }
            eprintln!("SKIP {test}: /dev/kvm is missing (with CI=true this is a failure)");
            return None;
        }
        Some(Self::locate())
    }

    /// For a test of uk-run's command-line handling alone, which needs no
    /// `/dev/kvm`. Panics when the uk-run binary is missing.
    pub fn for_cli() -> UkRun {
        Self::locate()
    }

    /// `$UK_RUN` if set, else `<workspace>/target/release/uk-run`.
    fn locate() -> UkRun {
        let path = match std::env::var_os("UK_RUN") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => workspace_root().join("target/release/uk-run"),
        };
        if !path.is_file() {
            panic!(
                "build uk-run first: cargo build --release \
                 (no uk-run binary at {}; set UK_RUN to use another one)",
                path.display()
            );
        }
        UkRun { path }
    }

    /// Path of the uk-run binary.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs uk-run with exactly `args` (uk-run's own options, then PROGRAM
    /// and its arguments) in `cwd`, with the harness environment and `stdin`.
    pub fn run(&self, args: &[&OsStr], cwd: &Path, stdin: &[u8]) -> Outcome {
        let mut cmd = Command::new(&self.path);
        cmd.args(args);
        prepare(&mut cmd, cwd, &[]);
        run_command(cmd, stdin, timeout())
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.path.display()))
    }
}

/// The uk-run binary for a test that boots a guest, or `return` from the
/// test (skipping it) where [`UkRun::for_guest`] says guests cannot run.
#[macro_export]
macro_rules! uk_run {
    ($name:expr) => {
        match $crate::UkRun::for_guest($name) {
            Some(uk) => uk,
            None => return,
        }
    };
}

/// One test per mode of a C program in compat-tests/c: `PROG MODE` built
/// with gcc and musl, each run natively and under uk-run ([`check_c`]).
#[macro_export]
macro_rules! c_modes {
    ($prog:literal: $($test:ident => $mode:literal),* $(,)?) => {
        $(
            #[test]
            fn $test() {
                let uk = $crate::uk_run!(stringify!($test));
                $crate::check_c(&uk, $prog, |c| c.arg($mode));
            }
        )*
    };
}

// ---------------------------------------------------------------------------
// Building the C programs
// ---------------------------------------------------------------------------

/// A C toolchain and link mode a test program is built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Toolchain {
    /// `gcc -static -O1`: glibc, a non-PIE static executable (ET_EXEC).
    Gcc,
    /// `musl-gcc -static -O1`: musl, a non-PIE static executable.
    Musl,
    /// `gcc -static-pie -O1`: glibc, a static position-independent
    /// executable (ET_DYN without an interpreter), like Rust's musl target
    /// produces by default.
    GccStaticPie,
}

impl Toolchain {
    /// The two builds every C test program gets.
    pub const STATIC: [Toolchain; 2] = [Toolchain::Gcc, Toolchain::Musl];

    /// Name of the build directory under `target/compat/`.
    pub fn name(self) -> &'static str {
        match self {
            Toolchain::Gcc => "gcc",
            Toolchain::Musl => "musl",
            Toolchain::GccStaticPie => "gcc-static-pie",
        }
    }

    fn compiler(self) -> &'static str {
        match self {
            Toolchain::Gcc | Toolchain::GccStaticPie => "gcc",
            Toolchain::Musl => "musl-gcc",
        }
    }

    fn link_flag(self) -> &'static str {
        match self {
            Toolchain::Gcc | Toolchain::Musl => "-static",
            Toolchain::GccStaticPie => "-static-pie",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Toolchain::Gcc | Toolchain::GccStaticPie => "run `apt-get install gcc libc6-dev`",
            Toolchain::Musl => "run `apt-get install musl-tools`",
        }
    }
}

/// Per-output-file build locks, so that parallel tests in one process
/// compile each program once.
fn build_lock(out: &Path) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>> = OnceLock::new();
    let mut locks = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    locks.entry(out.to_path_buf()).or_default().clone()
}

fn mtime(path: &Path) -> Option<SystemTime> {
    fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// A name unique within this machine for temporary files and directories.
fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Compiles `compat-tests/c/NAME.c` with `toolchain` into
/// `<workspace>/target/compat/<toolchain>/NAME` and returns that path.
///
/// The program is rebuilt only when it is missing, older than its source, or
/// was built with a different command line. Warnings are errors: every test
/// program must compile cleanly with every toolchain. Panics (with the
/// compiler's output, or an install hint if the compiler is missing) when
/// the build fails.
pub fn build_c(name: &str, toolchain: Toolchain) -> PathBuf {
    let src = c_source_dir().join(format!("{name}.c"));
    assert!(src.is_file(), "no C test program {}", src.display());
    let dir = workspace_root()
        .join("target/compat")
        .join(toolchain.name());
    let out = dir.join(name);
    let stamp = dir.join(format!("{name}.cmd"));

    let args: Vec<OsString> = [
        OsStr::new(toolchain.link_flag()),
        OsStr::new("-O1"),
        OsStr::new("-Wall"),
        OsStr::new("-Wextra"),
        OsStr::new("-Werror"),
        src.as_os_str(),
    ]
    .iter()
    .map(|s| s.to_os_string())
    .collect();
    let cmdline = format!("{} {}\n", toolchain.compiler(), join_display(&args));

    let lock = build_lock(&out);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());

    let up_to_date = match (mtime(&out), mtime(&src)) {
        (Some(o), Some(s)) => {
            o >= s && fs::read_to_string(&stamp).ok().as_deref() == Some(&cmdline)
        }
        _ => false,
    };
    if up_to_date {
        return out;
    }

    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let tmp = dir.join(format!(".{name}.tmp-{}", unique_suffix()));
    let result = Command::new(toolchain.compiler())
        .args(&args)
        .arg("-o")
        .arg(&tmp)
        .output();
    let output = match result {
        Ok(o) => o,
        Err(e) if e.kind() == io::ErrorKind::NotFound => panic!(
            "{} not found: {} (needed to build the {} variant of {name}.c)",
            toolchain.compiler(),
            toolchain.install_hint(),
            toolchain.name()
        ),
        Err(e) => panic!("cannot run {}: {e}", toolchain.compiler()),
    };
    if !output.status.success() {
        let _ = fs::remove_file(&tmp);
        panic!(
            "building {name}.c failed: {cmdline}{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // Publish atomically: other test processes may be running `out` right now.
    fs::rename(&tmp, &out).unwrap_or_else(|e| panic!("cannot rename to {}: {e}", out.display()));
    let stamp_tmp = dir.join(format!(".{name}.cmd.tmp-{}", unique_suffix()));
    fs::write(&stamp_tmp, &cmdline)
        .and_then(|_| fs::rename(&stamp_tmp, &stamp))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", stamp.display()));
    out
}

/// Builds `compat-tests/go/NAME` (a Go main package) with Debian's
/// golang-go as a static binary (CGO_ENABLED=0) into
/// `<workspace>/target/compat/go/NAME`, unless that is newer than every
/// source file. Panics with an install hint when `go` is missing.
pub fn build_go(name: &str) -> PathBuf {
    let src = workspace_root().join("compat-tests/go").join(name);
    let out = workspace_root().join("target/compat/go").join(name);
    let go = ["/usr/lib/go/bin/go", "/usr/bin/go"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("go not found: run `apt-get install golang-go` (scripts/install-deps does)"));
    let newest = fs::read_dir(&src)
        .unwrap_or_else(|e| panic!("no Go test program {}: {e}", src.display()))
        .filter_map(|e| e.ok().and_then(|e| mtime(&e.path())))
        .max();
    build_once(&out, newest, |tmp| {
        let mut c = Command::new(&go);
        c.current_dir(&src)
            .env("CGO_ENABLED", "0")
            .env("GOFLAGS", "-mod=mod")
            .env("GOCACHE", workspace_root().join("target/compat/go/.cache"))
            .env("GOPATH", workspace_root().join("target/compat/go/.path"))
            .args(["build", "-o"])
            .arg(tmp)
            .arg(".");
        c
    })
}

/// Builds `compat-tests/rust/NAME.rs` with rustc for
/// x86_64-unknown-linux-musl (a static binary, the target Rust users ship
/// static programs with) into `<workspace>/target/compat/rust/NAME`.
pub fn build_rust(name: &str) -> PathBuf {
    let src = workspace_root().join("compat-tests/rust").join(format!("{name}.rs"));
    let out = workspace_root().join("target/compat/rust").join(name);
    build_once(&out, mtime(&src), |tmp| {
        let mut c = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()));
        c.args(["--edition", "2021", "-O", "--target", "x86_64-unknown-linux-musl", "-o"])
            .arg(tmp)
            .arg(&src);
        c
    })
}

/// Runs the build `command(tmp)` makes unless `out` is newer than
/// `source_time`, then publishes `tmp` as `out`; panics with the build's
/// output when it fails.
fn build_once(out: &Path, source_time: Option<SystemTime>, command: impl Fn(&Path) -> Command) -> PathBuf {
    let lock = build_lock(out);
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    if let (Some(o), Some(s)) = (mtime(out), source_time) {
        if o >= s {
            return out.to_path_buf();
        }
    }
    let dir = out.parent().expect("a build output has a directory");
    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let tmp = dir.join(format!(".{}.tmp-{}", out.file_name().unwrap_or_default().to_string_lossy(), unique_suffix()));
    let mut cmd = command(&tmp);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !output.status.success() {
        let _ = fs::remove_file(&tmp);
        panic!(
            "build failed: {cmd:?}\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    fs::rename(&tmp, out).unwrap_or_else(|e| panic!("cannot rename to {}: {e}", out.display()));
    out.to_path_buf()
}

// ---------------------------------------------------------------------------
// Temporary directories
// ---------------------------------------------------------------------------

/// A fresh, uniquely named directory under the system temporary directory,
/// removed (with its contents) when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates `$TMPDIR/uk-compat-<pid>-<n>-<label>`.
    pub fn new(label: &str) -> TempDir {
        let clean: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let path = std::env::temp_dir().join(format!("uk-compat-{}-{clean}", unique_suffix()));
        fs::create_dir(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `bytes` to `name` in this directory with permission bits
    /// `mode` and returns the file's path.
    pub fn write_file(&self, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
        let path = self.path.join(name);
        fs::write(&path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        fs::set_permissions(&path, fs::Permissions::from_mode(mode))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------
// Running processes
// ---------------------------------------------------------------------------

/// How a process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by this signal.
    Signaled(i32),
    /// It was still running when the harness's time limit ran out (and was
    /// then killed).
    TimedOut,
}

impl Status {
    fn from_exit_status(s: ExitStatus) -> Status {
        match (s.code(), s.signal()) {
            (Some(code), _) => Status::Exited(code),
            (None, Some(sig)) => Status::Signaled(sig),
            (None, None) => unreachable!("a Unix process either exits or is signaled: {s:?}"),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Status::Exited(code) => write!(f, "exit status {code}"),
            Status::Signaled(sig) => write!(f, "killed by signal {sig} ({})", signal_name(sig)),
            Status::TimedOut => write!(f, "timed out after {:?}", timeout()),
        }
    }
}

/// The conventional name of a signal number.
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGTRAP => "SIGTRAP",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGUSR1 => "SIGUSR1",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGUSR2 => "SIGUSR2",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        libc::SIGSYS => "SIGSYS",
        _ => "?",
    }
}

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Everything written to stdout.
    pub stdout: Vec<u8>,
    /// Everything written to stderr.
    pub stderr: Vec<u8>,
    /// How the process ended.
    pub status: Status,
}

/// Sets up `cmd` the way both runs of a comparison are set up: working
/// directory `cwd`, only [`BASE_ENV`] plus `env` in the environment, and
/// core dumps off (a dying uk-run would otherwise dump its guest memory).
fn prepare(cmd: &mut Command, cwd: &Path, env: &[(OsString, OsString)]) {
    cmd.current_dir(cwd).env_clear();
    for (k, v) in BASE_ENV {
        cmd.env(k, v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setrlimit, which is async-signal-safe; it touches no locks or heap.
    unsafe {
        cmd.pre_exec(disable_core_dumps);
    }
}

/// Sets RLIMIT_CORE to 0 for the calling process.
fn disable_core_dumps() -> io::Result<()> {
    let no_core = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `no_core` is a valid rlimit that outlives the call.
    if unsafe { libc::setrlimit(libc::RLIMIT_CORE, &no_core) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Runs `cmd` with `stdin` fed through a pipe and stdout/stderr collected
/// through pipes, killing it after `limit`. Returns an error only when the
/// process cannot be started.
pub fn run_command(mut cmd: Command, stdin: &[u8], limit: Duration) -> io::Result<Outcome> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child: Child = cmd.spawn()?;

    let mut child_stdin = child.stdin.take().expect("stdin is piped");
    let input = stdin.to_vec();
    // The program may exit without reading its input: a broken pipe is fine.
    let writer = thread::spawn(move || {
        let _ = child_stdin.write_all(&input);
    });
    let mut out = child.stdout.take().expect("stdout is piped");
    let mut err = child.stderr.take().expect("stderr is piped");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });

    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break Status::from_exit_status(s);
        }
        if start.elapsed() > limit {
            // Only the process this function started is killed, by its pid.
            let _ = child.kill();
            let _ = child.wait();
            break Status::TimedOut;
        }
        thread::sleep(Duration::from_millis(2));
    };
    let _ = writer.join();
    let stdout = out_reader.join().expect("stdout reader panicked");
    let stderr = err_reader.join().expect("stderr reader panicked");
    Ok(Outcome {
        stdout,
        stderr,
        status,
    })
}

// ---------------------------------------------------------------------------
// Cases and comparisons
// ---------------------------------------------------------------------------

/// One invocation of a program, to be run natively and under uk-run.
#[derive(Debug, Clone)]
pub struct Case {
    label: String,
    program: PathBuf,
    /// `Some(name)`: copy the program into the working directory and run it
    /// as `./name`.
    in_cwd_as: Option<String>,
    args: Vec<OsString>,
    stdin: Vec<u8>,
    env: Vec<(OsString, OsString)>,
}

impl Case {
    /// Runs `program` (argv[0] is the path exactly as given) with no
    /// arguments, empty stdin and only the base environment.
    pub fn new(program: impl Into<PathBuf>) -> Case {
        let program = program.into();
        Case {
            label: program.display().to_string(),
            program,
            in_cwd_as: None,
            args: Vec::new(),
            stdin: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Names the case in reports.
    pub fn label(mut self, label: impl Into<String>) -> Case {
        self.label = label.into();
        self
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Case {
        self.args.push(arg.as_ref().to_os_string());
        self
    }

    /// Appends arguments.
    pub fn args<I, S>(mut self, args: I) -> Case
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    /// Bytes fed to the program's stdin (a pipe in both runs).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Case {
        self.stdin = bytes.into();
        self
    }

    /// Adds an environment variable.
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Case {
        self.env
            .push((key.as_ref().to_os_string(), value.as_ref().to_os_string()));
        self
    }

    /// Copies the program into the (fresh) working directory and runs it by
    /// the relative path `./name`, in both runs.
    pub fn in_cwd_as(mut self, name: &str) -> Case {
        self.in_cwd_as = Some(name.to_string());
        self
    }

    /// The program path as passed to both runs (argv[0] natively, PROGRAM
    /// for uk-run).
    fn program_as_typed(&self) -> OsString {
        match &self.in_cwd_as {
            Some(name) => OsString::from(format!("./{name}")),
            None => self.program.clone().into_os_string(),
        }
    }

    /// A shell-like rendering of the uk-run command line, for reports.
    pub fn command_line(&self) -> String {
        let mut all = vec![self.program_as_typed()];
        all.extend(self.args.iter().cloned());
        let mut s = format!("uk-run {}", join_display(&all));
        if !self.env.is_empty() {
            let vars: Vec<String> = self
                .env
                .iter()
                .map(|(k, v)| format!("{}={}", quote(k), quote(v)))
                .collect();
            s = format!("env {} {s}", vars.join(" "));
        }
        if !self.stdin.is_empty() {
            let _ = write!(s, " < ({} bytes of stdin)", self.stdin.len());
        }
        s
    }
}

/// Quotes an argument for display when it is not a plain word.
fn quote(s: &OsStr) -> String {
    let bytes = s.as_bytes();
    let plain = !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_./=:,+%@".contains(&b));
    if plain {
        String::from_utf8_lossy(bytes).into_owned()
    } else {
        format!("'{}'", bytes.escape_ascii())
    }
}

/// Joins arguments for display, eliding the middle of very long lists.
fn join_display(args: &[OsString]) -> String {
    const MAX: usize = 12;
    let shown: Vec<String> = if args.len() > MAX {
        let mut v: Vec<String> = args[..MAX / 2].iter().map(|a| quote(a)).collect();
        v.push(format!("...({} more)...", args.len() - MAX));
        v.extend(args[args.len() - MAX / 2..].iter().map(|a| quote(a)));
        v
    } else {
        args.iter().map(|a| quote(a)).collect()
    };
    shown.join(" ")
}

/// The native and the uk-run outcome of one [`Case`].
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The case's label.
    pub label: String,
    /// The uk-run command line, for reports.
    pub command: String,
    /// The reference: the program run directly.
    pub native: Outcome,
    /// The program run under uk-run.
    pub uk_run: Outcome,
}

impl Comparison {
    /// Whether stdout, stderr and the exit status are all identical.
    pub fn is_same(&self) -> bool {
        self.native.stdout == self.uk_run.stdout
            && self.native.stderr == self.uk_run.stderr
            && self.native.status == self.uk_run.status
    }

    /// `None` if both runs behaved identically, else a readable account of
    /// every difference.
    pub fn report(&self) -> Option<String> {
        if self.is_same() {
            return None;
        }
        let mut r = String::new();
        let _ = writeln!(r, "uk-run differs from native: {}", self.label);
        let _ = writeln!(r, "  command: {}", self.command);
        if self.native.status == self.uk_run.status {
            let _ = writeln!(r, "  status: same ({})", self.native.status);
        } else {
            let _ = writeln!(
                r,
                "  status differs: native {}, uk-run {}",
                self.native.status, self.uk_run.status
            );
        }
        describe_stream(&mut r, "stdout", &self.native.stdout, &self.uk_run.stdout);
        describe_stream(&mut r, "stderr", &self.native.stderr, &self.uk_run.stderr);
        if self.native.stderr != self.uk_run.stderr && !self.uk_run.stderr.is_empty() {
            // uk-run's own diagnostics (unsupported system calls, ...) end up here.
            let _ = writeln!(r, "  uk-run's stderr ends with:");
            for line in tail_lines(&self.uk_run.stderr, 15) {
                let _ = writeln!(r, "    | {}", shorten(line));
            }
        }
        Some(r)
    }

    /// Panics with [`Comparison::report`] unless both runs behaved identically.
    pub fn assert_same(&self) {
        if let Some(r) = self.report() {
            panic!("\n{r}");
        }
    }
}

/// Appends "stdout: same (N bytes)" or a description of the first
/// differing line of the two streams.
fn describe_stream(r: &mut String, name: &str, native: &[u8], uk: &[u8]) {
    if native == uk {
        let _ = writeln!(r, "  {name}: same ({} bytes)", native.len());
        return;
    }
    let _ = writeln!(
        r,
        "  {name} differs: native {} bytes, uk-run {} bytes",
        native.len(),
        uk.len()
    );
    let a: Vec<&[u8]> = native.split_inclusive(|&b| b == b'\n').collect();
    let b: Vec<&[u8]> = uk.split_inclusive(|&b| b == b'\n').collect();
    let i = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let offset: usize = a[..i].iter().map(|l| l.len()).sum();
    let show = |l: Option<&&[u8]>| match l {
        Some(l) => format!("\"{}\"", shorten(l)),
        None => "<end of output>".to_string(),
    };
    let _ = writeln!(
        r,
        "    first difference at line {} (byte offset {offset}):",
        i + 1
    );
    let _ = writeln!(r, "      native: {}", show(a.get(i)));
    let _ = writeln!(r, "      uk-run: {}", show(b.get(i)));
}

/// Escapes a line for display, cut to a readable length.
fn shorten(line: &[u8]) -> String {
    const MAX: usize = 200;
    let s = line.escape_ascii().to_string();
    if s.len() > MAX {
        format!("{}...({} bytes in all)", &s[..MAX], line.len())
    } else {
        s
    }
}

fn tail_lines(bytes: &[u8], n: usize) -> Vec<&[u8]> {
    let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    let lines = match lines.last() {
        Some([]) => &lines[..lines.len() - 1],
        _ => &lines[..],
    };
    lines[lines.len().saturating_sub(n)..].to_vec()
}

/// Runs `case` natively and under uk-run, one after the other, in the same
/// fresh working directory with the same environment and stdin.
///
/// Panics if the native run cannot be started or times out: then the test
/// itself is broken, not uk-run.
pub fn compare(uk: &UkRun, case: &Case) -> Comparison {
    let dir = TempDir::new(&case.label);
    if let Some(name) = &case.in_cwd_as {
        let dest = dir.path().join(name);
        fs::copy(&case.program, &dest).unwrap_or_else(|e| {
            panic!(
                "cannot copy {} to {}: {e}",
                case.program.display(),
                dest.display()
            )
        });
    }
    let program = case.program_as_typed();

    // A copy just written may be held open for writing, for a moment, by a
    // child another test thread forked meanwhile: exec answers ETXTBSY.
    let mut tries = 0;
    let native = loop {
        let mut native_cmd = Command::new(&program);
        native_cmd.args(&case.args);
        prepare(&mut native_cmd, dir.path(), &case.env);
        match run_command(native_cmd, &case.stdin, timeout()) {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            r => break r.unwrap_or_else(|e| panic!("{}: cannot run {:?} natively: {e}", case.label, program)),
        }
    };
    assert!(
        native.status != Status::TimedOut,
        "{}: the native run timed out: the test is broken",
        case.label
    );

    let mut uk_cmd = Command::new(uk.path());
    uk_cmd.arg(&program).args(&case.args);
    prepare(&mut uk_cmd, dir.path(), &case.env);
    let uk_run = run_command(uk_cmd, &case.stdin, timeout())
        .unwrap_or_else(|e| panic!("{}: cannot run {}: {e}", case.label, uk.path().display()));

    Comparison {
        label: case.label.clone(),
        command: case.command_line(),
        native,
        uk_run,
    }
}

/// Panics with the reports of all comparisons that differ, if any.
pub fn assert_all_same(comparisons: &[Comparison]) {
    let reports: Vec<String> = comparisons.iter().filter_map(Comparison::report).collect();
    if !reports.is_empty() {
        panic!(
            "\n{} of {} comparisons differ:\n\n{}",
            reports.len(),
            comparisons.len(),
            reports.join("\n")
        );
    }
}

/// [`compare`], then [`Comparison::assert_same`].
pub fn check(uk: &UkRun, case: &Case) -> Comparison {
    let c = compare(uk, case);
    c.assert_same();
    c
}

/// Builds C program `name` with gcc and with musl-gcc and compares each
/// build natively vs under uk-run. `make` turns the built program's path
/// into the case to run. Returns one comparison per toolchain (in
/// [`Toolchain::STATIC`] order) without asserting anything.
pub fn compare_c(uk: &UkRun, name: &str, make: impl Fn(Case) -> Case) -> Vec<Comparison> {
    compare_c_with(uk, name, &Toolchain::STATIC, make)
}

/// [`compare_c`] for an explicit list of toolchains.
pub fn compare_c_with(
    uk: &UkRun,
    name: &str,
    toolchains: &[Toolchain],
    make: impl Fn(Case) -> Case,
) -> Vec<Comparison> {
    // Build everything first, so a missing compiler fails before any run.
    let programs: Vec<(Toolchain, PathBuf)> =
        toolchains.iter().map(|&t| (t, build_c(name, t))).collect();
    programs
        .into_iter()
        .map(|(t, program)| {
            let case = make(Case::new(&program));
            let case = Case {
                label: format!("{name}.c built with {}", t.name()),
                ..case
            };
            compare(uk, &case)
        })
        .collect()
}

/// [`compare_c`], then [`assert_all_same`].
pub fn check_c(uk: &UkRun, name: &str, make: impl Fn(Case) -> Case) -> Vec<Comparison> {
    let cs = compare_c(uk, name, make);
    assert_all_same(&cs);
    cs
}

// ---------------------------------------------------------------------------
// Inspecting programs
// ---------------------------------------------------------------------------

/// Whether `path` is a 64-bit ELF file without a PT_INTERP program header,
/// i.e. a statically linked executable. `false` for anything unreadable.
pub fn is_static_elf64(path: &Path) -> bool {
    let Ok(bytes) = fs::read(path) else {
        return false;
    };
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" || bytes[4] != 2 {
        return false;
    }
    let (Some(phoff), Some(phentsize), Some(phnum)) = (u64_at(32), u16_at(54), u16_at(56)) else {
        return false;
    };
    const PT_INTERP: u32 = 3;
    (0..phnum as usize).all(|i| {
        let at = phoff as usize + i * phentsize as usize;
        u32_at(at).is_some_and(|p_type| p_type != PT_INTERP)
    })
}

/// The static busybox binary; panics with an install hint when it is
/// missing or not statically linked.
pub fn busybox() -> PathBuf {
    let path = PathBuf::from(BUSYBOX);
    if !is_static_elf64(&path) {
        panic!(
            "{BUSYBOX} is missing or not a static executable: run `apt-get install busybox-static`"
        );
    }
    path
}

#[cfg(test)]
mod tests {
    //! Tests of the harness itself; they need neither uk-run nor /dev/kvm.

    use super::*;

    fn outcome(stdout: &[u8], stderr: &[u8], status: Status) -> Outcome {
        Outcome {
            stdout: stdout.to_vec(),
            stderr: stderr.to_vec(),
            status,
        }
    }

    fn comparison(native: Outcome, uk_run: Outcome) -> Comparison {
        Comparison {
            label: "label".into(),
            command: "uk-run prog".into(),
            native,
            uk_run,
        }
    }

    #[test]
    fn identical_runs_have_no_report() {
        let o = outcome(b"a\nb\n", b"", Status::Exited(3));
        assert!(comparison(o.clone(), o).report().is_none());
    }

    #[test]
    fn report_names_stream_line_and_statuses() {
        let c = comparison(
            outcome(
                b"same\nnative line\nrest\n",
                b"err\n",
                Status::Signaled(libc::SIGSEGV),
            ),
            outcome(b"same\nuk line\n", b"err\n", Status::Exited(139)),
        );
        let r = c.report().expect("the runs differ");
        assert!(
            r.contains(
                "status differs: native killed by signal 11 (SIGSEGV), uk-run exit status 139"
            ),
            "{r}"
        );
        assert!(
            r.contains("stdout differs: native 22 bytes, uk-run 13 bytes"),
            "{r}"
        );
        assert!(
            r.contains("first difference at line 2 (byte offset 5)"),
            "{r}"
        );
        assert!(r.contains("native: \"native line\\n\""), "{r}");
        assert!(r.contains("uk-run: \"uk line\\n\""), "{r}");
        assert!(r.contains("stderr: same (4 bytes)"), "{r}");
    }

    #[test]
    fn report_shows_end_of_output() {
        let c = comparison(
            outcome(b"x", b"", Status::Exited(0)),
            outcome(b"x", b"uk-run: oops\n", Status::Exited(0)),
        );
        let r = c.report().expect("the runs differ");
        assert!(r.contains("native: <end of output>"), "{r}");
        assert!(r.contains("| uk-run: oops"), "{r}");
    }

    #[test]
    fn run_command_collects_streams_status_and_stdin() {
        let dir = TempDir::new("harness-self-test");
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "cat; echo err >&2; pwd; exit 5"]);
        prepare(&mut cmd, dir.path(), &[]);
        let o = run_command(cmd, b"input\n", timeout()).unwrap();
        let cwd = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(o.stdout, format!("input\n{}\n", cwd.display()).into_bytes());
        assert_eq!(o.stderr, b"err\n");
        assert_eq!(o.status, Status::Exited(5));
    }

    #[test]
    fn run_command_reports_signals_and_timeouts() {
        let dir = TempDir::new("harness-self-test");
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", "kill -SEGV $$"]);
        prepare(&mut cmd, dir.path(), &[]);
        let o = run_command(cmd, b"", timeout()).unwrap();
        assert_eq!(o.status, Status::Signaled(libc::SIGSEGV));

        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("10");
        prepare(&mut cmd, dir.path(), &[]);
        let o = run_command(cmd, b"", Duration::from_millis(100)).unwrap();
        assert_eq!(o.status, Status::TimedOut);
    }

    #[test]
    fn static_elf_detection() {
        if Path::new(BUSYBOX).exists() {
            assert!(is_static_elf64(Path::new(BUSYBOX)));
        }
        if Path::new("/bin/true").exists() {
            assert!(!is_static_elf64(Path::new("/bin/true")));
        }
        assert!(!is_static_elf64(Path::new("/nonexistent")));
    }
}

/// ETXTBSY ("Text file busy") on Linux.
const ETXTBSY: i32 = 26;
