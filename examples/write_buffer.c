/* write_buffer: a storage engine's write path over the memtable.
 *
 * Writes (puts and deletes, each with the next sequence number) go into the active table until it says it
 * should flush. The full table is then frozen, written in sorted order to a sorted-run file through the
 * user-view iterator (newest value per key, deleted keys left out), and dropped with one unref while a
 * reader thread is still scanning it: the reader's iterator holds its own reference, so the table (freed
 * whole, in one arena teardown) outlives the unref until the reader is done. Writing continues in a fresh
 * table meanwhile.
 *
 * The program checks its own output: each run file is re-read and must be sorted and hold exactly the live
 * keys of its table. It exits non-zero on any failure.
 *
 * Usage: write_buffer [output-directory]   (default: the current directory)
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/memtable.h>

#define KEY_SPACE 5000
#define TOTAL_WRITES 60000
#define KEY_BYTES 16
#define MAX_VALUE_BYTES 96

static int failures;

static void check(bool condition, const char *what) {
  if (!condition) {
    fprintf(stderr, "write_buffer: FAILED: %s\n", what);
    failures++;
  }
}

static uint64_t next_random(uint64_t *state) {
  uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

/* What the engine wrote into the current table, to check the run file against. */
typedef struct logged_write {
  uint32_t key;
  uint64_t seq;
  mt_entry_type type;
  char value[MAX_VALUE_BYTES];
  size_t value_len;
} logged_write;

typedef struct engine {
  mt_memtable_options options;
  mt_memtable *active;
  uint64_t last_seq;
  logged_write *log; /* the active table's writes */
  size_t log_len;
  size_t log_cap;
  const char *directory;
  int runs;
  /* The reader still scanning the previous table, if any. */
  pthread_t reader;
  bool reader_running;
  struct reader_job *reader_job;
} engine;

static int format_key(char *buf, uint32_t key) { return snprintf(buf, KEY_BYTES, "user%06" PRIu32, key); }

/* A concurrent scan of a frozen table, through an iterator the flusher created for it. */
typedef struct reader_job {
  mt_memtable_user_iter *iter;
  size_t keys_seen;
  bool sorted;
} reader_job;

static void *reader_main(void *arg) {
  reader_job *job = arg;
  char previous[KEY_BYTES] = "";
  size_t previous_len = 0;
  job->sorted = true;
  for (mt_memtable_user_iter_seek_to_first(job->iter); mt_memtable_user_iter_valid(job->iter);
       mt_memtable_user_iter_next(job->iter)) {
    mt_slice key = mt_memtable_user_iter_key(job->iter);
    size_t common = key.len < previous_len ? key.len : previous_len;
    int order = memcmp(previous, key.data, common);
    if (job->keys_seen > 0 && (order > 0 || (order == 0 && previous_len >= key.len))) job->sorted = false;
    if (key.len < sizeof(previous)) {
      memcpy(previous, key.data, key.len);
      previous_len = key.len;
    }
    job->keys_seen++;
  }
  if (mt_memtable_user_iter_status(job->iter) != MT_OK) job->sorted = false;
  /* The last reference to the frozen table may be this one: destroying the iterator frees the table. */
  mt_memtable_user_iter_destroy(job->iter);
  return NULL;
}

static bool write_u32(FILE *file, uint32_t value) {
  unsigned char bytes[4] = {(unsigned char)value, (unsigned char)(value >> 8), (unsigned char)(value >> 16),
                            (unsigned char)(value >> 24)};
  return fwrite(bytes, 1, 4, file) == 4;
}

static bool read_u32(FILE *file, uint32_t *value) {
  unsigned char bytes[4];
  if (fread(bytes, 1, 4, file) != 4) return false;
  *value = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 | (uint32_t)bytes[3] << 24;
  return true;
}

