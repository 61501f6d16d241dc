/*
 * lazy.c - a 1 GiB MAP_NORESERVE mapping, more than the guest's RAM: touched
 * here and there, read into by a syscall, mprotected and unmapped.
 */
#include <stdio.h>
#include <sys/mman.h>
#include <string.h>
#include <unistd.h>
int main(void)
{
  size_t big = 1UL << 30;
  char *p = mmap(0, big, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS|MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) { perror("mmap"); return 1; }
  p[0] = 1; p[big/2] = 2; p[big-1] = 3;
  memset(p + 100*4096, 7, 3*1024*1024);
  long r = read(0, p + 500*1024*1024, 5);
  printf("%d %d %d %d read %ld %.5s\n", p[0], p[big/2], p[big-1], p[100*4096+12345], r, p + 500*1024*1024);
  mprotect(p, 4096*1024, PROT_READ);
  printf("after mprotect %d\n", p[5]);
  munmap(p, big);
  return 0;
}
