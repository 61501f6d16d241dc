//! Processes: fork, vfork, posix_spawn, wait*, pipes between processes,
//! process groups, SIGCHLD and re-parenting (procs.c, built with gcc and
//! musl), and shells that fork for everything (busybox sh and Debian's
//! bash-static) running scripts of pipelines, substitutions, subshells,
//! background jobs, traps, here documents, xargs, find -exec and tar.
//! Each runs natively and under uk-run; stdout, stderr and the exit status
//! must be identical.

use std::ffi::OsString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use compat_tests::{c_modes, uk_run};
use compat_tests::{busybox, check_c, run_command, Comparison, Outcome, TempDir, UkRun};

c_modes!("procs":
    procs_status_exit_codes_signals_wait4_waitid_wnohang_echild => "status",
    procs_pipes_bulk_eof_atomic_writers_sigpipe => "pipes",
    procs_fds_open_file_description_shared_across_fork => "fds",
    procs_cow_memory_is_copied_on_fork => "cow",
    procs_pgrp_setpgid_setsid_group_kill_getppid => "pgrp",
    procs_sigchld_siginfo_sig_ign_nocldwait => "sigchld",
    procs_orphan_is_reparented => "orphan",
    procs_subreaper_gets_the_orphan => "subreaper",
    procs_shared_anonymous_and_file_mappings => "shared",
    procs_harness_ltp_style_results_in_shared_file => "harness",
);

/// vfork and posix_spawn run the program itself again (mode child-hello),
/// by argv[0]: so it runs as ./procs from the working directory, which the
/// guest sees.
#[test]
fn procs_vfork_execv_posix_spawn() {
    let uk = uk_run!("procs_vfork_execv_posix_spawn");
    check_c(&uk, "procs", |c| c.arg("vfork").in_cwd_as("procs"));
}

// ---------------------------------------------------------------------------
// Shell scripts
// ---------------------------------------------------------------------------

/// Busybox applets the scripts run as external commands, each a symlink to
/// a copy of busybox in the working directory's bin/ (the guest sees only
/// the working directory).
const APPLETS: &[&str] = &[
    "ls", "sort", "head", "tac", "cat", "wc", "seq", "xargs", "find", "tar", "gzip", "true", "false",
    "sleep", "md5sum", "grep", "sed", "tr", "echo", "mkdir", "rm", "ln", "cp",
];

const BASH: &str = "/bin/bash-static";

#[derive(Clone, Copy)]
enum Shell {
    Busybox,
    Bash,
}

/// ETXTBSY ("Text file busy").
const ETXTBSY: i32 = 26;

