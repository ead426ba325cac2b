/* memtable/memtable.h - a LevelDB-compatible write buffer.
 *
 * Threading: mt_memtable_add and mt_memtable_add_batch require external synchronization (one writer at a
 * time), unless the table was created with options.concurrent_writes: then any number of threads may add at
 * once, with no lock. Gets and iterators need no lock and may run while writers add; they require only that
 * the caller holds a reference. Every build with assertions (NDEBUG undefined) catches the misuse: a write
 * (add, add_batch, prepare, add_prepared, cancel_prepared) entered on a table without concurrent_writes while
 * another is in progress asserts, rather than corrupt the table. Release builds do not check.
 * mt_memtable_ref / mt_memtable_unref, mt_memtable_freeze and the statistics may be called from any thread.
 *
 * References: the creator holds one; each iterator holds its own from create to destroy, so a table stays
 * whole (gets, other iterators, the slices they returned) while anyone holds one, and the last unref, from
 * whichever thread drops it, frees everything. An iterator is used by one thread at a time; it may be
 * handed to another thread when the hand-over synchronises (a mutex, a queue, a thread join).
 *
 * Allocator hooks: the arena's (options.arena.allocator) are called only by the writer (adds) and by the
 * thread that drops the last reference (the free). Readers never call them: iterators and lookup keys of
 * long keys come from options.reader_allocator, which is called from any reader thread.
 *
 * Each entry is written once into arena memory in LevelDB's MemTable format:
 *
 *   varint32(key_len + 8) | user key | fixed64le(seq << 8 | type) | varint32(value_len) | value
 *
 * optionally followed by 1, 2, 4 or 8 bytes of checksum (the low bytes of XXH3-64 of the entry). A node is
 * one allocation:
 *
 *   [skiplist links: 8 bytes a level] [version link: 8 bytes, with options.version_links]
 *   [size: 4 bytes, with checksums] [entry] [checksum]
 *
 * Entries
 * are ordered as LevelDB's internal keys: user key ascending by the comparator, then sequence number
 * descending, then type descending. Nothing is freed entry by entry: the last unref frees the whole
 * table with one arena teardown.
 *
 * AddressSanitizer (the library built with ASan): arena bytes not holding an entry or node are poisoned
 * (memtable/arena.h, "AddressSanitizer"), so a read past the end of a slice the table returned, into bytes no
 * entry holds, is reported as "use-after-poison"; a slice kept after the last unref (a flushed table) as
 * "heap-use-after-free" with the default allocator, or as whatever the arena's free hook makes of it. With a
 * block pool, such a slice is reported only until the pool lends its block to another table; after that it
 * reads the other table's bytes unreported (memtable/arena.h, "AddressSanitizer").
 */
#ifndef MEMTABLE_MEMTABLE_H
#define MEMTABLE_MEMTABLE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <memtable/arena.h>
#include <memtable/export.h>
#include <memtable/status.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mt_memtable mt_memtable;

/* A byte string the library hands out (it never owns caller memory). */
typedef struct mt_slice {
  const char *data;
  size_t len;
} mt_slice;

typedef enum mt_entry_type {
  MT_TYPE_DELETION = 0,
  MT_TYPE_VALUE = 1
} mt_entry_type;

/* The decoded view of one encoded entry. */
typedef struct mt_entry {
  mt_slice user_key;
  uint64_t seq;
  mt_entry_type type;
  mt_slice value;
} mt_entry;

/* Largest sequence number: seq << 8 | type must fit 64 bits. */
#define MT_MAX_SEQUENCE ((UINT64_C(1) << 56) - 1)
/* Largest user key: key_len + 8 must fit a varint32. */
#define MT_MAX_KEY_LEN ((size_t)UINT32_MAX - 8)
/* Largest value: value_len must fit a varint32. */
#define MT_MAX_VALUE_LEN ((size_t)UINT32_MAX)

/* User-key order: negative, zero or positive as a sorts before, equal to, or after b. Must be a total
 * order and thread-safe (readers call it concurrently). */
typedef int (*mt_compare_fn)(void *ctx, const char *a, size_t a_len, const char *b, size_t b_len);

