//! uk-run: runs an unmodified static Linux x86-64 program in a fresh KVM
//! virtual machine beside a small Rust kernel (see ../shared/DESIGN.md).

mod arena;
mod cache;
mod files;
mod guest_mem;
mod host;
mod setup;
mod sites;
mod vm;

use abi::boot::{BootInfo, FLAG_TRACE, FLAG_VERBOSE};
use abi::layout::*;
use clap::Parser;
use guest_mem::GuestMemory;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Instant;

#[global_allocator]
static ALLOC: arena::Arena = arena::Arena::new();

/// The guest kernel, built by build.rs for x86_64-unknown-none.
static KERNEL_ELF: &[u8] = include_bytes!(env!("UK_KERNEL_ELF"));
/// The guest's vDSO (kernel/vdso), built by build.rs.
static VDSO_SO: &[u8] = include_bytes!(env!("UK_VDSO_SO"));

/// Exit status when uk-run itself fails (not the program): like `env`, 125.
const EXIT_INTERNAL: i32 = 125;

#[derive(Parser, Debug)]
#[command(
    name = "uk-run",
    version,
    override_usage = "uk-run [OPTIONS] PROGRAM [ARGS]...",
    about = "Run an unmodified static Linux x86-64 program in a fresh KVM virtual machine",
    long_about = "Run an unmodified static Linux x86-64 program (busybox-static, gcc -static, \
musl-gcc -static, static Go or Rust) in a fresh KVM virtual machine that holds only the program \
and uk-run's kernel. Output, exit status and death by signal are those of a native run.",
    after_help = "Exit status: the program's; 127 if PROGRAM is not found, 126 if it cannot be run \
(not an executable static x86-64 ELF), 125 if uk-run itself fails."
)]
struct Cli {
    /// Guest memory size, with an optional K, M or G suffix.
    #[arg(short, long, default_value = "256M", value_parser = parse_size)]
    memory: u64,

    /// Share host directory HOST at absolute guest path GUEST; :ro refuses writes (EROFS). Repeatable.
    #[arg(short = 'v', long = "volume", value_name = "HOST:GUEST[:ro]")]
    volumes: Vec<OsString>,

    /// Do not share the current directory (by default it is shared read-write at its own path).
    #[arg(long)]
    no_cwd: bool,

    /// Show the host's root read-only under the guest's private /tmp, /dev, /proc and /etc
    /// (for programs that run /bin/sh or read host files); by default the root is private.
    #[arg(long)]
    host_root: bool,

    /// Print diagnostics to stderr: fault details, warnings, exit counts.
    #[arg(long)]
    verbose: bool,

    /// Print every syscall the program makes and its result to stderr (like strace).
    #[arg(long)]
    trace: bool,

    /// Print one line of statistics to stderr when the program ends (exits to the monitor, sites, timing).
    #[arg(long)]
    stats: bool,

    /// Do not read or write the syscall-site cache.
    #[arg(long)]
    no_cache: bool,

    /// The static Linux x86-64 program to run (looked up in PATH when it has no slash),
    /// then its arguments: everything from PROGRAM on is the program's, options included.
    #[arg(value_name = "PROGRAM [ARGS]", required = true, num_args = 1.., trailing_var_arg = true)]
    command: Vec<OsString>,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                _ => return Err(format!("unknown size suffix {c:?}: use K, M or G")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size (examples: 256M, 1G)"))?;
    let bytes = n.checked_mul(mult).ok_or("size too large")?;
    if !(16 << 20..=64 << 30).contains(&bytes) {
        return Err("guest memory must be between 16M and 64G".into());
    }
    Ok(bytes.div_ceil(HUGE_PAGE_SIZE) * HUGE_PAGE_SIZE)
}

/// A failure before the program runs: a message and the shell's status.
struct Refusal {
    status: i32,
    msg: String,
}

fn refuse(status: i32, path: &std::path::Path, what: impl std::fmt::Display) -> Refusal {
    Refusal { status, msg: format!("{}: {what}", path.display()) }
}

/// Opens and maps the program, refusing what a shell's exec would.
fn open_program(path: &std::path::Path) -> Result<(std::fs::File, &'static [u8]), Refusal> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => refuse(127, path, "No such file or directory"),
        _ => refuse(126, path, e),
    })?;
    if meta.is_dir() {
        return Err(refuse(126, path, "Is a directory"));
    }
    if !meta.is_file() || meta.permissions().mode() & 0o111 == 0 {
        return Err(refuse(126, path, "Permission denied (not executable)"));
    }
    let f = std::fs::File::open(path).map_err(|e| refuse(126, path, e))?;
    let bytes = host::map_file(&f, meta.len() as usize).map_err(|e| refuse(126, path, e))?;
    Ok((f, bytes))
}