fn limit() -> Duration {
    std::env::var("UK_COMPAT_TIMEOUT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .map(Duration::from_secs)
        .unwrap_or(Duration::from_secs(60))
}

/// A command with the working directory `cwd`, only PATH=`path` in the
/// environment and core dumps off (as the harness sets up its runs).
fn command(program: &Path, args: &[OsString], cwd: &Path, path: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args).current_dir(cwd).env_clear().env("PATH", path);
    // SAFETY: the closure runs in the forked child before exec and only
    // calls setrlimit (async-signal-safe) with `none`, a valid rlimit that
    // outlives the call.
    unsafe {
        cmd.pre_exec(|| {
            let none = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            if libc::setrlimit(libc::RLIMIT_CORE, &none) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd
}

/// Runs `script` with `shell` natively and under uk-run in one fresh
/// directory holding bin/ (busybox and its applets, PATH's only entry) and
/// script.sh, and asserts that stdout, stderr and the status are the same.
fn shell(test: &str, shell: Shell, script: &str) {
    let Some(uk) = UkRun::for_guest(test) else {
        return;
    };
    // One fresh directory per run: what the native run leaves (flag
    // files, extracted trees) must not change the uk-run's.
    let setup = |label: &str| {
        let dir = TempDir::new(label);
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        let bb = bin.join("busybox");
        fs::copy(busybox(), &bb).unwrap();
        fs::set_permissions(&bb, fs::Permissions::from_mode(0o755)).unwrap();
        for a in APPLETS {
            std::os::unix::fs::symlink("busybox", bin.join(a)).unwrap();
        }
        dir.write_file("script.sh", script.as_bytes(), 0o644);
        (dir, bin, bb)
    };
    let (dir, bin, bb) = setup(&format!("{test}-native"));
    let (udir, ubin, ubb) = setup(&format!("{test}-uk"));

    let (program, args): (PathBuf, Vec<OsString>) = match shell {
        Shell::Busybox => (bb.clone(), vec!["sh".into(), "script.sh".into()]),
        Shell::Bash => {
            assert!(
                compat_tests::is_static_elf64(Path::new(BASH)),
                "{BASH} is missing or not static: apt-get install bash-static (scripts/install-deps does)"
            );
            (PathBuf::from(BASH), vec!["script.sh".into()])
        }
    };

    // The copy just written may be held open for a moment by a child
    // another test thread forked meanwhile: exec answers ETXTBSY.
    let mut tries = 0;
    let native: Outcome = loop {
        match run_command(command(&program, &args, dir.path(), &bin), b"", limit()) {
            Err(e) if e.raw_os_error() == Some(ETXTBSY) && tries < 50 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            r => break r.unwrap_or_else(|e| panic!("{test}: cannot run {} natively: {e}", program.display())),
        }
    };
    assert!(native.status != compat_tests::Status::TimedOut, "{test}: the native run timed out");

    let uk_program = if program == bb { ubb.clone() } else { program.clone() };
    let mut uk_args: Vec<OsString> = vec![uk_program.into_os_string()];
    uk_args.extend(args.iter().cloned());
    let uk_run = run_command(command(uk.path(), &uk_args, udir.path(), &ubin), b"", limit())
        .unwrap_or_else(|e| panic!("{test}: cannot run uk-run: {e}"));

    let shown: Vec<String> = uk_args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    let c = Comparison {
        label: test.to_string(),
        command: format!("env PATH={} uk-run {} (in {})", ubin.display(), shown.join(" "), udir.path().display()),
        native,
        uk_run,
    };
    c.assert_same();
}

/// Pipelines of external commands, early exit of a reader (SIGPIPE).
const PIPELINES: &str = r#"
seq 1 50 | grep 7 | sort -r | head -3
printf 'b\na\nc\n' | sort | tac | tr a-z A-Z
seq 1000 | wc -l
ls bin | sort | head -5
echo one two three | sed 's/two/2/' | cat | cat | cat
seq 1 100000 | md5sum
seq 1 200000 | head -1
echo "after an early exit: $?"
seq 1 3000 | grep -c 1
echo end
"#;

/// Command substitution, subshells and their exit statuses.
const SUBSTITUTIONS: &str = r#"
x=$(echo hello | tr a-z A-Z); echo "x=$x"
y=`seq 3 | wc -l`; echo "y=$y"
z=$(echo $(echo nested $(echo deep))); echo "$z"
n=$(seq 1 5 | while read i; do printf %s "$i"; done); echo "n=$n"
(exit 7); echo "subshell exit $?"
( echo in a subshell; exit 3 ); echo "status $?"
v=1; (v=2; echo "inner $v"); echo "outer $v"
out=$(exit 5); echo "command substitution status $?"
if (false); then echo yes; else echo "no $?"; fi
( (exit 9) ); echo "nested $?"
{ echo group; false; }; echo "group status $?"
a=$( (echo sub; exit 4) ); echo "a=$a $?"
bin/false; echo "external false $?"
bin/true; echo "external true $?"
nosuchcommand_xyz; echo "missing $?"
big=$(seq 1 30000); echo "big substitution: ${#big} characters"
echo "$(seq 1 3 | sed 's/^/line /')"
(cd bin && ls | wc -l); pwd | sed 's|.*/||' | grep -c .
exit 3
"#;

/// Background jobs and wait.
const BACKGROUND: &str = r#"
(echo job1 > job1.out) &
(seq 3 > job2.out) &
sleep 0.05 &
wait
cat job1.out job2.out
(exit 3) & p=$!
wait $p; echo "wait status $?"
(sleep 0.1; exit 4) & p1=$!
(exit 5) & p2=$!
wait $p2; echo "p2 $?"
wait $p1; echo "p1 $?"
sleep 10 & p=$!
kill -TERM $p
wait $p; echo "killed sleep: $?"
for i in 1 2 3 4 5; do (echo "bg $i" > bg.$i) & done
wait
cat bg.1 bg.2 bg.3 bg.4 bg.5
seq 1 20000 > nums & wait $!; wc -l < nums
wait; echo "wait with nothing left: $?"
"#;

/// Traps on signals sent with kill, in the shell and in a background
/// subshell; the EXIT trap.
const TRAPS: &str = r#"
trap 'echo got USR1' USR1
kill -USR1 $$
echo after USR1
trap 'echo got TERM' TERM
kill -TERM $$
echo after TERM
trap '' USR2
kill -USR2 $$; echo "USR2 ignored"
trap - USR1
trap 'echo exit trap' EXIT
(trap 'echo child trapped TERM; exit 6' TERM; echo ready > ready.flag; while :; do sleep 0.01; done) &
p=$!
while [ ! -f ready.flag ]; do sleep 0.01; done
kill -TERM $p
wait $p; echo "child status $?"
# bash reports the killed job on stderr with its pid: keep the report, not the pid.
{ (sleep 10) & p=$!; kill -KILL $p; wait $p; echo "killed subshell: $?"; } 2> killed.err
sed 's/: *[0-9][0-9]* Killed/: PID Killed/' killed.err
trap 'echo got USR1 while waiting' USR1
(sleep 0.2; kill -USR1 $$) &
wait
wait
echo done waiting
"#;

/// Here documents: expanded, literal, tab-stripped, fed to loops and
/// pipelines, and one larger than a pipe's buffer.
const HEREDOCS: &str = "
name=world
cat <<EOF
hello $name
sum $((2+3))
cmd $(echo substituted)
EOF
cat <<'EOF'
literal $name $(not run)
EOF
cat <<-EOF
\ttab stripped
\tEOF
while read a b; do echo \"[$a|$b]\"; done <<EOF
1 one
2 two
EOF
tr a-z A-Z <<EOF | sort -r
apple
banana
EOF
big=$(seq 1 20000)
cat <<EOF | wc -l
$big
EOF
cat <<EOF | md5sum
$big
EOF
";

/// $? of pipelines, `!` and pipefail (both shells).
const PIPEFAIL: &str = r#"
true | false; echo "last fails: $?"
false | true; echo "first fails: $?"
! true; echo "negated: $?"
! false; echo "negated false: $?"
true | (exit 3); echo "subshell last: $?"
set -o pipefail
false | true; echo "pipefail: $?"
true | (exit 3) | true; echo "pipefail middle: $?"
(exit 2) | (exit 3) | true; echo "pipefail rightmost failure: $?"
seq 1 200000 | head -1 > /dev/null; echo "pipefail with SIGPIPE: $?"
set +o pipefail
false | true; echo "no pipefail: $?"
"#;

/// bash only: PIPESTATUS, process substitution, coprocesses, BASHPID,
/// wait -n, exec at the end.
const BASH_ONLY: &str = r#"
true | false | (exit 3) | bin/true; echo "PIPESTATUS ${PIPESTATUS[*]}"
seq 1 200000 | head -1 > /dev/null; echo "PIPESTATUS ${PIPESTATUS[*]}"
(exit 4); echo "PIPESTATUS one ${PIPESTATUS[*]}"
cat <(echo process substitution)
while read l; do echo "line $l"; done < <(seq 3)
mapfile -t arr < <(seq 5 -1 1); echo "mapfile ${arr[*]}"
echo written > >(tr a-z A-Z > procsub.out); wait $!; cat procsub.out
( [ "$BASHPID" != "$$" ] && echo "a subshell has its own BASHPID" )
[ "$(echo $BASHPID)" != "$$" ] && echo "so has a command substitution"
coproc UP { tr a-z A-Z; }
echo coprocess >&"${UP[1]}"
exec {UP[1]}>&-
read -r got <&"${UP[0]}"; echo "from the coprocess: $got"
wait $UP_PID; echo "coprocess status $?"
wait  # the earlier jobs (process substitutions) are done: wait -n sees only the next
(exit 6) & wait -n; echo "wait -n $?"
f() { local r; r=$(bin/false); return $?; }; f; echo "function status $?"
exec bin/echo "exec at the end"
echo not reached
"#;

/// xargs and find -exec.
const XARGS_FIND: &str = r#"
mkdir -p d/a d/b/c
echo one > d/a/1.txt; echo two > d/b/2.txt; echo three > d/b/c/3.txt; echo skip > d/b/c/4.dat
find d -type f | sort
find d -name '*.txt' -exec cat {} \; | sort
find d -name '*.txt' -exec md5sum {} + | sort
find d -type d | sort | xargs -n 1 echo dir:
seq 1 10 | xargs -n 3 echo
printf 'x\ny\nz\n' | xargs -I{} echo item {}
find d -type f -print0 | xargs -0 cat | sort | tr '\n' ' '; echo
find d -name '*.dat' -exec rm {} \;
find d -type f | wc -l
seq 1 500 | xargs -n 50 echo | wc -l
echo a b c | xargs false; echo "xargs of false: $?"
"#;

/// tar with gzip (tar runs gzip as a child), and gzip in pipelines.
const TAR: &str = r#"
mkdir -p src/sub
seq 1 2000 > src/numbers.txt
echo hello > src/sub/hello.txt
tar czf a.tgz src; echo "tar czf: $?"
tar tzf a.tgz | sort
mkdir out
(cd out && tar xzf ../a.tgz); echo "tar xzf: $?"
find out | sort
md5sum src/numbers.txt
(cd out && md5sum src/numbers.txt)
cat out/src/sub/hello.txt
gzip -c src/numbers.txt | gzip -dc | md5sum
gzip -c src/numbers.txt > n.gz; gzip -dc n.gz | wc -l
tar cf - src | tar tf - | sort
mkdir copy; tar cf - src | (cd copy && tar xf -); find copy -type f | sort
gzip -dc < a.tgz | tar tf - | wc -l
"#;

/// A loop spawning external commands.
const SPAWN_LOOP: &str = r#"
n=0
for i in $(seq 20); do bin/true && n=$((n+1)); done
echo "ran true $n times"
for i in 1 2 3 4 5; do bin/false || echo "false $i: $?"; done
i=0; while [ $i -lt 20 ]; do i=$((i+1)); "$PWD/bin/echo" $i; done | wc -l
for i in $(seq 10); do echo $(bin/echo $i); done | tr '\n' ' '; echo
for i in $(seq 5); do bin/seq $i | bin/wc -l; done | tr '\n' ' '; echo
"#;

macro_rules! shell_tests {
    ($($busybox:ident, $bash:ident => $script:expr;)*) => {
        $(
            #[test]
            fn $busybox() {
                shell(stringify!($busybox), Shell::Busybox, $script);
            }

            #[test]
            fn $bash() {
                shell(stringify!($bash), Shell::Bash, $script);
            }
        )*
    };
}

shell_tests! {
    busybox_sh_pipelines, bash_pipelines => PIPELINES;
    busybox_sh_substitutions_and_subshells, bash_substitutions_and_subshells => SUBSTITUTIONS;
    busybox_sh_background_jobs_and_wait, bash_background_jobs_and_wait => BACKGROUND;
    busybox_sh_traps, bash_traps => TRAPS;
    busybox_sh_here_documents, bash_here_documents => HEREDOCS;
    busybox_sh_pipeline_status_and_pipefail, bash_pipeline_status_and_pipefail => PIPEFAIL;
    busybox_sh_xargs_and_find_exec, bash_xargs_and_find_exec => XARGS_FIND;
    busybox_sh_tar_and_gzip, bash_tar_and_gzip => TAR;
    busybox_sh_spawn_loop, bash_spawn_loop => SPAWN_LOOP;
}

#[test]
fn bash_pipestatus_procsub_coproc_exec() {
    shell("bash_pipestatus_procsub_coproc_exec", Shell::Bash, BASH_ONLY);
}