typedef struct mt_memtable_options {
  /* User-key comparator; NULL (default) is bytewise: memcmp, then the shorter key first. */
  mt_compare_fn compare;
  void *compare_ctx;
  /* The table's arena: block size (default here 64 KiB; 0 also means 64 KiB, or with a pool the pool's),
   * optional hard capacity (MT_FULL beyond it), optional allocator hooks (called by the writer and the last
   * unref only), or instead of hooks huge pages (arena.pages) and NUMA placement (arena.numa_node), reported
   * by mt_memtable_get_pages_report; or an optional block pool shared with other tables (arena.pool;
   * memtable/block_pool.h), which must outlive the table: its blocks go back to the pool at the last unref.
   * arena.concurrent is implied by concurrent_writes (the arena is concurrent when either is set: a single
   * writer may still ask for it, for an arena whose allocator hooks want the lock). */
  mt_arena_options arena;
  /* The memory budget: mt_memtable_should_flush turns true before an arena block past it would be opened,
   * and mt_memtable_prepare refuses an entry that would need memory past it; default (and 0) 4 MiB. */
  size_t write_buffer_size;
  /* Bloom filter over user keys consulted by get before the skiplist: bits per key, 0 (default) = off.
   * Sized for bloom_expected_entries keys (0: write_buffer_size / 64). The filter hashes the key's bytes, so
   * it is only used when comparator-equal keys are byte-equal (true of the bytewise default); with a
   * custom comparator set, it is ignored unless bytewise_equal_keys is true. With checksums every bit
   * is kept twice (see checksum_bytes), so the filter takes twice the memory for the same bits per key. */
  unsigned bloom_bits_per_key;
  size_t bloom_expected_entries;
  /* The custom comparator calls keys equal only when their bytes are equal (default false; the bytewise
   * default comparator always does): lets the bloom filter and the point index, which hash the key's bytes,
   * work with it. (Replaces bloom_bytewise_equal_keys, which already switched both.) */
  bool bytewise_equal_keys;
  /* Per-entry checksum bytes: 0 (default), 1, 2, 4 or 8: corruption detection. Each entry then costs
   * checksum_bytes + 4 bytes more (the 4 record its stored size), and get, iterators and validate check
   * every entry they read against its size (decoding and key comparisons never read outside it; the entry
   * must fill it exactly) and its checksum, answering MT_CORRUPTION on a mismatch. Every search also checks
   * the entry on the other side of the gap it lands in, so with 4 or 8 bytes one damaged byte anywhere in an
   * entry never changes an answer: a get or scan answers as the undamaged table would, or MT_CORRUPTION.
   * (1 and 2 bytes let a damaged entry pass its check with probability 2^-8 / 2^-16.)
   * What a reader trusts, and what vouches for it (one damaged byte of any of these never changes an answer
   * with 4 or 8 bytes):
   *   - the entry (length prefixes, key, sequence number and type, value): its checksum;
   *   - the node's 4-byte recorded size: the entry must fill it exactly, and the checksum covers the entry;
   *   - the version link (version_links): a 16-bit check of its address, kept with or without checksums, so a
   *     damaged link is never followed (MT_CORRUPTION); a link that passes it is followed only onto an entry
   *     of the same user key with an older sequence number that passes its own checks;
   *   - the bloom filter (bloom_bits_per_key): each bit is kept in both halves of its 64-bit word, and a key is
   *     ruled out only when both copies are clear, so a damaged byte can only let a get search (the right
   *     answer, a little slower), never rule a stored key out;
   *   - the point index's slots (point_index): see that option.
   * Not covered, as in LevelDB and RocksDB: the skiplist's own level links (a damaged one can send a search or
   * a scan past entries); mt_memtable_validate checks them (order on every level, every link in the arena). 
   * Without checksums nothing is stored beside the entry: it is read by its own length prefixes, and
   * corruption detection is not promised (damaged lengths can make a read leave the entry; only an
   * unknown type or an internal key shorter than 8 bytes is refused). validate still checks, through the
   * arena's bounds, that every entry it walks lies in the table's memory. */
  unsigned checksum_bytes;
  /* Seeds the skiplist's height generator (reproducible layouts). */
  uint64_t seed;
  /* Where readers get memory: iterators (create / destroy) and the lookup keys of user keys longer than
   * about 240 bytes (each seek or get of one allocates and frees one). Called from any thread that reads, so
   * it must be thread-safe. All-NULL (the default) means malloc/free; alloc and free must be both set or both
   * NULL. Never counted in the table's memory usage. */
  mt_allocator reader_allocator;
  /* Concurrent writers (default false): mt_memtable_add and mt_memtable_add_batch may be called from any
   * number of threads at once, with no lock (the arena allocates from per-thread shards, the skiplist links by
   * compare-and-swap). The arena's allocator hooks are then called from any writing thread, one at a time.
   * Costs nothing to readers; a single writer is a little faster without it. */
  bool concurrent_writes;
  /* How many hidden entries of one user key (older versions after the one returned, versions newer than
   * the snapshot, versions under a tombstone) the user view steps over before it passes the rest with one
   * search (RocksDB's max_sequential_skip_in_iterations): forward to the first entry after the key's
   * versions, backward to the last entry before them. Default (and 0) MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP
   * (8, as RocksDB); MT_MEMTABLE_SKIP_NEVER steps through every version (no search: the view before this
   * option, for comparison). Every value is valid; answers never depend on it, only speed. A key's versions
   * lie scattered in memory when they were added at different times, so each step is about a cache miss;
   * a search costs a few (its upper levels stay cached during a scan). While the scan readahead streams, a
   * step costs a fraction of a miss, so the view then steps 24 versions further before it searches. */
  unsigned max_sequential_skip;
  /* Scan readahead. A table's entries lie in memory in insertion order, so a scan of a table filled in
   * random key order waits on a cache miss per entry. With readahead, an iterator that has made a few steps
   * in one direction (or started with seek_to_first / seek_to_last) walks scan_readahead_segments stretches
   * of the table at once, each holding up to scan_readahead_segment_nodes entries, so their misses overlap;
   * a backward scan then steps back without a search per step. Results are the same with or without it.
   * The user view steps over a key's hidden versions through the walker for a few dozen steps at most before
   * it searches past the rest (max_sequential_skip), and after such a search the walker starts again only
   * once the view steps on further than that, so a pass over keys with long chains of versions costs about
   * what it costs without readahead (memtable-bench readversions_skip).
   * 0 segments turns it off; default MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENTS (8), at most 64. Nodes: 0
   * means the default MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENT_NODES (512), at most 65536. Each iterator
   * then takes segments * nodes * sizeof(void *) bytes (32 KiB by default) and about 4 KiB more from
   * reader_allocator when it is created; when that fails the iterator still works, without readahead. */
  unsigned scan_readahead_segments;
  unsigned scan_readahead_segment_nodes;
  /* Point-lookup index (default false): a hash table from user key to the node of its newest version, beside
   * the skiplist, so a get costs about one cache miss for the slot plus the entry's own line(s) instead of a
   * skiplist search (several dependent misses, growing with log(entries)); an absent key costs about one miss, so the bloom filter
   * is not needed with it. Gets at older snapshots land on the newest version and step forward through the
   * key's older versions, at most 8 of them, then search the skiplist (so a get at an old snapshot of a key
   * overwritten many times costs about a plain get). Iterators and seeks do not use it.
   * Cost: 8 bytes a slot, 1.25 slots per expected key (10 bytes a key, allocated from the arena at create and
   * counted in the memory usage), and one more hash plus a compare-and-swap per add.
   * Sized for point_index_entries distinct keys (0: write_buffer_size / MT_MEMTABLE_TYPICAL_ENTRY_BYTES).
   * It grows with the table: the add that brings it to 0.8 of its slots copies it into a table twice as large
   * (from the arena, past write_buffer_size if need be; the smaller tables stay allocated until the table
   * dies, so the index takes up to twice its last table's bytes; that add takes time linear in the keys held).
   * Readers stay lock-free throughout. When the arena cannot give the larger table (its capacity, or the
   * allocator) new keys past 0.9 of the slots are not indexed (keys already in it stay exact): gets of keys it
   * does not hold, and of absent keys, then search the skiplist, as without the index;
   * mt_memtable_get_memory_stats reports the coverage (index_keys, index_refused_adds).
   * Damage (with checksum_bytes 4 or 8): each slot carries a check byte (the XOR of its other 7 bytes) that a
   * reader verifies before it uses the slot, so one damaged byte of any slot is detected (MT_CORRUPTION) when
   * a get's probe reads that slot, and a probe that does not read it answers right: a single damaged byte
   * never changes an answer silently nor makes a get read outside the table. Every entry the index leads to is
   * checked as any other (its recorded size, its checksum, its user key against the one looked up). Slots
   * damaged in two or more bytes pass the check byte with probability about 2^-8, and may then name a wrong
   * node or an address outside the table; mt_memtable_validate checks every slot (intact, naming an entry in
   * the table's memory whose key has the slot's tag, the newest version of its key). The index's own header
   * (its table pointers and sizes) is not covered, as the skiplist's level links are not.
   * Threading: as the table's (any number of readers, lock-free; one writer, or many with concurrent_writes).
   * The index hashes the key's bytes, so, as the bloom filter, it is used only when comparator-equal keys are
   * byte-equal: with a custom comparator it is off unless bytewise_equal_keys is true. */
  bool point_index;
  size_t point_index_entries;
  /* Version links (default false): each entry added right before an older version of its user key records
   * (8 bytes more per entry) a link to the last version that older one knew of (or to it): with versions
   * added newest last, as one writer adds them, the oldest version the table held. The user view passes all
   * of a key's hidden versions (older versions after the one it returns, the versions under a tombstone) with
   * one jump and one step instead of a cache miss per version or a search (max_sequential_skip), and its scan
   * readahead walks whole keys: memtable-bench readseq_versions. An engine whose keys are overwritten or
   * deleted many times between flushes should turn it on; with unique keys it only costs the 8 bytes. Versions
   * added out of sequence order (concurrent writers, a replay) give the same answers, with a jump or step
   * more per such version. Adds cost one user-key comparison more. Answers never depend on it. A link holds
   * its entry's address (48 bits, as user-space addresses of x86-64 and AArch64 are; an entry above that
   * gets no link, and is passed by stepping) under a 16-bit check of it (see checksum_bytes). */
  bool version_links;
  /* The skiplist's shape: a node reaches each next level with probability 1/skiplist_branching. Default (and
   * 0) MT_MEMTABLE_DEFAULT_SKIPLIST_BRANCHING (2); 2..MT_MEMTABLE_MAX_SKIPLIST_BRANCHING accepted, else
   * MT_INVALID_ARGUMENT. The tallest tower is then the smallest height h with branching^h >= 2^24 (24 levels
   * at 2, 12 at 4, as LevelDB's): tables of up to about 16M entries keep their top level short.
   * A random get, seek or add waits a DRAM latency for each node its search moves right to (the node it drops
   * to is fetched while the one beside is compared): about branching - 1 a level over log_branching(entries)
   * levels, fewest at 2 (LevelDB's and RocksDB's shape is 4). Batched gets and adds (mt_memtable_get_batch,
   * mt_memtable_add_batch) overlap their misses already and gain little from the shape. Cost: a node has
   * 1 + 1/(branching - 1) links on average, 8 bytes each (16 bytes at 2, 10.7 at 4), and mt_memtable_entry_size
   * counts the tallest tower (8 bytes a level). Answers never depend on it, only speed and memory
   * (memtable-bench --skiplist_branching=N compares shapes; docs/skiplist.md). */
  unsigned skiplist_branching;
} mt_memtable_options;

