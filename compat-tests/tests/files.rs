//! busybox on real files: each case runs natively and under uk-run, each
//! time in a fresh copy of the same fixture at the same path, and compares
//! stdout, stderr, the exit status and the tree left behind (names, types,
//! sizes, modes, link targets, contents; not times or inode numbers).

use compat_tests::{busybox, run_command, Outcome, UkRun};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// One file of a tree: (type and mode, size, link target or content).
type Tree = BTreeMap<String, (u32, u64, Vec<u8>)>;

const POEM: &str = "the quick brown fox\njumps over\nthe lazy dog\nand the fox runs\naway\n";
const CSV: &str = "name,qty,price\napple,3,0.5\npear,10,0.25\nfig,7,1.75\nkiwi,1,0.4\n";

/// Writes the fixture into `dir` (created empty), with fixed times.
fn make_fixture(dir: &Path) {
    let w = |name: &str, data: &[u8], mode: u32| {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    };
    w("poem.txt", POEM.as_bytes(), 0o644);
    w("data.csv", CSV.as_bytes(), 0o644);
    let numbers: String = (1..=40).map(|i| format!("{}\n", (i * 37) % 101)).collect();
    w("numbers.txt", numbers.as_bytes(), 0o644);
    let blob: Vec<u8> = (0..5000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    w("blob.bin", &blob, 0o644);
    w("empty", b"", 0o600);
    w("dir/a.txt", b"alpha\nbeta\ngamma\n", 0o644);
    w("dir/b.txt", b"beta\ndelta\n", 0o640);
    w("dir/sub/deep.txt", b"deep down\n", 0o644);
    w("dir/sub/run.sh", b"#!/bin/sh\necho hi\n", 0o755);
    symlink("poem.txt", dir.join("link")).unwrap();
    symlink("dir/sub", dir.join("sublink")).unwrap();
    let fixed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    set_times(dir, fixed);
    // An archive of dir/, made by the same busybox, for tar t and tar x.
    let st = Command::new(busybox()).args(["tar", "cf", "arch.tar", "dir"]).current_dir(dir).status().unwrap();
    assert!(st.success());
    set_times(dir, fixed);
}

fn set_times(p: &Path, t: SystemTime) {
    let meta = fs::symlink_metadata(p).unwrap();
    if meta.file_type().is_symlink() {
        return;
    }
    if meta.is_dir() {
        for e in fs::read_dir(p).unwrap() {
            set_times(&e.unwrap().path(), t);
        }
    }
    let f = fs::File::open(p).unwrap();
    f.set_times(fs::FileTimes::new().set_accessed(t).set_modified(t)).unwrap();
}

fn snapshot(dir: &Path) -> Tree {
    let mut t = Tree::new();
    fn walk(base: &Path, p: &Path, t: &mut Tree) {
        let mut entries: Vec<_> = fs::read_dir(p).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for e in entries {
            let meta = fs::symlink_metadata(&e).unwrap();
            let rel = e.strip_prefix(base).unwrap().to_string_lossy().into_owned();
            let mode = meta.permissions().mode();
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&e).unwrap();
                t.insert(rel, (mode, 0, target.to_string_lossy().into_owned().into_bytes()));
            } else if meta.is_dir() {
                t.insert(rel, (mode, 0, Vec::new()));
                walk(base, &e, t);
            } else {
                t.insert(rel, (mode, meta.len(), fs::read(&e).unwrap()));
            }
        }
    }
    walk(dir, dir, &mut t);
    t
}

static N: AtomicU64 = AtomicU64::new(0);

