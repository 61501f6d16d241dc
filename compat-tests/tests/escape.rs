//! The program sees nothing of the host beyond what is shared: escape
//! attempts through `..`, absolute and relative symlinks, and writes to a
//! read-only share are refused, and the host files stay untouched. These
//! are not differential (natively each attempt would succeed): each checks
//! uk-run's refusal and the host file afterwards.

use compat_tests::{busybox, run_command, Outcome, TempDir, UkRun};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `uk-run [opts] busybox ARGS` in `cwd`.
fn uk(uk: &UkRun, cwd: &Path, opts: &[&str], args: &[&str]) -> Outcome {
    let mut cmd = Command::new(uk.path());
    cmd.args(opts).arg(busybox()).args(args).current_dir(cwd).env_clear().env("PATH", "/usr/bin:/bin");
    run_command(cmd, b"", Duration::from_secs(60)).unwrap()
}

/// A share directory `work/` beside a secret file outside it.
fn layout(t: &TempDir) -> (std::path::PathBuf, std::path::PathBuf) {
    let work = t.path().join("work");
    fs::create_dir(&work).unwrap();
    let secret = t.path().join("secret.txt");
    fs::write(&secret, b"top secret\n").unwrap();
    fs::write(work.join("ok.txt"), b"fine\n").unwrap();
    (work, secret)
}

#[test]
fn dotdot_does_not_leave_the_share() {
    let Some(u) = UkRun::for_guest("dotdot") else { return };
    let t = TempDir::new("escape-dotdot");
    let (work, secret) = layout(&t);
    let r = uk(&u, &work, &[], &["cat", "../secret.txt"]);
    assert_ne!(r.status, compat_tests::Status::Exited(0), "read outside the share: {:?}", String::from_utf8_lossy(&r.stdout));
    assert!(!String::from_utf8_lossy(&r.stdout).contains("secret"));
    // Above the share is the guest's private tree: a write there may
    // succeed, but it lands in guest memory, not on the host.
    let r = uk(&u, &work, &[], &["sh", "-c", "echo pwned > ../secret.txt; read x < ../secret.txt; echo $x"]);
    assert_eq!(r.stdout, b"pwned\n");
    assert_eq!(fs::read(&secret).unwrap(), b"top secret\n");
}

#[test]
fn symlinks_do_not_leave_the_share() {
    let Some(u) = UkRun::for_guest("symlinks") else { return };
    let t = TempDir::new("escape-symlink");
    let (work, secret) = layout(&t);
    symlink(&secret, work.join("abs")).unwrap();
    symlink("../secret.txt", work.join("rel")).unwrap();
    symlink("/etc/shadow", work.join("shadow")).unwrap();
    fs::create_dir(work.join("d")).unwrap();
    symlink("../..", work.join("d/up")).unwrap();
    for target in ["abs", "rel", "shadow", "d/up/secret.txt"] {
        let r = uk(&u, &work, &[], &["cat", target]);
        assert_ne!(r.status, compat_tests::Status::Exited(0), "cat {target} read outside the share");
        assert!(r.stdout.is_empty(), "cat {target}: {:?}", String::from_utf8_lossy(&r.stdout));
        let r = uk(&u, &work, &[], &["sh", "-c", &format!("echo pwned > {target}")]);
        assert_ne!(r.status, compat_tests::Status::Exited(0), "wrote through {target}");
    }
    assert_eq!(fs::read(&secret).unwrap(), b"top secret\n");
    // Inside the share, symlinks work: relative ones, and absolute ones that
    // lead back into it (the share is at the same path in the guest).
    symlink("ok.txt", work.join("good")).unwrap();
    symlink(work.join("ok.txt"), work.join("absin")).unwrap();
    symlink("d/../ok.txt", work.join("around")).unwrap();
    for link in ["good", "absin", "around"] {
        let r = uk(&u, &work, &[], &["cat", link]);
        assert_eq!((r.status, r.stdout), (compat_tests::Status::Exited(0), b"fine\n".to_vec()), "cat {link}");
    }
}

#[test]
fn read_only_share_refuses_writes() {
    let Some(u) = UkRun::for_guest("read_only") else { return };
    let t = TempDir::new("escape-ro");
    let (work, _) = layout(&t);
    let data = t.path().join("data");
    fs::create_dir(&data).unwrap();
    fs::write(data.join("f.txt"), b"keep\n").unwrap();
    let vol = format!("{}:/data:ro", data.display());
    let opts = ["--no-cwd", "-v", vol.as_str()];
    let r = uk(&u, &work, &opts, &["cat", "/data/f.txt"]);
    assert_eq!((r.status, r.stdout), (compat_tests::Status::Exited(0), b"keep\n".to_vec()));
    for args in [
        &["rm", "/data/f.txt"][..],
        &["sh", "-c", "echo x > /data/f.txt"],
        &["sh", "-c", "echo x > /data/new.txt"],
        &["mkdir", "/data/d"],
        &["mv", "/data/f.txt", "/data/g.txt"],
        &["touch", "/data/f.txt"],
        &["chmod", "777", "/data/f.txt"],
    ] {
        let r = uk(&u, &work, &opts, args);
        assert_ne!(r.status, compat_tests::Status::Exited(0), "{args:?} succeeded on a :ro share");
        assert!(String::from_utf8_lossy(&r.stderr).contains("Read-only file system"), "{args:?}: {:?}", String::from_utf8_lossy(&r.stderr));
    }
    let names: Vec<_> = fs::read_dir(&data).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("f.txt")]);
    assert_eq!(fs::read(data.join("f.txt")).unwrap(), b"keep\n");
    // --no-cwd: the current directory is not there.
    let r = uk(&u, &work, &opts, &["cat", "ok.txt"]);
    assert_ne!(r.status, compat_tests::Status::Exited(0));
}
