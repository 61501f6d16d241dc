/*
 * tmpfiles.c - files open but unlinked, every timestamp call, and POSIX
 * shared memory, in one place:
 *
 *   tmpfiles cwd|tmp|shm
 *
 * cwd: a fresh directory in the current directory (a share under uk-run);
 * tmp: /tmp/uk-tmpfiles-PID (the guest's in-memory /tmp); shm:
 * /dev/shm/uk-tmpfiles-PID. Each check prints one line; nothing printed
 * depends on the run (times are printed only when set here, or compared).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static char work[256];

static const char *ename(int e) {
    switch (e) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EBADF: return "EBADF";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    case EISDIR: return "EISDIR";
    case ENOTDIR: return "ENOTDIR";
    case ENOSPC: return "ENOSPC";
    case EROFS: return "EROFS";
    default: return "other";
    }
}

static void report(const char *what, long r) {
    if (r < 0)
        printf("%s = %ld (%s)\n", what, r, ename(errno));
    else
        printf("%s = %ld\n", what, r);
}

static void show_stat(const char *what, int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) {
        report(what, -1);
        return;
    }
    printf("%s: size %lld nlink %ld mode %o\n", what, (long long)st.st_size, (long)st.st_nlink, st.st_mode & 07777);
}

static void show_times(const char *what, const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) {
        report(what, -1);
        return;
    }
    printf("%s: atime %lld.%09ld mtime %lld.%09ld\n", what, (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static void unlinked(void) {
    printf("-- open but unlinked\n");
    int fd = open("gone", O_RDWR | O_CREAT | O_EXCL, 0600);
    report("open gone", fd < 0 ? -1 : 0);
    report("write 10", write(fd, "0123456789", 10));
    report("unlink gone", unlink("gone"));
    show_stat("fstat after unlink", fd);
    report("write 5 more", write(fd, "abcde", 5));
    show_stat("fstat after write", fd);
    report("ftruncate 3", ftruncate(fd, 3));
    show_stat("fstat after ftruncate", fd);
    char buf[16] = {0};
    report("pread", pread(fd, buf, sizeof buf, 0));
    printf("read back: %s\n", buf);
    report("access gone", access("gone", F_OK));
    report("close", close(fd));

    /* tmpfile(): in /tmp (P_tmpdir) under both. */
    FILE *f = tmpfile();
    printf("tmpfile %s\n", f ? "ok" : "failed");
    if (f) {
        fputs("hello, tmpfile\n", f);
        fflush(f);
        show_stat("tmpfile fstat", fileno(f));
        rewind(f);
        char line[64] = {0};
        printf("tmpfile reads: %s", fgets(line, sizeof line, f) ? line : "(nothing)\n");
        fclose(f);
    }

    /* O_TMPFILE where the file system has it (the answer is compared too). */
    fd = open(".", O_TMPFILE | O_RDWR, 0600);
    report("open O_TMPFILE", fd < 0 ? -1 : 0);
    if (fd >= 0) {
        report("write", write(fd, "xyz", 3));
        show_stat("O_TMPFILE fstat", fd);
        close(fd);
    }
}