/* Writes the table's user view at the snapshot as records: u32le key length, key, u32le value length, value. */
static size_t write_run(mt_memtable *table, uint64_t snapshot, const char *path) {
  FILE *file = fopen(path, "wb");
  check(file != NULL, "open the run file for writing");
  if (file == NULL) return 0;
  mt_memtable_user_iter *iter = mt_memtable_user_iter_create(table, snapshot);
  check(iter != NULL, "create the flush iterator");
  size_t records = 0;
  if (iter != NULL) {
    for (mt_memtable_user_iter_seek_to_first(iter); mt_memtable_user_iter_valid(iter);
         mt_memtable_user_iter_next(iter)) {
      mt_slice key = mt_memtable_user_iter_key(iter);
      mt_slice value = mt_memtable_user_iter_value(iter);
      bool ok = write_u32(file, (uint32_t)key.len) && fwrite(key.data, 1, key.len, file) == key.len &&
                write_u32(file, (uint32_t)value.len) && fwrite(value.data, 1, value.len, file) == value.len;
      check(ok, "write a record");
      records++;
    }
    check(mt_memtable_user_iter_status(iter) == MT_OK, "flush iterator status");
    mt_memtable_user_iter_destroy(iter);
  }
  check(fclose(file) == 0, "close the run file");
  return records;
}

static int compare_logged(const void *a, const void *b) {
  const logged_write *x = a;
  const logged_write *y = b;
  if (x->key != y->key) return x->key < y->key ? -1 : 1;
  return x->seq > y->seq ? -1 : x->seq < y->seq; /* newest first */
}

/* Re-reads a run file and compares it with the live keys of the table's write log. */
static void verify_run(const char *path, logged_write *log, size_t log_len, size_t records_written) {
  qsort(log, log_len, sizeof(*log), compare_logged);
  FILE *file = fopen(path, "rb");
  check(file != NULL, "open the run file for reading");
  if (file == NULL) return;
  char expected_key[KEY_BYTES];
  char key[KEY_BYTES];
  char value[MAX_VALUE_BYTES];
  size_t records = 0;
  for (size_t i = 0; i < log_len; i++) {
    if (i > 0 && log[i].key == log[i - 1].key) continue; /* an older version */
    if (log[i].type == MT_TYPE_DELETION) continue;       /* newest is a deletion: not in the run */
    int expected_len = format_key(expected_key, log[i].key);
    uint32_t key_len, value_len;
    bool ok = read_u32(file, &key_len) && key_len == (uint32_t)expected_len &&
              fread(key, 1, key_len, file) == key_len && memcmp(key, expected_key, key_len) == 0 &&
              read_u32(file, &value_len) && value_len == log[i].value_len && value_len <= sizeof(value) &&
              fread(value, 1, value_len, file) == value_len && memcmp(value, log[i].value, value_len) == 0;
    check(ok, "the run holds the next live key with its newest value, in order");
    if (!ok) break;
    records++;
  }
  check(fgetc(file) == EOF, "nothing after the last live key");
  check(records == records_written, "as many records as were written");
  fclose(file);
}

static mt_memtable *new_active_table(engine *e) {
  mt_memtable *table = mt_memtable_create(&e->options);
  check(table != NULL, "create a memtable");
  e->log_len = 0;
  return table;
}

static void join_reader(engine *e) {
  if (!e->reader_running) return;
  check(pthread_join(e->reader, NULL) == 0, "join the reader");
  check(e->reader_job->sorted, "the concurrent reader saw sorted keys");
  check(e->reader_job->keys_seen > 0, "the concurrent reader saw the frozen table");
  free(e->reader_job);
  e->reader_job = NULL;
  e->reader_running = false;
}

