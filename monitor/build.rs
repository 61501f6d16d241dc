//! Builds the guest kernel (kernel/, its own workspace) for
//! x86_64-unknown-none and hands its path to the monitor, which embeds it.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest.parent().unwrap().to_path_buf();
    let kernel = root.join("kernel");
    for dir in ["kernel/src", "kernel/Cargo.toml", "kernel/link.ld", "kernel/.cargo", "shim/src", "abi/src", "loader/src"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    let target_dir = root.join("target").join("kernel");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&kernel)
        .args(["build", "--release", "--target", "x86_64-unknown-none", "--target-dir"])
        .arg(&target_dir);
    // The outer build's settings are for the host, not the guest.
    for var in ["RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS", "CARGO_BUILD_TARGET", "RUSTC_WORKSPACE_WRAPPER", "CARGO_TARGET_DIR", "CARGO_BUILD_RUSTFLAGS"] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("running cargo to build the guest kernel");
    if !status.success() {
        panic!(
            "building the guest kernel failed; it needs the rustup target: rustup target add x86_64-unknown-none"
        );
    }
    let elf = target_dir.join("x86_64-unknown-none/release/uk-kernel");
    println!("cargo:rustc-env=UK_KERNEL_ELF={}", elf.display());
    build_vdso(&kernel.join("vdso"));
    link_binary_path();
}

/// The guest's vDSO (kernel/vdso): a small shared object built with gcc,
/// which the monitor maps into every guest (AT_SYSINFO_EHDR).
fn build_vdso(dir: &std::path::Path) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("vdso.so");
    let status = Command::new("gcc")
        .current_dir(dir)
        .args([
            "-O2", "-fPIC", "-shared", "-nostdlib", "-fno-stack-protector", "-fcf-protection=none", "-mno-red-zone",
            "-Wall", "-Wextra", "-Werror",
            "-Wl,-soname=linux-vdso.so.1", "-Wl,--hash-style=both", "-Wl,--version-script=vdso.map",
            "-Wl,-T,vdso.lds", "-Wl,-z,max-page-size=4096", "-Wl,--no-undefined", "-o",
        ])
        .arg(&out)
        .arg("vdso.c")
        .status();
    match status {
        Ok(s) if s.success() => println!("cargo:rustc-env=UK_VDSO_SO={}", out.display()),
        _ => panic!("building the guest's vDSO (kernel/vdso) failed; it needs gcc: apt-get install gcc"),
    }
}

/// Cross-building (the workspace builds for x86_64-unknown-linux-musl, see
/// .cargo/config.toml) puts the binary in target/<triple>/<profile>/; this
/// makes target/<profile>/uk-run lead to it, where users and scripts look.
fn link_binary_path() {
    let (Ok(out), Ok(target), Ok(host), Ok(profile)) =
        (std::env::var("OUT_DIR"), std::env::var("TARGET"), std::env::var("HOST"), std::env::var("PROFILE"))
    else {
        return;
    };
    if target == host {
        return;
    }
    // OUT_DIR is <target-dir>/<triple>/<profile>/build/<pkg>-<hash>/out.
    let Some(triple_dir) = PathBuf::from(out).ancestors().nth(4).map(PathBuf::from) else {
        return;
    };
    let Some(target_dir) = triple_dir.parent() else {
        return;
    };
    let link_dir = target_dir.join(&profile);
    let link = link_dir.join("uk-run");
    let dest = PathBuf::from("..").join(&target).join(&profile).join("uk-run");
    if std::fs::read_link(&link).ok().as_ref() == Some(&dest) {
        return;
    }
    let _ = std::fs::create_dir_all(&link_dir);
    let _ = std::fs::remove_file(&link);
    if let Err(e) = std::os::unix::fs::symlink(&dest, &link) {
        println!("cargo:warning=cannot link {} to the binary: {e}", link.display());
    }
}
