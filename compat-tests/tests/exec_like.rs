//! uk-run behaves like exec (issue 9): everything after PROGRAM is the
//! program's, a PROGRAM without a slash is looked up in PATH as execvp does,
//! and the guest's /etc, /dev/shm and /tmp are what programs expect. Each
//! case runs natively and under uk-run; where no native run of the same
//! command exists (a program that is not found), `env`'s status is the
//! reference.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use compat_tests::uk_run;
use compat_tests::{busybox, check, run_command, Case, Status, TempDir, UkRun};

/// Options after PROGRAM are the program's: --help, --version, -V and -v
/// reach it, not uk-run.
#[test]
fn options_after_program_belong_to_it() {
    let uk = uk_run!("options_after_program_belong_to_it");
    check(&uk, &Case::new(busybox()).arg("--help"));
    check(&uk, &Case::new(busybox()).args(["echo", "--version", "-v", "--help", "-m", "1G"]));
    for (prog, args) in [("/sbin/e2fsck.static", &["-V"][..]), ("/usr/bin/gpgv-static", &["--version"][..])] {
        assert!(fs::metadata(prog).is_ok(), "{prog} is missing: scripts/install-deps installs it");
        check(&uk, &Case::new(prog).args(args));
    }
}

/// A PROGRAM without a slash is found in PATH, with argv[0] as typed.
#[test]
fn program_is_looked_up_in_path() {
    let uk = uk_run!("program_is_looked_up_in_path");
    check(&uk, &Case::new("busybox").args(["echo", "hi"]));
    // argv[0] as typed: busybox runs the applet it names.
    let dir = TempDir::new("path-lookup");
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(busybox(), bin.join("echo")).unwrap();
    let path = format!("{}:/usr/bin:/bin", bin.display());
    check(&uk, &Case::new("echo").args(["via", "path"]).env("PATH", &path));
}

/// execvp's conventions: a name found nowhere is 127; one found only
/// without execute permission is 126; a non-executable file earlier in
/// PATH is skipped for an executable one later. `env` is the reference.
#[test]
fn path_lookup_statuses_match_env() {
    let uk = UkRun::for_cli();
    let dir = TempDir::new("path-status");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    let plain = a.join("prog");
    fs::write(&plain, b"not a program\n").unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
    fs::create_dir(a.join("adir")).unwrap();
    let path_a = format!("{}", a.display());
    for (name, path) in [("no-such-program-anywhere", path_a.as_str()), ("prog", path_a.as_str()), ("adir", path_a.as_str())] {
        let status = |mut cmd: Command| {
            cmd.env_clear().env("PATH", path).current_dir(dir.path());
            run_command(cmd, b"", std::time::Duration::from_secs(30)).unwrap()
        };
        let mut native = Command::new("/usr/bin/env");
        native.arg(name);
        let native = status(native);
        let mut ours = Command::new(uk.path());
        ours.arg(name);
        let ours = status(ours);
        assert_eq!(ours.status, native.status, "uk-run {name} with PATH={path}: {:?}", String::from_utf8_lossy(&ours.stderr));
        let err = String::from_utf8_lossy(&ours.stderr);
        assert!(err.starts_with("uk-run: ") && err.matches('\n').count() == 1 && err.contains(name), "one line naming {name}: {err:?}");
    }
    // The executable one later in PATH wins over the plain file.
    if UkRun::for_guest("path_lookup_statuses_match_env").is_none() {
        return;
    }
    fs::write(a.join("echo"), b"not a program\n").unwrap();
    std::os::unix::fs::symlink(busybox(), b.join("echo")).unwrap();
    let both = format!("{}:{}", a.display(), b.display());
    let run = |mut cmd: Command| {
        cmd.env_clear().env("PATH", &both).current_dir(dir.path());
        run_command(cmd, b"", std::time::Duration::from_secs(30)).unwrap()
    };
    let mut native = Command::new("/usr/bin/env");
    native.args(["echo", "later"]);
    let native = run(native);
    let mut ours = Command::new(uk.path());
    ours.args(["echo", "later"]);
    let ours = run(ours);
    assert_eq!((ours.status, &ours.stdout), (native.status, &native.stdout), "{:?}", String::from_utf8_lossy(&ours.stderr));
    assert_eq!(native.status, Status::Exited(0));
}

/// The guest's /etc has the host's hostname, resolv.conf and os-release
/// (copies made at start), as programs that read them expect.
#[test]
fn etc_has_the_hosts_identity_files() {
    let uk = uk_run!("etc_has_the_hosts_identity_files");
    for f in ["/etc/hostname", "/etc/resolv.conf", "/etc/os-release", "/etc/localtime"] {
        check(&uk, &Case::new(busybox()).args(["cat", f]));
    }
    check(&uk, &Case::new(busybox()).args(["hostname"]));
    // /dev/shm is a sticky, world-writable directory, as on Debian.
    check(&uk, &Case::new(busybox()).args(["stat", "-c", "%A", "/dev/shm"]));
}

