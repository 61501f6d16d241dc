/*
 * fakesyscall.c - bytes that look like a `syscall` instruction (0f 05) but
 * are data, or immediates inside other instructions, must be left alone:
 *
 *  - a const array and a writable array holding 0f 05 are printed in hex;
 *  - a function written in assembly loads immediates made of 0f 05 bytes
 *    into rax and rdx; it is called, its results printed, and its first
 *    16 code bytes printed in hex.
 */
#include <stdio.h>
#include <string.h>

struct pair {
    unsigned long rax, rdx; /* returned in rax:rdx by the SysV ABI */
};

struct pair fake_syscall_immediates(void);

__asm__(".pushsection .text\n"
        ".globl fake_syscall_immediates\n"
        ".type fake_syscall_immediates, @function\n"
        "fake_syscall_immediates:\n"
        "    movl $0x050f, %eax\n"
        "    movabs $0x050f050f050f050f, %rdx\n"
        "    ret\n"
        ".size fake_syscall_immediates, .-fake_syscall_immediates\n"
        ".popsection\n");

static const unsigned char const_bytes[] = {0x0f, 0x05, 0x0f, 0x05, 0xc3, 0x90, 0x0f, 0x05};
static unsigned char data_bytes[] = {0x0f, 0x05, 0x0f, 0x34, 0xcd, 0x80, 0x0f, 0x05};

static void print_hex(const char *name, const volatile unsigned char *p, size_t len)
{
    printf("%s:", name);
    for (size_t i = 0; i < len; i++)
        printf(" %02x", p[i]);
    putchar('\n');
}

int main(void)
{
    print_hex("const array", const_bytes, sizeof const_bytes);
    print_hex("data array", data_bytes, sizeof data_bytes);
    data_bytes[1] ^= 0xff;
    print_hex("data array after xor", data_bytes, sizeof data_bytes);

    struct pair r = fake_syscall_immediates();
    printf("rax = %#lx\nrdx = %#lx\n", r.rax, r.rdx);

    unsigned char code[16];
    memcpy(code, (const void *)fake_syscall_immediates, sizeof code);
    print_hex("code", code, sizeof code);

    r = fake_syscall_immediates();
    printf("second call: rax = %#lx, rdx = %#lx\n", r.rax, r.rdx);
    return 0;
}