#define MT_MEMTABLE_DEFAULT_BLOCK_SIZE ((size_t)64 * 1024)
#define MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE ((size_t)4 * 1024 * 1024)
#define MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP 8u
#define MT_MEMTABLE_SKIP_NEVER UINT_MAX
#define MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENTS 8u
#define MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENT_NODES 512u
/* The entry size the default index sizing assumes: a 16-byte key, a 24-byte value and their node. */
#define MT_MEMTABLE_TYPICAL_ENTRY_BYTES ((size_t)64)
#define MT_MEMTABLE_DEFAULT_SKIPLIST_BRANCHING 2u
#define MT_MEMTABLE_MAX_SKIPLIST_BRANCHING 64u
#define MT_MEMTABLE_OPTIONS_INIT                                                                         \
  {NULL, NULL, {MT_MEMTABLE_DEFAULT_BLOCK_SIZE, 0, {NULL, NULL, NULL}, false, NULL, MT_ARENA_PAGES_DEFAULT,      \
                MT_ARENA_NUMA_ANY},                                                                       \
   MT_MEMTABLE_DEFAULT_WRITE_BUFFER_SIZE, 0, 0, false, 0, 0xdeadbeefu, {NULL, NULL, NULL}, false,               \
   MT_MEMTABLE_DEFAULT_MAX_SEQUENTIAL_SKIP, MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENTS,                        \
   MT_MEMTABLE_DEFAULT_SCAN_READAHEAD_SEGMENT_NODES, false, 0, false, MT_MEMTABLE_DEFAULT_SKIPLIST_BRANCHING}

