/*
 * mapexec.c - writes to MAP_SHARED file mappings reach the file when the
 * descriptor is closed first and the mapping goes by munmap, and when the
 * mapping is still there at execve.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void show(const char *when, const char *name)
{
  char b[64];
  int fd = open(name, O_RDONLY);
  int n = fd < 0 ? -1 : (int)read(fd, b, sizeof b);
  printf("%s: %s holds %.*s", when, name, n < 0 ? 0 : n, b);
  if (fd >= 0)
    close(fd);
}

static char *map(const char *name, const char *text)
{
  int fd = open(name, O_RDWR | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
    perror(name);
    return 0;
  }
  char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  return p == MAP_FAILED ? 0 : p;
}

int main(int argc, char **argv)
{
  if (argc > 1) {
    show("after execve", "m.txt");
    return 0;
  }
  char *q = map("n.txt", "abc\n");
  char *p = map("m.txt", "hello world\n");
  if (!p || !q)
    return 1;
  q[0] = 'X';
  munmap(q, 4096);
  show("after munmap", "n.txt");
  memcpy(p, "HELLO", 5);
  fflush(stdout);
  execl("/proc/self/exe", argv[0], "after", (char *)0);
  perror("execl");
  return 1;
}
