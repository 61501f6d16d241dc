/*
 * files.c - the file system calls: their errors, their semantics, directory
 * listings and stat fields.
 *
 *   files SECTION PLACE
 *
 * SECTION is one of
 *   errors     the errno of the common failures of every file syscall
 *   fds        fcntl (F_GETFL/F_SETFL/F_GETFD/F_SETFD/F_DUPFD), dup, dup2,
 *              dup3, close twice, shared and separate offsets
 *   io         O_APPEND, O_TRUNC, O_EXCL, O_CREAT through a dangling link,
 *              pread/pwrite, lseek and holes, readv/writev, ftruncate,
 *              unlink and rename of open files, a removed directory
 *   dirs       readdir and getdents64, rewinddir, telldir/seekdir, empty
 *              and large directories, readdir while files are created and
 *              removed in the directory
 *   stat       deterministic stat fields: type, size, mode under umask,
 *              st_nlink of files and directories, times set explicitly
 *   coherence  files larger than the monitor's read-ahead, stat after
 *              listings and changes, one descriptor seeing another's writes
 *   paths      nesting, "." and "..", double slashes, symlinks, odd names,
 *              renames across directories
 *   special    /dev/null, /dev/zero, /dev/urandom, /tmp, /, /proc/self/exe
 *   pending    every group of checks on which uk-run still differs from
 *              Linux (see pending_groups at the end): no test runs this
 *              section; run it by hand to see the differences. The other
 *              sections run each such group only in the place where uk-run
 *              does not differ on it.
 * PLACE is where the section works: "cwd", a fresh directory "w" in the
 * current directory (a directory shared with the host under uk-run), or
 * "shm", /dev/shm/uk-files-PID (in memory under uk-run too, as "tmp"), or
 * "tmp", a fresh directory /tmp/uk-files-PID (the guest's in-memory /tmp
 * under uk-run). The directory is removed at the end: the native run and the
 * uk-run run use the same current directory one after the other.
 *
 * Each check prints one line: the call as written, its return value and,
 * when it fails, the errno name. Nothing printed depends on the run: no
 * inode numbers, pids, device numbers, times (other than ones set here) or
 * absolute paths (paths are printed relative to the work directory).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* An address no process has mapped: the upper half is the kernel's. */
#define KERNEL_ADDR ((void *)0xffff800000001000UL)

/* The kernel sets O_LARGEFILE on every file it opens for a 64-bit process
 * and F_GETFL shows it, while the C libraries define O_LARGEFILE as 0 on
 * x86-64. */
#define KERNEL_O_LARGEFILE 0100000

static int nchecks;
/* Where uk-run is known to differ (see pending_groups) and where this run
 * works: DIFF_CWD, the shared current directory, or DIFF_TMP, /tmp. */
#define DIFF_CWD 1
#define DIFF_TMP 2
static int place;
static char base[PATH_MAX];     /* absolute path of the work directory */

static const char *ename(int e)
{
    static char other[32];
    switch (e) {
    case 0: return "0";
    case EPERM: return "EPERM";
    case ENOENT: return "ENOENT";
    case ESRCH: return "ESRCH";
    case EINTR: return "EINTR";
    case EIO: return "EIO";
    case ENXIO: return "ENXIO";
    case E2BIG: return "E2BIG";
    case EBADF: return "EBADF";
    case ECHILD: return "ECHILD";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EACCES: return "EACCES";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EXDEV: return "EXDEV";
    case ENODEV: return "ENODEV";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EINVAL: return "EINVAL";
    case ENFILE: return "ENFILE";
    case EMFILE: return "EMFILE";
    case ENOTTY: return "ENOTTY";
    case ETXTBSY: return "ETXTBSY";
    case EFBIG: return "EFBIG";
    case ENOSPC: return "ENOSPC";
    case ESPIPE: return "ESPIPE";
    case EROFS: return "EROFS";
    case EMLINK: return "EMLINK";
    case ERANGE: return "ERANGE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ENOSYS: return "ENOSYS";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ELOOP: return "ELOOP";
    case EOVERFLOW: return "EOVERFLOW";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default:
        snprintf(other, sizeof other, "errno %d", e);
        return other;
    }
}

static void report(const char *call, long r, int e)
{
    nchecks++;
    if (r < 0)
        printf("%s = %ld %s\n", call, r, ename(e));
    else
        printf("%s = %ld\n", call, r);
}

/* A check: the call, its result and errno. */
#define T(call) do { errno = 0; long r_ = (long)(call); int e_ = errno; report(#call, r_, e_); } while (0)
/* A check of a call that may return a new descriptor, closed again. */
#define TF(call) do { errno = 0; long r_ = (long)(call); int e_ = errno; report(#call, r_, e_); \
                      if (r_ >= 0) close((int)r_); } while (0)
/* A check whose result is kept in VAR. */
#define TV(var, call) do { errno = 0; var = (call); int e_ = errno; report(#call, (long)(var), e_); } while (0)

/* A property that must hold, or a value that is the same on every run. */
static void show(const char *what, long value)
{
    nchecks++;
    printf("%s: %ld\n", what, value);
}

/* A setup step that must succeed: the program cannot go on otherwise. */
static long must_(long r, const char *what, int line)
{
    if (r < 0) {
        printf("setup failed at line %d: %s: %s\n", line, what, ename(errno));
        fflush(stdout);
        exit(2);
    }
    return r;
}
#define must(call) must_((long)(call), #call, __LINE__)