MT_API void mt_memtable_options_init(mt_memtable_options *options);

/* Creates an empty table holding one reference (the caller's). options NULL means the defaults. On MT_OK
 * *out is the table; otherwise *out is NULL and the status says why: MT_INVALID_ARGUMENT (out NULL,
 * checksum_bytes not 0/1/2/4/8, bad arena options, only one reader_allocator hook, a bloom filter too
 * large to size, scan readahead beyond its limits), MT_NOMEM (the allocator failed) or MT_FULL (the arena's capacity cannot hold the
 * table's header and filter). */
MT_API mt_status mt_memtable_try_create(const mt_memtable_options *options, mt_memtable **out);

/* As mt_memtable_try_create, returning the table, or NULL for any failure. */
MT_API mt_memtable *mt_memtable_create(const mt_memtable_options *options);

/* Takes one more reference. Any thread. */
MT_API void mt_memtable_ref(mt_memtable *table);
/* Drops one reference; the last frees the table and every entry at once. NULL is ignored. Any thread.
 * Every slice the table returned dies with the last reference: under ASan, reading one afterwards is
 * reported as heap-use-after-free (default allocator; custom arena hooks get the blocks back addressable). */
MT_API void mt_memtable_unref(mt_memtable *table);

/* Adds one entry. type is MT_TYPE_VALUE or MT_TYPE_DELETION (a deletion's value is usually empty, but
 * any value is stored). Returns:
 *   MT_OK; MT_EXISTS if an entry with the same user key and seq is already stored (the memory reserved for
 *   the refused entry is given back: the memory usage is as before the call); MT_FROZEN once the table is
 *   frozen;
 *   MT_INVALID_ARGUMENT for a NULL table, seq > MT_MAX_SEQUENCE, an unknown type, key_len > MT_MAX_KEY_LEN,
 *   value_len > MT_MAX_VALUE_LEN, an encoded entry (with checksum) above 4 GiB - 1, or NULL key/value with a
 *   non-zero length;
 *   MT_FULL (arena capacity) or MT_NOMEM (allocator).
 * On any status but MT_OK nothing visible changed and the table stays valid and readable.
 * The bytes are copied; the caller keeps ownership of key and value. Writer only, or any thread with
 * concurrent_writes (two threads adding the same key and seq at once: exactly one gets MT_OK, the other
 * MT_EXISTS). */
MT_API mt_status mt_memtable_add(mt_memtable *table, uint64_t seq, mt_entry_type type, const void *key,
                                 size_t key_len, const void *value, size_t value_len);

/* Looks up the newest entry for the user key with seq <= snapshot_seq (snapshot_seq above
 * MT_MAX_SEQUENCE reads everything). Returns MT_OK and sets *value to the stored value (zero-copy: valid
 * while the caller holds a reference), MT_DELETED if that entry is a deletion, MT_NOT_FOUND if there is
 * none, MT_CORRUPTION if the entry the search lands on, or (with checksums) the entry just before it,
 * fails its checks (value is not set), MT_INVALID_ARGUMENT for NULL table, a NULL key with a non-zero
 * length or key_len > MT_MAX_KEY_LEN, MT_NOMEM if the reader allocator could not give a key longer than
 * about 240 bytes its lookup key. value may be NULL. With options.point_index the index answers instead of the
 * search (the same answers; MT_CORRUPTION when any entry it reads - the key's newest version, the older ones
 * it steps through - fails its checks), and keys it does not hold fall back to the search. */
MT_API mt_status mt_memtable_get(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                                 mt_slice *value);

