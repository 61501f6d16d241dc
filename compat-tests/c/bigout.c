/*
 * bigout.c - write N bytes to stdout and M bytes to stderr.
 *
 *   bigout N M
 *
 * Both streams carry a deterministic pattern (lines of 64 bytes numbered
 * by their offset), so a diff shows where a stream went wrong.
 * The output is produced in chunks of varying sizes, alternating between
 * stdio (fwrite) and raw write(2) calls and between the two streams.
 * When N or M is not a multiple of the line length the stream ends
 * without a newline.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define LINE 64

/*
 * Byte number `off` of stream `s`'s pattern: "%010zu " then letters (lower
 * case on stdout, upper case on stderr, so swapped streams show) and '\n'.
 */
static char pattern_byte(int s, size_t off)
{
    size_t line = off / LINE, col = off % LINE;
    if (col == LINE - 1)
        return '\n';
    if (col < 10) {
        size_t v = line * LINE;
        for (size_t i = 9; i > col; i--)
            v /= 10;
        return (char)('0' + v % 10);
    }
    if (col == 10)
        return ' ';
    return (char)((s ? 'A' : 'a') + (line + col) % 26);
}

static void fill(char *buf, int s, size_t off, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = pattern_byte(s, off + i);
}

/* write(2) until everything is written; dies on error. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(90);
        buf += n;
        len -= (size_t)n;
    }
}

/* Chunk sizes cycled through: tiny, odd, page-sized, pipe-buffer-sized. */
static const size_t chunk_sizes[] = {1, 7, 63, 64, 100, 4095, 4096, 4097, 65536, 70001, 13};
#define NCHUNKS (sizeof chunk_sizes / sizeof chunk_sizes[0])

static char buf[70001];

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s STDOUT_BYTES STDERR_BYTES\n", argv[0]);
        return 100;
    }
    size_t total[2] = {strtoull(argv[1], NULL, 10), strtoull(argv[2], NULL, 10)};
    size_t done[2] = {0, 0};
    FILE *stream[2] = {stdout, stderr};
    unsigned k = 0;

    while (done[0] < total[0] || done[1] < total[1]) {
        int s = k % 2;                    /* which stream */
        int use_stdio = (k / 2) % 2 == 0; /* fwrite or write(2) */
        size_t len = chunk_sizes[(k / 2) % NCHUNKS];
        k++;
        if (done[s] >= total[s])
            continue;
        if (len > total[s] - done[s])
            len = total[s] - done[s];
        fill(buf, s, done[s], len);
        if (use_stdio) {
            if (fwrite(buf, 1, len, stream[s]) != len)
                return 91;
        } else {
            if (fflush(stream[s]) != 0)
                return 92;
            write_all(s + 1, buf, len);
        }
        done[s] += len;
    }
    return 0;
}