static void put(const char *name, const char *content)
{
    int fd = (int)must(open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    size_t n = strlen(content);
    if (n)
        must(write(fd, content, n) == (ssize_t)n ? 0 : -1);
    must(close(fd));
}

/* Prints bytes escaped: printable ASCII as is, the rest as \xNN. */
static void print_bytes(const char *what, const char *buf, long n)
{
    nchecks++;
    printf("%s: %ld bytes \"", what, n);
    for (long i = 0; i < n; i++) {
        unsigned char c = (unsigned char)buf[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            putchar(c);
        else
            printf("\\x%02x", c);
    }
    printf("\"\n");
}

/* Prints a whole file's content, read through a fresh descriptor. */
static void show_file(const char *name)
{
    char buf[4096], what[300];
    snprintf(what, sizeof what, "content of %s", name);
    int fd = open(name, O_RDONLY);
    if (fd < 0) {
        nchecks++;
        printf("%s: open fails %s\n", what, ename(errno));
        return;
    }
    long n = 0, r;
    while (n < (long)sizeof buf && (r = read(fd, buf + n, sizeof buf - n)) > 0)
        n += r;
    close(fd);
    print_bytes(what, buf, n);
}

static long file_size(const char *name)
{
    struct stat st;
    if (lstat(name, &st) < 0)
        return -errno;
    return (long)st.st_size;
}

static const char *ftype(mode_t m)
{
    if (S_ISREG(m)) return "reg";
    if (S_ISDIR(m)) return "dir";
    if (S_ISLNK(m)) return "lnk";
    if (S_ISCHR(m)) return "chr";
    if (S_ISBLK(m)) return "blk";
    if (S_ISFIFO(m)) return "fifo";
    if (S_ISSOCK(m)) return "sock";
    return "?";
}

/* Type, size (not for directories: it depends on the file system), mode
 * bits and link count of NAME (lstat). */
static void show_stat(const char *name)
{
    struct stat st;
    nchecks++;
    if (lstat(name, &st) < 0) {
        printf("lstat %s: %s\n", name, ename(errno));
        return;
    }
    if (S_ISDIR(st.st_mode))
        printf("lstat %s: dir mode %04o nlink %ld\n", name, (unsigned)(st.st_mode & 07777),
               (long)st.st_nlink);
    else
        printf("lstat %s: %s size %ld mode %04o nlink %ld\n", name, ftype(st.st_mode),
               (long)st.st_size, (unsigned)(st.st_mode & 07777), (long)st.st_nlink);
}

/* The current directory relative to the work directory. */
static void show_cwd(const char *what)
{
    char buf[PATH_MAX];
    nchecks++;
    if (!getcwd(buf, sizeof buf)) {
        printf("%s: getcwd fails %s\n", what, ename(errno));
        return;
    }
    size_t n = strlen(base);
    if (strncmp(buf, base, n) == 0 && (buf[n] == '/' || buf[n] == 0))
        printf("%s: <work>%s\n", what, buf + n);
    else
        printf("%s: outside the work directory\n", what);
}

/* Removes PATH and everything below it. Each directory is read to the
 * end before anything in it is removed: what a listing shows of a
 * directory changed while it is read is not the point here. */
static int rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    DIR *dir = opendir(path);
    if (!dir)
        return -1;
    size_t n = 0, cap = 16;
    char **names = malloc(cap * sizeof *names);
    struct dirent *de;
    while (names && (de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (n == cap)
            names = realloc(names, (cap *= 2) * sizeof *names);
        if (names)
            names[n++] = strdup(de->d_name);
    }
    closedir(dir);
    if (!names)
        return -1;
    int r = 0;
    for (size_t i = 0; i < n; i++) {
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
        if (rm_rf(sub) < 0)
            r = -1;
        free(names[i]);
    }
    free(names);
    return rmdir(path) < 0 ? -1 : r;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The common fixture of the sections:
 *   f         "hello world\n"
 *   d/        with d/sub/ and d/file
 *   e/        empty
 *   lnk       -> f
 *   dlnk      -> d
 *   dangling  -> nothere
 */
static void fixture(void)
{
    put("f", "hello world\n");
    must(mkdir("d", 0755));
    must(mkdir("d/sub", 0755));
    put("d/file", "in d\n");
    must(mkdir("e", 0755));
    must(symlink("f", "lnk"));
    must(symlink("d", "dlnk"));
    must(symlink("nothere", "dangling"));
}

/* ---------------------------------------------------------------------- */

static void open_errors(void)
{
    int dirfd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    int filefd = (int)must(open("f", O_RDONLY));

    printf("-- open, openat\n");
    TF(open("missing", O_RDONLY));
    TF(open("missing/x", O_RDONLY));
    TF(open("missing/x", O_WRONLY | O_CREAT, 0644));
    TF(open("f", O_WRONLY | O_CREAT | O_EXCL, 0644));
    TF(open("d", O_RDONLY | O_CREAT | O_EXCL, 0644));
    TF(open("lnk", O_WRONLY | O_CREAT | O_EXCL, 0644));
    TF(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0644));
    TF(open("f/x", O_RDONLY));
    TF(open("f/x", O_WRONLY | O_CREAT, 0644));
    TF(open("d", O_WRONLY));
    TF(open("d", O_RDWR));
    TF(open("d", O_WRONLY | O_CREAT, 0644));
    TF(open("d/", O_RDONLY | O_CREAT, 0644));
    TF(open("d", O_RDONLY));
    TF(open("d/", O_RDONLY));
    TF(open("dlnk/", O_RDONLY | O_DIRECTORY));
    TF(open("lnk", O_RDONLY | O_NOFOLLOW));
    TF(open("dangling", O_RDONLY | O_NOFOLLOW));
    TF(open("dlnk", O_RDONLY | O_NOFOLLOW));
    TF(open("f", O_RDONLY | O_NOFOLLOW));
    TF(open("f", O_RDONLY | O_DIRECTORY));
    TF(open("lnk", O_RDONLY | O_DIRECTORY));
    TF(open("dlnk", O_RDONLY | O_DIRECTORY));
    TF(open("", O_RDONLY));
    TF(open("dangling", O_RDONLY));
    must(symlink("loop2", "loop1"));
    must(symlink("loop1", "loop2"));
    TF(open("loop1", O_RDONLY));
    TF(open("loop1", O_WRONLY | O_CREAT, 0644));
    TF(open("loop1/x", O_RDONLY));
    TF(openat(999, "f", O_RDONLY));
    TF(openat(-5, "f", O_RDONLY));
    TF(openat(filefd, "x", O_RDONLY));
    TF(openat(filefd, "", O_RDONLY));
    TF(openat(dirfd, "sub", O_RDONLY | O_DIRECTORY));
    TF(openat(dirfd, "file", O_RDONLY));
    TF(openat(dirfd, "../f", O_RDONLY));
    TF(openat(dirfd, "missing", O_RDONLY));
    TF(openat(999, "", O_RDONLY));
    must(unlink("loop1"));
    must(unlink("loop2"));
    close(dirfd);
    close(filefd);
}

static void rw_errors(void)
{
    char buf[64];
    struct iovec iov[1] = {{buf, sizeof buf}};
    int dirfd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    int rdfd = (int)must(open("f", O_RDONLY));
    int wrfd = (int)must(open("w1", O_WRONLY | O_CREAT | O_TRUNC, 0644));

    printf("-- read, write, pread, pwrite, readv, writev\n");
    T(read(999, buf, 1));
    T(read(-1, buf, 1));
    T(write(999, "x", 1));
    T(write(-1, "x", 1));
    T(read(dirfd, buf, sizeof buf));
    T(write(dirfd, "x", 1));
    T(write(rdfd, "x", 1));
    T(read(wrfd, buf, 1));
    T(read(rdfd, buf, 0));
    T(write(wrfd, "x", 0));
    T(pread(dirfd, buf, 1, 0));
    T(pread(rdfd, buf, 1, -1));
    T(pwrite(wrfd, "x", 1, -1));
    T(pread(999, buf, 1, 0));
    T(pwrite(rdfd, "x", 1, 0));
    T(pread(wrfd, buf, 1, 0));
    volatile int minus_one = -1, iov_max_plus_1 = 1025;
    T(readv(rdfd, iov, minus_one));
    T(readv(rdfd, iov, iov_max_plus_1));
    T(writev(999, iov, 1));
    T(readv(wrfd, iov, 1));
    T(readv(dirfd, iov, 1));
    T(read(rdfd, KERNEL_ADDR, 4));
    T(write(wrfd, KERNEL_ADDR, 4));
    T(lseek(rdfd, 0, SEEK_CUR));
    show("size of w1", file_size("w1"));

    printf("-- lseek\n");
    T(lseek(rdfd, 0, 99));
    T(lseek(rdfd, 0, -1));
    T(lseek(rdfd, -1, SEEK_SET));
    T(lseek(rdfd, 3, SEEK_SET));
    T(lseek(rdfd, -100, SEEK_CUR));
    T(lseek(rdfd, -100, SEEK_END));
    T(lseek(rdfd, 0, SEEK_CUR));
    T(lseek(999, 0, SEEK_SET));
    T(lseek(rdfd, 5, SEEK_END));
    T(lseek(rdfd, -12, SEEK_END));
    T(lseek(rdfd, -13, SEEK_END));
    T(lseek(rdfd, 0, SEEK_END));
    T(lseek(dirfd, 0, SEEK_SET));
    close(dirfd);
    close(rdfd);
    close(wrfd);
    must(unlink("w1"));
}

static void dir_errors(void)
{
    printf("-- mkdir, rmdir, unlink\n");
    T(mkdir("d", 0755));
    T(mkdir("f", 0755));
    T(mkdir("lnk", 0755));
    T(mkdir("dangling", 0755));
    T(mkdir("missing/x", 0755));
    T(mkdir("f/x", 0755));
    T(mkdir("", 0755));
    T(mkdir(".", 0755));
    T(mkdir("newdir/", 0755));
    T(rmdir("newdir/"));
    T(rmdir("d"));
    T(rmdir("f"));
    T(rmdir("lnk"));
    T(rmdir("dlnk"));
    T(rmdir("missing"));
    T(rmdir("d/sub/.."));
    T(rmdir("f/"));
    T(rmdir(""));
    T(unlink("d"));
    T(unlink("e"));
    T(unlink("d/"));
    T(unlink("missing"));
    T(unlink("f/x"));
    T(unlink(""));
    T(unlinkat(AT_FDCWD, "f", AT_REMOVEDIR));
    T(unlinkat(999, "f", 0));
}

static void rename_errors(void)
{
    char buf[64];
    printf("-- rename\n");
    T(rename("missing", "x"));
    T(rename("f", "missing/x"));
    T(rename("f", "f/x"));
    T(rename("e", "d"));
    T(rename("e", "f"));
    T(rename("f", "e"));
    T(rename("d", "d"));
    T(rename("f", "f"));
    T(rename("", "x"));
    T(rename("f", ""));
    T(link("f", "hard"));
    T(rename("f", "hard"));
    show_stat("f");
    show_stat("hard");
    T(unlink("hard"));
    T(mkdir("e2", 0755));
    T(rename("e", "e2"));
    T(access("e", F_OK));
    T(rename("e2/", "e/"));
    T(access("e2", F_OK));
    T(rename("lnk", "lnk2"));
    T(readlink("lnk2", buf, sizeof buf));
    T(rename("lnk2", "lnk"));
    put("x1", "one");
    T(renameat(999, "x1", AT_FDCWD, "x4"));
    T(renameat(AT_FDCWD, "x1", 999, "x4"));
    T(unlink("x1"));
}

static void link_errors(void)
{
    char buf[64];
    printf("-- link, symlink, readlink\n");
    T(link("f", "lnk"));
    T(link("f", "d"));
    T(link("f", "f"));
    T(link("missing", "x"));
    T(link("d", "dl"));
    T(link("f", "f/x"));
    T(link("f", "missing/x"));
    T(link("f", ""));
    T(link("dangling", "dl2"));
    show_stat("dl2");
    T(unlink("dl2"));
    T(symlink("f", "lnk"));
    T(symlink("anything", "f"));
    T(symlink("anything", "d"));
    T(symlink("anything", "dangling"));
    T(symlink("x", "missing/x"));
    T(symlink("x", "f/x"));
    T(symlink("", "emptylink"));
    T(symlink("x", ""));
    T(readlink("f", buf, sizeof buf));
    T(readlink("d", buf, sizeof buf));
    T(readlink("missing", buf, sizeof buf));
    T(readlink("f/x", buf, sizeof buf));
    T(readlink("", buf, sizeof buf));
    memset(buf, 0, sizeof buf);
    T(readlink("lnk", buf, sizeof buf));
    print_bytes("readlink lnk", buf, (long)strlen(buf));
    memset(buf, 0, sizeof buf);
    T(readlink("dangling", buf, 3));
    print_bytes("readlink dangling, 3 bytes", buf, (long)strlen(buf));
    T(readlinkat(AT_FDCWD, "dlnk", buf, sizeof buf));
    T(readlinkat(999, "dlnk", buf, sizeof buf));
}

static void cwd_errors(void)
{
    printf("-- chdir, fchdir, getcwd\n");
    int dirfd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    int filefd = (int)must(open("f", O_RDONLY));
    T(chdir("f"));
    T(chdir("missing"));
    T(chdir("lnk"));
    T(chdir("f/"));
    T(chdir(""));
    T(fchdir(filefd));
    T(fchdir(999));
    show_cwd("cwd after failures");
    T(chdir("d"));
    show_cwd("cwd after chdir d");
    T(chdir("sub"));
    show_cwd("cwd after chdir sub");
    T(chdir("../.."));
    show_cwd("cwd after chdir ../..");
    T(fchdir(dirfd));
    show_cwd("cwd after fchdir d");
    T(chdir(".."));
    char cwd[PATH_MAX];
    must(getcwd(cwd, sizeof cwd) ? 0 : -1);
    long len = (long)strlen(cwd);
    long r;
    TV(r, syscall(SYS_getcwd, cwd, 1));
    TV(r, syscall(SYS_getcwd, cwd, 0));
    TV(r, syscall(SYS_getcwd, cwd, len));
    r = syscall(SYS_getcwd, cwd, len + 1);
    show("syscall(SYS_getcwd, cwd, len + 1) - len", r - len);
    TV(r, syscall(SYS_getcwd, KERNEL_ADDR, 4096));
    T(getcwd(cwd, 1) == NULL ? -1 : 0);
    T(getcwd(cwd, 0) == NULL ? -1 : 0);
    T(getcwd(cwd, len) == NULL ? -1 : 0);
    T(getcwd(cwd, len + 1) == NULL ? -1 : 0);
    close(dirfd);
    close(filefd);
}

static void attr_errors(void)
{
    struct stat st;
    int dirfd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    int rdfd = (int)must(open("f", O_RDONLY));
    int wrfd = (int)must(open("w2", O_WRONLY | O_CREAT | O_TRUNC, 0644));

    printf("-- stat, lstat, fstat, fstatat\n");
    T(stat("missing", &st));
    T(lstat("missing", &st));
    T(stat("dangling", &st));
    T(lstat("dangling", &st));
    T(stat("f/x", &st));
    T(stat("", &st));
    T(lstat("", &st));
    T(stat("missing/x", &st));
    T(fstat(999, &st));
    T(fstat(-1, &st));
    T(fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH));
    show("S_ISDIR of fstatat(AT_FDCWD, \"\", AT_EMPTY_PATH)", S_ISDIR(st.st_mode));
    T(fstatat(999, "f", &st, 0));
    T(fstatat(rdfd, "x", &st, 0));
    T(fstatat(dirfd, "file", &st, 0));
    T(syscall(SYS_newfstatat, AT_FDCWD, "f", KERNEL_ADDR, 0));

    printf("-- access\n");
    T(access("f", F_OK));
    T(access("missing", F_OK));
    T(access("f", R_OK));
    T(access("f", W_OK));
    T(access("f", X_OK));
    T(access("f", R_OK | W_OK));
    T(access("d", X_OK));
    T(access("d", R_OK | W_OK | X_OK));
    T(access("dangling", F_OK));
    T(access("lnk", W_OK));
    T(access("f/x", F_OK));
    T(access("", F_OK));
    T(faccessat(AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
    T(faccessat(dirfd, "file", R_OK, 0));
    T(faccessat(999, "file", R_OK, 0));
    put("m0", "x");
    must(chmod("m0", 0));
    T(access("m0", F_OK));
    T(access("m0", R_OK));
    T(access("m0", W_OK));
    T(access("m0", X_OK));
    must(chmod("m0", 0100));
    T(access("m0", X_OK));
    must(chmod("m0", 0001));
    T(access("m0", X_OK));
    must(unlink("m0"));

    printf("-- truncate, ftruncate\n");
    T(truncate("f", -1));
    T(truncate("missing", 0));
    T(truncate("d", 0));
    T(truncate("f/x", 0));
    T(truncate("", 0));
    T(ftruncate(999, 0));
    T(ftruncate(wrfd, -1));
    T(ftruncate(wrfd, 7));
    show("size of w2", file_size("w2"));

    printf("-- close\n");
    T(close(wrfd));
    T(close(wrfd));
    T(close(-1));
    T(close(999));
    T(unlink("w2"));
    close(dirfd);
    close(rdfd);
}

/* Groups of checks on which uk-run still differs (in one place or both):
 * see the end of the file. */
static void pending(void (*fn)(void));
static void pend_trailing_slash(void);
static void pend_open(void);
static void pend_rename_into_itself(void);
static void pend_renameat2(void);
static void pend_ftruncate(void);
static void pend_linkat_follow(void);
static void pend_getcwd_symlink(void);
static void pend_read_dir(void);
static void pend_dot(void);
static void pend_bad_flags(void);
static void pend_getfl_largefile(void);
static void pend_setfl_shared(void);
static void pend_append_fcntl(void);
static void pend_preadv(void);
static void pend_path_max(void);
static void pend_removed_dir(void);
static void pend_renamed_dir_fd(void);
static void pend_umask0(void);
static void pend_getdents_small(void);
static void pend_dirs_changing(void);
static void pend_rdonly_trunc(void);
static void pend_seek_data(void);
static void pend_big_file(void);
static void pend_read_boundary(void);
static void pend_coherence(void);
static void pend_file_sizes(void);
static void pend_abs_symlink(void);
static void pend_link_chain40(void);
static void pend_link_other_dir(void);
/* Not a pending group, defined next to one of them. */
static void rename_moved_dir(void);

/* Runs FN in a fresh subdirectory NAME of the work directory holding the
 * fixture, so that a failure in one group cannot change what another sees. */
static void in_fixture(const char *name, void (*fn)(void))
{
    must(mkdir(name, 0755));
    must(chdir(name));
    fixture();
    fn();
    must(chdir(base));
}

static void section_errors(void)
{
    in_fixture("open", open_errors);
    in_fixture("rw", rw_errors);
    in_fixture("dir", dir_errors);
    in_fixture("rename", rename_errors);
    in_fixture("link", link_errors);
    in_fixture("cwd", cwd_errors);
    in_fixture("attr", attr_errors);
    pending(pend_trailing_slash);
    pending(pend_open);
    pending(pend_rename_into_itself);
    pending(pend_renameat2);
    pending(pend_ftruncate);
    pending(pend_linkat_follow);
    pending(pend_getcwd_symlink);
    pending(pend_read_dir);
    pending(pend_dot);
    pending(pend_bad_flags);
    pending(pend_getfl_largefile);
    pending(pend_setfl_shared);
    pending(pend_append_fcntl);
    pending(pend_preadv);
    pending(pend_path_max);
    pending(pend_removed_dir);
    pending(pend_renamed_dir_fd);
}

/* ---------------------------------------------------------------------- */

static void section_fds(void)
{
    char buf[16];
    put("f", "0123456789");
    int fd;
    TV(fd, open("f", O_RDWR | O_APPEND));

    printf("-- fcntl\n");
    T(fcntl(fd, F_GETFL) & ~KERNEL_O_LARGEFILE);
    T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(fcntl(fd, F_SETFL, O_NONBLOCK));
    T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(fcntl(fd, F_SETFL, O_RDONLY | O_APPEND));
    T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(fcntl(fd, F_SETFL, 0));
    T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(fcntl(fd, F_GETFD));
    T(fcntl(fd, F_SETFD, FD_CLOEXEC));
    T(fcntl(fd, F_GETFD));
    T(fcntl(fd, F_SETFD, 0));
    T(fcntl(fd, F_GETFD));
    T(fcntl(999, F_GETFD));
    T(fcntl(999, F_GETFL));
    T(fcntl(-1, F_SETFD, 0));
    T(fcntl(fd, 9999));
    TF(open("f", O_RDONLY | O_CLOEXEC));
    int cfd = (int)must(open("f", O_WRONLY | O_CLOEXEC));
    T(fcntl(cfd, F_GETFD));
    T(fcntl(cfd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(close(cfd));
    int rfd = (int)must(open("f", O_RDONLY));
    T(fcntl(rfd, F_GETFL) & ~KERNEL_O_LARGEFILE);
    T(close(rfd));
    int dfd = (int)must(open(".", O_RDONLY | O_DIRECTORY));
    T(fcntl(dfd, F_GETFL) & ~KERNEL_O_LARGEFILE);
    T(close(dfd));

    printf("-- F_DUPFD, F_DUPFD_CLOEXEC\n");
    T(fcntl(fd, F_DUPFD, 0));
    T(fcntl(fd, F_DUPFD, 10));
    T(fcntl(fd, F_DUPFD, 10));
    T(fcntl(10, F_GETFD));
    T(fcntl(fd, F_DUPFD_CLOEXEC, 20));
    T(fcntl(20, F_GETFD));
    T(fcntl(999, F_DUPFD, 0));
    T(fcntl(fd, F_DUPFD, -1));
    T(fcntl(fd, F_DUPFD, 1 << 30));
    T(close(10));
    T(close(11));
    T(close(20));
    T(close(fd + 1));

    printf("-- dup, dup2, dup3\n");
    T(dup(999));
    T(dup(-1));
    int d1;
    TV(d1, dup(fd));
    T(fcntl(fd, F_SETFD, FD_CLOEXEC));
    T(dup2(fd, fd));
    T(fcntl(fd, F_GETFD));
    T(dup2(fd, 50));
    T(fcntl(50, F_GETFD));
    T(dup2(999, 50));
    T(fcntl(50, F_GETFD));
    T(dup2(fd, -1));
    T(dup2(fd, 1 << 30));
    T(dup3(fd, fd, 0));
    T(dup3(fd, 51, O_CLOEXEC));
    T(fcntl(51, F_GETFD));
    T(dup3(fd, 51, 0));
    T(fcntl(51, F_GETFD));
    T(dup3(fd, 52, 1234));
    T(dup3(999, 52, 0));
    T(fcntl(52, F_GETFD));
    /* dup2 onto an open descriptor closes it first */
    int other = (int)must(open("f", O_RDONLY));
    T(dup2(fd, other));
    T(fcntl(other, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));

    printf("-- shared and separate offsets\n");
    T(lseek(fd, 0, SEEK_SET));
    T(read(fd, buf, 3));
    T(lseek(d1, 0, SEEK_CUR));
    T(lseek(50, 0, SEEK_CUR));
    T(read(d1, buf, 2));
    print_bytes("read through the dup", buf, 2);
    T(lseek(fd, 0, SEEK_CUR));
    T(fcntl(d1, F_SETFL, O_APPEND));
    int sep = (int)must(open("f", O_RDONLY));
    T(lseek(sep, 0, SEEK_CUR));
    T(read(sep, buf, 4));
    T(lseek(fd, 0, SEEK_CUR));
    T(write(d1, "AB", 2));
    T(lseek(fd, 0, SEEK_CUR));
    T(lseek(sep, 0, SEEK_CUR));
    show_file("f");

    printf("-- close\n");
    T(close(sep));
    T(close(other));
    T(close(other));
    T(close(50));
    T(close(51));
    T(close(d1));
    T(read(fd, buf, 1));
    T(close(fd));
    T(close(fd));
    T(read(fd, buf, 1));
    T(close(-1));
    T(dup(0) >= 0);
}

/* ---------------------------------------------------------------------- */

static long count_zeros(const char *buf, long n)
{
    long z = 0;
    for (long i = 0; i < n; i++)
        z += buf[i] == 0;
    return z;
}

static void io_append(void)
{
    printf("-- O_APPEND\n");
    int fd1, fd2;
    TV(fd1, open("ap", O_WRONLY | O_CREAT | O_TRUNC, 0644));
    TV(fd2, open("ap", O_WRONLY | O_APPEND));
    T(write(fd1, "11111", 5));
    T(write(fd2, "22", 2));
    T(lseek(fd2, 0, SEEK_CUR));
    T(lseek(fd1, 0, SEEK_CUR));
    T(write(fd1, "333", 3));
    T(lseek(fd1, 0, SEEK_CUR));
    T(write(fd2, "4", 1));
    T(lseek(fd2, 0, SEEK_CUR));
    T(lseek(fd2, 0, SEEK_SET));
    T(write(fd2, "5", 1));
    T(lseek(fd2, 0, SEEK_CUR));
    T(lseek(fd1, 2, SEEK_SET));
    T(write(fd1, "6", 1));
    T(lseek(fd1, 0, SEEK_CUR));
    struct iovec iov[2] = {{"88", 2}, {"99", 2}};
    T(writev(fd2, iov, 2));
    T(lseek(fd2, 0, SEEK_CUR));
    T(write(fd1, "7", 1));
    T(lseek(fd1, 0, SEEK_CUR));
    show_file("ap");
    T(close(fd1));
    T(close(fd2));
    /* O_APPEND on a new file, read back through the same descriptor */
    char buf[32];
    TV(fd1, open("ap2", O_RDWR | O_CREAT | O_APPEND | O_TRUNC, 0644));
    T(write(fd1, "abc", 3));
    T(lseek(fd1, 1, SEEK_SET));
    T(read(fd1, buf, sizeof buf));
    T(write(fd1, "d", 1));
    T(lseek(fd1, 0, SEEK_CUR));
    T(close(fd1));
    show_file("ap2");
}

static void io_create_truncate(void)
{
    char buf[32];
    int fd, fd2;
    printf("-- O_TRUNC\n");
    put("tr", "0123456789ab");
    TF(open("tr", O_WRONLY | O_TRUNC));
    show("size after O_WRONLY|O_TRUNC", file_size("tr"));
    put("tr", "0123456789ab");
    TF(open("tr", O_WRONLY));
    show("size after O_WRONLY", file_size("tr"));
    TV(fd, open("tr", O_RDWR));
    T(lseek(fd, 10, SEEK_SET));
    TF(open("tr", O_WRONLY | O_TRUNC));
    T(read(fd, buf, sizeof buf));
    T(lseek(fd, 0, SEEK_CUR));
    T(write(fd, "X", 1));
    show("size after writing at 10 into the truncated file", file_size("tr"));
    T(lseek(fd, 0, SEEK_SET));
    T(read(fd, buf, sizeof buf));
    print_bytes("tr", buf, 11);
    T(close(fd));

    printf("-- O_EXCL, O_CREAT\n");
    TF(open("ex", O_WRONLY | O_CREAT | O_EXCL, 0600));
    TF(open("ex", O_WRONLY | O_CREAT | O_EXCL, 0600));
    TF(open("ex", O_WRONLY | O_EXCL));
    put("ex", "content");
    TF(open("ex", O_WRONLY | O_CREAT, 0777));
    show_stat("ex");
    TF(open("dangling", O_WRONLY | O_CREAT | O_EXCL, 0600));
    TV(fd, open("dangling", O_WRONLY | O_CREAT, 0600));
    T(write(fd, "via link", 8));
    T(close(fd));
    show_stat("dangling");
    show_stat("nothere");
    show_file("nothere");
    TF(open("ro", O_RDWR | O_CREAT | O_EXCL, 0444));
    TV(fd, open("ro2", O_RDWR | O_CREAT | O_EXCL, 0444));
    T(write(fd, "still writable", 14));
    T(close(fd));
    show_stat("ro2");
    TV(fd, creat("cr", 0640));
    T(write(fd, "creat", 5));
    T(read(fd, buf, 1));
    T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(close(fd));
    TV(fd, creat("cr", 0600));
    T(close(fd));
    show_stat("cr");

    printf("-- two descriptors of one file\n");
    TV(fd, open("two", O_RDWR | O_CREAT | O_TRUNC, 0644));
    TV(fd2, open("two", O_RDWR));
    T(write(fd, "first", 5));
    T(read(fd2, buf, sizeof buf));
    print_bytes("read through the other descriptor", buf, 5);
    T(write(fd2, "SECOND", 6));
    T(lseek(fd, 0, SEEK_CUR));
    T(read(fd, buf, sizeof buf));
    print_bytes("read back", buf, 6);
    T(close(fd));
    T(close(fd2));
}

/* Writes one byte at offset AT of FD, then reads the whole file back. */
static void big_hole(int fd, long at)
{
    static char data[(1 << 20) + 16];
    if (at + 1 > (long)sizeof data)
        return;
    printf("-- a hole up to %ld\n", at);
    T(lseek(fd, at, SEEK_SET));
    T(write(fd, "Y", 1));
    show("size after writing there", file_size("ls"));
    T(lseek(fd, 0, SEEK_SET));
    long n = 0, r;
    while ((r = read(fd, data + n, sizeof data - n)) > 0)
        n += r;
    show("bytes read to the end", n);
    show("zero bytes in 101..the end", count_zeros(data + 101, at - 101));
    print_bytes("last two bytes", data + n - 2, 2);
}

static void io_positions(void)
{
    char buf[128];
    int fd;
    printf("-- pread, pwrite\n");
    TV(fd, open("pp", O_RDWR | O_CREAT | O_TRUNC, 0644));
    T(write(fd, "0123456789", 10));
    T(lseek(fd, 0, SEEK_CUR));
    memset(buf, 0, sizeof buf);
    T(pread(fd, buf, 4, 2));
    print_bytes("pread 4 at 2", buf, 4);
    T(lseek(fd, 0, SEEK_CUR));
    T(pwrite(fd, "AB", 2, 0));
    T(lseek(fd, 0, SEEK_CUR));
    T(pread(fd, buf, 10, 8));
    T(pread(fd, buf, 10, 10));
    T(pread(fd, buf, 10, 1000));
    T(pwrite(fd, "Z", 1, 20));
    T(lseek(fd, 0, SEEK_CUR));
    show("size after pwrite at 20", file_size("pp"));
    T(read(fd, buf, sizeof buf));
    print_bytes("read from 10", buf, 11);
    T(lseek(fd, 0, SEEK_SET));
    T(read(fd, buf, sizeof buf));
    print_bytes("pp", buf, 21);
    T(close(fd));
    show_file("pp");

    printf("-- lseek, holes\n");
    TV(fd, open("ls", O_RDWR | O_CREAT | O_TRUNC, 0644));
    T(write(fd, "abcdefghij", 10));
    T(lseek(fd, 3, SEEK_SET));
    T(lseek(fd, 2, SEEK_CUR));
    T(lseek(fd, -1, SEEK_CUR));
    T(read(fd, buf, 2));
    print_bytes("read at 4", buf, 2);
    T(lseek(fd, 0, SEEK_END));
    T(lseek(fd, -2, SEEK_END));
    T(read(fd, buf, 10));
    T(read(fd, buf, 10));
    T(lseek(fd, 100, SEEK_SET));
    T(read(fd, buf, 10));
    show("size after seeking past the end", file_size("ls"));
    T(write(fd, "X", 1));
    T(lseek(fd, 0, SEEK_CUR));
    show("size after writing at 100", file_size("ls"));
    {
        char big[200];
        T(pread(fd, big, sizeof big, 0));
        show("zero bytes in 10..99", count_zeros(big + 10, 90));
        print_bytes("bytes 98..100", big + 98, 3);
    }
    T(lseek(fd, (off_t)1 << 40, SEEK_SET));
    big_hole(fd, 20000);
    T(close(fd));

    printf("-- readv, writev\n");
    TV(fd, open("vv", O_RDWR | O_CREAT | O_TRUNC, 0644));
    struct iovec w[4] = {{"ab", 2}, {"", 0}, {"cdef", 4}, {"g", 1}};
    T(writev(fd, w, 4));
    T(lseek(fd, 0, SEEK_CUR));
    T(writev(fd, w, 0));
    T(lseek(fd, 0, SEEK_SET));
    char b1[2], b2[3], b3[10];
    memset(b3, '.', sizeof b3);
    struct iovec r[4] = {{b1, 2}, {NULL, 0}, {b2, 3}, {b3, 10}};
    T(readv(fd, r, 4));
    print_bytes("readv b1", b1, 2);
    print_bytes("readv b2", b2, 3);
    print_bytes("readv b3", b3, 10);
    T(readv(fd, r, 4));
    T(lseek(fd, 0, SEEK_CUR));
    T(close(fd));

    printf("-- short reads, ftruncate\n");
    put("sh", "0123456789");
    TV(fd, open("sh", O_RDWR));
    T(read(fd, buf, 4));
    T(read(fd, buf, 100));
    T(read(fd, buf, 100));
    T(ftruncate(fd, 3));
    T(lseek(fd, 0, SEEK_CUR));
    T(read(fd, buf, 100));
    T(write(fd, "X", 1));
    T(close(fd));
    show_file("sh");
    T(truncate("sh", 20));
    show_file("sh");
    T(truncate("sh", 0));
    show_file("sh");
    TV(fd, open("sh", O_RDWR));
    T(ftruncate(fd, 5));
    T(lseek(fd, 0, SEEK_CUR));
    T(read(fd, buf, 100));
    print_bytes("extended by ftruncate", buf, 5);
    T(fsync(fd));
    T(fdatasync(fd));
    T(close(fd));
    T(fsync(fd));
}

static void io_names(void)
{
    char buf[64];
    int fd, fd2;
    struct stat st;
    printf("-- unlink of an open file\n");
    put("ul", "still here");
    TV(fd, open("ul", O_RDWR));
    T(unlink("ul"));
    T(access("ul", F_OK));
    T(fstat(fd, &st));
    show("fstat after unlink: nlink", (long)st.st_nlink);
    show("fstat after unlink: size", (long)st.st_size);
    T(read(fd, buf, sizeof buf));
    print_bytes("read after unlink", buf, 10);
    T(write(fd, "!", 1));
    T(pread(fd, buf, sizeof buf, 0));
    T(fstat(fd, &st));
    show("fstat after write: size", (long)st.st_size);
    T(ftruncate(fd, 2));
    T(fstat(fd, &st));
    show("fstat after ftruncate: size", (long)st.st_size);
    TV(fd2, open("ul", O_RDWR | O_CREAT | O_EXCL, 0644));
    T(fstat(fd2, &st));
    show("new file of the same name: size", (long)st.st_size);
    T(close(fd2));
    T(close(fd));
    show_stat("ul");

    printf("-- rename over an open file\n");
    put("r1", "one");
    put("r2", "two");
    TV(fd, open("r2", O_RDONLY));
    T(rename("r1", "r2"));
    T(read(fd, buf, sizeof buf));
    print_bytes("old r2 through its descriptor", buf, 3);
    T(fstat(fd, &st));
    show("fstat of the replaced file: nlink", (long)st.st_nlink);
    T(close(fd));
    show_file("r2");
    T(access("r1", F_OK));
    TV(fd, open("r2", O_RDWR));
    T(rename("r2", "r3"));
    T(write(fd, "ONE", 3));
    T(close(fd));
    show_file("r3");

    printf("-- a directory removed while open\n");
    T(mkdir("gone", 0755));
    TV(fd, open("gone", O_RDONLY | O_DIRECTORY));
    T(rmdir("gone"));
    TF(openat(fd, "x", O_WRONLY | O_CREAT, 0644));
    T(mkdirat(fd, "y", 0755));
    T(fchdir(fd));
    TF(open("x", O_WRONLY | O_CREAT, 0644));
    TF(open("..", O_RDONLY));
    T(chdir(base));
    T(close(fd));
}

static void section_io(void)
{
    in_fixture("append", io_append);
    in_fixture("create", io_create_truncate);
    in_fixture("positions", io_positions);
    in_fixture("names", io_names);
    pending(pend_rdonly_trunc);
    pending(pend_seek_data);
    pending(pend_big_file);
}

/* ---------------------------------------------------------------------- */

#define NPRE 40
#define MAXNAMES 2000

struct seen {
    char *names[MAXNAMES];
    unsigned char types[MAXNAMES];
    int n;
};

static void seen_add(struct seen *s, const char *name, unsigned char type)
{
    if (s->n < MAXNAMES) {
        s->types[s->n] = type;
        s->names[s->n++] = strdup(name);
    }
}

static void seen_free(struct seen *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->names[i]);
    s->n = 0;
}

static int seen_count(const struct seen *s, const char *name)
{
    int c = 0;
    for (int i = 0; i < s->n; i++)
        c += strcmp(s->names[i], name) == 0;
    return c;
}

static unsigned char seen_type(const struct seen *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->names[i], name) == 0)
            return s->types[i];
    return 255;
}

static const char *dtype(unsigned char t)
{
    switch (t) {
    case DT_REG: return "DT_REG";
    case DT_DIR: return "DT_DIR";
    case DT_LNK: return "DT_LNK";
    case DT_UNKNOWN: return "DT_UNKNOWN";
    case 255: return "not seen";
    default: return "other";
    }
}

/* Prints the names of S, sorted, on one line. */
static void seen_print(const char *what, const struct seen *s)
{
    char *sorted[MAXNAMES];
    memcpy(sorted, s->names, sizeof(char *) * (size_t)s->n);
    qsort(sorted, (size_t)s->n, sizeof(char *), cmp_str);
    nchecks++;
    printf("%s: %d names:", what, s->n);
    for (int i = 0; i < s->n; i++) {
        putchar(' ');
        for (const unsigned char *c = (const unsigned char *)sorted[i]; *c; c++) {
            if (*c > 0x20 && *c < 0x7f && *c != '\\')
                putchar(*c);
            else
                printf("\\x%02x", *c);
        }
    }
    printf("\n");
}

/* Reads up to MAX entries of DIR into S; returns how many. */
static int read_some(DIR *dir, struct seen *s, int max)
{
    int n = 0;
    struct dirent *de;
    while (n < max && (de = readdir(dir)) != NULL) {
        seen_add(s, de->d_name, de->d_type);
        n++;
    }
    return n;
}

/* Every name of PRE that was in the directory is in S exactly once. */
/* Reads the whole directory FD with getdents64 into a BUFSIZE-byte buffer;
 * prints the number of entries, whether every call returned whole records
 * and the number of failed calls. */
static void getdents_all(const char *what, int fd, size_t bufsize, struct seen *s)
{
    char buf[4096];
    long entries = 0, bad = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, fd, buf, bufsize);
        if (n <= 0) {
            if (n < 0)
                bad++;
            break;
        }
        long off = 0;
        while (off < n) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            if (reclen < 20 || off + reclen > n) {
                bad++;
                break;
            }
            if (s)
                seen_add(s, buf + off + 19, (unsigned char)buf[off + 18]);
            entries++;
            off += reclen;
        }
    }
    nchecks++;
    printf("%s: %ld entries, %ld bad calls or records\n", what, entries, bad);
}