/// A directory path both runs use, unique to this case.
fn case_dir(label: &str) -> PathBuf {
    let clean: String = label.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).take(30).collect();
    // In a parent of its own, whose metadata (`ls -la`'s `..`) nothing else changes.
    std::env::temp_dir()
        .join(format!("uk-files-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
        .join(clean)
}

fn run_in(dir: &Path, program: &Path, args: &[&str], stdin: &[u8]) -> (Outcome, Tree) {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).unwrap();
    make_fixture(dir);
    let fixed = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let parent = fs::File::open(dir.parent().unwrap()).unwrap();
    parent.set_times(fs::FileTimes::new().set_accessed(fixed).set_modified(fixed)).unwrap();
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(dir).env_clear().env("PATH", "/usr/local/bin:/usr/bin:/bin");
    let out = run_command(cmd, stdin, Duration::from_secs(60)).unwrap();
    let tree = snapshot(dir);
    (out, tree)
}

/// Runs `busybox ARGS` both ways and compares everything.
fn case(args: &[&str], stdin: &[u8]) -> Option<String> {
    let uk = UkRun::for_guest("files")?;
    let label = args.join(" ");
    let dir = case_dir(&label);
    let bb = busybox();
    let (native, native_tree) = run_in(&dir, &bb, args, stdin);
    let mut uk_args: Vec<&str> = vec![bb.to_str().unwrap()];
    uk_args.extend_from_slice(args);
    let (guest, guest_tree) = run_in(&dir, uk.path(), &uk_args, stdin);
    let _ = fs::remove_dir_all(dir.parent().unwrap());
    let mut diffs = Vec::new();
    if native.stdout != guest.stdout {
        diffs.push(format!(
            "stdout differs:\n  native: {:?}\n  uk-run: {:?}",
            String::from_utf8_lossy(&native.stdout),
            String::from_utf8_lossy(&guest.stdout)
        ));
    }
    if native.stderr != guest.stderr {
        diffs.push(format!(
            "stderr differs:\n  native: {:?}\n  uk-run: {:?}",
            String::from_utf8_lossy(&native.stderr),
            String::from_utf8_lossy(&guest.stderr)
        ));
    }
    if native.status != guest.status {
        diffs.push(format!("status: native {} uk-run {}", native.status, guest.status));
    }
    if native_tree != guest_tree {
        for k in native_tree.keys().chain(guest_tree.keys()) {
            let (a, b) = (native_tree.get(k), guest_tree.get(k));
            if a != b {
                let show = |e: Option<&(u32, u64, Vec<u8>)>| e.map_or("missing".to_string(), |(m, s, _)| format!("mode {m:o} size {s}"));
                diffs.push(format!("tree differs at {k}: native {} uk-run {}", show(a), show(b)));
                break;
            }
        }
    }
    (!diffs.is_empty()).then(|| format!("busybox {label}:\n  {}", diffs.join("\n  ")))
}

/// Runs every case and reports all that differ at once.
fn check_all(cases: &[(&[&str], &[u8])]) {
    if UkRun::for_guest("files").is_none() {
        return;
    }
    let failures: Vec<String> = cases.iter().filter_map(|(a, i)| case(a, i)).collect();
    assert!(failures.is_empty(), "\n{} of {} cases differ:\n\n{}", failures.len(), cases.len(), failures.join("\n\n"));
}

