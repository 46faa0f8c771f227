/* The syscall floor for the fs benchmark: link(2) every "src\tdst" pair of PAIRS_FILE,
 * then open(O_DIRECTORY)+fsync+close every directory of DIRS_FILE, on THREADS threads
 * (default 1) claiming items from a shared atomic counter. Only the syscall phases
 * (thread start and join included) are timed, not reading the lists. Prints one JSON line. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Reads a whole file into a NUL-terminated buffer; exits on failure. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    perror(path);
    exit(2);
  }
  size_t cap = 1 << 20, len = 0;
  char *buf = malloc(cap);
  size_t n;
  while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
    len += n;
    if (cap - len - 1 == 0) buf = realloc(buf, cap *= 2);
  }
  if (buf == NULL || ferror(f)) {
    fprintf(stderr, "%s: read failed\n", path);
    exit(2);
  }
  fclose(f);
  buf[len] = '\0';
  return buf;
}

/* Splits buf in place into lines; returns the count and an array of line starts. */
static size_t split_lines(char *buf, char ***out) {
  size_t cap = 1024, count = 0;
  char **lines = malloc(cap * sizeof *lines);
  for (char *p = buf; lines != NULL && *p != '\0';) {
    char *nl = strchr(p, '\n');
    if (nl != NULL) *nl = '\0';
    if (*p != '\0') {
      if (count == cap) lines = realloc(lines, (cap *= 2) * sizeof *lines);
      if (lines == NULL) break;
      lines[count++] = p;
    }
    if (nl == NULL) break;
    p = nl + 1;
  }
  if (lines == NULL) {
    fprintf(stderr, "out of memory\n");
    exit(2);
  }
  *out = lines;
  return count;
}

static double micros_between(const struct timespec *a, const struct timespec *b) {
  return (double)(b->tv_sec - a->tv_sec) * 1e6 + (double)(b->tv_nsec - a->tv_nsec) / 1e3;
}

/* One phase's work list, shared by its threads. A failure is fatal: the benchmark
 * prepared every input, so any error means the measurement is void. */
struct phase {
  char **paths;
  char **dsts; /* NULL for the directory-sync phase */
  size_t count;
  atomic_size_t next;
};

static void *drain(void *arg) {
  struct phase *ph = arg;
  for (size_t i; (i = atomic_fetch_add(&ph->next, 1)) < ph->count;) {
    if (ph->dsts != NULL) {
      if (link(ph->paths[i], ph->dsts[i]) != 0) {
        fprintf(stderr, "link '%s' -> '%s': %s\n", ph->paths[i], ph->dsts[i], strerror(errno));
        exit(1);
      }
      continue;
    }
    int fd = open(ph->paths[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
      fprintf(stderr, "fsync dir '%s': %s\n", ph->paths[i], strerror(errno));
      exit(1);
    }
    close(fd);
  }
  return NULL;
}

/* Runs a phase on `threads` threads, the calling one included. */
static void run_phase(struct phase *ph, size_t threads) {
  pthread_t helpers[64];
  size_t started = 0;
  while (started + 1 < threads && started < 64 && pthread_create(&helpers[started], NULL, drain, ph) == 0) started++;
  drain(ph);
  for (size_t k = 0; k < started; k++) pthread_join(helpers[k], NULL);
}

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    fprintf(stderr, "usage: %s PAIRS_FILE DIRS_FILE [THREADS]\n", argv[0]);
    return 2;
  }
  size_t threads = argc == 4 ? strtoul(argv[3], NULL, 10) : 1;
  if (threads < 1) threads = 1;
  char **pairs, **dirs;
  size_t npairs = split_lines(slurp(argv[1]), &pairs);
  size_t ndirs = split_lines(slurp(argv[2]), &dirs);
  char **dsts = malloc((npairs > 0 ? npairs : 1) * sizeof *dsts);
  if (dsts == NULL) return 2;
  for (size_t i = 0; i < npairs; i++) {
    char *tab = strchr(pairs[i], '\t');
    if (tab == NULL) {
      fprintf(stderr, "line %zu of %s has no tab\n", i + 1, argv[1]);
      return 2;
    }
    *tab = '\0';
    dsts[i] = tab + 1;
  }
  struct phase links = {pairs, dsts, npairs, 0};
  struct phase syncs = {dirs, NULL, ndirs, 0};

  struct timespec t0, t1, t2;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  run_phase(&links, threads);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  run_phase(&syncs, threads);
  clock_gettime(CLOCK_MONOTONIC, &t2);

  printf("{\"links\":%zu,\"dirs\":%zu,\"threads\":%zu,\"linkUs\":%.1f,\"syncUs\":%.1f,\"totalUs\":%.1f}\n", npairs,
         ndirs, threads, micros_between(&t0, &t1), micros_between(&t1, &t2), micros_between(&t0, &t2));
  return 0;
}
