/*
 * sysinfo.c - identity and process information system calls.
 *
 * Prints only what is the same on every run: uname's sysname and machine
 * (not nodename or release), uids and gids, and relations (pid > 0, ...)
 * instead of pids, paths or counts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static const char *file_type(mode_t m)
{
    if (S_ISREG(m)) return "regular file";
    if (S_ISDIR(m)) return "directory";
    if (S_ISCHR(m)) return "character device";
    if (S_ISBLK(m)) return "block device";
    if (S_ISFIFO(m)) return "fifo";
    if (S_ISSOCK(m)) return "socket";
    if (S_ISLNK(m)) return "symlink";
    return "unknown";
}

/* A syscall that writes to a buffer far below the stack pointer's
 * current page: the kernel grows the stack for it. */
static __attribute__((noinline)) int uname_deep(void)
{
    volatile char big[1 << 20];
    return (int)syscall(SYS_uname, (void *)big);
}

static const char *errno_name(int e)
{
    switch (e) {
    case 0: return "0";
    case EBADF: return "EBADF";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    default: return "other";
    }
}

int main(int argc, char **argv)
{
    (void)argc;
    struct utsname u;
    if (uname(&u) == 0)
        printf("uname sysname %s machine %s\n", u.sysname, u.machine);
    else
        printf("uname failed: %s\n", errno_name(errno));

    pid_t pid = getpid();
    pid_t tid = (pid_t)syscall(SYS_gettid);
    printf("getpid() > 0: %d\n", pid > 0);
    printf("gettid() == getpid(): %d\n", tid == pid);
    printf("getppid() >= 0: %d\n", getppid() >= 0);
    printf("uid %u euid %u gid %u egid %u\n", (unsigned)getuid(), (unsigned)geteuid(),
           (unsigned)getgid(), (unsigned)getegid());

    struct rlimit rl;
    printf("getrlimit(RLIMIT_STACK) == 0: %d\n", getrlimit(RLIMIT_STACK, &rl) == 0);
    printf("prlimit(0, RLIMIT_STACK) == 0: %d\n", prlimit(0, RLIMIT_STACK, NULL, &rl) == 0);
    printf("getrlimit(RLIMIT_NOFILE) == 0 and soft limit > 2: %d\n",
           getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur > 2);

    unsigned char rnd[32];
    memset(rnd, 0, sizeof rnd);
    ssize_t got = getrandom(rnd, sizeof rnd, 0);
    int zeros = 0;
    for (unsigned i = 0; i < sizeof rnd; i++)
        zeros += rnd[i] == 0;
    printf("getrandom(32) returned %zd\n", got);
    printf("getrandom bytes not all zero: %d\n", zeros < (int)sizeof rnd);

    cpu_set_t set;
    CPU_ZERO(&set);
    int aff = sched_getaffinity(0, sizeof set, &set);
    printf("sched_getaffinity == 0: %d, cpus >= 1: %d\n", aff == 0, CPU_COUNT(&set) >= 1);

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0)
        exe[n] = '\0';
    printf("readlink(/proc/self/exe) succeeds: %d\n", n > 0);
    printf("basename of /proc/self/exe == basename of argv[0]: %d\n",
           n > 0 && strcmp(base_name(exe), base_name(argv[0])) == 0);
    printf("/proc/self/exe is absolute: %d\n", n > 0 && exe[0] == '/');

    printf("isatty(0) %d isatty(1) %d isatty(2) %d\n", isatty(0), isatty(1), isatty(2));

    struct stat st;
    for (int fd = 0; fd <= 2; fd++) {
        if (fstat(fd, &st) == 0)
            printf("fstat(%d) file type: %s\n", fd, file_type(st.st_mode));
        else
            printf("fstat(%d) failed: %s\n", fd, errno_name(errno));
    }

    errno = 0;
    ssize_t w = write(99, "x", 1);
    printf("write(99) returned %zd errno %s\n", w, errno_name(errno));
    errno = 0;
    int c = close(99);
    printf("close(99) returned %d errno %s\n", c, errno_name(errno));

    /* Bad buffers: EFAULT, not a crash and not success. */
    errno = 0;
    w = syscall(SYS_write, 1, NULL, 5);
    printf("write(1, NULL, 5) returned %zd errno %s\n", w, errno_name(errno));
    errno = 0;
    w = syscall(SYS_write, 1, (void *)0x10, 5);
    printf("write(1, 0x10, 5) returned %zd errno %s\n", w, errno_name(errno));
    errno = 0;
    w = syscall(SYS_write, 1, (void *)0xffff888000000000ul, 5);
    printf("write(1, kernel address, 5) returned %zd errno %s\n", w, errno_name(errno));
    void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    errno = 0;
    long r = syscall(SYS_uname, ro);
    printf("uname(read-only page) returned %ld errno %s\n", r, errno_name(errno));
    munmap(ro, 4096);
    errno = 0;
    r = syscall(SYS_uname, ro);
    printf("uname(unmapped page) returned %ld errno %s\n", r, errno_name(errno));
    errno = 0;
    r = uname_deep();
    printf("uname(1 MiB down the stack) returned %ld errno %s\n", r, errno_name(errno));

    long page = sysconf(_SC_PAGESIZE);
    printf("sysconf(_SC_PAGESIZE) %ld\n", page);
    printf("sysconf(_SC_NPROCESSORS_ONLN) >= 1: %d\n", sysconf(_SC_NPROCESSORS_ONLN) >= 1);
    return 0;
}