static void times_calls(void) {
    printf("-- timestamps\n");
    int fd = open("t", O_RDWR | O_CREAT | O_TRUNC, 0644);
    report("open t", fd < 0 ? -1 : 0);
    struct timespec ts[2] = {{1000000000, 123456789}, {1100000000, 987654321}};
    report("futimens explicit", futimens(fd, ts));
    show_times("after futimens", "t");
    struct timespec omit_a[2] = {{0, UTIME_OMIT}, {1200000000, 5}};
    report("futimens omit atime", futimens(fd, omit_a));
    show_times("after omit atime", "t");
    struct timespec omit_m[2] = {{1300000000, 7}, {0, UTIME_OMIT}};
    report("utimensat omit mtime", utimensat(AT_FDCWD, "t", omit_m, 0));
    show_times("after omit mtime", "t");
    struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    struct stat before, after;
    fstat(fd, &before);
    report("utimensat both omit", utimensat(AT_FDCWD, "t", both_omit, 0));
    fstat(fd, &after);
    printf("both omit keeps ctime: %d\n", before.st_ctim.tv_sec == after.st_ctim.tv_sec && before.st_ctim.tv_nsec == after.st_ctim.tv_nsec);
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    report("utimensat bad nsec", utimensat(AT_FDCWD, "t", bad, 0));
    report("utimensat bad flags", utimensat(AT_FDCWD, "t", ts, 0x4000));
    struct timeval tv[2] = {{1400000000, 250000}, {1500000000, 750000}};
    report("utimes", utimes("t", tv));
    show_times("after utimes", "t");
    report("futimes", futimes(fd, tv));
    show_times("after futimes", "t");
    struct utimbuf ub = {1600000000, 1650000000};
    report("utime", utime("t", &ub));
    show_times("after utime", "t");
    /* Now: the times move forward past the ones set, and write sets mtime. */
    report("utimensat NULL (now)", utimensat(AT_FDCWD, "t", NULL, 0));
    struct stat st;
    stat("t", &st);
    printf("now is after 2022: %d %d\n", st.st_atim.tv_sec > 1650000000, st.st_mtim.tv_sec > 1650000000);
    report("utime NULL (now)", utime("t", NULL));
    report("futimens back", futimens(fd, ts));
    report("write", write(fd, "x", 1));
    stat("t", &st);
    printf("write moved mtime: %d ctime: %d\n", st.st_mtim.tv_sec > 1100000000, st.st_ctim.tv_sec > 1100000000);
    report("symlink", symlink("t", "tl"));
    report("utimensat nofollow on link", utimensat(AT_FDCWD, "tl", ts, AT_SYMLINK_NOFOLLOW));
    show_times("link itself", "tl");
    stat("t", &st);
    printf("target: atime %lld.%09ld\n", (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec);
    report("utimensat missing", utimensat(AT_FDCWD, "missing", ts, 0));
    report("futimens bad fd", futimens(99, ts));
    close(fd);
    unlink("tl");
    unlink("t");
}

static void shm(void) {
    printf("-- shm_open and sem_open\n");
    char name[64];
    snprintf(name, sizeof name, "/uk-tmpfiles-shm-%d", (int)getpid());
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    report("shm_open create", fd < 0 ? -1 : 0);
    if (fd >= 0) {
        report("ftruncate 8192", ftruncate(fd, 8192));
        char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        printf("mmap %s\n", m == MAP_FAILED ? "failed" : "ok");
        if (m != MAP_FAILED) {
            strcpy(m + 4096, "shared bytes");
            report("munmap", munmap(m, 8192));
        }
        close(fd);
        report("shm_open again O_EXCL", shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600));
        fd = shm_open(name, O_RDONLY, 0);
        report("shm_open existing", fd < 0 ? -1 : 0);
        char buf[32] = {0};
        report("pread", pread(fd, buf, 12, 4096));
        printf("reads: %s\n", buf);
        show_stat("shm fstat", fd);
        close(fd);
        report("shm_unlink", shm_unlink(name));
        report("shm_unlink again", shm_unlink(name));
        report("shm_open gone", shm_open(name, O_RDONLY, 0));
    }
    snprintf(name, sizeof name, "/uk-tmpfiles-sem-%d", (int)getpid());
    sem_t *s = sem_open(name, O_CREAT | O_EXCL, 0600, 2);
    printf("sem_open %s\n", s == SEM_FAILED ? ename(errno) : "ok");
    if (s != SEM_FAILED) {
        int v = -1;
        report("sem_wait", sem_wait(s));
        report("sem_post", sem_post(s));
        report("sem_post", sem_post(s));
        sem_getvalue(s, &v);
        printf("value %d\n", v);
        report("sem_trywait", sem_trywait(s));
        report("sem_close", sem_close(s));
        report("sem_unlink", sem_unlink(name));
        errno = 0;
        sem_t *g = sem_open(name, 0);
        printf("sem_open gone: %s\n", g == SEM_FAILED ? ename(errno) : "opened");
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: tmpfiles cwd|tmp|shm\n");
        return 2;
    }
    if (strcmp(argv[1], "cwd") == 0)
        snprintf(work, sizeof work, "w-%d", (int)getpid());
    else if (strcmp(argv[1], "tmp") == 0)
        snprintf(work, sizeof work, "/tmp/uk-tmpfiles-%d", (int)getpid());
    else
        snprintf(work, sizeof work, "/dev/shm/uk-tmpfiles-%d", (int)getpid());
    if (mkdir(work, 0755) < 0 || chdir(work) < 0) {
        perror(work);
        return 1;
    }
    unlinked();
    times_calls();
    shm();
    const char *base = strrchr(work, '/') ? strrchr(work, '/') + 1 : work;
    report("cleanup", chdir("..") == 0 ? rmdir(base) : -1);
    return 0;
}
