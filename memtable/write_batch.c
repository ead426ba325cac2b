/* mt_memtable_add_batch: a batch's entries checked first (a bad batch changes nothing), then added in order,
 * their skiplist searches run interleaved a chunk at a time (skiplist_batch.c) so that their cache misses
 * overlap. See include/memtable/memtable.h. */
#include "memtable/memtable_internal.h"
#include "memtable/skiplist/skiplist_batch.h"

/* Entries searched at once, their lookup keys in this much stack. */
#define BATCH_CHUNK 32
#define BATCH_LOOKUP_BYTES 4096

/* mt_memtable_add_batch after its NULL checks. */
static mt_status add_batch(mt_memtable *table, uint64_t first_seq, const mt_memtable_batch_entry *entries, size_t count,
                           size_t *applied) {
  if (count != 0 && (first_seq > MT_MAX_SEQUENCE || count - 1 > MT_MAX_SEQUENCE - first_seq)) {
    return MT_INVALID_ARGUMENT;
  }
  /* Every entry is checked before any is added: a bad batch changes nothing. */
  for (size_t i = 0; i < count; i++) {
    const mt_memtable_batch_entry *e = &entries[i];
    size_t entry_len;
    mt_status status =
        mti_memtable_check_entry(table, first_seq + i, e->type, e->key, e->key_len, e->value, e->value_len, &entry_len);
    if (status != MT_OK) return status;
  }
  if (memtable_is_frozen(table)) return MT_FROZEN;
  /* The batch's searches run interleaved, a chunk at a time (mt_skiplist_find_positions), so their cache
   * misses overlap; each entry is then linked from its position, walking right past what was linked since
   * (by this batch, or by other writers with concurrent_writes). */
  size_t chunk = BATCH_CHUNK;
  for (size_t base = 0; base < count;) {
    char scratch[BATCH_LOOKUP_BYTES];
    const char *targets[BATCH_CHUNK];
    mti_skiplist_position positions[BATCH_CHUNK];
    size_t found = 0, used = 0;
    while (found < chunk && base + found < count) {
      const mt_memtable_batch_entry *e = &entries[base + found];
      size_t size = lookup_key_size(e->key_len);
      if (size > sizeof(scratch) - used) break; /* long keys: searched one by one below */
      lookup_key_encode(scratch + used, e->key, e->key_len, first_seq + base + found);
      targets[found++] = scratch + used;
      used += size;
    }
    if (found != 0) mti_skiplist_find_positions(table->list, targets, found, positions);
    size_t step = found != 0 ? found : 1;
    for (size_t i = base; i < base + step; i++) {
      const mt_memtable_batch_entry *e = &entries[i];
      size_t entry_len = entry_encoded_size(e->key_len, e->value_len);
      mt_status status = mti_memtable_add_checked(table, first_seq + i, e->type, e->key, e->key_len, e->value,
                                                  e->value_len, entry_len, found != 0 ? &positions[i - base] : NULL);
      if (status != MT_OK) return status;
      if (applied != NULL) *applied = i + 1;
    }
    base += step;
  }
  return MT_OK;
}

mt_status mt_memtable_add_batch(mt_memtable *table, uint64_t first_seq, const mt_memtable_batch_entry *entries,
                                size_t count, size_t *applied) {
  if (applied != NULL) *applied = 0;
  if (table == NULL || (entries == NULL && count != 0)) return MT_INVALID_ARGUMENT;
  memtable_writer_enter(table);
  mt_status status = add_batch(table, first_seq, entries, count, applied);
  memtable_writer_leave(table);
  return status;
}
