/* bench/peer.h - the C interface memtable-bench drives every implementation through.
 *
 * Our memtable and each peer (RocksDB's skiplist rep, LevelDB) are wrapped in the same table of functions,
 * so the timed loops, key generation and call overhead are identical for all of them; only what happens
 * inside put/get/seek/scan differs. Threading follows the memtable contract: one thread calls put or put_batch,
 * any number of readers (each with its own reader handle) may call get/seek/scan concurrently with it. A table
 * created with concurrent_writes is the exception: any number of threads may call put_concurrent on it at once.
 */
#ifndef MEMTABLE_BENCH_PEER_H
#define MEMTABLE_BENCH_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bench_table_config {
  uint64_t num;          /* entries the fill will add: sizes filters and, for LevelDB, the write buffer */
  size_t key_size;
  size_t value_size;
  unsigned bloom_bits;   /* ours only: bloom filter bits per key, 0 = off */
  unsigned checksum_bytes; /* ours only */
  unsigned skiplist_branching; /* ours only: options.skiplist_branching, 0 = the library's default */
  uint64_t seed;
  bool concurrent_writes; /* put_concurrent will be called from several threads at once (fillconcurrent) */
  size_t batch_size;      /* the most entries one put_batch call passes */
  bool point_index;       /* ours only: options.point_index, sized for num keys */
  uint64_t point_index_entries; /* ours only: the keys the index is sized for instead, when not 0 */
  unsigned huge_pages;    /* ours only: options.arena.pages (an mt_arena_pages value; 0 = malloc) */
} bench_table_config;

/* One entry of a put_batch call: a value (never a deletion) for key. */
typedef struct bench_batch_entry {
  const char *key;
  size_t key_len;
  const char *value;
  size_t value_len;
} bench_batch_entry;

typedef struct bench_impl {
  const char *name;        /* what --peers and the JSON output call it: "memtable", "rocksdb", "leveldb" */
  const char *label;       /* column header in the summary table */
  const char *description; /* one line for the report header: what exactly is measured */
  const char *caveat;      /* NULL, or what makes this column not like for like; printed under the summary */
  /* NULL on failure with a message in error; the benchmark then skips this implementation. */
  void *(*create)(const bench_table_config *config, char *error, size_t error_len);
  void (*destroy)(void *table);
  /* 0 on success; otherwise -1 with a message in error. Writer only. */
  int (*put)(void *table, uint64_t seq, const char *key, size_t key_len, const char *value, size_t value_len,
             char *error, size_t error_len);
  /* Called once the fill is done: 0 if the table is still what we mean to measure (e.g. LevelDB did not
   * flush to an SSTable), else -1 with a message. NULL means nothing to check. */
  int (*check_after_fill)(void *table, char *error, size_t error_len);
  /* Bytes the table holds: arena blocks, filter, bookkeeping. */
  size_t (*memory_usage)(void *table);
  /* A per-thread read handle (e.g. a reusable iterator); NULL on allocation failure. */
  void *(*reader_create)(void *table);
  void (*reader_destroy)(void *reader);
  /* Newest visible value of key: 1 found (*value_len set), 0 not found, -1 error. */
  int (*get)(void *reader, const char *key, size_t key_len, size_t *value_len);
  /* Positions at the first entry >= key (newest version first): 1 if that entry's user key is key,
   * 0 if it is another key or the end, -1 error. */
  int (*seek)(void *reader, const char *key, size_t key_len);
  /* Walks every entry from the first (or, reverse, from the last); returns the entries visited and adds
   * their key and value bytes to *bytes. UINT64_MAX on error. */
  uint64_t (*scan)(void *reader, bool reverse, uint64_t *bytes);
  /* As put, on a table created with concurrent_writes, from any number of threads at once. */
  int (*put_concurrent)(void *table, uint64_t seq, const char *key, size_t key_len, const char *value,
                        size_t value_len, char *error, size_t error_len);
  /* Adds count (1..batch_size) entries as one batch, entries[i] with sequence number first_seq + i: 0 when
   * all were added, otherwise -1 with a message. Writer only. */
  int (*put_batch)(void *table, uint64_t first_seq, const bench_batch_entry *entries, size_t count, char *error,
                   size_t error_len);
  /* NULL, or how fillconcurrent differs for this implementation; printed under the summary when it ran. */
  const char *concurrent_caveat;
  /* NULL when the implementation has no batched get (readrandom_batch then calls get per key); otherwise
   * the newest visible values of count keys (each key_len bytes) at once: results[i] is 1 (found,
   * value_lens[i] set) or 0; returns 0, or -1 on a read error. Any reader, like get. */
  int (*get_batch)(void *reader, const char *const *keys, size_t key_len, size_t count, int *results,
                   size_t *value_lens);
} bench_impl;

/* Our memtable (peer_memtable.c). Its description names the run's settings, so they are passed here: call it
 * once, after the flags (a later call rewrites the description). The table stays valid for the run. */
const bench_impl *bench_peer_memtable(unsigned bloom_bits, unsigned readmissing_bloom_bits, unsigned checksum_bytes);

/* What our latest filled table's arena asked for and got (mt_memtable_get_pages_report): e.g. "requested thp; got
 * thp 733 blocks (1466 MiB)", with the fallback reason when a block fell back; "" before any fill. */
const char *bench_memtable_pages_summary(void);

/* Bytes of our table's point index (0 without one): the table is one ours' create returned. */
size_t bench_memtable_point_index_memory(void *table);

/* Our table's arena waste: bytes abandoned (*wasted) and the current block's unused tail (*tail). */
void bench_memtable_waste(void *table, size_t *wasted, size_t *tail);

#ifdef MEMTABLE_BENCH_HAVE_ROCKSDB
const bench_impl *bench_peer_rocksdb(void);
#endif
#ifdef MEMTABLE_BENCH_HAVE_LEVELDB
const bench_impl *bench_peer_leveldb(void);
#endif

#ifdef __cplusplus
}
#endif

#endif
