/* bench/options.c - memtable-bench's flags and --help: db_bench style, --name=value, checked strictly. */
#include "options.h"

#include <memtable/memtable.h>

#include "chase.h"

#include "rotate.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const bench_names[BENCH_COUNT] = {
    "fillseq",        "fillrandom",     "readrandom",       "readrandom_batch", "readmissing",
    "readmissing_bloom", "readseq",     "readreverse",      "seekrandom",       "readwhilewriting",
    "fillconcurrent", "fillbatch",      "readseq_versions", "readseq_versions_noskip",
    "readseq_versions_search", "readrandom_index",
    "readmissing_index", "rotate",      "rotate_pool",      "readversions_skip", "readhot_oldsnapshot",
    "readhot_oldsnapshot_noindex",
};

bench_options g_options;

const char *const huge_pages_names[HUGE_PAGES_CHOICES] = {"off", "thp", "hugetlb"};

/* The introduction and the benchmarks every implementation runs. */
static void usage_benchmarks(FILE *out) {
  fprintf(out,
          "Usage: memtable-bench [--flag=value ...]\n"
          "\n"
          "Benchmarks our memtable (LevelDB entry format, skiplist) against RocksDB's skiplist memtable rep and\n"
          "LevelDB, when those were found at build time. Each implementation runs the same workload. Every\n"
          "timed benchmark is cut into %u slices that the implementations take in turn (ours, rocksdb,\n"
          "leveldb, ours, ...), so load from other processes falls on all of them alike; each figure is the\n"
          "median of the repetitions.\n"
          "\n"
          "Flags:\n"
          "  --benchmarks=LIST     comma list, or all; default: the headline set, fillseq, fillrandom,\n"
          "                        readrandom, readrandom_batch, readmissing_bloom, readseq, readreverse,\n"
          "                        seekrandom, fillconcurrent, fillbatch, readrandom_index. They run in this\n"
          "                        order:\n"
          "        fillseq            insert N entries in ascending key order\n"
          "        fillrandom         insert N entries in random key order (key i for i = 0..N-1)\n"
          "        readrandom         --reads gets of random present keys (table from fillrandom)\n"
          "        readrandom_batch   readrandom's gets in batches of --batch_size (default %u here): ours\n"
          "                           mt_memtable_get_batch (interleaved searches); RocksDB's rep and LevelDB\n"
          "                           have no batched get, so theirs run one by one\n"
          "        readmissing        --reads gets of absent keys (table from fillrandom)\n"
          "        readmissing_bloom  readmissing with our bloom filter on (--bloom_bits, or %u when it is 0);\n"
          "                           RocksDB's rep and LevelDB have no memtable filter, so their figure is\n"
          "                           their plain readmissing\n"
          "        readseq            iterate every entry forward (table from fillrandom)\n"
          "        readreverse        iterate every entry backward (table from fillrandom)\n"
          "        seekrandom         --reads iterator seeks to random present keys (table from fillrandom)\n"
          "        readwhilewriting   --threads readers doing random gets while one writer runs fillrandom;\n"
          "                           reports the readers' throughput (readers pause between slices)\n"
          "        fillconcurrent     --writers threads add fillrandom's N entries to one table at once:\n"
          "                           thread t adds key i for every i = t mod W (seq i+1), ours with\n"
          "                           concurrent_writes, rocksdb with InsertKeyConcurrently over a\n"
          "                           thread-safe arena, leveldb with DB::Put from every thread (LevelDB\n"
          "                           queues them: one writer at a time); N / wall time, threads restart\n"
          "                           each slice\n"
          "        fillbatch          one writer adds fillrandom's N entries in batches of --batch_size\n"
          "                           consecutive keys: ours mt_memtable_add_batch, rocksdb the batch's\n"
          "                           entries one by one into the rep (what a WriteBatch does to it),\n"
          "                           leveldb one WriteBatch per DB::Write; entries per second\n",
          INTERLEAVE_SLICES, DEFAULT_READ_BATCH_SIZE, DEFAULT_MISSING_BLOOM_BITS);
}