/* Fills directory DIR (created here) with pre00..pre39, sd0/, sd1/ and
 * sl -> pre00. */
static void make_listing_dir(const char *dir)
{
    char name[64];
    T(mkdir(dir, 0755));
    for (int i = 0; i < NPRE; i++) {
        snprintf(name, sizeof name, "%s/pre%02d", dir, i);
        put(name, "x");
    }
    snprintf(name, sizeof name, "%s/sd0", dir);
    T(mkdir(name, 0755));
    snprintf(name, sizeof name, "%s/sd1", dir);
    T(mkdir(name, 0755));
    snprintf(name, sizeof name, "%s/sl", dir);
    T(symlink("pre00", name));
}

/* Prints the names of S other than pre00..pre39, and the d_type of three. */
static void print_listing(const char *what, const struct seen *s)
{
    struct seen rest = {0};
    int pre = 0;
    for (int i = 0; i < s->n; i++) {
        if (strncmp(s->names[i], "pre", 3) == 0)
            pre++;
        else
            seen_add(&rest, s->names[i], s->types[i]);
    }
    seen_print(what, &rest);
    seen_free(&rest);
    show("  and pre.. names", pre);
    printf("  d_type pre00 %s sd0 %s sl %s\n", dtype(seen_type(s, "pre00")),
           dtype(seen_type(s, "sd0")), dtype(seen_type(s, "sl")));
    nchecks++;
}