#[test]
fn reading() {
    check_all(&[
        (&["cat", "poem.txt"], b""),
        (&["cat", "poem.txt", "data.csv"], b""),
        (&["cat", "link"], b""),
        (&["cat", "dir/sub/deep.txt", "sublink/deep.txt"], b""),
        (&["head", "-n", "2", "poem.txt"], b""),
        (&["head", "-c", "10", "blob.bin"], b""),
        (&["tail", "-n", "2", "poem.txt"], b""),
        (&["tail", "-c", "20", "numbers.txt"], b""),
        (&["wc", "poem.txt", "data.csv", "numbers.txt"], b""),
        (&["wc", "-l", "poem.txt"], b""),
        (&["wc", "-c", "blob.bin"], b""),
        (&["sort", "poem.txt"], b""),
        (&["sort", "-n", "numbers.txt"], b""),
        (&["sort", "-rn", "numbers.txt"], b""),
        (&["sort", "-t", ",", "-k", "2", "-n", "data.csv"], b""),
        (&["uniq", "-c", "dir/a.txt"], b""),
        (&["cut", "-d", ",", "-f", "1,3", "data.csv"], b""),
        (&["grep", "fox", "poem.txt"], b""),
        (&["grep", "-n", "the", "poem.txt"], b""),
        (&["grep", "-c", "a", "poem.txt", "data.csv"], b""),
        (&["grep", "-v", "e", "poem.txt"], b""),
        (&["grep", "-r", "beta", "dir"], b""),
        (&["grep", "-l", "beta", "dir/a.txt", "dir/b.txt", "poem.txt"], b""),
        (&["sed", "s/fox/cat/g", "poem.txt"], b""),
        (&["sed", "-n", "2,3p", "poem.txt"], b""),
        (&["awk", "{print $2}", "poem.txt"], b""),
        (&["awk", "-F,", "NR>1 {s+=$2} END {print s}", "data.csv"], b""),
        (&["find", "."], b""),
        (&["find", ".", "-type", "f"], b""),
        (&["find", ".", "-name", "*.txt"], b""),
        (&["find", "dir", "-type", "d"], b""),
        (&["find", ".", "-type", "l"], b""),
        (&["ls"], b""),
        (&["ls", "-la"], b""),
        (&["ls", "-l", "dir"], b""),
        (&["ls", "-R", "dir"], b""),
        (&["ls", "-1", "sublink/"], b""),
        (&["stat", "-c", "%n %s %a %F", "poem.txt", "dir", "link", "empty"], b""),
        (&["stat", "-L", "-c", "%n %s %F", "link"], b""),
        (&["du", "-a", "dir"], b""),
        (&["md5sum", "poem.txt", "blob.bin"], b""),
        (&["sha1sum", "data.csv"], b""),
        (&["sha256sum", "blob.bin"], b""),
        (&["od", "-c", "dir/a.txt"], b""),
        (&["hexdump", "-C", "dir/b.txt"], b""),
        (&["cmp", "poem.txt", "link"], b""),
        (&["cmp", "poem.txt", "data.csv"], b""),
        (&["diff", "dir/a.txt", "dir/b.txt"], b""),
        (&["readlink", "link"], b""),
        (&["readlink", "-f", "sublink"], b""),
        (&["tar", "tf", "arch.tar"], b""),
        (&["tar", "tvf", "arch.tar"], b""),
        (&["test", "-d", "dir"], b""),
        (&["test", "-f", "link"], b""),
        (&["test", "-x", "dir/sub/run.sh"], b""),
        (&["basename", "dir/sub/deep.txt"], b""),
        (&["realpath", "link"], b""),
        (&["cat", "/proc/self/comm"], b""),
        (&["head", "-n", "1", "/proc/self/status"], b""),
        (&["test", "-r", "/proc/meminfo"], b""),
        (&["readlink", "/proc/self/cwd"], b""),
    ]);
}

#[test]
fn errors() {
    check_all(&[
        (&["cat", "missing"], b""),
        (&["cat", "dir"], b""),
        (&["head", "poem.txt", "missing"], b""),
        (&["ls", "missing"], b""),
        (&["wc", "nope/x"], b""),
        (&["rm", "missing"], b""),
        (&["rmdir", "dir"], b""),
        (&["mkdir", "dir"], b""),
        (&["cat", "poem.txt/x"], b""),
        (&["cp", "missing", "x"], b""),
        (&["mv", "missing", "x"], b""),
        (&["ln", "-s", "poem.txt", "link"], b""),
        (&["stat", "missing"], b""),
        (&["readlink", "poem.txt"], b""),
        (&["grep", "x", "missing"], b""),
    ]);
}