/* The benchmarks that study one feature of ours, and what the read benchmarks run on. */
static void usage_feature_benchmarks(FILE *out) {
  fputs(
          "        readseq_versions   ours only (the peers have no memtable user view): N entries = N/20 keys x\n"
          "                           20 versions (--versions_order), the newest version of every odd key\n"
          "                           a tombstone; a full user-view scan at the latest snapshot with\n"
          "                           version links on (options.version_links) and the default\n"
          "                           max_sequential_skip (8); ops = visible keys returned\n"
          "        readseq_versions_noskip  the same scan of the same table without version links and with\n"
          "                           MT_MEMTABLE_SKIP_NEVER (the view steps through every version)\n"
          "        readseq_versions_search  the same without version links, max_sequential_skip as\n"
          "                           readseq_versions (after that many versions one search passes the rest)\n"
          "        readrandom_index   readrandom on a fillrandom table of ours with the point index on\n"
          "                           (options.point_index, sized for N keys); the peers have no such\n"
          "                           index, so their figure is their plain readrandom (readrandom's own\n"
          "                           when it runs too, else measured interleaved with ours)\n"
          "        readmissing_index  readmissing on that table (no bloom filter); the peers' figure is\n"
          "                           their plain readmissing, likewise\n",
        out);
  fputs(
          "        rotate             ours only: --rotations times, create a table, add fillrandom's keys\n"
          "                           until it should flush (--write_buffer_size), iterate it in full as a\n"
          "                           flush, free it; entries per second over the whole rotation\n"
          "        rotate_pool        rotate with every table's arena on one block pool (mt_block_pool),\n"
          "                           warmed by one untimed rotation; the two take turns, rotation by\n"
          "                           rotation, and the summary prints their ratio\n"
          "        readversions_skip  ours only, not in the default set (--benchmarks=readversions_skip or\n"
          "                           all): user-view passes over 8 keys x 20000 and 1000 keys x 100\n"
          "                           versions, forward and backward, version links off and on, on\n"
          "                           tables with the scan readahead on and off; us per pass and on/off\n"
          "        readhot_oldsnapshot  ours only: --reads gets at snapshot 1 of a hot key with 65536 newer\n"
          "                           versions (and as many other keys between), through the point index;\n"
          "                           runs readhot_oldsnapshot_noindex too, and the summary prints the ratio\n"
          "        readhot_oldsnapshot_noindex  the same gets of the same table without the point index\n",
        out);
  fputs(
          "      Read benchmarks run on a table built by the matching fill; that fill is only timed when the\n"
          "      fill benchmark itself is selected. After fillconcurrent and fillbatch every eighth key is\n"
          "      looked up and the table scanned in full (untimed).\n",
        out);
}

