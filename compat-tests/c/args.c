/*
 * args.c - what the process was given at exec time: argv, the UKT_*
 * environment variables, and the auxiliary vector.
 *
 * Only values that are the same on every run are printed; for the rest
 * (addresses, random bytes) the program prints relations or booleans.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;
extern char _start[]; /* the entry point both crt1 variants define */

/* Prints a string with non-printable bytes escaped, in brackets. */
static void print_quoted(const char *s)
{
    putchar('[');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            putchar(*p);
        else
            printf("\\x%02x", *p);
    }
    putchar(']');
}

static int nonzero(unsigned long type)
{
    return getauxval(type) != 0;
}

static void print_auxv_string(const char *name, unsigned long type)
{
    const char *s = (const char *)getauxval(type);
    printf("%s ", name);
    if (s)
        print_quoted(s);
    else
        printf("(null)");
    putchar('\n');
}

int main(int argc, char **argv)
{
    printf("argc %d\n", argc);
    for (int i = 0; i < argc; i++) {
        printf("argv[%d] ", i);
        print_quoted(argv[i]);
        putchar('\n');
    }
    printf("argv[argc] is NULL: %d\n", argv[argc] == NULL);

    /* The environment, in the order the kernel (or uk-run) laid it out. */
    int nenv = 0;
    for (char **e = environ; *e; e++) {
        nenv++;
        if (strncmp(*e, "UKT_", 4) == 0) {
            printf("env ");
            print_quoted(*e);
            putchar('\n');
        }
    }
    printf("environ entries %d\n", nenv);
    printf("environ follows argv: %d\n", environ == argv + argc + 1);

    /* The auxiliary vector. */
    printf("AT_PAGESZ %lu\n", getauxval(AT_PAGESZ));
    printf("AT_PHDR nonzero %d\n", nonzero(AT_PHDR));
    printf("AT_ENTRY nonzero %d\n", nonzero(AT_ENTRY));
    printf("AT_RANDOM nonzero %d\n", nonzero(AT_RANDOM));
    printf("AT_EXECFN nonzero %d\n", nonzero(AT_EXECFN));
    printf("AT_PLATFORM nonzero %d\n", nonzero(AT_PLATFORM));
    printf("AT_HWCAP nonzero %d\n", nonzero(AT_HWCAP));
    printf("AT_CLKTCK nonzero %d\n", nonzero(AT_CLKTCK));
    print_auxv_string("AT_PLATFORM", AT_PLATFORM);
    print_auxv_string("AT_EXECFN", AT_EXECFN);
    printf("AT_UID == getuid %d\n", getauxval(AT_UID) == (unsigned long)getuid());
    printf("AT_EUID == geteuid %d\n", getauxval(AT_EUID) == (unsigned long)geteuid());
    printf("AT_GID == getgid %d\n", getauxval(AT_GID) == (unsigned long)getgid());
    printf("AT_EGID == getegid %d\n", getauxval(AT_EGID) == (unsigned long)getegid());
    printf("AT_SECURE %lu\n", getauxval(AT_SECURE));
    printf("AT_CLKTCK %lu\n", getauxval(AT_CLKTCK));
    printf("AT_BASE %lu (0 for a static program)\n", getauxval(AT_BASE));
    printf("AT_ENTRY == &_start %d\n", getauxval(AT_ENTRY) == (unsigned long)_start);
    printf("AT_PHENT == sizeof(Elf64_Phdr) %d\n",
           getauxval(AT_PHENT) == sizeof(Elf64_Phdr));

    /* AT_PHDR must point at this program's own program headers. */
    const Elf64_Phdr *phdr = (const Elf64_Phdr *)getauxval(AT_PHDR);
    unsigned long phnum = getauxval(AT_PHNUM);
    int loads = 0;
    for (unsigned long i = 0; phdr && i < phnum; i++)
        loads += phdr[i].p_type == PT_LOAD;
    printf("AT_PHNUM nonzero %d, PT_LOAD headers found %d\n", phnum != 0, loads > 0);

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    int all_zero = 1;
    for (int i = 0; rnd && i < 16; i++)
        all_zero &= rnd[i] == 0;
    printf("AT_RANDOM 16 bytes not all zero %d\n", rnd && !all_zero);
    return 0;
}
