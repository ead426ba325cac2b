/* bench/options.h - what a memtable-bench run does: the benchmarks it knows, the flags that choose among them,
 * and the fixed parameters --help states. parse_flags fills g_options once, before anything else runs; from
 * then on it is only read.
 */
#ifndef MEMTABLE_BENCH_OPTIONS_H
#define MEMTABLE_BENCH_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In the order they run. */
enum {
  BENCH_FILLSEQ,
  BENCH_FILLRANDOM,
  BENCH_READRANDOM,
  BENCH_READRANDOM_BATCH,
  BENCH_READMISSING,
  BENCH_READMISSING_BLOOM,
  BENCH_READSEQ,
  BENCH_READREVERSE,
  BENCH_SEEKRANDOM,
  BENCH_READWHILEWRITING,
  BENCH_FILLCONCURRENT,
  BENCH_FILLBATCH,
  BENCH_READSEQ_VERSIONS,
  BENCH_READSEQ_VERSIONS_NOSKIP,
  BENCH_READSEQ_VERSIONS_SEARCH,
  BENCH_READRANDOM_INDEX,
  BENCH_READMISSING_INDEX,
  BENCH_ROTATE,
  BENCH_ROTATE_POOL,
  BENCH_READVERSIONS_SKIP, /* not in the default set: --benchmarks=readversions_skip or all */
  BENCH_READHOT_OLDSNAPSHOT,
  BENCH_READHOT_OLDSNAPSHOT_NOINDEX,
  BENCH_COUNT
};

/* readhot_oldsnapshot and its plain twin: ours only. */
static inline bool is_oldsnapshot_bench(unsigned bench) {
  return bench == BENCH_READHOT_OLDSNAPSHOT || bench == BENCH_READHOT_OLDSNAPSHOT_NOINDEX;
}

/* What --benchmarks accepts and the report prints, indexed by the enum above. */
extern const char *const bench_names[BENCH_COUNT];

/* --repetitions' upper bound: every repetition's samples are kept for the medians. */
#define MAX_REPETITIONS 99
/* readmissing_bloom's filter when --bloom_bits is 0 (see missing_bloom_bits). */
#define DEFAULT_MISSING_BLOOM_BITS 10u
/* Each timed benchmark is cut into this many slices and the implementations' slices alternate (ours,
 * rocksdb, leveldb, ours, ...): load from other processes on a shared machine then falls on every column
 * alike instead of on whichever implementation ran during a busy spell. */
#define INTERLEAVE_SLICES 10u
/* --writers and --batch_size: their defaults and upper bounds. */
#define DEFAULT_WRITERS 2u
#define MAX_WRITERS 64u
#define DEFAULT_BATCH_SIZE 32u
/* readrandom_batch's gets per batch when --batch_size is not given. */
#define DEFAULT_READ_BATCH_SIZE 16u
#define MAX_BATCH_SIZE 65536u
/* --max_sequential_skip: the library's default (MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP). */
#define DEFAULT_MAX_SEQUENTIAL_SKIP 8u
/* --huge_pages' names, indexed by the mt_arena_pages value they select. */
#define HUGE_PAGES_CHOICES 3u
extern const char *const huge_pages_names[HUGE_PAGES_CHOICES];

typedef struct bench_options {
  bool selected[BENCH_COUNT];
  uint64_t num;
  uint64_t reads;
  size_t key_size;
  size_t value_size;
  unsigned threads;
  unsigned writers;    /* fillconcurrent's writer threads */
  unsigned batch_size; /* fillbatch's entries per batch (DEFAULT_BATCH_SIZE unless batch_size_set) */
  bool batch_size_set; /* --batch_size given: readrandom_batch uses it too */
  unsigned repetitions;
  unsigned bloom_bits;
  unsigned checksum_bytes;
  unsigned skiplist_branching; /* --skiplist_branching: our tables' options.skiplist_branching (0 = default) */
  unsigned max_sequential_skip; /* readseq_versions' threshold */
  bool versions_random_order;   /* --versions_order=random: readseq_versions' versions added in a random order */
  uint64_t seed;
  unsigned rotations;       /* rotate's and rotate_pool's tables per repetition */
  size_t write_buffer_size; /* the rotated tables' size (mt_memtable_should_flush) */
  unsigned duration;        /* the soak's seconds; 0 = no soak */
  bool want_rocksdb;
  bool want_leveldb;
  bool json;
  bool verbose;
  unsigned huge_pages; /* --huge_pages: our tables' arena.pages, an mt_arena_pages value (0 = off) */
  size_t chase_bytes;  /* --chase_mib: the pointer chase's memory (chase.h); 0 = no probe */
  bool chase_huge_pages; /* --chase_huge_pages (or --huge_pages on): the probe with huge pages advised too */
  uint64_t point_index_entries; /* --point_index_entries: readrandom_index's index sizing (0: --num keys) */
} bench_options;

extern bench_options g_options;

/* Fills g_options from the command line. --help prints the usage and exits 0; an invalid flag prints why and
 * exits 2. */
void parse_flags(int argc, char **argv);

static inline bool selected(unsigned bench) { return g_options.selected[bench]; }

/* Our bloom filter bits per key in readmissing_bloom: --bloom_bits, or the default when that is 0. */
static inline unsigned missing_bloom_bits(void) {
  return g_options.bloom_bits ? g_options.bloom_bits : DEFAULT_MISSING_BLOOM_BITS;
}

/* readrandom_batch's gets per batch: --batch_size, or DEFAULT_READ_BATCH_SIZE when it is not given. */
static inline unsigned read_batch_size(void) {
  return g_options.batch_size_set ? g_options.batch_size : DEFAULT_READ_BATCH_SIZE;
}

#endif