/* The flags. */
static void usage_flags(FILE *out) {
  /* The flags in a string of their own: one literal would pass the 4095 characters C compilers must support. */
  fprintf(out,
          "  --num=N               entries per table (default 1000000)\n"
          "  --key_size=N          key bytes (default 16): key i is the 16 hex digits of splitmix64(i),\n"
          "                        truncated or repeated to N bytes (below 16, keys may collide)\n"
          "  --value_size=N        value bytes (default 100), deterministic per key\n"
          "  --reads=N             operations of readrandom/readmissing/seekrandom (default --num / 4)\n"
          "  --threads=N           reader threads of readwhilewriting (default 1)\n"
          "  --writers=N           writer threads of fillconcurrent (default %u, max %u)\n"
          "  --batch_size=N        entries per batch of fillbatch (default %u) and gets per batch of\n"
          "                        readrandom_batch (default %u); max %u\n"
          "  --seed=N              seeds the read order and our skiplist heights (default 1)\n"
          "  --repetitions=N       repetitions per implementation, medians reported (default 2, max %u)\n"
          "  --bloom_bits=N        our bloom filter bits per key for every benchmark (default 0 = off, max 32)\n"
          "  --checksum_bytes=N    our per-entry checksum: 0 (default), 1, 2, 4 or 8\n"
          "  --skiplist_branching=N  our tables' skiplist branching (options.skiplist_branching): 2..64,\n"
          "                        default 0 = the library's (2); 4 is LevelDB's and RocksDB's shape\n"
          "  --max_sequential_skip=N  readseq_versions' threshold (default %u, the library's; %u = never)\n"
          "  --versions_order=sequence|random  how readseq_versions' entries are added: in sequence-number\n"
          "                           order, round by round, each round's keys shuffled (default: as an\n"
          "                           engine adds them), or all (key, version) pairs shuffled\n"
          "  --point_index_entries=N  the keys readrandom_index's and readmissing_index's point index is\n"
          "                        sized for (options.point_index_entries; default 0 = --num): below --num\n"
          "                        the index grows while the table is filled\n"
          "  --huge_pages=MODE     our tables' arena pages: off (default, malloc'd 64 KiB blocks), thp (2 MiB\n"
          "                        blocks, 2 MiB aligned, madvise(MADV_HUGEPAGE)) or hugetlb (MAP_HUGETLB,\n"
          "                        falling back to thp when no huge pages are reserved); the report says\n"
          "                        which backing the blocks got and why a request fell back\n"
          "  --chase_mib=N         the dependent-load probe's memory, MiB (default %zu; 0 = no probe)\n"
          "  --chase_huge_pages    probe with huge pages advised too (on when --huge_pages is not off)\n"
          "  --peers=LIST          rocksdb,leveldb (default: those built in), or none\n"
          "  --json                print one JSON document on stdout instead of the text report\n"
          "  --verbose             also print every repetition's figures\n"
          "  --help                this text\n",
          DEFAULT_WRITERS, MAX_WRITERS, DEFAULT_BATCH_SIZE, DEFAULT_READ_BATCH_SIZE, MAX_BATCH_SIZE, MAX_REPETITIONS,
          DEFAULT_MAX_SEQUENTIAL_SKIP, UINT32_MAX, DEFAULT_CHASE_BYTES >> 20);
  fprintf(out,
          "  --rotations=N         tables per repetition of rotate and rotate_pool (default %u)\n"
          "  --write_buffer_size=N bytes of each rotated table (default %zu = 64 MiB; min 1 MiB)\n"
          "  --duration=S          after the benchmarks, soak for S seconds (default 0 = off; alone when\n"
          "                        --benchmarks is not given): one writer rotates tables on a block pool,\n"
          "                        --threads readers get random keys from the current one, and resident\n"
          "                        memory (/proc/self/statm) is sampled every 100 ms: warm-up (until the\n"
          "                        second rotation ends), min/max after it, and whether max <= 1.1 x min\n",
          DEFAULT_ROTATIONS, DEFAULT_WRITE_BUFFER_SIZE);
}

/* The peers, progress and exit status. */
static void usage_peers(FILE *out) {
  fprintf(out,
          "\n"
          "Peers (compiled in: %s):\n"
          "  rocksdb             RocksDB's SkipListFactory memtable rep (InlineSkipList) through\n"
          "                      rocksdb/memtablerep.h, with our own bump arena (64 KiB blocks, 16-byte aligned\n"
          "                      nodes as RocksDB's Arena; fillconcurrent: a thread-safe one, a shard per writer)\n"
          "                      and a direct bytewise internal-key comparator. Memory is the arena's blocks.\n"
          "                      A librocksdb built without NDEBUG (Debian's is) runs InlineSkipList's\n"
          "                      assertions, two extra key comparisons per search step; the report then says\n"
          "                      so under the table.\n"
          "  leveldb(db+memenv)  LevelDB's MemTable is internal (not exported by libleveldb.so), so this is a\n"
          "                      whole leveldb::DB on NewMemEnv with a write buffer larger than the data (no\n"
          "                      flush, checked). It measures the DB path around the memtable: a put is a\n"
          "                      one-entry WriteBatch plus a CRC'd log record appended in memory (sync off); a\n"
          "                      get takes the DB mutex and copies the value; seeks and scans go through\n"
          "                      DBIter. Memory is leveldb.approximate-memory-usage (the memtable's arena).\n"
          "                      No concurrent memtable insert: fillconcurrent's writers call DB::Put, which\n"
          "                      LevelDB queues and applies one group at a time.\n"
          "\n"
          "Progress goes to stderr: a line per measurement with its time (and a live percentage on a\n"
          "terminal). Exit status: 0 success, 1 run failure (including wrong results), 2 invalid flags.\n",
#if defined(MEMTABLE_BENCH_HAVE_ROCKSDB) && defined(MEMTABLE_BENCH_HAVE_LEVELDB)
          "rocksdb, leveldb"
#elif defined(MEMTABLE_BENCH_HAVE_ROCKSDB)
          "rocksdb"
#elif defined(MEMTABLE_BENCH_HAVE_LEVELDB)
          "leveldb"
#else
          "none"
#endif
  );
}

