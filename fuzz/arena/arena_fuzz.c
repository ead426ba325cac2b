/* fuzz/arena/arena_fuzz.c - libFuzzer target for the arena: allocation sequences checked against the contract.
 *
 * The input is a header (block size, capacity, allocator: malloc or a counting hook that may fail at the
 * k-th call) and then operations: allocate through every entry point with sizes from tiny to absurd and
 * alignments valid or not, verify, reset, contains, NULL arguments. Every allocation is recorded and
 * filled with its own byte pattern; the checks are that allocations never overlap, honour their alignment,
 * keep their contents until reset, lie inside the arena (mt_arena_contains), that memory usage covers
 * every byte handed out and stays within capacity, that a failure has a permitted cause and changes
 * nothing, and that reset and destroy return the blocks to the allocator.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <memtable/arena.h>

#include "fuzz_input.h"
#include "support/allocator.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LIVE_ALLOCATIONS 2048
/* Bytes handed out between resets before allocations are skipped: keeps a run fast. */
#define MAX_BYTES_PER_EPOCH ((size_t)4 << 20)
/* The hook refuses larger blocks, so absurd sizes never reach malloc. */
#define HOOK_MAX_SIZE ((size_t)16 << 20)

typedef struct allocation {
  uintptr_t start;
  size_t len; /* bytes requested, 0 counted as 1 */
  uint8_t pattern;
} allocation;

typedef struct arena_run {
  mt_arena *arena;
  bool hooked;
  test_allocator allocator;
  size_t block_size; /* effective: after the defaults and the minimum are applied */
  size_t capacity;
  size_t header_bytes;  /* hook bytes held by an empty arena (its own header) */
  allocation *live;     /* sorted by start */
  size_t live_count;
  size_t handed_out;    /* bytes since the last reset */
  size_t last_usage;    /* usage never shrinks between resets */
  uint64_t next_id;
} arena_run;

static void fail(const char *what, const arena_run *run) {
  fprintf(stderr, "arena_fuzz: %s (block_size %zu, capacity %zu, live %zu, handed out %zu, usage %zu)\n", what,
          run->block_size, run->capacity, run->live_count, run->handed_out, mt_arena_memory_usage(run->arena));
  abort();
}

static void check_usage(arena_run *run) {
  size_t usage = mt_arena_memory_usage(run->arena);
  if (usage < run->handed_out) fail("memory usage below the bytes handed out", run);
  if (usage < run->last_usage) fail("memory usage shrank without a reset", run);
  if (run->capacity != 0 && usage > run->capacity) fail("memory usage above capacity", run);
  if (run->hooked && usage > run->allocator.live_bytes) fail("memory usage above what the allocator holds", run);
  run->last_usage = usage;
}

static void check_contents(const arena_run *run) {
  for (size_t i = 0; i < run->live_count; i++) {
    const allocation *a = &run->live[i];
    const uint8_t *bytes = (const uint8_t *)a->start;
    for (size_t j = 0; j < a->len; j++)
      if (bytes[j] != a->pattern) fail("an allocation's contents changed (overlap or reuse)", run);
    if (!mt_arena_contains(run->arena, bytes, a->len)) fail("mt_arena_contains denies a live allocation", run);
  }
}

/* Records a fresh allocation after checking it overlaps no live one. */
static void record(arena_run *run, void *ptr, size_t len) {
  uintptr_t start = (uintptr_t)ptr;
  size_t lo = 0, hi = run->live_count;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (run->live[mid].start < start) lo = mid + 1;
    else hi = mid;
  }
  if (lo < run->live_count && run->live[lo].start < start + len) fail("allocation overlaps the next live one", run);
  if (lo > 0 && run->live[lo - 1].start + run->live[lo - 1].len > start)
    fail("allocation overlaps the previous live one", run);
  memmove(&run->live[lo + 1], &run->live[lo], (run->live_count - lo) * sizeof(allocation));
  allocation a = {start, len, (uint8_t)(run->next_id++ * 151u + 29u)};
  memset(ptr, a.pattern, len);
  run->live[lo] = a;
  run->live_count++;
  run->handed_out += len;
}

static size_t pick_size(arena_run *run, fuzz_input *in, bool *absurd) {
  *absurd = false;
  switch (fuzz_u8(in) % 8) {
    case 0: case 1: case 2: case 3: return fuzz_below(in, 33);
    case 4: case 5: return fuzz_below(in, run->block_size + 1);
    case 6: return run->block_size / 4 + fuzz_below(in, 2 * run->block_size);
    default:
      *absurd = true;
      /* Through malloc only sizes no arena can add a header to; a refusing hook can take any. */
      if (!run->hooked) return SIZE_MAX - fuzz_below(in, 8);
      return SIZE_MAX / 2 + 1 + (size_t)fuzz_u64(in) % (SIZE_MAX / 2);
  }
}