/* Freezes the active table, flushes it to a run file, drops it, and starts a fresh one. */
static void flush(engine *e) {
  mt_memtable *frozen = e->active;
  uint64_t snapshot = e->last_seq;
  /* From here on the table is immutable: a stray add would get MT_FROZEN instead of landing in a table
   * whose flush has begun. Its sequence range names the run file's contents. */
  check(mt_memtable_freeze(frozen) == MT_OK, "freeze the table being flushed");
  check(mt_memtable_add(frozen, snapshot + 1, MT_TYPE_VALUE, "late", 4, "x", 1) == MT_FROZEN,
        "a frozen table refuses adds");
  uint64_t smallest, largest;
  check(mt_memtable_sequence_range(frozen, &smallest, &largest) == MT_OK && largest == snapshot,
        "the frozen table's sequence range ends at the snapshot");
  join_reader(e);
  /* A reader (say, a range scan that started before the flush) still iterates the frozen table. */
  reader_job *job = calloc(1, sizeof(*job));
  check(job != NULL, "allocate the reader job");
  if (job != NULL) {
    job->iter = mt_memtable_user_iter_create(frozen, snapshot);
    check(job->iter != NULL, "create the reader's iterator");
    if (job->iter != NULL && pthread_create(&e->reader, NULL, reader_main, job) == 0) {
      e->reader_job = job;
      e->reader_running = true;
    } else {
      mt_memtable_user_iter_destroy(job->iter);
      free(job);
    }
  }

  char path[4096];
  snprintf(path, sizeof(path), "%s/run-%03d.sst", e->directory, e->runs++);
  size_t records = write_run(frozen, snapshot, path);
  check(mt_memtable_validate(frozen) == MT_OK, "the frozen table validates");
  printf("flushed %" PRIu64 " entries (%" PRIu64 " deletions, %zu bytes) into %s: %zu live keys\n",
         mt_memtable_entry_count(frozen), mt_memtable_deletion_count(frozen),
         mt_memtable_approximate_memory_usage(frozen), path, records);
  /* The engine's reference goes; the reader's iterator keeps the table until it finishes. */
  mt_memtable_unref(frozen);
  verify_run(path, e->log, e->log_len, records);
  e->active = new_active_table(e);
}

static void log_write(engine *e, uint32_t key, uint64_t seq, mt_entry_type type, const char *value, size_t value_len) {
  if (e->log_len == e->log_cap) {
    e->log_cap = e->log_cap == 0 ? 1024 : e->log_cap * 2;
    logged_write *grown = realloc(e->log, e->log_cap * sizeof(*grown));
    check(grown != NULL, "grow the write log");
    if (grown == NULL) exit(1);
    e->log = grown;
  }
  logged_write *entry = &e->log[e->log_len++];
  entry->key = key;
  entry->seq = seq;
  entry->type = type;
  entry->value_len = value_len;
  memcpy(entry->value, value, value_len);
}

int main(int argc, char **argv) {
  engine e;
  memset(&e, 0, sizeof(e));
  e.directory = argc > 1 ? argv[1] : ".";
  mt_memtable_options_init(&e.options);
  e.options.write_buffer_size = 512 * 1024;
  e.options.arena.block_size = 32 * 1024;
  e.options.bloom_bits_per_key = 10;
  e.options.bloom_expected_entries = 8192;
  e.options.checksum_bytes = 4;
  e.active = new_active_table(&e);
  if (e.active == NULL) return 1;

  uint64_t rng = 42;
  char key[KEY_BYTES];
  char value[MAX_VALUE_BYTES];
  for (int i = 0; i < TOTAL_WRITES && failures == 0; i++) {
    uint32_t key_index = (uint32_t)(next_random(&rng) % KEY_SPACE);
    int key_len = format_key(key, key_index);
    uint64_t seq = ++e.last_seq;
    mt_entry_type type = next_random(&rng) % 10 == 0 ? MT_TYPE_DELETION : MT_TYPE_VALUE;
    size_t value_len = 0;
    if (type == MT_TYPE_VALUE) {
      int written = snprintf(value, sizeof(value), "value %" PRIu64 " of %s ", seq, key);
      value_len = (size_t)written + next_random(&rng) % (sizeof(value) - (size_t)written);
      memset(value + written, '.', value_len - (size_t)written);
    }
    mt_status status = mt_memtable_add(e.active, seq, type, key, (size_t)key_len, value, value_len);
    check(status == MT_OK, "add");
    log_write(&e, key_index, seq, type, value, value_len);
    /* Read your own write. */
    mt_slice got;
    status = mt_memtable_get(e.active, key, (size_t)key_len, seq, &got);
    check(status == (type == MT_TYPE_VALUE ? MT_OK : MT_DELETED), "get the key just written");
    if (mt_memtable_should_flush(e.active)) flush(&e);
  }
  if (failures == 0 && mt_memtable_entry_count(e.active) > 0) flush(&e);
  join_reader(&e);
  mt_memtable_unref(e.active);
  free(e.log);
  check(e.runs >= 3, "the write buffer filled and flushed several times");
  if (failures != 0) {
    fprintf(stderr, "write_buffer: %d failure(s)\n", failures);
    return 1;
  }
  printf("write_buffer: %d sorted runs written and verified\n", e.runs);
  return 0;
}
