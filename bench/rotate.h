/* bench/rotate.h - rotate and rotate_pool (rotate.c): a memtable's whole life, over and over, without and with
 * a block pool; and the soak mode (soak.c), which keeps rotating for --duration seconds and watches resident
 * memory. Ours only: the peers have no block pool. */
#ifndef MEMTABLE_BENCH_ROTATE_H
#define MEMTABLE_BENCH_ROTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memtable/block_pool.h>
#include <memtable/memtable.h>

/* --rotations' and --write_buffer_size's defaults. */
#define DEFAULT_ROTATIONS 2u
#define DEFAULT_WRITE_BUFFER_SIZE ((size_t)64 << 20)

/* A table for one rotation: our defaults (64 KiB blocks), --checksum_bytes, --bloom_bits, --seed, and
 * write_buffer_size = --write_buffer_size; on the pool when pool is not NULL. Ends the run on failure. */
mt_memtable *rotation_table(mt_block_pool *pool);

/* Adds fillrandom's entries (key j, j = 0, 1, ...) until the table should flush; returns how many. Ends the
 * run on failure. */
uint64_t rotation_fill(mt_memtable *table);

/* The flush: a full internal-key iteration; returns the entries visited and adds their key and value bytes to
 * *bytes. Ends the run on an iteration error. */
uint64_t rotation_flush_scan(mt_memtable *table, uint64_t *bytes);

/* A pool sized for rotations: 64 KiB blocks (the tables' default) and room to keep two tables' worth idle.
 * Ends the run on failure. */
mt_block_pool *rotation_pool(void);

/* Page faults (getrusage's minor faults) during the timed rotations: [0] rotate, [1] rotate_pool. */
typedef struct rotate_faults {
  uint64_t faults;
  uint64_t tables;
} rotate_faults;
extern rotate_faults g_rotate_faults[2];

/* One repetition of rotate and rotate_pool (whichever are selected), --rotations each, taking turns. */
void run_rotate(unsigned rep);

/* After the repetitions, when --duration > 0: the soak (soak.c), its figures kept for the report. */
typedef struct soak_result {
  bool present;
  double seconds;
  unsigned readers;
  uint64_t rotations;
  uint64_t entries;      /* added by the writer */
  uint64_t reads;        /* gets by the readers */
  double warmup_seconds; /* until the writer's second rotation ended */
  size_t samples;        /* resident-memory samples after the warm-up */
  size_t rss_warmup_max; /* bytes, largest sample during the warm-up */
  size_t rss_min, rss_max; /* bytes, after the warm-up */
  size_t rss_final;
  bool within_10_percent; /* rss_max <= 1.1 * rss_min */
  size_t pool_bytes_held; /* at the end */
} soak_result;

extern soak_result g_soak;

void run_soak(void);

/* The soak's figures, when it ran: a text paragraph, or a JSON object (else "null"). */
void print_soak_text(void);
void print_soak_json(void);

#endif