/// Runs `args` natively (from `dir`) and `uk-run OPTS args` the same way.
fn both(uk: &UkRun, opts: &[&str], args: &[&str], dir: &std::path::Path) -> (compat_tests::Outcome, compat_tests::Outcome) {
    let mut native = Command::new(args[0]);
    native.args(&args[1..]).current_dir(dir).env_clear().env("PATH", "/usr/bin:/bin");
    let native = run_command(native, b"", std::time::Duration::from_secs(60)).unwrap();
    let mut ours = Command::new(uk.path());
    ours.args(opts).args(args).current_dir(dir).env_clear().env("PATH", "/usr/bin:/bin");
    let ours = run_command(ours, b"", std::time::Duration::from_secs(60)).unwrap();
    (native, ours)
}

/// --host-root shows the host's root read-only under the private mounts:
/// host files read as natively, static programs there run, writes outside
/// the shares answer EROFS, and /tmp stays the guest's own.
#[test]
fn host_root_shows_the_host_read_only() {
    let uk = uk_run!("host_root_shows_the_host_read_only");
    let dir = TempDir::new("host-root");
    let bb = busybox();
    let bb = bb.to_str().unwrap();
    for args in [
        vec![bb, "md5sum", bb],
        vec![bb, "sh", "-c", "exec /bin/busybox echo from the host's /bin"],
        vec![bb, "ls", "-d", "/usr/bin", "/bin/busybox", "/usr/share"],
    ] {
        let (native, ours) = both(&uk, &["--host-root"], &args, dir.path());
        assert_eq!((&ours.status, &ours.stdout, &ours.stderr), (&native.status, &native.stdout, &native.stderr), "uk-run --host-root {args:?}");
    }
    // Without it, the host's /usr is not there (the root is private).
    let (native, ours) = both(&uk, &[], &[bb, "ls", "-d", "/usr/share"], dir.path());
    assert_eq!(native.status, Status::Exited(0));
    assert_ne!(ours.status, Status::Exited(0), "/usr/share without --host-root");
    // Read-only, and the private /tmp is not the host's.
    let name = format!("/tmp/uk-host-root-{}", std::process::id());
    let script = format!("echo x > /usr/uk-host-root-probe; echo x > {name} && cat {name}");
    let mut ours = Command::new(uk.path());
    ours.args(["--host-root", bb, "sh", "-c", &script]).current_dir(dir.path());
    let ours = run_command(ours, b"", std::time::Duration::from_secs(60)).unwrap();
    assert_eq!(ours.stdout, b"x\n");
    assert!(String::from_utf8_lossy(&ours.stderr).contains("Read-only file system"), "{:?}", String::from_utf8_lossy(&ours.stderr));
    assert!(fs::metadata("/usr/uk-host-root-probe").is_err() && fs::metadata(&name).is_err(), "the host was written");
}

/// A program that runs /bin/sh in the private root learns why it is not
/// found, and that --host-root exists; a dynamically linked one found
/// there is named as such. Both answer ENOENT, as Linux does for a missing
/// interpreter (a shell must not run the ELF as a script).
#[test]
fn missing_bin_sh_names_the_option() {
    let uk = uk_run!("missing_bin_sh_names_the_option");
    let dir = TempDir::new("no-bin-sh");
    let bb = busybox();
    let bb = bb.to_str().unwrap();
    let (_, ours) = both(&uk, &[], &[bb, "sh", "-c", "exec /bin/sh -c true"], dir.path());
    let err = String::from_utf8_lossy(&ours.stderr);
    assert!(err.contains("--host-root") && err.contains("/bin/sh"), "{err:?}");
    assert_eq!(ours.status, Status::Exited(127), "{err:?}");
    if compat_tests::is_static_elf64(std::path::Path::new("/bin/sh")) {
        return;
    }
    let (_, ours) = both(&uk, &["--host-root"], &[bb, "sh", "-c", "exec /bin/sh -c true"], dir.path());
    let err = String::from_utf8_lossy(&ours.stderr);
    assert!(err.contains("dynamically linked"), "{err:?}");
    assert_eq!(ours.status, Status::Exited(127), "{err:?}");
}

/// `--` before PROGRAM still ends uk-run's options.
#[test]
fn double_dash_before_program_still_works() {
    let uk = uk_run!("double_dash_before_program_still_works");
    let dir = TempDir::new("double-dash");
    let bb = busybox();
    let bb = bb.to_str().unwrap();
    let (native, ours) = both(&uk, &["--"], &[bb, "echo", "--version", "--", "-v"], dir.path());
    assert_eq!((&ours.status, &ours.stdout, &ours.stderr), (&native.status, &native.stdout, &native.stderr));
}