static size_t pick_alignment(fuzz_input *in, bool *valid) {
  uint8_t choice = fuzz_u8(in);
  *valid = true;
  if (choice < 208) return (size_t)1 << (choice % 13); /* 1 .. 4096 */
  *valid = false;
  static const size_t invalid[] = {0, 3, 6, 24, 4095, MT_ARENA_MAX_ALIGNMENT * 2, (size_t)1 << 20,
                                   SIZE_MAX / 2 + 1, SIZE_MAX};
  return invalid[choice % (sizeof(invalid) / sizeof(invalid[0]))];
}

static void op_allocate(arena_run *run, fuzz_input *in) {
  uint8_t entry_point = fuzz_u8(in) % 4;
  bool absurd;
  size_t bytes = pick_size(run, in, &absurd);
  bool alignment_valid = true;
  size_t alignment = 1;
  if (entry_point == 1) alignment = MT_ARENA_DEFAULT_ALIGNMENT;
  if (entry_point >= 2) alignment = pick_alignment(in, &alignment_valid);
  if (!absurd && (run->live_count == MAX_LIVE_ALLOCATIONS || run->handed_out + bytes > MAX_BYTES_PER_EPOCH)) return;

  size_t usage_before = mt_arena_memory_usage(run->arena);
  size_t hook_bytes_before = run->allocator.live_bytes;
  uint64_t hook_failures_before = run->allocator.failures;
  void *ptr = NULL;
  mt_status status = MT_OK;
  switch (entry_point) {
    case 0: ptr = mt_arena_allocate(run->arena, bytes); break;
    case 1: ptr = mt_arena_allocate_aligned(run->arena, bytes); break;
    case 2: ptr = mt_arena_allocate_aligned_to(run->arena, bytes, alignment); break;
    default:
      ptr = (void *)&run->next_id; /* must be overwritten with NULL on failure */
      status = mt_arena_try_allocate(run->arena, bytes, alignment, &ptr);
      if ((status == MT_OK) != (ptr != NULL && ptr != (void *)&run->next_id))
        fail("mt_arena_try_allocate: status and *out disagree", run);
      break;
  }

  if (ptr == NULL) {
    bool hook_failed = run->allocator.failures != hook_failures_before;
    bool legitimate = absurd || !alignment_valid || hook_failed || run->capacity != 0;
    if (!legitimate) fail("allocation failed with no capacity, no allocator failure and a valid request", run);
    if (entry_point == 3) {
      if (!alignment_valid && status != MT_INVALID_ARGUMENT) fail("bad alignment not MT_INVALID_ARGUMENT", run);
      if (alignment_valid && !absurd) {
        if (status == MT_NOMEM && !hook_failed) fail("MT_NOMEM but the allocator never failed", run);
        if (status == MT_FULL && run->capacity == 0) fail("MT_FULL with no capacity set", run);
        if (status != MT_NOMEM && status != MT_FULL) fail("a valid request failed with an unexpected status", run);
      }
    }
    /* A valid request that fails for capacity must really have lacked room for a block. */
    if (alignment_valid && !absurd && !hook_failed && run->capacity != 0 &&
        usage_before + run->block_size + bytes + alignment + 512 <= run->capacity)
      fail("capacity failure with room for another block", run);
    if (mt_arena_memory_usage(run->arena) != usage_before) fail("a failed allocation changed memory usage", run);
    if (run->allocator.live_bytes != hook_bytes_before) fail("a failed allocation kept allocator memory", run);
    return;
  }
  if (absurd) fail("an absurd size was allocated", run);
  if (!alignment_valid) fail("an invalid alignment was accepted", run);
  if ((uintptr_t)ptr % alignment != 0) fail("allocation misaligned", run);
  size_t len = bytes == 0 ? 1 : bytes;
  if (!mt_arena_contains(run->arena, ptr, len)) fail("mt_arena_contains denies a fresh allocation", run);
  record(run, ptr, len);
  check_usage(run);
}

static void op_reset(arena_run *run) {
  check_contents(run);
  mt_arena_reset(run->arena);
  run->live_count = 0;
  run->handed_out = 0;
  size_t usage = mt_arena_memory_usage(run->arena);
  if (usage > run->block_size) fail("reset kept more than one standard block", run);
  if (run->hooked && run->allocator.live_bytes - run->header_bytes > run->block_size)
    fail("reset did not return the other blocks to the allocator", run);
  run->last_usage = usage;
}

static void op_contains(arena_run *run, fuzz_input *in) {
  int outside = 0;
  if (mt_arena_contains(run->arena, &outside, sizeof(outside))) fail("contains claims a stack variable", run);
  if (run->live_count == 0) return;
  const allocation *a = &run->live[fuzz_below(in, run->live_count)];
  size_t offset = fuzz_below(in, a->len);
  if (!mt_arena_contains(run->arena, (const char *)a->start + offset, a->len - offset))
    fail("contains denies part of a live allocation", run);
  if (mt_arena_contains(run->arena, (const char *)a->start, SIZE_MAX)) fail("contains accepts a wrapping range", run);
}

