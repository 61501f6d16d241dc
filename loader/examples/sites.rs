//! Times `find_syscall_sites` on a program's executable segments.
//!
//! `cargo run --release -p loader --example sites [-- /path/to/static/elf]`
//! (default: /usr/bin/busybox).

use std::time::Instant;

fn main() {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "/usr/bin/busybox".into());
    let file = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let image = loader::parse(&file, 0x10_0000_0000).unwrap_or_else(|e| panic!("{path}: {e}"));
    for seg in image.segments.iter().filter(|s| s.prot.exec) {
        let code = &file[seg.offset as usize..(seg.offset + seg.filesz) as usize];
        let mut best = f64::INFINITY;
        let mut count = 0;
        for _ in 0..10 {
            let start = Instant::now();
            count = loader::find_syscall_sites(code, seg.vaddr).len();
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{path}: segment {:#x}: {} KiB of code, {count} syscall sites, {:.2} ms (best of 10)",
            seg.vaddr,
            code.len() / 1024,
            best * 1e3
        );
    }
}