static void usage(FILE *out) {
  usage_benchmarks(out);
  usage_feature_benchmarks(out);
  usage_flags(out);
  usage_peers(out);
}

static void flag_error(const char *format, ...) {
  va_list args;
  va_start(args, format);
  fputs("memtable-bench: ", stderr);
  vfprintf(stderr, format, args);
  fputs("\nTry 'memtable-bench --help'.\n", stderr);
  va_end(args);
  exit(2);
}

static uint64_t parse_unsigned(const char *flag, const char *text, uint64_t min, uint64_t max) {
  if (*text < '0' || *text > '9') flag_error("--%s: '%s' is not a non-negative integer", flag, text);
  errno = 0;
  char *end = NULL;
  unsigned long long value = strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') flag_error("--%s: '%s' is not a non-negative integer", flag, text);
  if (value < min || value > max)
    flag_error("--%s: %llu is out of range [%" PRIu64 ", %" PRIu64 "]", flag, value, min, max);
  return (uint64_t)value;
}

static bool parse_bool(const char *flag, const char *text) {
  if (text == NULL || strcmp(text, "true") == 0 || strcmp(text, "1") == 0) return true;
  if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0) return false;
  flag_error("--%s: '%s' is not true/false/1/0", flag, text);
  return false;
}

/* Splits a comma list in place-free fashion, calling on_item for each non-empty item. */
static void parse_list(const char *flag, const char *text, void (*on_item)(const char *flag, const char *item)) {
  if (*text == '\0') flag_error("--%s: empty list", flag);
  char item[64];
  const char *start = text;
  for (;;) {
    const char *comma = strchr(start, ',');
    size_t len = comma ? (size_t)(comma - start) : strlen(start);
    if (len == 0) flag_error("--%s: empty item in '%s'", flag, text);
    if (len >= sizeof item) flag_error("--%s: unknown item '%.*s'", flag, (int)len, start);
    memcpy(item, start, len);
    item[len] = '\0';
    on_item(flag, item);
    if (comma == NULL) break;
    start = comma + 1;
  }
}

/* What a run without --benchmarks measures: the operations an engine's write buffer spends its time in, each
 * against both peers, at a cost that keeps the default run short. */
static const unsigned headline_benchmarks[] = {
    BENCH_FILLSEQ,   BENCH_FILLRANDOM,  BENCH_READRANDOM,     BENCH_READRANDOM_BATCH, BENCH_READMISSING_BLOOM,
    BENCH_READSEQ,   BENCH_READREVERSE, BENCH_SEEKRANDOM,     BENCH_FILLCONCURRENT,   BENCH_FILLBATCH,
    BENCH_READRANDOM_INDEX};

static void select_benchmark(const char *flag, const char *name) {
  if (strcmp(name, "all") == 0) {
    for (unsigned b = 0; b < BENCH_COUNT; b++) g_options.selected[b] = true;
    return;
  }
  for (unsigned b = 0; b < BENCH_COUNT; b++) {
    if (strcmp(name, bench_names[b]) == 0) {
      g_options.selected[b] = true;
      /* The plain get it is measured against. */
      if (b == BENCH_READHOT_OLDSNAPSHOT) g_options.selected[BENCH_READHOT_OLDSNAPSHOT_NOINDEX] = true;
      return;
    }
  }
  flag_error("--%s: unknown benchmark '%s'", flag, name);
}

static void select_peer(const char *flag, const char *name) {
  if (strcmp(name, "none") == 0) return;
  if (strcmp(name, "rocksdb") == 0) {
#ifndef MEMTABLE_BENCH_HAVE_ROCKSDB
    flag_error("--%s: the rocksdb peer was not built (install librocksdb-dev and reconfigure)", flag);
#endif
    g_options.want_rocksdb = true;
    return;
  }
  if (strcmp(name, "leveldb") == 0) {
#ifndef MEMTABLE_BENCH_HAVE_LEVELDB
    flag_error("--%s: the leveldb peer was not built (install libleveldb-dev and reconfigure)", flag);
#endif
    g_options.want_leveldb = true;
    return;
  }
  flag_error("--%s: unknown peer '%s' (rocksdb, leveldb or none)", flag, name);
}

/* Which flags the command line gave, for the defaults that depend on them. */
typedef struct flags_given {
  bool benchmarks;
  bool reads;
  bool peers;
} flags_given;

