//! Debian's static busybox (package busybox-static), run natively and under
//! uk-run with a range of applets: output and exit status must be identical.

use compat_tests::{busybox, check, Case, UkRun};

/// Compares `busybox ARGS...` natively and under uk-run, feeding `stdin`.
fn busybox_with_stdin(test: &str, args: &[&str], stdin: &[u8]) {
    let Some(uk) = UkRun::for_guest(test) else {
        return;
    };
    let case = Case::new(busybox())
        .args(args)
        .stdin(stdin)
        .label(format!("busybox {}", args.join(" ")));
    check(&uk, &case);
}

fn bb(test: &str, args: &[&str]) {
    busybox_with_stdin(test, args, b"");
}

#[test]
fn echo() {
    bb("echo", &["echo", "hello"]);
}

#[test]
fn echo_n() {
    bb("echo_n", &["echo", "-n", "hi"]);
}

#[test]
fn printf() {
    bb("printf", &["printf", "%s-%d\\n", "a", "5"]);
}

#[test]
fn seq_up() {
    bb("seq_up", &["seq", "1", "10"]);
}

#[test]
fn seq_down() {
    bb("seq_down", &["seq", "5", "-1", "1"]);
}

#[test]
fn expr_add() {
    bb("expr_add", &["expr", "3", "+", "4"]);
}

#[test]
fn expr_divide_by_zero() {
    bb("expr_divide_by_zero", &["expr", "1", "/", "0"]);
}

#[test]
fn basename() {
    bb("basename", &["basename", "/a/b/c.txt", ".txt"]);
}

#[test]
fn true_() {
    bb("true", &["true"]);
}

#[test]
fn false_() {
    bb("false", &["false"]);
}

#[test]
fn sh_arithmetic_and_exit() {
    bb(
        "sh_arithmetic_and_exit",
        &["sh", "-c", "echo a; x=3; echo $((x*2)); exit 7"],
    );
}

#[test]
fn sh_for_loop() {
    bb(
        "sh_for_loop",
        &["sh", "-c", "for i in 1 2 3; do echo $i; done"],
    );
}

#[test]
fn uname_s() {
    bb("uname_s", &["uname", "-s"]);
}

#[test]
fn unknown_applet() {
    bb("unknown_applet", &["nosuchapplet"]);
}

#[test]
fn echo_2000_args() {
    let Some(uk) = UkRun::for_guest("echo_2000_args") else {
        return;
    };
    let case = Case::new(busybox())
        .arg("echo")
        .args((0..2000).map(|i| format!("word{i}")))
        .label("busybox echo word0 ... word1999");
    check(&uk, &case);
}

#[test]
fn cat_stdin() {
    busybox_with_stdin("cat_stdin", &["cat"], b"line1\nline2\n");
}

/// Stdin larger than a pipe buffer, passed through and echoed back.
#[test]
fn cat_large_stdin() {
    let input: Vec<u8> = (0..300_000u32)
        .flat_map(|i| format!("{i}\n").into_bytes())
        .collect();
    busybox_with_stdin("cat_large_stdin", &["cat"], &input);
}

/// Stdin read by the shell's `read` builtin, with a computed exit status.
#[test]
fn sh_read_stdin() {
    busybox_with_stdin(
        "sh_read_stdin",
        &[
            "sh",
            "-c",
            "read a; read b; echo \"[$b] [$a]\"; exit $((${#a} + ${#b}))",
        ],
        b"first line\nsecond\n",
    );
}