/* Many gets at one snapshot: statuses[i] gets exactly what mt_memtable_get(table, keys[i].data,
 * keys[i].len, snapshot_seq, ...) would return (MT_OK, MT_DELETED, MT_NOT_FOUND, MT_CORRUPTION,
 * MT_INVALID_ARGUMENT for a bad key, MT_NOMEM for a long key's lookup key), and on MT_OK values[i] gets the
 * value (zero-copy, valid while the caller holds a reference); on other statuses values[i] is not written.
 * values may be NULL. The answers are those of count single gets made in some order during the call: a key
 * may appear more than once, and with a writer adding meanwhile each answer may or may not include a given
 * concurrent add, exactly as single gets' would (an add completed before the call is always seen).
 * The searches for up to 64 keys at a time run interleaved, 16 in flight, so their cache misses overlap
 * (memtable-bench readrandom_batch); the bloom filter, if any, is consulted for each key first; keys longer
 * than about 240 bytes are looked up one by one. Returns MT_INVALID_ARGUMENT (nothing written) for a NULL
 * table, or NULL keys or statuses with count > 0; otherwise MT_OK, whatever the keys' statuses. Any thread
 * (a reader, like mt_memtable_get): no lock, concurrently with writers and other readers. */
MT_API mt_status mt_memtable_get_batch(const mt_memtable *table, const mt_slice *keys, size_t count,
                                       uint64_t snapshot_seq, mt_status *statuses, mt_slice *values);

/* One entry of a write batch (mt_memtable_add_batch). */
typedef struct mt_memtable_batch_entry {
  mt_entry_type type;
  const void *key;
  size_t key_len;
  const void *value;
  size_t value_len;
} mt_memtable_batch_entry;

/* Adds a write batch: entries[i] gets sequence number first_seq + i. Every entry is checked first, as
 * mt_memtable_add checks one: if any is invalid (or first_seq + count - 1 exceeds MT_MAX_SEQUENCE, or
 * entries is NULL with count > 0), nothing is applied and the call returns MT_INVALID_ARGUMENT (MT_FROZEN
 * likewise for a frozen table). Otherwise the entries are added in order. The searches of up to 32 entries
 * at a time run interleaved first, so their cache misses overlap, and each entry is then linked from the
 * position found (walking past what the batch, or other writers, linked meanwhile); keys too long for the
 * batch's 4 KiB of lookup keys are searched alone. The first entry that fails (MT_EXISTS, MT_FULL,
 * MT_NOMEM) stops the batch:
 * the entries before it are applied and visible, it and the ones after are not. *applied (if not NULL)
 * gets how many were applied. Writer only, or any thread with concurrent_writes (a batch is then one
 * thread's unit of work; batches of different threads interleave). */
MT_API mt_status mt_memtable_add_batch(mt_memtable *table, uint64_t first_seq, const mt_memtable_batch_entry *entries,
                                       size_t count, size_t *applied);

/* As mt_memtable_get, reporting the whole entry found (RocksDB's Get reports its sequence number): on
 * MT_OK and on MT_DELETED, *found (if not NULL) holds the entry's user key, seq, type and value, valid
 * while the caller holds a reference; on any other status it is not written. */
MT_API mt_status mt_memtable_get_entry(const mt_memtable *table, const void *key, size_t key_len,
                                       uint64_t snapshot_seq, mt_entry *found);

/* Bytes of memory held (arena blocks, filter, bookkeeping). Any thread. */
MT_API size_t mt_memtable_approximate_memory_usage(const mt_memtable *table);
/* Bytes the point index holds (its slots and header; part of the memory usage above), 0 when the table has
 * none (options.point_index off, or disabled by a custom comparator). Any thread. */
MT_API size_t mt_memtable_point_index_memory(const mt_memtable *table);
/* Entries added, and how many of them are deletions. Any thread (relaxed reads). */
MT_API uint64_t mt_memtable_entry_count(const mt_memtable *table);
MT_API uint64_t mt_memtable_deletion_count(const mt_memtable *table);
/* Fills *report with what the table's arena asked for and got (huge pages, NUMA placement: see
 * mt_arena_get_pages_report in arena.h). (Replaces mt_memtable_pages_report, 0.2.0.) MT_INVALID_ARGUMENT when either is NULL. Call it while no writer
 * adds (from the writer thread, or once the writers are quiescent); readers may run. */
MT_API mt_status mt_memtable_get_pages_report(const mt_memtable *table, mt_arena_pages_report *report);
/* True when the table should be flushed before the next standard arena block would have to be opened past
 * write_buffer_size (W), with B the arena block size, usage the memory usage and tail the unused rest of
 * the current block (mt_memtable_get_memory_stats):
 *   usage > W                              -> true  (already over: a large entry's own block, or W < B);
 *   usage + B <= W                         -> false (another standard block still fits in W);
 *   otherwise (the current block is the last that fits in W)
 *                                          -> tail < B / 4 + 7.
 * An entry's node of at most B / 4 bytes (entries up to about B / 4 - 210 bytes with the default tallest tower of 24 links)
 * goes to a standard block, and one fits in a tail of B / 4 + 7 whatever its alignment padding: so a writer
 * that checks after each add flushes with usage <= W, never opening a block it then leaves empty, and
 * leaves less than B / 4 + 7 bytes of the last block unused. (RocksDB's ShouldFlushNow lets usage run up
 * to 0.6 B past W, then flushes once the last block has less than B / 4 left; LevelDB flushes once usage
 * >= W, when the block that crosses W has just been opened.) To fill the last block to its end, add
 * through mt_memtable_prepare instead, which refuses exactly the entry that would need memory past W.
 * Any thread (relaxed reads: exact once the writers are quiescent); false for NULL. */
