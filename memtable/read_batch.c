/* mt_memtable_get_batch: many gets at one snapshot. Each key goes through exactly what mt_memtable_get does
 * (argument checks, the point index, the bloom filter, a forward search for (key, snapshot), the checked load of
 * the landing entry and, with checksums, of its level-0 predecessor, the same answer); only the searches run
 * together, interleaved (skiplist_batch.c), so that their cache misses overlap. */
#include "memtable/cursor.h"
#include "memtable/memtable_internal.h"
#include "memtable/skiplist/skiplist_batch.h"

/* Keys searched per round, their lookup keys in this much stack; keys whose lookup key is longer than
 * LONG_LOOKUP_KEY_BYTES (as cursor.c, which allocates those) are looked up alone. */
#define GET_BATCH_CHUNK 64
#define GET_BATCH_LOOKUP_BYTES 4096
#define LONG_LOOKUP_KEY_BYTES 256

mt_status mt_memtable_get_batch(const mt_memtable *table, const mt_slice *keys, size_t count, uint64_t snapshot_seq,
                                mt_status *statuses, mt_slice *values) {
  if (table == NULL || (count != 0 && (keys == NULL || statuses == NULL))) return MT_INVALID_ARGUMENT;
  if (snapshot_seq > MT_MAX_SEQUENCE) snapshot_seq = MT_MAX_SEQUENCE;
  bool checked = table->view.checksum_bytes != 0;
  for (size_t next = 0; next < count;) {
    char scratch[GET_BATCH_LOOKUP_BYTES];
    const char *targets[GET_BATCH_CHUNK];
    size_t key_index[GET_BATCH_CHUNK];
    mt_skiplist_iter found[GET_BATCH_CHUNK];
    mt_skiplist_iter predecessors[GET_BATCH_CHUNK];
    size_t searched = 0, used = 0;
    for (; next < count && searched < GET_BATCH_CHUNK; next++) {
      mt_slice key = keys[next];
      if ((key.data == NULL && key.len != 0) || key.len > MT_MAX_KEY_LEN) {
        statuses[next] = MT_INVALID_ARGUMENT;
        continue;
      }
      uint64_t hash = memtable_key_hash(table, key.data, key.len);
      /* The index answers as in mt_memtable_get; only what it cannot tell is searched. */
      mt_entry entry;
      mt_status answer;
      if (table->point_index != NULL && memtable_indexed_get(table, key, hash, snapshot_seq, &entry, &answer)) {
        statuses[next] = answer;
        if (answer == MT_OK && values != NULL) values[next] = entry.value;
        continue;
      }
      if (!mti_bloom_may_contain(&table->bloom, hash)) {
        statuses[next] = MT_NOT_FOUND;
        continue;
      }
      size_t size = lookup_key_size(key.len);
      if (size > LONG_LOOKUP_KEY_BYTES) {
        statuses[next] = mt_memtable_get(table, key.data, key.len, snapshot_seq, values != NULL ? &values[next] : NULL);
        continue;
      }
      if (size > sizeof(scratch) - used) break; /* the next round takes it */
      lookup_key_encode(scratch + used, key.data, key.len, snapshot_seq);
      targets[searched] = scratch + used;
      key_index[searched++] = next;
      used += size;
    }
    mti_skiplist_seek_batch(table->list, targets, searched, found, checked ? predecessors : NULL);
    for (size_t s = 0; s < searched; s++) {
      size_t i = key_index[s];
      entry_cursor cursor;
      mti_cursor_init_plain(&table->view, &cursor);
      cursor.position = found[s];
      mt_status status = checked ? mti_cursor_load_landing(&table->view, &cursor, &predecessors[s])
                                 : mti_cursor_load(&table->view, &cursor);
      mt_entry entry;
      status = get_answer(&table->view, &cursor, status, keys[i], snapshot_seq, &entry);
      statuses[i] = status;
      if (status == MT_OK && values != NULL) values[i] = entry.value;
    }
  }
  return MT_OK;
}