/* readdir while files are created in the directory and entries already
 * returned are removed: every name that existed before opendir and was
 * not removed is returned exactly once; a removed one was returned (before
 * its removal). Names created meanwhile may or may not be returned: they
 * are not printed. After rewinddir, everything there is is returned. */
static void pend_dirs_changing(void)
{
    char name[64];
    struct seen s = {0};
    printf("-- pending: readdir while files are created and removed\n");
    make_listing_dir("it");
    DIR *dir = opendir("it");
    T(dir ? 0 : -1);
    show("first entries read", read_some(dir, &s, 5));
    for (int i = 0; i < 30; i++) {
        snprintf(name, sizeof name, "it/new%02d", i);
        put(name, "y");
    }
    T(mkdir("it/newdir", 0755));
    show("next entries read", read_some(dir, &s, 10));
    int removed = 0;
    for (int i = 0; i < s.n; i++) {
        if (strncmp(s.names[i], "pre", 3) == 0) {
            snprintf(name, sizeof name, "it/%s", s.names[i]);
            removed += unlink(name) == 0;
        }
    }
    for (int i = 30; i < 60; i++) {
        snprintf(name, sizeof name, "it/new%02d", i);
        put(name, "z");
    }
    read_some(dir, &s, MAXNAMES);
    int bad = 0;
    nchecks++;
    printf("pre00..pre39 while the directory changes:");
    for (int i = 0; i < NPRE; i++) {
        snprintf(name, sizeof name, "pre%02d", i);
        int c = seen_count(&s, name);
        snprintf(name, sizeof name, "it/pre%02d", i);
        int exists = access(name, F_OK) == 0;
        if (exists ? c != 1 : c < 1) {
            printf(" %s%s seen %d times", name + 3, exists ? "" : " (removed)", c);
            bad++;
        }
    }
    printf(" %s\n", bad ? "FAILED" : "as they must be");
    show("'.' seen", seen_count(&s, "."));
    show("'..' seen", seen_count(&s, ".."));
    show("sd0 seen", seen_count(&s, "sd0"));
    show("sd1 seen", seen_count(&s, "sd1"));
    show("sl seen", seen_count(&s, "sl"));
    seen_free(&s);
    rewinddir(dir);
    read_some(dir, &s, MAXNAMES);
    {
        struct seen rest = {0};
        for (int i = 0; i < s.n; i++)
            if (strncmp(s.names[i], "pre", 3) != 0)
                seen_add(&rest, s.names[i], s.types[i]);
        seen_print("after rewinddir, but pre..", &rest);
        seen_free(&rest);
    }
    {
        int pre = 0;
        for (int i = 0; i < s.n; i++)
            pre += strncmp(s.names[i], "pre", 3) == 0;
        show("pre.. names after rewinddir + removed ones", pre + removed);
    }
    seen_free(&s);
    T(readdir(dir) == NULL ? 0 : -1);
    T(closedir(dir));
}