MT_API bool mt_memtable_should_flush(const mt_memtable *table);

/* The most bytes an add of an entry with these lengths takes from the table's arena (the arena's used
 * bytes, see mt_arena_stats): the skiplist node with the tallest tower (H links of 8 bytes, H = 24 with the
 * default skiplist_branching 2, 12 with 4: the worst case, not the expected 2 or 1.33), the 4-byte recorded
 * size and the checksum when options.checksum_bytes is set, the 8-byte version link with
 * options.version_links, the encoded entry, and up to 7 bytes of alignment padding before the node. Never
 * exceeded; an add takes exactly this minus 8 bytes per link below H minus the padding not needed, so the
 * bound is met only by a tower of H (odds branching^-(H-1)) and is (H - 1) * 8 + 7 bytes above the least an
 * add can take (184 + 7 at 2, 88 + 7 at 4). 0 for a NULL table or lengths mt_memtable_add refuses (too long,
 * entry above 4 GiB - 1). Any thread. */
MT_API size_t mt_memtable_entry_size(const mt_memtable *table, size_t key_len, size_t value_len);

/* The most such an add can raise mt_memtable_approximate_memory_usage, whatever the arena's state (it adds
 * nothing when its node fits the current block, or with concurrent writers the thread's chunk): a new block,
 * the standard block size, or for a node above a quarter block one of its own (the node plus the block's
 * header); for a node that is above a quarter block with some tower heights and not with others, the larger.
 * 0 for the arguments mt_memtable_entry_size refuses. Any thread. */
MT_API size_t mt_memtable_entry_memory_bound(const mt_memtable *table, size_t key_len, size_t value_len);

/* A reservation: arena memory for one entry, taken by mt_memtable_prepare before the caller writes its
 * write-ahead-log record, consumed by mt_memtable_add_prepared or mt_memtable_cancel_prepared. Caller-owned
 * storage; only `bytes` is for reading, the rest is private. */
typedef struct mt_memtable_reservation {
  mt_memtable *table; /* private */
  char *node;         /* private: the reserved node, NULL when there is none */
  size_t key_len;     /* private */
  size_t value_len;   /* private */
  size_t bytes;       /* the bytes the node took from the arena (its drawn tower; padding before it excluded) */
} mt_memtable_reservation;

/* Pebble's prepare/apply: reserves the memory of an entry with these lengths, so the caller learns that the
 * table is full BEFORE it writes its log record, rotates to a fresh table, and prepares there instead. The
 * reservation is real memory (the node, from the arena), so it is exact and needs no counting: the
 * mt_memtable_add_prepared that consumes it cannot fail with MT_FULL or MT_NOMEM.
 * Returns MT_OK (*reservation filled);
 *   MT_FULL when the node would take the table's memory usage past write_buffer_size (a block crossing it
 *   would be needed; it is given back) or past the arena's capacity. While the table has no entry, prepare
 *   does not refuse for write_buffer_size, so an entry larger than the budget fits a fresh table, as a write
 *   buffer must (every reservation taken before the first add counts as such: a batch prepared in an empty
 *   table, or writers racing for the first entry, may all get one);
 *   MT_NOMEM (allocator); MT_FROZEN; MT_INVALID_ARGUMENT (NULL table or reservation, lengths mt_memtable_add
 *   refuses).
 * On any status but MT_OK *reservation holds nothing and the table is as before (in memory usage too; with
 * concurrent writers a chunk the thread refilled for the node may stay with it when another writer took
 * shared memory meanwhile). Several reservations may be outstanding (a write batch: prepare each entry,
 * write the log record, add each); a cancel gives memory back only for the arena's latest allocation, so
 * cancelling a batch's reservations abandons all but the last (mt_memtable_memory_stats.abandoned_bytes).
 * Writer only, or any thread with concurrent_writes: reservations are per-thread memory (the node comes
 * from the calling thread's chunk), so writers never wait on each other's. */
MT_API mt_status mt_memtable_prepare(mt_memtable *table, size_t key_len, size_t value_len,
                                     mt_memtable_reservation *reservation);

/* Adds the entry into its reservation: key_len and value_len must be the lengths prepared. Returns MT_OK;
 * MT_EXISTS (an entry with the same key and seq is stored; the node goes back when it is still the arena's
 * latest allocation, as with mt_memtable_add); MT_FROZEN (frozen since the prepare); MT_INVALID_STATE (the
 * reservation holds nothing: used or cancelled); MT_INVALID_ARGUMENT (NULL reservation, lengths other than
 * the prepared ones, seq > MT_MAX_SEQUENCE, an unknown type, NULL key or value with a non-zero length).
 * Never MT_FULL or MT_NOMEM. On MT_OK and MT_EXISTS the reservation is consumed; on the others it is still
 * held (add again, or cancel). Writer only, or any thread with concurrent_writes. */
MT_API mt_status mt_memtable_add_prepared(mt_memtable_reservation *reservation, uint64_t seq, mt_entry_type type,
                                          const void *key, size_t key_len, const void *value, size_t value_len);