#[test]
fn writing() {
    check_all(&[
        (&["cp", "poem.txt", "copy.txt"], b""),
        (&["cp", "-r", "dir", "dir2"], b""),
        (&["cp", "-a", "dir", "dir3"], b""),
        (&["mv", "poem.txt", "moved.txt"], b""),
        (&["mv", "dir/a.txt", "a.txt"], b""),
        (&["mv", "dir", "renamed"], b""),
        (&["rm", "poem.txt"], b""),
        (&["rm", "-r", "dir"], b""),
        (&["rm", "-f", "link", "missing"], b""),
        (&["mkdir", "-p", "x/y/z"], b""),
        (&["mkdir", "-m", "700", "private"], b""),
        (&["rmdir", "dir/sub"], b""),
        (&["ln", "-s", "dir/a.txt", "alink"], b""),
        (&["ln", "poem.txt", "hard"], b""),
        (&["chmod", "600", "poem.txt"], b""),
        (&["chmod", "-R", "go-rwx", "dir"], b""),
        (&["touch", "new"], b""),
        (&["truncate", "-s", "10", "poem.txt"], b""),
        (&["truncate", "-s", "100", "empty"], b""),
        (&["dd", "if=blob.bin", "of=part.bin", "bs=100", "count=3", "skip=2"], b""),
        (&["dd", "if=/dev/zero", "of=zeros", "bs=512", "count=4"], b""),
        (&["split", "-l", "2", "poem.txt", "piece."], b""),
        (&["tar", "xf", "arch.tar", "-C", "dir/sub"], b""),
        (&["tar", "cf", "new.tar", "poem.txt", "data.csv"], b""),
        (&["gzip", "poem.txt"], b""),
        (&["gzip", "-c", "data.csv"], b""),
        (&["bzip2", "numbers.txt"], b""),
        (&["sed", "-i", "s/fox/cat/", "poem.txt"], b""),
        (&["sort", "-o", "sorted.txt", "numbers.txt"], b""),
        (&["tee", "out.txt"], b"through tee\n"),
    ]);
}

/// Shell scripts: builtins, and a last command the shell execs. Running a
/// command that is not the last needs fork, which uk-run does not have yet.
#[test]
fn stdin_and_shell() {
    check_all(&[
        (&["sort"], b"b\na\nc\n"),
        (&["wc", "-w"], b"one two three\n"),
        (&["md5sum"], b"abc"),
        (&["sh", "-c", "echo hello > f.txt; read x < f.txt; echo $x"], b""),
        (&["sh", "-c", "echo a >> poem.txt; echo b >> poem.txt"], b""),
        (&["sh", "-c", "cd dir && pwd"], b""),
        (&["sh", "-c", "cd dir/sub; cd ..; pwd"], b""),
        (&["sh", "-c", "for f in dir/*.txt; do echo $f; done"], b""),
        (&["sh", "-c", "read x < poem.txt; echo $x"], b""),
        (&["sh", "-c", "test -e missing || echo absent"], b""),
        (&["sh", "-c", "test -d dir && test -f poem.txt && test -L link && echo ok"], b""),
        (&["sh", "-c", "echo one > /dev/null; echo two >&2"], b""),
        (&["sh", "-c", "cd /; cd tmp; pwd; cd /dev; echo nul*"], b""),
        // The last command of a script is exec'd (execve of /proc/self/exe).
        (&["sh", "-c", "echo hello > f.txt; cat f.txt"], b""),
        (&["sh", "-c", "echo a >> poem.txt; tail -n 1 poem.txt"], b""),
        (&["sh", "-c", "cd dir/sub; cat deep.txt ../a.txt"], b""),
        (&["sh", "-c", "cd dir && exec ls -l"], b""),
        (&["sh", "-c", "exec wc -l < data.csv"], b""),
        (&["sh", "-c", "exec 3< poem.txt; exec head -n 1 /dev/fd/3"], b""),
        (&["sh", "-c", "exec ./nonexistent"], b""),
        (&["sh", "-c", "exec ./dir"], b""),
        (&["sh", "-c", "exec ./poem.txt"], b""),
    ]);
}
