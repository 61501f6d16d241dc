//! What uk-run does with programs it cannot run and with bad command lines.
//!
//! A program that cannot be run makes uk-run exit the way a shell does: 127
//! when the file does not exist, 126 when it exists but cannot be executed
//! (where a native exec is possible, the expected status is taken from
//! `/bin/sh -c 'exec "$0"' FILE`), with exactly one line on stderr that
//! starts with "uk-run: " and names the file, and nothing on stdout.
//! Command-line errors exit with status 2 and a usage message, clap style.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use compat_tests::uk_run;
use compat_tests::{build_c, busybox, Outcome, Status, TempDir, Toolchain, UkRun};

/// The status the shell reports for `exec FILE`: the reference for files
/// the kernel itself refuses to execute.
fn shell_exec_status(path: &Path) -> i32 {
    let status = Command::new("/bin/sh")
        .arg("-c")
        .arg("exec \"$0\" 2>/dev/null")
        .arg(path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("cannot run /bin/sh");
    status.code().expect("the shell exits normally")
}

/// Runs `uk-run PATH` in `dir` and checks the rejection: `expected` status,
/// no stdout, and one stderr line "uk-run: ..." that names PATH and
/// contains every string of `mentions`.
fn assert_rejected(
    uk: &UkRun,
    dir: &TempDir,
    path: &Path,
    expected: i32,
    mentions: &[&str],
) -> Outcome {
    let out = uk.run(&[path.as_os_str()], dir.path(), b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = format!(
        "uk-run {}: status {}, stdout {:?}, stderr {:?}",
        path.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        stderr
    );
    assert_eq!(
        out.status,
        Status::Exited(expected),
        "wrong exit status: {context}"
    );
    assert!(out.stdout.is_empty(), "stdout should be empty: {context}");
    assert!(
        stderr.starts_with("uk-run: ")
            && stderr.ends_with('\n')
            && stderr.matches('\n').count() == 1,
        "stderr should be one line starting with \"uk-run: \": {context}"
    );
    let name = path.to_string_lossy();
    assert!(
        stderr.contains(name.as_ref()),
        "stderr should name {name}: {context}"
    );
    for m in mentions {
        assert!(stderr.contains(m), "stderr should mention {m:?}: {context}");
    }
    out
}

#[test]
fn missing_file_is_127() {
    let uk = uk_run!("missing_file_is_127");
    let dir = TempDir::new("missing");
    let path = dir.path().join("no-such-program");
    let expected = shell_exec_status(&path);
    assert_eq!(expected, 127, "the shell convention for a missing file");
    assert_rejected(&uk, &dir, &path, expected, &[]);
}

#[test]
fn directory_is_126() {
    let uk = uk_run!("directory_is_126");
    let dir = TempDir::new("directory");
    let path = dir.path().join("subdir");
    fs::create_dir(&path).unwrap();
    let expected = shell_exec_status(&path);
    assert_eq!(expected, 126, "the shell convention for a directory");
    assert_rejected(&uk, &dir, &path, expected, &[]);
}

/// A valid static program without execute permission. Even root cannot
/// execute a file that has no execute bit at all (EACCES), so: 126.
#[test]
fn not_executable_is_126() {
    let uk = uk_run!("not_executable_is_126");
    let dir = TempDir::new("noexec");
    let program = fs::read(build_c("hello", Toolchain::Gcc)).unwrap();
    let path = dir.write_file("hello-noexec", &program, 0o644);
    let expected = shell_exec_status(&path);
    assert_eq!(
        expected, 126,
        "the shell convention for a non-executable file"
    );
    assert_rejected(&uk, &dir, &path, expected, &[]);
}

/// uk-run runs ELF programs only; it does not interpret "#!" lines.
#[test]
fn shell_script_is_126_not_an_elf() {
    let uk = uk_run!("shell_script_is_126_not_an_elf");
    let dir = TempDir::new("script");
    let path = dir.write_file("script.sh", b"#!/bin/sh\necho hi\n", 0o755);
    assert_rejected(&uk, &dir, &path, 126, &["not an ELF"]);
}

#[test]
fn garbage_is_126_not_an_elf() {
    let uk = uk_run!("garbage_is_126_not_an_elf");
    let dir = TempDir::new("garbage");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let path = dir.write_file("garbage", &bytes, 0o755);
    assert_rejected(&uk, &dir, &path, 126, &["not an ELF"]);
}

#[test]
fn empty_file_is_126() {
    let uk = uk_run!("empty_file_is_126");
    let dir = TempDir::new("empty");
    let path = dir.write_file("empty", b"", 0o755);
    assert_rejected(&uk, &dir, &path, 126, &[]);
}

#[test]
fn dynamic_elf_is_126() {
    let uk = uk_run!("dynamic_elf_is_126");
    let dir = TempDir::new("dynamic");
    let path = PathBuf::from("/bin/true");
    assert!(
        !compat_tests::is_static_elf64(&path),
        "this test needs /bin/true to be dynamically linked"
    );
    assert_rejected(&uk, &dir, &path, 126, &["dynamically linked"]);
}

/// A minimal but complete i386 executable: `exit(0)` via int 0x80.
fn elf32_i386_exit0() -> Vec<u8> {
    const BASE: u32 = 0x0804_8000;
    const EHDR: u32 = 52;
    const PHDR: u32 = 32;
    let code: &[u8] = &[0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xcd, 0x80]; // mov eax,1; xor ebx,ebx; int 0x80
    let size = EHDR + PHDR + code.len() as u32;
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x01\x01\x01\x00"); // ELFCLASS32, little endian, version 1, SYSV
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // e_type ET_EXEC
    f.extend_from_slice(&3u16.to_le_bytes()); // e_machine EM_386
    f.extend_from_slice(&1u32.to_le_bytes()); // e_version
    f.extend_from_slice(&(BASE + EHDR + PHDR).to_le_bytes()); // e_entry
    f.extend_from_slice(&EHDR.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    f.extend_from_slice(&(EHDR as u16).to_le_bytes()); // e_ehsize
    f.extend_from_slice(&(PHDR as u16).to_le_bytes()); // e_phentsize
    f.extend_from_slice(&1u16.to_le_bytes()); // e_phnum
    f.extend_from_slice(&[0; 6]); // e_shentsize, e_shnum, e_shstrndx
    assert_eq!(f.len(), EHDR as usize);
    for word in [1, 0, BASE, BASE, size, size, 5, 0x1000] {
        // PT_LOAD, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, R+X, p_align
        f.extend_from_slice(&u32::to_le_bytes(word));
    }
    f.extend_from_slice(code);
    f
}

#[test]
fn elf32_is_126() {
    let uk = uk_run!("elf32_is_126");
    let dir = TempDir::new("elf32");
    let path = dir.write_file("elf32", &elf32_i386_exit0(), 0o755);
    assert_rejected(&uk, &dir, &path, 126, &["32-bit"]);
}

/// A 64-bit ELF executable for another architecture (AArch64).
#[test]
fn elf64_other_machine_is_126() {
    let uk = uk_run!("elf64_other_machine_is_126");
    let dir = TempDir::new("aarch64");
    let mut f = Vec::new();
    f.extend_from_slice(b"\x7fELF\x02\x01\x01\x00");
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&0x40_0078u64.to_le_bytes()); // e_entry
    f.extend_from_slice(&64u64.to_le_bytes()); // e_phoff
    f.extend_from_slice(&0u64.to_le_bytes()); // e_shoff
    f.extend_from_slice(&0u32.to_le_bytes()); // e_flags
    for half in [64u16, 56, 1, 0, 0, 0] {
        f.extend_from_slice(&half.to_le_bytes());
    }
    f.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for word in [0u64, 0x40_0000, 0x40_0000, 0x80, 0x80, 0x1000] {
        f.extend_from_slice(&word.to_le_bytes());
    }
    f.extend_from_slice(&[0; 8]);
    let path = dir.write_file("aarch64-prog", &f, 0o755);
    assert_rejected(&uk, &dir, &path, 126, &[]);
}

/// The first 100 bytes of a real static executable: a valid ELF header
/// whose program headers are cut off.
#[test]
fn truncated_elf_is_126() {
    let uk = uk_run!("truncated_elf_is_126");
    let dir = TempDir::new("truncated");
    let bytes = fs::read(busybox()).unwrap();
    let path = dir.write_file("truncated", &bytes[..100], 0o755);
    assert_rejected(&uk, &dir, &path, 126, &[]);
}

// --- the command line (no guest is started, so /dev/kvm is not needed) ---

/// Runs uk-run with `args` in a fresh directory.
fn cli(args: &[&str]) -> Outcome {
    let uk = UkRun::for_cli();
    let dir = TempDir::new("cli");
    let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
    uk.run(&args, dir.path(), b"")
}

fn assert_usage_error(out: &Outcome, mentions: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let context = format!("status {}, stderr {stderr:?}", out.status);
    assert_eq!(
        out.status,
        Status::Exited(2),
        "a usage error exits with status 2: {context}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout: {context}");
    assert!(
        stderr.to_lowercase().contains("error"),
        "stderr says error: {context}"
    );
    assert!(
        stderr.to_lowercase().contains("usage"),
        "stderr shows the usage: {context}"
    );
    for m in mentions {
        assert!(stderr.contains(m), "stderr should mention {m:?}: {context}");
    }
}

#[test]
fn unknown_flag_is_usage_error() {
    let out = cli(&["--no-such-flag", compat_tests::BUSYBOX, "true"]);
    assert_usage_error(&out, &["--no-such-flag"]);
}

#[test]
fn no_program_is_usage_error() {
    let out = cli(&[]);
    assert_usage_error(&out, &["PROGRAM"]);
}

#[test]
fn help_exits_0_and_mentions_program() {
    let out = cli(&["--help"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status,
        Status::Exited(0),
        "uk-run --help: stdout {stdout:?}"
    );
    assert!(
        stdout.contains("PROGRAM"),
        "uk-run --help should mention PROGRAM: {stdout:?}"
    );
}