static void set_defaults(void) {
  g_options.num = 1000000;
  g_options.key_size = 16;
  g_options.value_size = 100;
  g_options.threads = 1;
  g_options.writers = DEFAULT_WRITERS;
  g_options.batch_size = DEFAULT_BATCH_SIZE;
  /* Two: each figure is already interleaved over INTERLEAVE_SLICES slices; more repetitions are for --benchmarks
   * subsets or a noisy machine. */
  g_options.repetitions = 2;
  g_options.seed = 1;
  g_options.max_sequential_skip = DEFAULT_MAX_SEQUENTIAL_SKIP;
  g_options.rotations = DEFAULT_ROTATIONS;
  g_options.write_buffer_size = DEFAULT_WRITE_BUFFER_SIZE;
  g_options.chase_bytes = DEFAULT_CHASE_BYTES;
}

/* A flag whose value is a whole number in [min, max], stored (shifted left by shift) in the field of g_options
 * at offset, of the given size. */
typedef struct number_flag {
  const char *name;
  uint64_t min;
  uint64_t max;
  unsigned shift;
  size_t offset;
  size_t size;
} number_flag;

#define OPTION_FIELD(field) offsetof(bench_options, field), sizeof(((bench_options *)0)->field)

static const number_flag number_flags[] = {
    {"num", 1, UINT64_C(1000000000), 0, OPTION_FIELD(num)},
    {"key_size", 1, 1u << 20, 0, OPTION_FIELD(key_size)},
    {"value_size", 0, 1u << 26, 0, OPTION_FIELD(value_size)},
    {"reads", 1, UINT64_C(100000000000), 0, OPTION_FIELD(reads)},
    {"threads", 1, 256, 0, OPTION_FIELD(threads)},
    {"writers", 1, MAX_WRITERS, 0, OPTION_FIELD(writers)},
    {"batch_size", 1, MAX_BATCH_SIZE, 0, OPTION_FIELD(batch_size)},
    {"seed", 0, UINT64_MAX, 0, OPTION_FIELD(seed)},
    {"repetitions", 1, MAX_REPETITIONS, 0, OPTION_FIELD(repetitions)},
    {"bloom_bits", 0, 32, 0, OPTION_FIELD(bloom_bits)},
    {"skiplist_branching", 2, MT_MEMTABLE_MAX_SKIPLIST_BRANCHING, 0, OPTION_FIELD(skiplist_branching)},
    {"max_sequential_skip", 1, UINT32_MAX, 0, OPTION_FIELD(max_sequential_skip)},
    {"rotations", 1, 10000, 0, OPTION_FIELD(rotations)},
    {"write_buffer_size", (uint64_t)1 << 20, (uint64_t)1 << 34, 0, OPTION_FIELD(write_buffer_size)},
    {"duration", 0, 7 * 86400, 0, OPTION_FIELD(duration)},
    {"point_index_entries", 0, UINT64_C(1000000000), 0, OPTION_FIELD(point_index_entries)},
    {"chase_mib", 0, 65536, 20, OPTION_FIELD(chase_bytes)},
};

static const number_flag *find_number_flag(const char *name) {
  for (size_t i = 0; i < sizeof number_flags / sizeof number_flags[0]; i++)
    if (strcmp(name, number_flags[i].name) == 0) return &number_flags[i];
  return NULL;
}

static bool is_bool_flag(const char *name) {
  return strcmp(name, "json") == 0 || strcmp(name, "verbose") == 0 || strcmp(name, "chase_huge_pages") == 0;
}

/* Ends the run (status 2) unless name is a flag, with a value unless it is a boolean. */
static void check_flag(const char *name, const char *value) {
  bool is_bool = is_bool_flag(name);
  bool known = is_bool || find_number_flag(name) != NULL || strcmp(name, "benchmarks") == 0 ||
               strcmp(name, "checksum_bytes") == 0 || strcmp(name, "peers") == 0 ||
               strcmp(name, "huge_pages") == 0 || strcmp(name, "versions_order") == 0;
  if (!known) flag_error("unknown flag '--%s'", name);
  if (!is_bool && value == NULL) flag_error("--%s needs a value: --%s=...", name, name);
}