static void op_null_arguments(arena_run *run) {
  void *out = &out;
  if (mt_arena_allocate(NULL, 8) != NULL || mt_arena_allocate_aligned(NULL, 8) != NULL ||
      mt_arena_allocate_aligned_to(NULL, 8, 8) != NULL)
    fail("allocation from a NULL arena succeeded", run);
  if (mt_arena_try_allocate(NULL, 8, 8, &out) != MT_INVALID_ARGUMENT || out != NULL)
    fail("try_allocate(NULL arena) not MT_INVALID_ARGUMENT with *out NULL", run);
  size_t usage = mt_arena_memory_usage(run->arena);
  if (mt_arena_try_allocate(run->arena, 8, 8, NULL) != MT_INVALID_ARGUMENT) fail("try_allocate(out NULL)", run);
  if (mt_arena_memory_usage(run->arena) != usage) fail("try_allocate(out NULL) allocated", run);
  if (mt_arena_memory_usage(NULL) != 0 || mt_arena_contains(NULL, &out, 1)) fail("NULL arena queries", run);
  if (mt_arena_contains(run->arena, NULL, 0)) fail("contains(NULL)", run);
  mt_arena_reset(NULL);
  mt_arena_destroy(NULL);
}

/* Options a create must reject; each rejected create must not leak through the hook. */
static void check_invalid_options(arena_run *run, const mt_arena_options *valid) {
  mt_arena_options options = *valid;
  options.block_size = MT_ARENA_MAX_BLOCK_SIZE + 1;
  mt_arena *arena = mt_arena_create(&options);
  if (arena != NULL) fail("create accepted a block size above the maximum", run);
  options = *valid;
  options.allocator.free = NULL;
  options.allocator.alloc = test_allocator_alloc;
  options.allocator.ctx = &run->allocator;
  if (mt_arena_create(&options) != NULL) fail("create accepted alloc without free", run);
  options.allocator.alloc = NULL;
  options.allocator.free = test_allocator_free;
  if (mt_arena_create(&options) != NULL) fail("create accepted free without alloc", run);
  if (run->allocator.live_blocks != 0) fail("a rejected create leaked allocator memory", run);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_input in = fuzz_input_make(data, size);
  static allocation live[MAX_LIVE_ALLOCATIONS];
  arena_run run;
  memset(&run, 0, sizeof(run));
  run.live = live;

  uint8_t flags = fuzz_u8(&in);
  mt_arena_options options;
  mt_arena_options_init(&options);
  const mt_arena_options defaults = MT_ARENA_OPTIONS_INIT;
  if (options.block_size != defaults.block_size || options.capacity != defaults.capacity ||
      options.allocator.alloc != defaults.allocator.alloc || options.allocator.free != defaults.allocator.free ||
      options.allocator.ctx != defaults.allocator.ctx)
    fail("mt_arena_options_init differs from the macro", &run);
  uint16_t block_choice = fuzz_u16(&in);
  options.block_size = (flags & 0x10) ? 0 : (size_t)block_choice % 16384;
  options.capacity = (flags & 0x20) ? (size_t)fuzz_u16(&in) * 16 : 0;
  run.block_size = options.block_size == 0 ? MT_ARENA_DEFAULT_BLOCK_SIZE : options.block_size < 256 ? 256
                                                                                                   : options.block_size;
  run.capacity = options.capacity;
  run.allocator.refuse_above = HOOK_MAX_SIZE;
  run.allocator.fail_on_misuse = true;
  switch (flags & 3) {
    case 0: break; /* malloc */
    case 1: run.hooked = true; break;
    case 2: case 3:
      run.hooked = true;
      run.allocator.fail_at = fuzz_u8(&in);
      run.allocator.fail_after = (flags & 1) != 0;
      break;
  }
  if (run.hooked) options.allocator = test_allocator_hooks(&run.allocator);
  if (flags & 0x40) check_invalid_options(&run, &options);

  run.arena = mt_arena_create(&options);
  if (run.arena == NULL) {
    if (!run.hooked || run.allocator.failures == 0) fail("create failed with valid options", &run);
    if (run.allocator.live_blocks != 0) fail("a failed create leaked allocator memory", &run);
    return 0;
  }
  if (mt_arena_memory_usage(run.arena) != 0) fail("a new arena has non-zero memory usage", &run);
  run.header_bytes = run.allocator.live_bytes;

  while (!fuzz_input_done(&in)) {
    uint8_t op = fuzz_u8(&in) % 16;
    if (op < 10) op_allocate(&run, &in);
    else if (op == 10) check_contents(&run);
    else if (op == 11) op_reset(&run);
    else if (op == 12) op_contains(&run, &in);
    else if (op == 13) op_null_arguments(&run);
    else check_usage(&run);
  }
  check_contents(&run);
  check_usage(&run);
  mt_arena_destroy(run.arena);
  run.arena = NULL;
  if (run.hooked && (run.allocator.live_blocks != 0 || run.allocator.live_bytes != 0))
    fail("destroy did not return every block to the allocator", &run);
  return 0;
}