/* Drops a reservation unused. Its memory goes back when it is still the arena's latest allocation (the
 * calling thread's, with concurrent_writes): true. Otherwise it stays unused arena memory, counted in
 * mt_memtable_memory_stats.abandoned_bytes: false. false also for NULL or a reservation holding nothing.
 * The reservation then holds nothing. Writer only, or any thread with concurrent_writes. */
MT_API bool mt_memtable_cancel_prepared(mt_memtable_reservation *reservation);

/* Where a table's memory goes. arena is the arena's split (held = header + used + wasted + free, see
 * mt_arena_stats), and the used bytes split further:
 *   arena.used_bytes == filter_bytes + index_bytes + bookkeeping_bytes + entry_bytes. */
typedef struct mt_memtable_memory_stats {
  mt_arena_stats arena;
  size_t filter_bytes;      /* the bloom filter */
  size_t index_bytes;       /* the point index (mt_memtable_point_index_memory) */
  size_t bookkeeping_bytes; /* the table's and the skiplist's headers, the skiplist's head, their padding */
  /* The entries' nodes (tower, recorded size, entry, checksum, padding), reservations held and abandoned
   * included; with concurrent writers also the unused rest of the live writers' current chunks, and the
   * rests exited writers gave back (arena.spare_bytes; see mt_arena_stats.used_bytes). */
  size_t entry_bytes;
  size_t abandoned_bytes; /* cancelled reservations not given back (part of entry_bytes) */
  uint64_t entries;       /* mt_memtable_entry_count */
  /* The point index's coverage (0 without one): index_keys, the distinct user keys it holds; and
   * index_refused_adds, the adds whose key it could not take (no memory to grow: the arena's capacity or
   * allocator refused), each counted once per add. While index_refused_adds is 0 every key the table holds
   * is indexed (coverage 1); otherwise gets of the keys it lacks, and of absent keys, search the skiplist. */
  uint64_t index_keys;
  uint64_t index_refused_adds;
} mt_memtable_memory_stats;

/* Fills *out: MT_OK, or MT_INVALID_ARGUMENT (nothing written) for NULL. Any thread, while writers add
 * (relaxed reads: figures may lag adds in flight; exact once the writers are quiescent). */
MT_API mt_status mt_memtable_get_memory_stats(const mt_memtable *table, mt_memtable_memory_stats *out);

/* The smallest and largest sequence numbers added: MT_OK, MT_NOT_FOUND (outputs untouched) while the table
 * is empty, MT_INVALID_ARGUMENT for NULL. Any thread; exact once the writer is quiescent (e.g. frozen). */
MT_API mt_status mt_memtable_sequence_range(const mt_memtable *table, uint64_t *smallest, uint64_t *largest);

/* Marks the table immutable, as a flush starts: every add that begins after the freeze is visible to the
 * writer (through the synchronisation that hands the writer its next table, say) returns MT_FROZEN and
 * changes nothing. Reads are unaffected. There is no thaw. Any thread; MT_INVALID_ARGUMENT for NULL. */
MT_API mt_status mt_memtable_freeze(mt_memtable *table);
MT_API bool mt_memtable_is_frozen(const mt_memtable *table);

/* Walks the whole structure: order at every skiplist level, every link inside the arena, every entry
 * decodable within the arena (and, with checksums, exactly filling its recorded size and matching its
 * checksum), the entry and deletion counts; with version links every link (its check, and that it names a
 * later entry of the same user key, with only that key's entries between), in one walk however long a key's
 * chain of versions; with checksums and a bloom filter, that both copies of every filter bit agree; with
 * options.point_index every slot of the index (intact, naming an entry in the arena whose key has the slot's
 * tag, the newest version of its key, found by that key's probe; time linear in the entries). Returns MT_OK,
 * or MT_CORRUPTION for the first fault (MT_INVALID_ARGUMENT for NULL). Requires the writer to be quiescent. */
MT_API mt_status mt_memtable_validate(const mt_memtable *table);

/* Bytes mt_entry_encode writes for this key and value (without checksum); 0 if too long to encode. */
MT_API size_t mt_entry_encoded_size(size_t key_len, size_t value_len);
/* Writes the LevelDB encoding into buf (capacity buf_len); *written gets the size. MT_INVALID_ARGUMENT for
 * any argument add would reject or a buffer too small. */
MT_API mt_status mt_entry_encode(char *buf, size_t buf_len, uint64_t seq, mt_entry_type type, const void *key,
                                 size_t key_len, const void *value, size_t value_len, size_t *written);
/* Decodes one entry from untrusted bytes. On MT_OK *entry points into data and *consumed (if not NULL) is the
 * entry's length; MT_CORRUPTION when the bytes are truncated, a varint is malformed, the internal key is
 * shorter than 8 bytes or the type is unknown. Never reads outside [data, data + len). */
MT_API mt_status mt_entry_decode(const void *data, size_t len, mt_entry *entry, size_t *consumed);

/* An iterator over every entry in internal-key order. Holds a reference on the table until destroyed, so
 * the table may be unreferenced by everyone else (e.g. after a flush) while the iterator runs. Entries
 * added while iterating may or may not be seen; none is seen half-written, and none is returned twice or
 * out of order by the user view. One thread at a time per iterator (see References above). With
 * checksums, each search also checks the entry beside the one it lands on, and a damaged entry ends the
 * iteration with MT_CORRUPTION rather than change what it returns. */
typedef struct mt_memtable_iter mt_memtable_iter;

