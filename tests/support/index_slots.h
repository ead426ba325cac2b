/* tests/support/index_slots.h - the point index's private test hook (memtable/point_index.h), for the suites
 * that damage or forge its slots. The suites link the library's objects, so the hook is reachable; its
 * header is not included because its types would clash with the suites' own names. */
#ifndef MEMTABLE_SUPPORT_INDEX_SLOTS_H
#define MEMTABLE_SUPPORT_INDEX_SLOTS_H

#include <stdatomic.h>
#include <stdint.h>

#include <memtable/memtable.h>

/* The current table's slots and their count, NULL without an index. */
_Atomic uint64_t *mti_point_index_slots_for_testing(const mt_memtable *table, uint64_t *slot_count);

/* A slot body (address, tag) with the check byte the index writes: the XOR of its other seven bytes. */
static inline uint64_t index_slot_with_check(uint64_t body) {
  uint64_t check = 0;
  for (int i = 0; i < 7; i++) check ^= (body >> (8 * i)) & 0xff;
  return (body & ((UINT64_C(1) << 56) - 1)) | check << 56;
}

#endif
