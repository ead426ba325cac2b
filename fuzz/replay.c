/* fuzz/replay.c - runs a fuzz target over saved inputs without libFuzzer, so any compiler can replay the
 * corpus as an ordinary test.
 *
 * Usage: <target>_replay PATH...  Each PATH is a file or a directory whose regular files are replayed in
 * name order (not recursively). Each input is copied into a buffer of exactly its size, so a sanitizer
 * build catches reads past its end. A target reports a bug by aborting; finding no input at all is an
 * error too (a corpus path that went missing must not pass silently).
 */
#define _POSIX_C_SOURCE 200809L

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
  FILE *file = fopen(path, "rb");
  if (file == NULL) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return -1;
  }
  size_t capacity = 4096, size = 0;
  uint8_t *data = malloc(capacity);
  size_t got;
  while (data != NULL && (got = fread(data + size, 1, capacity - size, file)) > 0) {
    size += got;
    if (size == capacity) {
      capacity *= 2;
      uint8_t *grown = realloc(data, capacity);
      if (grown == NULL) free(data);
      data = grown;
    }
  }
  int read_error = ferror(file);
  fclose(file);
  if (data == NULL || read_error) {
    free(data);
    fprintf(stderr, "replay: cannot read %s\n", path);
    return -1;
  }
  /* An exact-size copy (at least one byte, so the pointer is never NULL) puts the end where ASan sees it. */
  uint8_t *exact = malloc(size == 0 ? 1 : size);
  if (exact == NULL) {
    free(data);
    fprintf(stderr, "replay: out of memory for %s\n", path);
    return -1;
  }
  memcpy(exact, data, size);
  free(data);
  fprintf(stderr, "Running: %s (%zu bytes)\n", path, size);
  LLVMFuzzerTestOneInput(exact, size);
  free(exact);
  return 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays every regular file of the directory in name order; returns the count, or -1 on an error. */
static long replay_directory(const char *path) {
  DIR *dir = opendir(path);
  if (dir == NULL) {
    fprintf(stderr, "replay: cannot open directory %s\n", path);
    return -1;
  }
  char **names = NULL;
  size_t count = 0, capacity = 0;
  long result = 0;
  struct dirent *entry;
  while ((entry = readdir(dir)) != NULL) {
    if (entry->d_name[0] == '.') continue;
    if (count == capacity) {
      capacity = capacity == 0 ? 64 : capacity * 2;
      char **grown = realloc(names, capacity * sizeof(*names));
      if (grown == NULL) {
        result = -1;
        break;
      }
      names = grown;
    }
    size_t len = strlen(path) + 1 + strlen(entry->d_name) + 1;
    names[count] = malloc(len);
    if (names[count] == NULL) {
      result = -1;
      break;
    }
    snprintf(names[count], len, "%s/%s", path, entry->d_name);
    count++;
  }
  closedir(dir);
  if (result == 0) {
    qsort(names, count, sizeof(*names), compare_names);
    for (size_t i = 0; i < count; i++) {
      struct stat info;
      if (stat(names[i], &info) != 0 || !S_ISREG(info.st_mode)) continue;
      if (replay_file(names[i]) != 0) {
        result = -1;
        break;
      }
      result++;
    }
  }
  for (size_t i = 0; i < count; i++) free(names[i]);
  free(names);
  if (result < 0) fprintf(stderr, "replay: failed in directory %s\n", path);
  return result;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE_OR_DIRECTORY...\n", argv[0]);
    return 2;
  }
  long replayed = 0;
  for (int i = 1; i < argc; i++) {
    struct stat info;
    if (stat(argv[i], &info) != 0) {
      fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      return 1;
    }
    long count = S_ISDIR(info.st_mode) ? replay_directory(argv[i]) : replay_file(argv[i]) == 0 ? 1 : -1;
    if (count < 0) return 1;
    replayed += count;
  }
  if (replayed == 0) {
    fprintf(stderr, "replay: no inputs found\n");
    return 1;
  }
  fprintf(stderr, "replay: %ld inputs ran clean\n", replayed);
  return 0;
}