/// Where PROGRAM is: itself when it has a slash, else the first executable
/// file of that name in PATH, as execvp (and so env, strace and time) finds
/// it. Not found anywhere: 127; found only without execute permission (or
/// as a directory): 126.
fn find_program(name: &std::ffi::OsStr) -> Result<PathBuf, Refusal> {
    let typed = std::path::Path::new(name);
    if name.as_bytes().contains(&b'/') {
        return Ok(typed.to_path_buf());
    }
    if name.is_empty() {
        return Err(refuse(127, typed, "No such file or directory"));
    }
    // glibc's execvp default when PATH is unset.
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/bin:/usr/bin".into());
    let mut denied = None;
    for dir in path.as_bytes().split(|&b| b == b':') {
        let dir = if dir.is_empty() { &b"."[..] } else { dir };
        let cand = std::path::Path::new(std::ffi::OsStr::from_bytes(dir)).join(name);
        match std::fs::metadata(&cand) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(cand),
            Ok(_) => denied = denied.or(Some(cand)),
            Err(_) => {}
        }
    }
    Err(match denied {
        Some(p) => refuse(126, typed, format_args!("Permission denied ({} is not an executable file)", p.display())),
        None => refuse(127, typed, "No such file or directory (not found in PATH)"),
    })
}

fn main() {
    let t0 = Instant::now();
    let cli = Cli::parse();
    match run(&cli, t0) {
        Ok(never) => match never {},
        Err(r) => {
            eprintln!("uk-run: {}", r.msg);
            std::process::exit(r.status);
        }
    }
}

enum Never {}