static void section_dirs(void)
{
    char name[64];
    struct seen s = {0};
    DIR *dir;
    int fd;

    printf("-- readdir, rewinddir\n");
    make_listing_dir("it");
    dir = opendir("it");
    T(dir ? 0 : -1);
    read_some(dir, &s, MAXNAMES);
    print_listing("readdir", &s);
    {
        int bad = 0;
        for (int i = 0; i < NPRE; i++) {
            snprintf(name, sizeof name, "pre%02d", i);
            bad += seen_count(&s, name) != 1;
        }
        show("pre00..pre39 not seen exactly once", bad);
    }
    seen_free(&s);
    T(readdir(dir) == NULL ? 0 : -1);
    rewinddir(dir);
    read_some(dir, &s, MAXNAMES);
    show("entries after rewinddir", s.n);
    seen_free(&s);
    T(closedir(dir));

    printf("-- telldir, seekdir\n");
    dir = opendir("it");
    T(dir ? 0 : -1);
    read_some(dir, &s, 7);
    long pos = telldir(dir);
    struct dirent *de = readdir(dir);
    char after[256];
    snprintf(after, sizeof after, "%s", de ? de->d_name : "(end)");
    read_some(dir, &s, 20);
    seekdir(dir, pos);
    de = readdir(dir);
    show("the entry after seekdir is the one after telldir", de && strcmp(de->d_name, after) == 0);
    seen_free(&s);
    read_some(dir, &s, MAXNAMES);
    show("entries after that one", s.n);
    seen_free(&s);
    T(closedir(dir));

    printf("-- getdents64\n");
    TV(fd, open("it", O_RDONLY | O_DIRECTORY));
    getdents_all("getdents64, 4096-byte buffer", fd, 4096, &s);
    print_listing("getdents64", &s);
    seen_free(&s);
    T(syscall(SYS_getdents64, fd, name, sizeof name));
    T(lseek(fd, 0, SEEK_SET));
    getdents_all("getdents64 again after lseek 0", fd, 4096, NULL);
    T(lseek(fd, 0, SEEK_SET));
    T(syscall(SYS_getdents64, fd, name, 1));
    T(syscall(SYS_getdents64, fd, name, 0));
    T(syscall(SYS_getdents64, fd, KERNEL_ADDR, 4096));
    T(syscall(SYS_getdents64, 999, name, sizeof name));
    int ffd = (int)must(open("it/pre00", O_RDONLY));
    T(syscall(SYS_getdents64, ffd, name, sizeof name));
    T(close(ffd));
    T(close(fd));
    T(opendir("it/pre00") ? 0 : -1);
    T(opendir("missing") ? 0 : -1);

    printf("-- an empty directory, a large directory\n");
    T(mkdir("empty", 0755));
    dir = opendir("empty");
    read_some(dir, &s, MAXNAMES);
    seen_print("empty", &s);
    seen_free(&s);
    closedir(dir);
    T(mkdir("big", 0755));
    for (int i = 0; i < 600; i++) {
        snprintf(name, sizeof name, "big/file-with-a-rather-long-name-number-%04d", i);
        put(name, "");
    }
    dir = opendir("big");
    read_some(dir, &s, MAXNAMES);
    closedir(dir);
    {
        char *sorted[MAXNAMES];
        memcpy(sorted, s.names, sizeof(char *) * (size_t)s.n);
        qsort(sorted, (size_t)s.n, sizeof(char *), cmp_str);
        int ok = s.n == 602;
        for (int i = 0; ok && i < 600; i++) {
            snprintf(name, sizeof name, "file-with-a-rather-long-name-number-%04d", i);
            ok = strcmp(sorted[i + 2], name) == 0;
        }
        show("big: entries", s.n);
        show("big: every name exactly once", ok);
    }
    seen_free(&s);
    TV(fd, open("big", O_RDONLY | O_DIRECTORY));
    getdents_all("big, getdents64, 4096-byte buffer", fd, 4096, NULL);
    T(close(fd));
    pending(pend_getdents_small);
    pending(pend_dirs_changing);
}

/* ---------------------------------------------------------------------- */