/* A flag with a number in a range: true when name is one. */
static bool apply_number_flag(const char *name, const char *value, flags_given *given) {
  const number_flag *flag = find_number_flag(name);
  if (flag == NULL) return false;
  uint64_t number = parse_unsigned(name, value, flag->min, flag->max) << flag->shift;
  char *field = (char *)&g_options + flag->offset;
  if (flag->size == sizeof(unsigned)) {
    unsigned narrow = (unsigned)number;
    memcpy(field, &narrow, sizeof narrow);
  } else {
    assert(flag->size == sizeof number);
    memcpy(field, &number, sizeof number);
  }
  if (strcmp(name, "reads") == 0) given->reads = true;
  if (strcmp(name, "batch_size") == 0) g_options.batch_size_set = true;
  return true;
}

/* Sets the option one flag names; name is known and value present unless the flag is a boolean. */
static void apply_flag(const char *name, const char *value, flags_given *given) {
  if (apply_number_flag(name, value, given)) return;
  if (strcmp(name, "json") == 0) {
    g_options.json = parse_bool(name, value);
  } else if (strcmp(name, "verbose") == 0) {
    g_options.verbose = parse_bool(name, value);
  } else if (strcmp(name, "chase_huge_pages") == 0) {
    g_options.chase_huge_pages = parse_bool(name, value);
  } else if (strcmp(name, "benchmarks") == 0) {
    memset(g_options.selected, 0, sizeof g_options.selected);
    parse_list(name, value, select_benchmark);
    given->benchmarks = true;
  } else if (strcmp(name, "versions_order") == 0) {
    if (strcmp(value, "sequence") != 0 && strcmp(value, "random") != 0)
      flag_error("--versions_order: '%s' is not sequence or random", value);
    g_options.versions_random_order = strcmp(value, "random") == 0;
  } else if (strcmp(name, "huge_pages") == 0) {
    unsigned mode = 0;
    while (mode < HUGE_PAGES_CHOICES && strcmp(value, huge_pages_names[mode]) != 0) mode++;
    if (mode == HUGE_PAGES_CHOICES) flag_error("--huge_pages: '%s' is not off, thp or hugetlb", value);
    g_options.huge_pages = mode;
  } else if (strcmp(name, "checksum_bytes") == 0) {
    unsigned bytes = (unsigned)parse_unsigned(name, value, 0, 8);
    if (bytes != 0 && bytes != 1 && bytes != 2 && bytes != 4 && bytes != 8)
      flag_error("--checksum_bytes: %u is not 0, 1, 2, 4 or 8", bytes);
    g_options.checksum_bytes = bytes;
  } else {
    g_options.want_rocksdb = false;
    g_options.want_leveldb = false;
    parse_list(name, value, select_peer);
    given->peers = true;
  }
}

/* The defaults that depend on other flags. */
static void derive_defaults(const flags_given *given) {
  /* A soak without --benchmarks runs alone. */
  if (!given->benchmarks && g_options.duration == 0) {
    for (size_t i = 0; i < sizeof headline_benchmarks / sizeof headline_benchmarks[0]; i++)
      g_options.selected[headline_benchmarks[i]] = true;
  }
  /* A quarter of the table's keys is tens of thousands of gets a slice at the default --num: medians as
   * stable as with all of them, in a quarter of the time. */
  if (!given->reads) g_options.reads = g_options.num / 4 > 0 ? g_options.num / 4 : 1;
  if (g_options.huge_pages != 0) g_options.chase_huge_pages = true;
  if (!given->peers) {
#ifdef MEMTABLE_BENCH_HAVE_ROCKSDB
    g_options.want_rocksdb = true;
#endif
#ifdef MEMTABLE_BENCH_HAVE_LEVELDB
    g_options.want_leveldb = true;
#endif
  }
}

void parse_flags(int argc, char **argv) {
  flags_given given = {false, false, false};
  set_defaults();
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
      usage(stdout);
      exit(0);
    }
    if (strncmp(arg, "--", 2) != 0) flag_error("unexpected argument '%s'", arg);
    char name[64];
    const char *equals = strchr(arg + 2, '=');
    size_t name_len = equals ? (size_t)(equals - (arg + 2)) : strlen(arg + 2);
    if (name_len == 0 || name_len >= sizeof name) flag_error("unknown flag '%s'", arg);
    memcpy(name, arg + 2, name_len);
    name[name_len] = '\0';
    const char *value = equals ? equals + 1 : NULL;
    check_flag(name, value);
    apply_flag(name, value, &given);
  }
  derive_defaults(&given);
}
