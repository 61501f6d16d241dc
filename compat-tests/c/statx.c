/*
 * statx.c - statx, fallocate and copy_file_range on files of the working
 * directory: the facts that must match a native run (no inode numbers or
 * times are printed, only comparisons with fstat's).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#ifndef SYS_statx
#define SYS_statx 332
#endif

/* struct statx, as the kernel defines it (musl has no statx wrapper). */
struct ts { int64_t sec; uint32_t nsec; int32_t pad; };
struct kstatx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size, blocks, attributes_mask;
    struct ts atime, btime, ctime, mtime;
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t rest[14];
};

static long kstatx(int dirfd, const char *path, int flags, struct kstatx *s)
{
    return syscall(SYS_statx, dirfd, path, flags, 0x7ffu, s);
}

int main(void)
{
    struct kstatx s;
    struct stat st;
    int fd = open("sx.txt", O_RDWR | O_CREAT | O_TRUNC, 0640);
    if (fd < 0 || write(fd, "hello", 5) != 5)
        return 1;
    long r = kstatx(AT_FDCWD, "sx.txt", 0, &s);
    printf("statx %ld mask %x size %llu mode %o nlink %u blocks %llu blksize %u\n", r, s.mask & 0x7ff,
           (unsigned long long)s.size, s.mode, s.nlink, (unsigned long long)s.blocks, s.blksize);
    fstat(fd, &st);
    printf("ino same %d dev same %d mtime same %d ctime same %d\n", s.ino == st.st_ino,
           makedev(s.dev_major, s.dev_minor) == st.st_dev, s.mtime.sec == st.st_mtim.tv_sec,
           s.ctime.sec == st.st_ctim.tv_sec);
    r = kstatx(fd, "", AT_EMPTY_PATH, &s);
    printf("statx by fd %ld size %llu\n", r, (unsigned long long)s.size);
    errno = 0;
    r = kstatx(AT_FDCWD, "nope", 0, &s);
    printf("statx missing %ld errno %d\n", r, errno);
    errno = 0;
    r = kstatx(AT_FDCWD, "sx.txt", 0x12345, &s);
    printf("statx bad flags %ld errno %d\n", r, errno);

    printf("fallocate %d ", fallocate(fd, 0, 0, 10000));
    fstat(fd, &st);
    printf("size %ld\n", (long)st.st_size);
    int o = open("sx2.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    off_t a = 1;
    ssize_t n = copy_file_range(fd, &a, o, NULL, 4, 0);
    fstat(o, &st);
    printf("copy_file_range %zd size %ld from %ld at %ld\n", n, (long)st.st_size, (long)a, (long)lseek(o, 0, SEEK_CUR));
    char buf[8] = {0};
    pread(o, buf, 4, 0);
    printf("copied %s\n", buf);
    errno = 0;
    n = copy_file_range(fd, NULL, o, NULL, 4, 1);
    printf("copy_file_range bad flags %zd errno %d\n", n, errno);
    unlink("sx.txt");
    unlink("sx2.txt");
    return 0;
}