/* NULL on allocation failure (reader_allocator) or NULL table. Starts not valid. */
MT_API mt_memtable_iter *mt_memtable_iter_create(mt_memtable *table);
/* Releases the iterator and its reference. NULL is ignored. */
MT_API void mt_memtable_iter_destroy(mt_memtable_iter *iter);
MT_API bool mt_memtable_iter_valid(const mt_memtable_iter *iter);
MT_API void mt_memtable_iter_seek_to_first(mt_memtable_iter *iter);
MT_API void mt_memtable_iter_seek_to_last(mt_memtable_iter *iter);
/* First entry at or after (key, snapshot_seq) in internal-key order: LevelDB's LookupKey seek, i.e. the
 * newest version of key visible at snapshot_seq if there is one, else the next entry. snapshot_seq above
 * MT_MAX_SEQUENCE is clamped to it. */
MT_API void mt_memtable_iter_seek(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t snapshot_seq);
/* Last entry at or before the internal key (key, position_seq). position_seq is a position in internal-key
 * order, not a visibility bound: versions of key are ordered newest first, so with position_seq = s this
 * lands on the oldest version of key with seq >= s (or, when there is none, the last entry of an earlier
 * key) - position_seq 0 lands on key's oldest version, MT_MAX_SEQUENCE before all of key's versions.
 * position_seq above MT_MAX_SEQUENCE is clamped to it. For "the newest version visible at a snapshot" use
 * mt_memtable_iter_seek or mt_memtable_get. */
MT_API void mt_memtable_iter_seek_for_prev(mt_memtable_iter *iter, const void *key, size_t key_len,
                                           uint64_t position_seq);
/* Require valid. */
MT_API void mt_memtable_iter_next(mt_memtable_iter *iter);
MT_API void mt_memtable_iter_prev(mt_memtable_iter *iter);
/* Accessors; require valid. Slices are valid while the iterator (or another reference) lives. */
MT_API mt_slice mt_memtable_iter_user_key(const mt_memtable_iter *iter);
/* LevelDB's internal key: the user key followed by fixed64le(seq << 8 | type) - what an SSTable builder
 * stores as the key. */
MT_API mt_slice mt_memtable_iter_internal_key(const mt_memtable_iter *iter);
MT_API uint64_t mt_memtable_iter_seq(const mt_memtable_iter *iter);
MT_API mt_entry_type mt_memtable_iter_type(const mt_memtable_iter *iter);
MT_API mt_slice mt_memtable_iter_value(const mt_memtable_iter *iter);
/* The raw LevelDB-encoded entry (without the checksum bytes). */
MT_API mt_slice mt_memtable_iter_entry(const mt_memtable_iter *iter);
/* MT_OK, or MT_CORRUPTION once the iterator met an entry that failed its checks (see checksum_bytes; it
 * then stops, not valid, rather than return damaged bytes). A seek that could not run leaves the iterator
 * not valid with MT_INVALID_ARGUMENT (NULL key with a non-zero length, key_len > MT_MAX_KEY_LEN) or
 * MT_NOMEM (a long key's lookup key). Each seek starts again from MT_OK. */
MT_API mt_status mt_memtable_iter_status(const mt_memtable_iter *iter);

/* The user view at a snapshot: each user key once, with its newest value whose seq <= snapshot_seq, skipping
 * keys whose newest visible entry is a deletion - what a flush or a range scan wants. Holds a reference.
 * Each move steps over at most options.max_sequential_skip hidden entries of one key before passing the
 * rest of that key's versions with one search. A concurrent writer may add keys and versions while the view
 * moves: a pass still returns each key at most once, in order, with a value visible at the snapshot. */
typedef struct mt_memtable_user_iter mt_memtable_user_iter;

/* NULL on allocation failure (reader_allocator) or NULL table. Starts not valid. snapshot_seq above
 * MT_MAX_SEQUENCE is clamped to it. */
MT_API mt_memtable_user_iter *mt_memtable_user_iter_create(mt_memtable *table, uint64_t snapshot_seq);
MT_API void mt_memtable_user_iter_destroy(mt_memtable_user_iter *iter);
MT_API bool mt_memtable_user_iter_valid(const mt_memtable_user_iter *iter);
MT_API void mt_memtable_user_iter_seek_to_first(mt_memtable_user_iter *iter);
MT_API void mt_memtable_user_iter_seek_to_last(mt_memtable_user_iter *iter);
/* First visible user key >= key. */
MT_API void mt_memtable_user_iter_seek(mt_memtable_user_iter *iter, const void *key, size_t key_len);
/* Last visible user key <= key. */
MT_API void mt_memtable_user_iter_seek_for_prev(mt_memtable_user_iter *iter, const void *key, size_t key_len);
MT_API void mt_memtable_user_iter_next(mt_memtable_user_iter *iter);
MT_API void mt_memtable_user_iter_prev(mt_memtable_user_iter *iter);
MT_API mt_slice mt_memtable_user_iter_key(const mt_memtable_user_iter *iter);
MT_API mt_slice mt_memtable_user_iter_value(const mt_memtable_user_iter *iter);
MT_API uint64_t mt_memtable_user_iter_seq(const mt_memtable_user_iter *iter);
/* As mt_memtable_iter_status. */
MT_API mt_status mt_memtable_user_iter_status(const mt_memtable_user_iter *iter);

#ifdef __cplusplus
}
#endif

#endif
