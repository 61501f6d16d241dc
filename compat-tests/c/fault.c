/*
 * fault.c - die from a CPU exception or abort().
 *
 *   fault segv        store through the bad pointer 0x10       -> SIGSEGV
 *   fault segv_load   load from the unmapped address 0xdead0000 -> SIGSEGV
 *   fault ud2         __builtin_trap() (ud2)                   -> SIGILL
 *   fault div         integer division by zero                  -> SIGFPE
 *   fault int3        breakpoint instruction                    -> SIGTRAP
 *   fault abort       abort()                                   -> SIGABRT
 *
 * Before faulting the program prints one line to stdout and one to stderr
 * and flushes both, so the harness can check that output written before
 * the fault is not lost.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s segv|segv_load|ud2|div|int3|abort\n", argv[0]);
        return 100;
    }
    const char *mode = argv[1];
    printf("fault: %s: stdout line before the fault\n", mode);
    fprintf(stderr, "fault: %s: stderr line before the fault\n", mode);
    fflush(stdout);
    fflush(stderr);

    if (strcmp(mode, "segv") == 0) {
        int *volatile bad = (int *)0x10;
        *bad = 1;
    } else if (strcmp(mode, "segv_load") == 0) {
        int *volatile bad = (int *)0xdead0000UL;
        printf("read %d\n", *bad);
    } else if (strcmp(mode, "ud2") == 0) {
        __builtin_trap();
    } else if (strcmp(mode, "div") == 0) {
        volatile int zero = 0, num = 42;
        printf("quotient %d\n", num / zero);
    } else if (strcmp(mode, "int3") == 0) {
        __asm__ volatile("int3");
    } else if (strcmp(mode, "abort") == 0) {
        abort();
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 101;
    }
    printf("fault: %s: still alive after the fault\n", mode);
    return 102;
}
