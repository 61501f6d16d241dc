//! zpoline: finding the `syscall` instructions of a program so that each can
//! be overwritten with `call *%rax`.
//!
//! Both instructions are two bytes, so the rewrite is in place. At a syscall
//! `rax` holds the syscall number (0..~500), so `call *%rax` lands in the
//! first page, which the guest fills with a `nop` sled leading to the
//! syscall entry; the return address pushed by the call tells where the
//! syscall came from.
//!
//! Sites are found by a linear-sweep decode (iced-x86): instructions are
//! decoded one after another from the start of the code, so the bytes `0f 05`
//! inside another instruction (an immediate, a displacement) are never taken
//! for a syscall. Like objdump, on bytes that do not decode the sweep skips
//! one byte and goes on.

use alloc::vec::Vec;

use iced_x86::{Code, Decoder, DecoderOptions, Instruction};

/// `call *%rax`, written over each syscall site.
pub const CALL_RAX: [u8; 2] = [0xff, 0xd0];
/// `syscall`.
pub const SYSCALL: [u8; 2] = [0x0f, 0x05];
/// The `cpuid` instruction.
pub const CPUID: [u8; 2] = [0x0f, 0xa2];

/// The instructions the loader rewrites to [`CALL_RAX`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sites {
    /// Addresses of the `0f 05` bytes of every `syscall`.
    pub syscall: Vec<u64>,
    /// Addresses of every unprefixed `cpuid` (an exit on hosts that trap it;
    /// the kernel answers it from the vCPU's CPUID table instead).
    pub cpuid: Vec<u64>,
}

/// Every `syscall` and unprefixed `cpuid` in `code` (loaded at `vaddr`),
/// by the same linear sweep as [`find_syscall_sites`].
pub fn find_sites(code: &[u8], vaddr: u64) -> Sites {
    let mut sites = Sites::default();
    let Some(last) = code.windows(2).rposition(|w| w == SYSCALL || w == CPUID) else {
        return sites;
    };
    let mut decoder = Decoder::with_ip(64, code, vaddr, DecoderOptions::NONE);
    let mut instr = Instruction::default();
    while decoder.position() <= last {
        let pos = decoder.position();
        decoder.decode_out(&mut instr);
        match instr.code() {
            Code::Syscall => sites.syscall.push(instr.next_ip() - SYSCALL.len() as u64),
            Code::Cpuid if instr.len() == CPUID.len() => sites.cpuid.push(instr.ip()),
            Code::INVALID => {
                let next = pos + 1;
                if decoder.set_position(next).is_err() {
                    break;
                }
                decoder.set_ip(vaddr.wrapping_add(next as u64));
            }
            _ => {}
        }
    }
    sites
}

/// Every `syscall` instruction found by a linear-sweep decode (64-bit mode)
/// of `code`, which is loaded at `vaddr`, in ascending order.
///
/// Each returned address is that of the `0f 05` opcode bytes: for the rare
/// syscall with prefixes (`48 0f 05`), that is past the prefixes, so the
/// two bytes at every site are always [`SYSCALL`].
pub fn find_syscall_sites(code: &[u8], vaddr: u64) -> Vec<u64> {
    find_sites(code, vaddr).syscall
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: u64 = 0x40_1000;

    fn offsets(code: &[u8]) -> Vec<u64> {
        find_syscall_sites(code, BASE)
            .into_iter()
            .map(|a| a - BASE)
            .collect()
    }

    #[test]
    fn cpuid_sites_are_found_beside_syscalls() {
        // xor eax,eax; cpuid; mov eax,0x39; syscall; mov eax,0xa20f (bytes 0f a2 inside)
        let code = [0x31, 0xc0, 0x0f, 0xa2, 0xb8, 0x39, 0, 0, 0, 0x0f, 0x05, 0xb8, 0x0f, 0xa2, 0, 0];
        let s = find_sites(&code, 0x1000);
        assert_eq!(s.cpuid, [0x1002]);
        assert_eq!(s.syscall, [0x1009]);
        // A prefixed cpuid is left alone.
        assert_eq!(find_sites(&[0x66, 0x0f, 0xa2], 0).cpuid, Vec::<u64>::new());
    }

    #[test]
    fn empty_and_no_pair() {
        assert!(offsets(&[]).is_empty());
        assert!(offsets(&[0x0f]).is_empty());
        assert!(offsets(&[0x05, 0x0f]).is_empty());
        assert!(offsets(&[0x90, 0xc3]).is_empty());
    }

    #[test]
    fn bare_syscall() {
        assert_eq!(offsets(&[0x0f, 0x05]), [0]);
        assert_eq!(offsets(&[0x90, 0x0f, 0x05, 0xc3]), [1]);
        assert_eq!(offsets(&[0x0f, 0x05, 0x0f, 0x05]), [0, 2]);
    }

    #[test]
    fn inside_immediate() {
        // mov eax, 0x50f
        assert!(offsets(&[0xb8, 0x0f, 0x05, 0x00, 0x00]).is_empty());
        // movabs rax, 0x050f050f050f050f
        assert!(offsets(&[0x48, 0xb8, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05]).is_empty());
        // ... followed by a real one.
        assert_eq!(
            offsets(&[0x48, 0xb8, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05]),
            [10]
        );
        // lea rsi, [rip + 0x50f]: in a displacement
        assert!(offsets(&[0x48, 0x8d, 0x35, 0x0f, 0x05, 0x00, 0x00]).is_empty());
    }

    #[test]
    fn busybox_sequence() {
        // lea -0x18(%rsp),%rsi; mov $0x83,%eax; syscall
        let code = [
            0x48, 0x8d, 0x74, 0x24, 0xe8, 0xb8, 0x83, 0x00, 0x00, 0x00, 0x0f, 0x05,
        ];
        assert_eq!(offsets(&code), [10]);
        assert_eq!(find_syscall_sites(&code, 0x48_338f), [0x48_338f + 10]);
    }

    #[test]
    fn two_byte_opcode_escapes() {
        // 0f 0f is 3DNow! (0f 0f modrm imm8): 0f 0f 05 xx xx xx xx ib with a
        // rip-relative modrm swallows the 05 and what follows.
        assert!(offsets(&[0x0f, 0x0f, 0x05, 0x00, 0x00, 0x00, 0x00, 0x9e]).is_empty());
        // 0f 0f 0f 05 and 0f 0f 05 are 3DNow! instructions cut short (no
        // room for their imm8): invalid, skipped a byte at a time, leaving
        // the final pair.
        assert_eq!(offsets(&[0x0f, 0x0f, 0x0f, 0x05]), [2]);
        // A REX prefix: the site is the opcode, after the prefix.
        assert_eq!(offsets(&[0x48, 0x0f, 0x05]), [1]);
    }

    #[test]
    fn invalid_bytes_resynchronise() {
        // 06 (push es) is invalid in 64-bit mode; then a syscall.
        assert_eq!(offsets(&[0x06, 0x0f, 0x05]), [1]);
        // A truncated instruction at the end is invalid: the sweep skips
        // byte by byte and finds the pair in what would have been its
        // immediate (there is no better guess for code that runs off the end).
        assert_eq!(offsets(&[0x0f, 0x05, 0x48, 0xb8, 0x0f, 0x05]), [0, 4]);
        // Whatever the sweep reports is a real 0f 05 pair.
        let junk: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let mut code = junk.clone();
        code.extend_from_slice(&[0x0f, 0x05]);
        for s in offsets(&code) {
            let s = s as usize;
            assert_eq!(code[s..s + 2], SYSCALL);
        }
    }
}