static void section_stat(void)
{
    struct stat st, st2;
    int fd;
    printf("-- modes under umask 022\n");
    TF(open("m666", O_WRONLY | O_CREAT, 0666));
    TF(open("m777", O_WRONLY | O_CREAT, 0777));
    TF(open("m4755", O_WRONLY | O_CREAT, 04755));
    TF(open("m000", O_WRONLY | O_CREAT, 0));
    T(mkdir("d777", 0777));
    T(mkdir("d1777", 01777));
    T(mkdir("d700", 0700));
    T(symlink("m666", "sl"));
    show_stat("m666");
    show_stat("m777");
    show_stat("m4755");
    show_stat("m000");
    show_stat("d777");
    show_stat("d1777");
    show_stat("d700");
    show_stat("sl");
    T(stat("sl", &st));
    printf("stat sl: %s mode %04o size %ld\n", ftype(st.st_mode), (unsigned)(st.st_mode & 07777),
           (long)st.st_size);
    nchecks++;
    T(umask(077));
    TF(open("u077", O_WRONLY | O_CREAT, 0666));
    T(mkdir("du077", 0777));
    T(umask(022));
    show_stat("u077");
    show_stat("du077");
    pending(pend_umask0);

    printf("-- chmod, fchmod, fchmodat\n");
    T(chmod("m666", 0600));
    show_stat("m666");
    T(chmod("m666", 07777));
    show_stat("m666");
    T(chmod("sl", 0640));
    show_stat("m666");
    show_stat("sl");
    TV(fd, open("m777", O_RDONLY));
    T(fchmod(fd, 0711));
    T(fstat(fd, &st));
    printf("fstat m777: %s mode %04o\n", ftype(st.st_mode), (unsigned)(st.st_mode & 07777));
    nchecks++;
    T(close(fd));
    T(fchmodat(AT_FDCWD, "d700", 0750, 0));
    show_stat("d700");
    T(chmod("missing", 0644));
    T(fchmod(999, 0644));

    printf("-- sizes\n");
    put("s0", "");
    put("s5", "12345");
    show_stat("s0");
    show_stat("s5");
    TV(fd, open("s5", O_WRONLY | O_APPEND));
    T(write(fd, "678", 3));
    T(fstat(fd, &st));
    show("fstat size after append", (long)st.st_size);
    show("fstat S_ISREG", S_ISREG(st.st_mode));
    show("st_blksize > 0", st.st_blksize > 0);
    show("st_uid == getuid()", st.st_uid == getuid());
    show("st_gid == getgid()", st.st_gid == getgid());
    T(close(fd));
    T(symlink("a-rather-long-target/of/a/link", "sl2"));
    show_stat("sl2");

    printf("-- st_nlink of files\n");
    put("n", "n");
    show_stat("n");
    T(link("n", "n2"));
    T(link("n2", "n3"));
    show_stat("n");
    T(stat("n", &st));
    T(stat("n3", &st2));
    show("hard links share st_ino", st.st_ino == st2.st_ino);
    show("hard links share st_dev", st.st_dev == st2.st_dev);
    T(stat("m666", &st2));
    show("different files differ in st_ino", st.st_ino != st2.st_ino);
    show("files of one directory share st_dev", st.st_dev == st2.st_dev);
    T(unlink("n"));
    show_stat("n2");
    T(rename("n2", "n3"));
    show_stat("n3");
    show_stat("n2");

    printf("-- st_nlink of directories\n");
    T(stat(".", &st));
    long top = (long)st.st_nlink;
    T(mkdir("nd", 0755));
    show_stat("nd");
    T(mkdir("nd/a", 0755));
    T(mkdir("nd/b", 0755));
    T(mkdir("nd/c", 0755));
    put("nd/file", "f");
    T(symlink(".", "nd/self"));
    show_stat("nd");
    show_stat("nd/a");
    T(rmdir("nd/b"));
    show_stat("nd");
    T(rename("nd/c", "c"));
    show_stat("nd");
    T(stat(".", &st));
    show("work directory nlink change", (long)st.st_nlink - top);
    T(rename("c", "nd/a/c"));
    show_stat("nd");
    show_stat("nd/a");
    T(stat(".", &st));
    show("work directory nlink change", (long)st.st_nlink - top);
    TV(fd, open("nd", O_RDONLY | O_DIRECTORY));
    T(fstat(fd, &st));
    T(stat("nd/.", &st2));
    show("fstat and stat of nd/. share st_ino", st.st_ino == st2.st_ino);
    T(stat("nd/a/..", &st2));
    show("stat of nd/a/.. is nd", st.st_ino == st2.st_ino);
    T(close(fd));

    printf("-- times set explicitly\n");
    struct timespec ts[2] = {{1000000000, 123456789}, {1234567890, 5000}};
    T(utimensat(AT_FDCWD, "s0", ts, 0));
    T(stat("s0", &st));
    printf("s0 atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec, (long)st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    nchecks++;
    struct timespec omit[2] = {{0, UTIME_OMIT}, {42, 0}};
    T(utimensat(AT_FDCWD, "s0", omit, 0));
    T(stat("s0", &st));
    printf("s0 atime %ld.%09ld mtime %ld.%09ld\n", (long)st.st_atim.tv_sec, (long)st.st_atim.tv_nsec,
           (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    nchecks++;
    TV(fd, open("s0", O_WRONLY));
    T(write(fd, "later", 5));
    T(fstat(fd, &st));
    show("mtime moved forward after a write", st.st_mtim.tv_sec > 42);
    T(close(fd));
    T(utimensat(AT_FDCWD, "missing", ts, 0));
    T(utimensat(AT_FDCWD, "sl", ts, AT_SYMLINK_NOFOLLOW));
    T(lstat("sl", &st));
    printf("sl mtime %ld.%09ld\n", (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    nchecks++;
    T(utimensat(AT_FDCWD, "d777", ts, 0));
    T(stat("d777", &st));
    printf("d777 mtime %ld.%09ld\n", (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    nchecks++;
}

/* ---------------------------------------------------------------------- */

static void section_special(void)
{
    char buf[32], path[64];
    struct stat st;
    int fd;

    printf("-- /proc/self/exe, /, /tmp, /etc\n");
    T(access("/proc/self/exe", F_OK));
    T(stat("/", &st));
    printf("/: %s\n", ftype(st.st_mode));
    T(stat("/tmp", &st));
    printf("/tmp: %s mode %04o\n", ftype(st.st_mode), (unsigned)(st.st_mode & 07777));
    T(stat("/etc", &st));
    printf("/etc: %s\n", ftype(st.st_mode));
    T(stat("/dev", &st));
    printf("/dev: %s\n", ftype(st.st_mode));
    nchecks += 4;
    T(mkdir("/tmp", 0755));
    TF(open("/tmp", O_WRONLY));
    TF(open("/uk-files-nonexistent", O_RDONLY));
    T(rmdir("/tmp/uk-files-nonexistent"));
    int here = (int)must(open(".", O_RDONLY | O_DIRECTORY));
    T(chdir("/tmp"));
    T(getcwd(buf, sizeof buf) ? 0 : -1);
    print_bytes("getcwd in /tmp", buf, (long)strlen(buf));
    T(chdir("/"));
    T(getcwd(buf, sizeof buf) ? 0 : -1);
    print_bytes("getcwd in /", buf, (long)strlen(buf));
    T(chdir(".."));
    T(getcwd(buf, sizeof buf) ? 0 : -1);
    print_bytes("getcwd after chdir .. in /", buf, (long)strlen(buf));
    T(fchdir(here));
    T(close(here));
    show_cwd("cwd after fchdir back");

    printf("-- /dev/null, /dev/zero, /dev/urandom\n");
    TV(fd, open("/dev/null", O_RDWR));
    T(fstat(fd, &st));
    show("/dev/null is a character device", S_ISCHR(st.st_mode));
    T(write(fd, "hello", 5));
    T(read(fd, buf, sizeof buf));
    T(lseek(fd, 0, SEEK_SET));
    T(lseek(fd, 100, SEEK_CUR));
    T(close(fd));
    TF(open("/dev/null", O_WRONLY | O_TRUNC));
    TF(open("/dev/null", O_WRONLY | O_CREAT, 0644));
    TV(fd, open("/dev/zero", O_RDONLY));
    memset(buf, 'x', sizeof buf);
    T(read(fd, buf, 16));
    show("zero bytes read from /dev/zero", count_zeros(buf, 16));
    T(close(fd));
    TV(fd, open("/dev/urandom", O_RDONLY));
    T(read(fd, buf, 16));
    T(close(fd));

    printf("-- a file in /tmp\n");
    snprintf(path, sizeof path, "/tmp/uk-files-%d-x", (int)getpid());
    char path2[64];
    snprintf(path2, sizeof path2, "/tmp/uk-files-%d-y", (int)getpid());
    TV(fd, open(path, O_RDWR | O_CREAT | O_EXCL, 0600));
    T(write(fd, "in tmp", 6));
    T(fstat(fd, &st));
    printf("fstat: %s size %ld mode %04o nlink %ld\n", ftype(st.st_mode), (long)st.st_size,
           (unsigned)(st.st_mode & 07777), (long)st.st_nlink);
    nchecks++;
    T(close(fd));
    T(rename(path, path2));
    T(access(path, F_OK));
    T(link(path2, path));
    T(stat(path, &st));
    show("nlink after link", (long)st.st_nlink);
    T(unlink(path));
    T(truncate(path2, 2));
    T(stat(path2, &st));
    show("size after truncate", (long)st.st_size);
    T(unlink(path2));
    T(access(path2, F_OK));
}

/* ---------------------------------------------------------------------- */

/* The size of the big files: larger than two of the monitor's 64 KiB
 * read-ahead chunks for the share; under uk-run, larger files in /tmp end
 * the program (see pend_file_sizes). */
#define BIG_FILE 140000
static long big_size(void)
{
    return BIG_FILE;
}

/* Fills DATA with N bytes of a pattern and writes it to NAME in 3000-byte
 * pieces; reads it back in 7000-byte pieces. */
static void write_big(const char *name, char *data, char *back, long size)
{
    int a;
    printf("-- a %ld-byte file written in 3000-byte pieces\n", size);
    for (long i = 0; i < size; i++)
        data[i] = (char)('a' + (i * 7 + i / 1000) % 26);
    TV(a, open(name, O_WRONLY | O_CREAT | O_TRUNC, 0644));
    long ok = 0;
    for (long off = 0; off < size; off += 3000) {
        long n = size - off < 3000 ? size - off : 3000;
        ok += write(a, data + off, (size_t)n) == (ssize_t)n;
    }
    show("writes that wrote everything", ok);
    T(close(a));
    show("size", file_size(name));
    TV(a, open(name, O_RDONLY));
    long n = 0, r;
    while ((r = read(a, back + n, n + 7000 <= size ? 7000 : (size_t)(size - n))) > 0)
        n += r;
    show("read back in 7000-byte pieces", n);
    show("same bytes", n == size && memcmp(data, back, (size_t)size) == 0);
    T(close(a));
}

/* pread of 20 bytes at each of OFFS, compared with DATA. */
static void pread_at(const char *name, const char *data, const long *offs, size_t count)
{
    char buf[32];
    int a = (int)must(open(name, O_RDONLY));
    for (size_t i = 0; i < count; i++) {
        memset(buf, 0, sizeof buf);
        long r = pread(a, buf, 20, offs[i]);
        nchecks++;
        printf("pread 20 at %ld = %ld, %s\n", offs[i], r,
               r < 0 ? ename(errno) : memcmp(buf, data + offs[i], (size_t)r) == 0 ? "same bytes" : "DIFFERENT");
    }
    close(a);
}

/* What stat shows after a listing, after changes through descriptors and
 * by name. */
static void section_coherence(void)
{
    static char data[BIG_FILE + 64], back[BIG_FILE + 64];
    struct stat st;
    int a;

    long size = big_size();
    write_big("big", data, back, size);
    const long offs[] = {0, 1000, 32768, 32769, 65536, 65537, 131072, size - 10, size - 1,
                         size, size + 100000};
    pread_at("big", data, offs, sizeof offs / sizeof offs[0]);

    printf("-- stat after a listing, after changes\n");
    put("s1", "12345");
    put("s2", "12345");
    put("s3", "12345");
    DIR *dir = opendir(".");
    T(dir ? 0 : -1);
    int n = 0;
    while (readdir(dir))
        n++;
    show("entries", n);
    T(closedir(dir));
    TV(a, open("s1", O_WRONLY | O_APPEND));
    T(write(a, "678", 3));
    show_stat("s1");
    T(ftruncate(a, 2));
    show_stat("s1");
    T(fchmod(a, 0600));
    show_stat("s1");
    T(close(a));
    dir = opendir(".");
    while (readdir(dir))
        ;
    closedir(dir);
    TV(a, open("s2", O_WRONLY));
    T(pwrite(a, "abcdefgh", 8, 0));
    T(fstat(a, &st));
    show("fstat size", (long)st.st_size);
    show_stat("s2");
    T(close(a));
    dir = opendir(".");
    while (readdir(dir))
        ;
    closedir(dir);
    T(link("s3", "s3b"));
    show_stat("s3");
    T(unlink("s3b"));
    show_stat("s3");
    T(symlink("s3", "s3l"));
    show_stat("s3l");
    struct timespec ts[2] = {{5, 0}, {6, 0}};
    T(utimensat(AT_FDCWD, "s3", ts, 0));
    T(stat("s3", &st));
    show("mtime set", (long)st.st_mtim.tv_sec);
    dir = opendir(".");
    while (readdir(dir))
        ;
    closedir(dir);
    TV(a, open("s3", O_RDWR | O_TRUNC));
    show_stat("s3");
    T(close(a));
    pending(pend_read_boundary);
    pending(pend_coherence);
    pending(pend_file_sizes);
}

/* Path resolution: nesting, "." and "..", double slashes, symlinks
 * (relative, absolute, chains), descriptors of renamed directories, long
 * names. */
static void section_paths(void)
{
    char buf[PATH_MAX * 2], abs[PATH_MAX + 64];
    struct stat st;

    printf("-- nesting, . and .., double slashes\n");
    T(mkdir("a", 0755));
    T(mkdir("a/b", 0755));
    T(mkdir("a/b/c", 0755));
    T(mkdir("a/b/c/d", 0755));
    T(mkdir("a/b/c/d/e", 0755));
    put("a/b/c/d/e/file", "deep");
    put("f", "top");
    show_file("a/b/c/d/e/file");
    show_file("a/./b/../b/c//d/e/./file");
    show_file("a//b///c/d/e/file");
    show_file("a/b/c/d/e/../../../../../f");
    T(stat("a/b/..", &st));
    show("a/b/.. is a directory", S_ISDIR(st.st_mode));
    T(chdir("a/b/c"));
    show_cwd("cwd");
    show_file("../../../f");
    show_file("./d/e/file");
    T(chdir("../../.."));
    show_cwd("cwd");

    printf("-- symlinks\n");
    T(symlink("../../f", "a/b/up"));
    show_file("a/b/up");
    T(symlink("c/d", "a/b/cd"));
    show_file("a/b/cd/e/file");
    T(symlink("b/cd/e", "a/bcde"));
    show_file("a/bcde/file");
    TF(open("a/b/cd/e/new", O_WRONLY | O_CREAT, 0644));
    T(access("a/b/c/d/e/new", F_OK));
    snprintf(abs, sizeof abs, "%s/f", base);
    TF(open(abs, O_RDONLY));
    T(stat(abs, &st));
    show("size by absolute path", (long)st.st_size);
    /* a chain of 40 links resolves, one of 41 does not */
    for (int i = 0; i < 31; i++) {
        char from[32], to[32];
        snprintf(from, sizeof from, "l%02d", i);
        if (i == 0)
            snprintf(to, sizeof to, "f");
        else
            snprintf(to, sizeof to, "l%02d", i - 1);
        must(symlink(to, from));
    }
    show_file("l30");
    T(symlink("loop", "loop"));
    TF(open("loop", O_RDONLY));
    T(stat("loop", &st));
    T(lstat("loop", &st));
    T(symlink("f/nope", "through-file"));
    TF(open("through-file", O_RDONLY));

    printf("-- names\n");
    char name[300];
    memset(name, 'n', 255);
    name[255] = 0;
    TF(open(name, O_WRONLY | O_CREAT, 0644));
    T(access(name, F_OK));
    T(unlink(name));
    put("with space", "1");
    put("-dash", "2");
    put("caf\xc3\xa9", "3");
    put("F", "upper");
    put("tab\there", "4");
    put("nl\nhere", "5");
    show_file("f");
    show_file("F");
    show_file("with space");
    show_file("caf\xc3\xa9");
    show_file("nl\nhere");
    {
        struct seen s = {0};
        DIR *dir = opendir(".");
        read_some(dir, &s, MAXNAMES);
        closedir(dir);
        struct seen rest = {0};
        for (int i = 0; i < s.n; i++)
            if (s.names[i][0] != 'l' || strlen(s.names[i]) != 3 || s.names[i][1] > '3')
                seen_add(&rest, s.names[i], s.types[i]);
        seen_print("names, but l00..l30", &rest);
        seen_free(&rest);
        seen_free(&s);
    }
    /* a path just under PATH_MAX */
    size_t len = 0;
    while (len < PATH_MAX - 10) {
        memcpy(buf + len, "./", 2);
        len += 2;
    }
    memcpy(buf + len, "f", 2);
    TF(open(buf, O_RDONLY));

    printf("-- across directories\n");
    T(mkdir("x", 0755));
    T(mkdir("y", 0755));
    put("x/m", "moving");
    T(rename("x/m", "y/m"));
    show_file("y/m");
    T(rename("x", "y/x"));
    show_stat("y/x");
    show_stat("y");
    T(rmdir("y/x"));
    pending(pend_abs_symlink);
    pending(pend_link_chain40);
    in_fixture("moved-dir", rename_moved_dir);
    pending(pend_link_other_dir);
}

/* ---------------------------------------------------------------------- */

/* Checks on which uk-run still differs from Linux. Each group runs in a
 * fixture of its own (so that a difference cannot spill into another
 * group) and says where uk-run differs: in the shared current directory
 * (DIFF_CWD), in the guest's in-memory /tmp (DIFF_TMP) or both. The
 * sections run a group only where it does not differ; the section
 * "pending" runs them all, in either place. */

/* A trailing slash on a name that is not a directory: ENOTDIR. */
static void pend_trailing_slash(void)
{
    char buf[64];
    struct stat st;
    printf("-- pending: a trailing slash on a file\n");
    TF(open("f/", O_RDONLY));
    TF(open("lnk/", O_RDONLY));
    T(stat("f/", &st));
    T(lstat("lnk/", &st));
    T(access("f/", F_OK));
    T(readlink("lnk/", buf, sizeof buf));
    T(rename("f", "e/"));
    T(rename("f/", "x"));
    T(unlink("f/"));
    T(unlink("lnk/"));
    show_stat("f");
    show_stat("lnk");
}

/* open of a directory with O_TRUNC or of "name/" with O_CREAT: EISDIR;
 * a name component longer than 255 bytes: ENAMETOOLONG. */
static void pend_open(void)
{
    char longname[300];
    memset(longname, 'a', 256);
    longname[256] = 0;
    printf("-- pending: open\n");
    TF(open("d", O_RDONLY | O_TRUNC));
    TF(open("newfile/", O_WRONLY | O_CREAT, 0644));
    T(access("newfile", F_OK));
    TF(open(longname, O_RDONLY));
    TF(open(longname, O_WRONLY | O_CREAT, 0644));
    T(access(longname, F_OK));
    T(mkdir(longname, 0755));
}

/* read of 0 bytes from a directory: EISDIR. */
static void pend_read_dir(void)
{
    char buf[8];
    printf("-- pending: read 0 bytes from a directory\n");
    int dirfd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    T(read(dirfd, buf, 0));
    T(close(dirfd));
}

/* rmdir of "." or "x/.": EINVAL (and nothing removed); rename of or onto
 * ".": EBUSY. */
static void pend_dot(void)
{
    printf("-- pending: . and ..\n");
    T(rename("e", "."));
    T(rename("e", ".."));
    T(rename(".", "x"));
    T(access("x", F_OK));
    show_cwd("cwd");
    T(rmdir("."));
    T(rmdir(".."));
    T(rmdir("e/."));
    T(access("e", F_OK));
}

/* A directory renamed into itself: EINVAL. */
static void pend_rename_into_itself(void)
{
    printf("-- pending: a directory renamed into itself\n");
    T(rename("d", "d/sub/z"));
    T(rename("d", "d/sub"));
    T(access("d/sub", F_OK));
}

/* renameat2: RENAME_NOREPLACE, RENAME_EXCHANGE, bad flags. */
static void pend_renameat2(void)
{
    printf("-- pending: renameat2\n");
    put("x1", "one");
    put("x2", "two");
    T(syscall(SYS_renameat2, AT_FDCWD, "x1", AT_FDCWD, "x2", RENAME_NOREPLACE));
    show_file("x2");
    T(syscall(SYS_renameat2, AT_FDCWD, "x1", AT_FDCWD, "x3", RENAME_NOREPLACE));
    T(syscall(SYS_renameat2, AT_FDCWD, "x3", AT_FDCWD, "x1", RENAME_NOREPLACE | RENAME_EXCHANGE));
    T(syscall(SYS_renameat2, AT_FDCWD, "x3", AT_FDCWD, "x1", 0x100));
    T(syscall(SYS_renameat2, AT_FDCWD, "x3", AT_FDCWD, "x1", 0));
    show_file("x1");
    T(syscall(SYS_renameat2, AT_FDCWD, "x1", AT_FDCWD, "x2", RENAME_EXCHANGE));
    show_file("x1");
    show_file("x2");
    T(syscall(SYS_renameat2, AT_FDCWD, "x1", AT_FDCWD, "x9", RENAME_EXCHANGE));
    /* A directory exchanged with one inside it, or with itself. */
    T(mkdir("xa", 0755));
    T(mkdir("xa/b", 0755));
    T(syscall(SYS_renameat2, AT_FDCWD, "xa", AT_FDCWD, "xa/b", RENAME_EXCHANGE));
    T(syscall(SYS_renameat2, AT_FDCWD, "xa/b", AT_FDCWD, "xa", RENAME_EXCHANGE));
    T(syscall(SYS_renameat2, AT_FDCWD, "xa", AT_FDCWD, "xa", RENAME_EXCHANGE));
    show_stat("xa/b");
}

/* Flags a call does not know: EINVAL. */
static void pend_bad_flags(void)
{
    struct stat st;
    printf("-- pending: unknown flags\n");
    T(unlinkat(AT_FDCWD, "e", 0x1));
    T(linkat(AT_FDCWD, "f", AT_FDCWD, "ll", 0x1));
    T(fstatat(AT_FDCWD, "f", &st, 0x12345));
    T(access("f", 0x10));
    T(faccessat(AT_FDCWD, "f", F_OK, 0x1));
}

/* linkat with AT_SYMLINK_FOLLOW links to the file a symlink names. */
static void pend_linkat_follow(void)
{
    printf("-- pending: linkat AT_SYMLINK_FOLLOW\n");
    T(linkat(AT_FDCWD, "lnk", AT_FDCWD, "ll", AT_SYMLINK_FOLLOW));
    show_stat("ll");
    show_stat("f");
}

/* getcwd after chdir through a symlink shows the directory's real path. */
static void pend_getcwd_symlink(void)
{
    printf("-- pending: getcwd after chdir through a symlink\n");
    T(chdir("dlnk"));
    show_cwd("cwd after chdir dlnk");
    T(chdir("sub"));
    show_cwd("cwd after chdir sub");
    T(chdir(".."));
    show_cwd("cwd after chdir ..");
    T(access("file", F_OK));
}

/* ftruncate needs a descriptor open for writing (EINVAL), of a regular
 * file (EINVAL for a directory). */
static void pend_ftruncate(void)
{
    printf("-- pending: ftruncate of a read-only descriptor, of a directory\n");
    int rdfd = (int)must(open("f", O_RDONLY));
    int dirfd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    T(ftruncate(rdfd, 0));
    T(ftruncate(dirfd, 0));
    show("size of f", file_size("f"));
    T(close(rdfd));
    T(close(dirfd));
}

/* F_GETFL shows O_LARGEFILE, which the kernel sets on every open. */
static void pend_getfl_largefile(void)
{
    printf("-- pending: F_GETFL and O_LARGEFILE\n");
    int fd = (int)must(open("f", O_RDWR | O_APPEND));
    T(fcntl(fd, F_GETFL));
    T(close(fd));
    fd = (int)must(open("f", O_RDONLY));
    T(fcntl(fd, F_GETFL));
    T(close(fd));
    fd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    T(fcntl(fd, F_GETFL));
    T(close(fd));
}

/* File status flags belong to the open file description: F_SETFL through
 * one descriptor shows in its duplicates. */
static void pend_setfl_shared(void)
{
    printf("-- pending: F_SETFL and duplicated descriptors\n");
    int fd = (int)must(open("f", O_RDWR));
    int d1 = (int)must(dup(fd));
    T(fcntl(d1, F_SETFL, O_APPEND));
    T(fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(write(fd, "!", 1));
    show_file("f");
    T(fcntl(fd, F_SETFL, 0));
    T(fcntl(d1, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
    T(close(d1));
    T(close(fd));
}

/* O_APPEND set and cleared with F_SETFL; pwrite on an O_APPEND descriptor
 * appends (Linux ignores the offset). */
static void pend_append_fcntl(void)
{
    printf("-- pending: O_APPEND with F_SETFL, pwrite with O_APPEND\n");
    int fd1, fd2;
    TV(fd1, open("ap", O_WRONLY | O_CREAT | O_TRUNC, 0644));
    TV(fd2, open("ap", O_WRONLY | O_APPEND));
    T(write(fd1, "11111", 5));
    T(write(fd2, "22", 2));
    T(pwrite(fd2, "P", 1, 0));
    T(lseek(fd2, 0, SEEK_CUR));
    show_file("ap");
    T(lseek(fd1, 0, SEEK_CUR));
    T(fcntl(fd1, F_SETFL, O_APPEND));
    T(write(fd1, "6", 1));
    T(lseek(fd1, 0, SEEK_CUR));
    show_file("ap");
    T(fcntl(fd2, F_SETFL, 0));
    T(lseek(fd2, 2, SEEK_SET));
    T(write(fd2, "7", 1));
    T(lseek(fd2, 0, SEEK_CUR));
    show_file("ap");
    T(close(fd1));
    T(close(fd2));
}

/* preadv and pwritev. */
static void pend_preadv(void)
{
    char buf[32];
    printf("-- pending: preadv, pwritev\n");
    put("pp", "0123456789");
    int fd = (int)must(open("pp", O_RDWR));
    struct iovec iov[3] = {{buf, 2}, {buf + 10, 0}, {buf + 20, 3}};
    memset(buf, '.', sizeof buf);
    T(preadv(fd, iov, 3, 4));
    print_bytes("preadv buffer", buf, 23);
    T(lseek(fd, 0, SEEK_CUR));
    struct iovec wiov[2] = {{"pw", 2}, {"v!", 2}};
    T(pwritev(fd, wiov, 2, 2));
    T(lseek(fd, 0, SEEK_CUR));
    T(close(fd));
    show_file("pp");
}

/* A removed directory: st_nlink 0, an empty listing (ENOENT), and "." in
 * it can still be opened. */
static void pend_removed_dir(void)
{
    char buf[64];
    struct stat st;
    int fd;
    printf("-- pending: a directory removed while open\n");
    T(mkdir("gone", 0755));
    TV(fd, open("gone", O_RDONLY | O_DIRECTORY));
    T(rmdir("gone"));
    T(fstat(fd, &st));
    show("fstat of the removed directory: nlink", (long)st.st_nlink);
    T(syscall(SYS_getdents64, fd, buf, sizeof buf));
    T(fchdir(fd));
    TF(open(".", O_RDONLY));
    T(chdir(base));
    T(close(fd));
}

/* Modes of new files and directories under umask 0. */
static void pend_umask0(void)
{
    printf("-- pending: umask 0\n");
    T(umask(0));
    TF(open("u000", O_WRONLY | O_CREAT, 0666));
    T(mkdir("du000", 0777));
    T(umask(022));
    show_stat("u000");
    show_stat("du000");
}

/* getdents64 with buffers that hold one or a few entries. */
static void pend_getdents_small(void)
{
    printf("-- pending: getdents64 with small buffers\n");
    int fd = (int)must(open("d", O_RDONLY | O_DIRECTORY));
    getdents_all("getdents64, 64-byte buffer", fd, 64, NULL);
    T(lseek(fd, 0, SEEK_SET));
    getdents_all("getdents64, 24-byte buffer", fd, 24, NULL);
    T(close(fd));
    T(mkdir("big", 0755));
    for (int i = 0; i < 100; i++) {
        char name[64];
        snprintf(name, sizeof name, "big/file-with-a-rather-long-name-number-%04d", i);
        put(name, "");
    }
    fd = (int)must(open("big", O_RDONLY | O_DIRECTORY));
    getdents_all("big, getdents64, 100-byte buffer", fd, 100, NULL);
    T(lseek(fd, 0, SEEK_SET));
    getdents_all("big, getdents64, 1000-byte buffer", fd, 1000, NULL);
    T(close(fd));
}

/* O_RDONLY|O_TRUNC truncates (Linux does, given write permission). */
static void pend_rdonly_trunc(void)
{
    printf("-- pending: O_RDONLY|O_TRUNC\n");
    TF(open("f", O_RDONLY | O_TRUNC));
    show("size after O_RDONLY|O_TRUNC", file_size("f"));
}

/* SEEK_DATA and SEEK_HOLE. */
static void pend_seek_data(void)
{
    printf("-- pending: SEEK_DATA, SEEK_HOLE\n");
    int fd = (int)must(open("f", O_RDWR));
    T(lseek(fd, 0, SEEK_DATA));
    T(lseek(fd, 0, SEEK_HOLE));
    T(lseek(fd, 5, SEEK_DATA));
    T(lseek(fd, 200, SEEK_DATA));
    T(lseek(fd, 200, SEEK_HOLE));
    T(close(fd));
}

/* A file of 1 MiB (a hole and one byte). */
static void pend_big_file(void)
{
    printf("-- pending: a 1 MiB file\n");
    fflush(stdout);
    put("ls", "0123456789");
    int fd = (int)must(open("ls", O_RDWR));
    big_hole(fd, 1 << 20);
    T(close(fd));
}

/* read and pread across the monitor's 64 KiB read-ahead chunks: a regular
 * file gives everything asked for up to its end. */
static void pend_read_boundary(void)
{
    static char data[BIG_FILE + 64], back[BIG_FILE + 64];
    printf("-- pending: read and pread across 64 KiB boundaries\n");
    long size = big_size();
    write_big("big", data, back, size);
    char buf[32];
    int a = (int)must(open("big", O_RDONLY));
    T(read(a, buf, 10));
    static const long offs[] = {65535, 65530, 131071, 131060, 1000};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        memset(buf, 0, sizeof buf);
        long r = pread(a, buf, 20, offs[i]);
        nchecks++;
        printf("pread 20 at %ld = %ld, %s\n", offs[i], r,
               r < 0 ? ename(errno) : memcmp(buf, data + offs[i], (size_t)r) == 0 ? "same bytes" : "DIFFERENT");
    }
    T(lseek(a, 65530, SEEK_SET));
    T(read(a, back, 100));
    T(close(a));
}

/* Reads through one descriptor see writes and truncation through another
 * and by name. */
static void pend_coherence(void)
{
    static char data[BIG_FILE + 64], back[BIG_FILE + 64];
    char buf[64];
    struct stat st;
    int a, b;
    printf("-- pending: reads through one descriptor see writes through another\n");
    long size = big_size();
    write_big("big", data, back, size);
    TV(a, open("big", O_RDONLY));
    T(read(a, buf, 10));
    TV(b, open("big", O_WRONLY));
    T(pwrite(b, "XYZ", 3, 100));
    T(pwrite(b, "QRS", 3, size / 2));
    T(lseek(a, 98, SEEK_SET));
    T(read(a, buf, 7));
    print_bytes("bytes 98..104", buf, 7);
    T(pread(a, buf, 5, size / 2 - 1));
    print_bytes("bytes size/2-1..size/2+3", buf, 5);
    T(lseek(a, 5000, SEEK_SET));
    T(read(a, buf, 10));
    T(ftruncate(b, 1000));
    T(read(a, buf, 10));
    T(lseek(a, 0, SEEK_CUR));
    T(pread(a, buf, 10, 995));
    T(write(b, "tail", 4));
    T(lseek(b, 0, SEEK_CUR));
    T(fstat(a, &st));
    show("size seen through the other descriptor", (long)st.st_size);
    T(close(b));
    put("big", "replaced by name");
    T(pread(a, buf, 30, 0));
    print_bytes("after replacing the content by name", buf, 16);
    T(close(a));
}

/* Files of 100000, 140000 and 200000 bytes. */
static void pend_file_sizes(void)
{
    static char data[200064], back[200064];
    printf("-- pending: files of 100000, 140000 and 200000 bytes\n");
    fflush(stdout);
    write_big("big1", data, back, 100000);
    fflush(stdout);
    write_big("big2", data, back, 140000);
    fflush(stdout);
    write_big("big3", data, back, 200000);
}

/* An absolute symlink to a file of the same share. */
static void pend_abs_symlink(void)
{
    char abs[PATH_MAX + 64], buf[PATH_MAX], here[PATH_MAX];
    printf("-- pending: an absolute symlink\n");
    must(getcwd(here, sizeof here) ? 0 : -1);
    snprintf(abs, sizeof abs, "%s/f", here);
    T(symlink(abs, "absl"));
    show_file("absl");
    T(readlink("absl", buf, sizeof buf) == (ssize_t)strlen(abs) ? 0 : -1);
    snprintf(abs, sizeof abs, "%s/d", here);
    T(symlink(abs, "absd"));
    T(chdir("absd"));
    show_cwd("cwd after chdir absd");
}

/* A chain of 40 symlinks resolves, one of 41 does not (ELOOP). */
static void pend_link_chain40(void)
{
    struct stat st;
    printf("-- pending: chains of 40 and 41 symlinks\n");
    for (int i = 0; i < 41; i++) {
        char from[32], to[32];
        snprintf(from, sizeof from, "l%02d", i);
        if (i == 0)
            snprintf(to, sizeof to, "f");
        else
            snprintf(to, sizeof to, "l%02d", i - 1);
        must(symlink(to, from));
    }
    show_file("l39");
    show_file("l40");
    T(stat("l39", &st));
    T(stat("l40", &st));
    T(lstat("l40", &st));
}

/* Descriptors of a directory follow it when it is renamed; so does the
 * current directory. */
static void pend_renamed_dir_fd(void)
{
    char buf[64];
    struct stat st;
    int dfd, fd;
    printf("-- pending: descriptors of renamed directories\n");
    TV(dfd, open("d", O_RDONLY | O_DIRECTORY));
    T(rename("d", "d2"));
    TV(fd, openat(dfd, "file", O_RDONLY));
    T(read(fd, buf, sizeof buf));
    T(close(fd));
    T(fstatat(dfd, "sub", &st, 0));
    T(mkdirat(dfd, "made", 0755));
    T(access("d2/made", F_OK));
    T(unlinkat(dfd, "made", AT_REMOVEDIR));
    T(fchdir(dfd));
    show_cwd("cwd after fchdir");
    T(chdir(base));
    T(chdir("p-renamed-dir-fd/d2/sub"));
    T(rename("../../d2", "../../d3"));
    show_cwd("cwd after its parent was renamed");
    TF(open("..", O_RDONLY));
    show_file("../file");
    T(chdir(base));
    T(close(dfd));
}

/* Names moved out of a directory that was itself moved are gone from it. */
static void rename_moved_dir(void)
{
    printf("-- renames out of a moved directory\n");
    T(mkdir("x", 0755));
    T(mkdir("y", 0755));
    put("x/m", "m");
    T(rename("x", "y/x"));
    show_stat("y/x/m");
    T(renameat(AT_FDCWD, "y/x/m", AT_FDCWD, "m"));
    show_stat("m");
    show_stat("y/x/m");
    DIR *dir = opendir("y/x");
    struct seen s = {0};
    read_some(dir, &s, MAXNAMES);
    closedir(dir);
    seen_print("y/x", &s);
    seen_free(&s);
    T(rmdir("y/x"));
    T(rmdir("y"));
}

/* A hard link in another directory than the file's first name: unlink
 * and rename remove it from that directory. */
static void pend_link_other_dir(void)
{
    struct seen s = {0};
    DIR *dir;
    printf("-- pending: a hard link in another directory\n");
    T(link("f", "d/hl"));
    show_stat("f");
    T(unlink("d/hl"));
    show_stat("d/hl");
    show_stat("f");
    T(link("f", "e/hl"));
    T(rename("e/hl", "hl"));
    show_stat("e/hl");
    show_stat("hl");
    dir = opendir("e");
    read_some(dir, &s, MAXNAMES);
    closedir(dir);
    seen_print("e", &s);
    seen_free(&s);
    T(rmdir("e"));
}

/* A path longer than PATH_MAX: ENAMETOOLONG. */
static void pend_path_max(void)
{
    static char buf[PATH_MAX + 64];
    struct stat st;
    printf("-- pending: a path longer than PATH_MAX\n");
    size_t len = 0;
    while (len < PATH_MAX + 10) {
        memcpy(buf + len, "./", 2);
        len += 2;
    }
    memcpy(buf + len, "f", 2);
    TF(open(buf, O_RDONLY));
    T(stat(buf, &st));
    T(mkdir(buf, 0755));
    T(access(buf, F_OK));
}

struct pending_group {
    const char *name;
    int differs;                /* DIFF_CWD | DIFF_TMP */
    void (*fn)(void);
};

static const struct pending_group pending_groups[] = {
    {"p-trailing-slash", 0, pend_trailing_slash},
    {"p-open", 0, pend_open},
    {"p-read-dir", 0, pend_read_dir},
    {"p-dot", 0, pend_dot},
    {"p-rename-into-itself", 0, pend_rename_into_itself},
    {"p-renameat2", 0, pend_renameat2},
    {"p-bad-flags", 0, pend_bad_flags},
    {"p-linkat-follow", 0, pend_linkat_follow},
    {"p-getcwd-symlink", 0, pend_getcwd_symlink},
    {"p-ftruncate", 0, pend_ftruncate},
    {"p-getfl-largefile", 0, pend_getfl_largefile},
    {"p-setfl-shared", 0, pend_setfl_shared},
    {"p-append-fcntl", 0, pend_append_fcntl},
    {"p-preadv", 0, pend_preadv},
    {"p-removed-dir", 0, pend_removed_dir},
    {"p-umask0", 0, pend_umask0},
    {"p-getdents-small", 0, pend_getdents_small},
    {"p-dirs-changing", 0, pend_dirs_changing},
    {"p-rdonly-trunc", 0, pend_rdonly_trunc},
    {"p-seek-data", 0, pend_seek_data},
    {"p-read-boundary", 0, pend_read_boundary},
    {"p-coherence", 0, pend_coherence},
    {"p-abs-symlink", 0, pend_abs_symlink},
    {"p-link-chain40", 0, pend_link_chain40},
    {"p-link-other-dir", 0, pend_link_other_dir},
    {"p-renamed-dir-fd", 0, pend_renamed_dir_fd},
    {"p-path-max", 0, pend_path_max},
    {"p-file-sizes", 0, pend_file_sizes},
    {"p-big-file", 0, pend_big_file},
};

/* Runs the pending group FN in a fixture of its own, unless uk-run is known
 * to differ on it in this place. */
static void pending(void (*fn)(void))
{
    for (size_t i = 0; i < sizeof pending_groups / sizeof pending_groups[0]; i++) {
        const struct pending_group *g = &pending_groups[i];
        if (g->fn == fn && !(g->differs & place))
            in_fixture(g->name, fn);
    }
}

static void section_pending(void)
{
    for (size_t i = 0; i < sizeof pending_groups / sizeof pending_groups[0]; i++)
        in_fixture(pending_groups[i].name, pending_groups[i].fn);
}

/* ---------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "cwd") != 0 && strcmp(argv[2], "tmp") != 0 && strcmp(argv[2], "shm") != 0)) {
        fprintf(stderr, "usage: files SECTION cwd|tmp|shm\n");
        return 2;
    }
    /* Descriptors the native run may have inherited (from whoever started
     * the test) would change the numbers new descriptors get. */
    for (int fd = 3; fd < 1024; fd++)
        close(fd);
    umask(022);
    char work[64];
    place = strcmp(argv[2], "cwd") == 0 ? DIFF_CWD : DIFF_TMP;
    if (place == DIFF_CWD)
        snprintf(work, sizeof work, "w");
    else if (strcmp(argv[2], "tmp") == 0)
        snprintf(work, sizeof work, "/tmp/uk-files-%d", (int)getpid());
    else
        snprintf(work, sizeof work, "/dev/shm/uk-files-%d", (int)getpid());
    int top = (int)must(open(".", O_RDONLY | O_DIRECTORY));
    must(mkdir(work, 0755));
    must(chdir(work));
    must(getcwd(base, sizeof base) ? 0 : -1);
    printf("files %s in %s\n", argv[1], argv[2]);

    const char *s = argv[1];
    if (strcmp(s, "errors") == 0)
        section_errors();
    else if (strcmp(s, "fds") == 0)
        section_fds();
    else if (strcmp(s, "io") == 0)
        section_io();
    else if (strcmp(s, "dirs") == 0)
        section_dirs();
    else if (strcmp(s, "stat") == 0)
        section_stat();
    else if (strcmp(s, "special") == 0)
        section_special();
    else if (strcmp(s, "coherence") == 0)
        section_coherence();
    else if (strcmp(s, "paths") == 0)
        section_paths();
    else if (strcmp(s, "pending") == 0)
        section_pending();
    else {
        fprintf(stderr, "files: unknown section %s\n", s);
        return 2;
    }

    must(fchdir(top));
    printf("cleanup: %d\n", rm_rf(work) == 0 && access(work, F_OK) < 0 && errno == ENOENT);
    printf("%d checks\n", nchecks);
    return 0;
}