fn run(cli: &Cli, t0: Instant) -> Result<Never, Refusal> {
    // Shares are part of the command line: a bad one is a usage error.
    let usage = |e: files::ShareError| Refusal { status: 2, msg: e.to_string() };
    let cwd = std::env::current_dir().ok();
    let mut shares = files::plan_shares(&cli.volumes, cli.no_cwd, cwd.as_deref()).map_err(usage)?;
    if cli.host_root {
        if shares.iter().any(|s| s.guest == b"/" && !s.cwd) {
            return Err(Refusal { status: 2, msg: "--host-root cannot be given with a -v share at /: drop one of them".into() });
        }
        // Run from /, the current directory is the host's root: read-only now.
        shares.retain(|s| s.guest != b"/");
        if shares.len() >= abi::boot::MAX_SHARES {
            return Err(Refusal { status: 2, msg: format!("--host-root needs a share of its own: at most {} in all", abi::boot::MAX_SHARES) });
        }
        shares.push(files::ShareSpec { host: "/".into(), guest: b"/".to_vec(), read_only: true, cwd: false, under: true });
    }
    // What the program sees as its limit: read before opening shares raises the monitor's.
    let rlimit_nofile = host::rlimit(libc::RLIMIT_NOFILE as libc::c_int);
    let mut files = files::Files::open(&shares).map_err(usage)?;

    let typed = &cli.command[0];
    let program = find_program(typed)?;
    let (file, bytes) = open_program(&program)?;
    let image = loader::parse(bytes, PIE_BASE).map_err(|e| refuse(126, &program, e))?;
    let internal = |what: String| Refusal { status: EXIT_INTERNAL, msg: what };

    let mut mem = GuestMemory::new(cli.memory as usize).map_err(|e| internal(format!("cannot allocate guest memory: {e}")))?;
    let mut b = setup::Builder::new(&mut mem).map_err(|e| internal(e.to_string()))?;
    let setup_err = |e: setup::SetupError| match e {
        setup::SetupError::Program(l) => refuse(126, &program, l),
        e => internal(e.to_string()),
    };
    b.map_direct().map_err(setup_err)?;
    b.write_gdt().map_err(setup_err)?;
    b.map_doorbells().map_err(setup_err)?;
    let kernel = b.load_kernel(KERNEL_ELF).map_err(setup_err)?;
    let mut regions = b.map_trampolines(kernel.syscall_entry).map_err(setup_err)?;
    let (vdso, vdso_data) = b.map_vdso(VDSO_SO).map_err(setup_err)?;
    regions.push(vdso);
    let id = file.metadata().ok().filter(|_| !cli.no_cache).map(|m| sites::FileId::of(&m));
    let loaded = b.load_program(&file, &image, id.as_ref()).map_err(setup_err)?;
    regions.extend_from_slice(&loaded.regions);

    // The initial stack: argv as given, uk-run's environment, the auxv.
    // argv[0] as typed; AT_EXECFN the path found (as execvp passes it to execve).
    let argv: Vec<&[u8]> = cli.command.iter().map(|a| a.as_bytes()).collect();
    let env: Vec<Vec<u8>> = std::env::vars_os()
        .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
        .collect();
    let envp: Vec<&[u8]> = env.iter().map(|e| e.as_slice()).collect();
    let ids = host::ids();
    let mut random = [0u8; 48];
    host::random_bytes(&mut random);
    let hwcap = core::arch::x86_64::__cpuid(1).edx as u64;
    let stack_args = loader::StackArgs {
        argv: &argv,
        envp: &envp,
        execfn: program.as_os_str().as_bytes(),
        platform: b"x86_64",
        random: random[..16].try_into().expect("16 bytes"),
        phdr: image.phdr_vaddr,
        phent: image.phent as u64,
        phnum: image.phnum as u64,
        entry: image.entry,
        uid: ids.uid as u64,
        euid: ids.euid as u64,
        gid: ids.gid as u64,
        egid: ids.egid as u64,
        secure: 0,
        hwcap,
        hwcap2: 2,
        clktck: 100,
        minsigstksz: 2048,
        sysinfo_ehdr: vdso.start,
    };
    let (stack, sp) = loader::build_stack(USER_STACK_TOP, &stack_args).map_err(|e| refuse(126, &program, e))?;
    regions.push(b.map_stack(&stack).map_err(setup_err)?);
    // The host's time zone, name, resolver and release, for the guest's /etc
    // (copies: TZif files are a few KiB, the others a few lines).
    let mut etc = Vec::new();
    for (name, max, magic) in [("localtime", 64 << 10, &b"TZif"[..]), ("hostname", 4 << 10, b""), ("resolv.conf", 16 << 10, b""), ("os-release", 16 << 10, b"")] {
        let Some(bytes) = std::fs::read(format!("/etc/{name}")).ok().filter(|t| t.len() <= max && t.starts_with(magic)) else { continue };
        if let Ok(at) = b.place(&bytes) {
            let mut f = abi::boot::EtcFile { at, len: bytes.len() as u64, ..Default::default() };
            f.name[..name.len()].copy_from_slice(name.as_bytes());
            etc.push(f);
        }
    }
    let free_start = b.free_start();
    let low_free = b.low_free();
    let tables_free = b.tables_free();
    let pml4 = b.pml4;

    let t_layout = t0.elapsed();
    let usable = free_start.max(vm::Vm::INITIAL_RAM);
    let mut vm = vm::Vm::new(&mem, usable, pml4, kernel.entry, kernel.lstar_entry).map_err(|e| internal(e.to_string()))?;

    // The boot information.
    // SAFETY: BootInfo is plain integers and arrays: all-zero is a valid value.
    let mut boot: Box<BootInfo> = Box::new(unsafe { std::mem::zeroed() });
    boot.version = abi::hc::ABI_VERSION;
    boot.flags = if cli.verbose { FLAG_VERBOSE } else { 0 } | if cli.trace { FLAG_TRACE } else { 0 };
    boot.mem_size = mem.size();
    boot.sigmask = host::inherited_sigmask();
    boot.netc = etc.len() as u64;
    boot.etc[..etc.len()].copy_from_slice(&etc);
    boot.mem_usable = vm.ram.usable;
    boot.free_start = free_start;
    boot.low_free = low_free;
    boot.tables_free = tables_free;
    boot.pml4 = pml4;
    boot.kernel_phys = kernel.phys;
    let stack_rlimit = host::rlimit(libc::RLIMIT_STACK as libc::c_int);
    let stack_max = stack_rlimit[0].clamp(USER_STACK_INITIAL, 1 << 30);
    boot.stack_limit = USER_STACK_TOP - stack_max;
    boot.vdso_base = vdso.start;
    boot.vdso_data_phys = vdso_data;
    boot.entry = loaded.entry;
    boot.sp = sp;
    boot.brk_start = loaded.brk_start;
    boot.nregions = regions.len() as u64;
    boot.regions[..regions.len()].copy_from_slice(&regions);
    boot.random.copy_from_slice(&random[16..48]);
    boot.ncpuid_sites = loaded.cpuid_sites.len() as u64;
    boot.cpuid_sites[..loaded.cpuid_sites.len()].copy_from_slice(&loaded.cpuid_sites);
    let table = vm.cpuid_table().map_err(|e| internal(e.to_string()))?;
    let n = table.len().min(boot.cpuid.len());
    boot.cpuid[..n].copy_from_slice(&table[..n]);
    boot.ncpuid = n as u64;
    (boot.pid, boot.ppid, boot.uid, boot.euid, boot.gid, boot.egid) = (ids.pid, ids.ppid, ids.uid, ids.euid, ids.gid, ids.egid);
    boot.rlimit_stack = stack_rlimit;
    boot.rlimit_nofile = rlimit_nofile;
    for fd in 0..3 {
        boot.stdio[fd] = host::stdio_info(fd as i32);
    }
    host::save_terminals(&boot.stdio);
    boot.uts = host::uname();
    files.fill_boot(&mut boot);
    boot.exe_handle = files.open_exe(&file).unwrap_or(u32::MAX);
    if let Some(cwd) = &cwd {
        let cwd = cwd.as_os_str().as_bytes();
        let n = cwd.len().min(boot.cwd.len());
        boot.cwd[..n].copy_from_slice(&cwd[..n]);
        boot.cwd_len = n as u64;
    }
    let exe = std::fs::canonicalize(&program).unwrap_or_else(|_| program.clone());
    let exe = exe.as_os_str().as_bytes();
    let n = exe.len().min(boot.exe.len());
    boot.exe[..n].copy_from_slice(&exe[..n]);
    boot.exe_len = n as u64;
    boot.tsc_khz = vm.tsc_khz;
    boot.realtime_ref_ns = host::clock_ns(libc::CLOCK_REALTIME);
    boot.monotonic_ref_ns = host::clock_ns(libc::CLOCK_MONOTONIC);
    boot.tsc_ref = vm.guest_tsc().map_err(|e| internal(e.to_string()))?;
    // SAFETY: BootInfo is repr(C) plain data; viewing it as bytes is sound.
    let boot_bytes = unsafe {
        std::slice::from_raw_parts(&*boot as *const BootInfo as *const u8, std::mem::size_of::<BootInfo>())
    };
    mem.slice_mut(abi::GuestPhys(BOOT_INFO_PHYS), boot_bytes.len() as u64)
        .map_err(|e| internal(e.to_string()))?
        .copy_from_slice(boot_bytes);

    if let Some(secs) = std::env::var("UK_RUN_DEBUG_TIMEOUT").ok().and_then(|s| s.parse().ok()) {
        host::debug_timeout(secs);
    }
    // SIGINT, SIGTERM and the like go to the program (see abi::hc::Resume).
    host::forward_signals();
    vm.signal_entry = (kernel.signal_entry, kernel.kstack_top);
    let t_boot = t0.elapsed();
    let t_vm = t_boot - t_layout;
    let mut exits = vm::ExitCounts::default();
    // The guest applies its own umask to the modes it asks for; the
    // monitor's must not mask them again. (Its own files are written by now.)
    host::clear_umask();
    let outcome = vm.run(&mut mem, &mut files, &mut exits);
    vm.stop_ticker();
    let t_total = t0.elapsed();
    if cli.stats || cli.verbose {
        let kernel = match &outcome {
            Ok(vm::Outcome::Exited(e)) => format!(" syscalls={} slow_sites={} flushes={}", e.syscalls, e.slow_sites, e.flushes),
            _ => String::new(),
        };
        eprintln!(
            "uk-run: stats: {}{kernel} sites={} cpuid_sites={} ({:?}) guest_chunks={} layout_us={} vm_us={} setup_us={} total_us={}",
            exits.describe(),
            loaded.sites,
            loaded.cpuid_sites.len(),
            loaded.sites_source,
            mem.resident_chunks(),
            t_layout.as_micros(),
            t_vm.as_micros(),
            t_boot.as_micros(),
            t_total.as_micros()
        );
        let kvm: Vec<String> = vm.kvm_counters().iter().map(|(k, v)| format!("{k}={v}")).collect();
        if !kvm.is_empty() {
            eprintln!("uk-run: stats: kvm: {}", kvm.join(" "));
        }
    }
    if outcome.is_ok() {
        host::defer_teardown();
    }
    match outcome {
        Ok(vm::Outcome::Exited(e)) => {
            host::restore_terminals();
            std::process::exit(e.status & 0xff)
        }
        Ok(vm::Outcome::Killed(k)) => {
            if cli.verbose {
                let what = if k.vector == u32::MAX {
                    String::new()
                } else {
                    format!(": exception {} at rip {:#x}, address {:#x}, error code {:#x}", k.vector, k.rip, k.addr, k.error_code)
                };
                eprintln!("uk-run: program killed by signal {}{what}", k.signal);
            }
            host::die_by_signal(k.signal)
        }
        Err(e) => {
            host::restore_terminals();
            Err(internal(e.to_string()))
        }
    }
}
