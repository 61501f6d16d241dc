/*
 * jit.c - machine code written at run time, including raw `syscall`
 * instructions that exist nowhere in the ELF file.
 *
 *  1. An RWX page gets `mov eax, 39 (getpid); syscall; ret`; it is called
 *     twice and both results are compared with getpid().
 *  2. The same page is rewritten in place to `mov eax, 102 (getuid)` and
 *     called again: code changed after it ran must take effect.
 *  3. W^X style: a page is filled while PROT_READ|PROT_WRITE, switched to
 *     PROT_READ|PROT_EXEC, and runs write(1, msg, len) through its own
 *     syscall instruction; the message shows up on stdout.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef long (*fn0)(void);
typedef long (*fn2)(const char *, unsigned long);

/* mov eax, 39; syscall; ret */
static const unsigned char getpid_code[] = {0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3};

/*
 * long f(const char *msg, unsigned long len): write(1, msg, len)
 *   mov rdx, rsi; mov rsi, rdi; mov edi, 1; mov eax, 1; syscall; ret
 */
static const unsigned char write_code[] = {
    0x48, 0x89, 0xf2, 0x48, 0x89, 0xfe, 0xbf, 0x01, 0x00, 0x00, 0x00,
    0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3,
};

int main(void)
{
    unsigned char *rwx = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rwx == MAP_FAILED) {
        perror("mmap rwx");
        return 1;
    }
    memcpy(rwx, getpid_code, sizeof getpid_code);
    fn0 f = (fn0)(void *)rwx;
    long a = f(), b = f();
    long pid = getpid();
    printf("jit getpid: first call == getpid() %d, second call == getpid() %d\n", a == pid, b == pid);

    rwx[1] = 102; /* mov eax, 102 (getuid) */
    long uid = f();
    printf("jit rewritten to getuid: result == getuid() %d\n", uid == (long)getuid());

    unsigned char *wx = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (wx == MAP_FAILED) {
        perror("mmap rw");
        return 1;
    }
    memcpy(wx, write_code, sizeof write_code);
    if (mprotect(wx, 4096, PROT_READ | PROT_EXEC) != 0) {
        perror("mprotect rx");
        return 1;
    }
    static const char msg[] = "written by a syscall instruction generated at run time\n";
    fflush(stdout); /* keep the stdio output and the raw write in order */
    long n = ((fn2)(void *)wx)(msg, sizeof msg - 1);
    printf("jit write returned %ld (message length %zu)\n", n, sizeof msg - 1);

    munmap(rwx, 4096);
    munmap(wx, 4096);
    return 0;
}
