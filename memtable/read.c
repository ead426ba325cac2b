/* The read path: get, get_entry and get_batch. See include/memtable/memtable.h.
 *
 * A get asks the point index first (when the table has one), then the bloom filter, then searches the
 * skiplist for (key, snapshot): the first entry at or after it is the key's newest visible version, if the key
 * has one. mt_memtable_get_batch makes exactly the same decisions per key; only its searches run together
 * (interleaved, skiplist_batch.c), so that their cache misses overlap.
 */
#include "memtable/cursor.h"
#include "memtable/memtable_internal.h"
#include "memtable/skiplist/skiplist_batch.h"

/* Older versions a get steps through from the newest the point index names before it searches the skiplist
 * instead (as the user view's max_sequential_skip): a key overwritten many times costs a search at an old
 * snapshot, not a walk. */
#define MAX_VERSION_STEPS 8u

/* Keys searched per round of mt_memtable_get_batch, their lookup keys in this much stack; keys whose lookup
 * key is longer than LONG_LOOKUP_KEY_BYTES (as cursor.c, which allocates those) are looked up alone. */
#define GET_BATCH_CHUNK 64
#define GET_BATCH_LOOKUP_BYTES 4096
#define LONG_LOOKUP_KEY_BYTES 256

/* The index matches user keys by their bytes (see options.point_index). */
static inline bool bytes_equal(mt_slice a, mt_slice b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* A get answered from the point index: true with *status (and *found for MT_OK / MT_DELETED), or false when
 * the index cannot tell and the skiplist must be searched. From the key's newest version, the newest at or
 * below the snapshot: a few steps, then one search. */
static bool indexed_get(const mt_memtable *table, mt_slice key, uint64_t hash, uint64_t snapshot_seq, mt_entry *found,
                        mt_status *status) {
  const mti_view *view = &table->view;
  entry_cursor cursor;
  mti_cursor_init_plain(view, &cursor);
  const char *node;
  switch (mti_point_index_find(table->point_index, view, key.data, key.len, hash, &node, &cursor.entry,
                               &cursor.entry_len)) {
    case MTI_INDEX_UNKNOWN: return false;
    case MTI_INDEX_ABSENT: *status = MT_NOT_FOUND; return true;
    case MTI_INDEX_DAMAGED: *status = MT_CORRUPTION; return true;
    case MTI_INDEX_FOUND: break;
  }
  skiplist_iter_set_key(&cursor.position, node);
  *status = MT_OK;
  for (unsigned steps = 0; *status == MT_OK && cursor.entry.seq > snapshot_seq; steps++) {
    if (steps == MAX_VERSION_STEPS) {
      *status = get_answer(view, &cursor, mti_cursor_seek(view, &cursor, key, snapshot_seq, false), key, snapshot_seq,
                           found);
      return true;
    }
    *status = mti_cursor_step(view, &cursor, true);
    /* MT_NOT_FOUND at the end, or MT_CORRUPTION */
    if (*status == MT_OK && !bytes_equal(cursor.entry.user_key, key)) {
      *status = MT_NOT_FOUND;
    }
  }
  if (*status != MT_OK) return true;
  if (found != NULL) *found = cursor.entry;
  *status = cursor.entry.type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
  return true;
}

mt_status mt_memtable_get_entry(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                                mt_entry *found) {
  if (table == NULL || (key == NULL && key_len != 0) || key_len > MT_MAX_KEY_LEN) return MT_INVALID_ARGUMENT;
  if (snapshot_seq > MT_MAX_SEQUENCE) snapshot_seq = MT_MAX_SEQUENCE;
  uint64_t hash = memtable_key_hash(table, key, key_len);
  mt_slice target = {key, key_len};
  mt_status answer;
  if (table->point_index != NULL && indexed_get(table, target, hash, snapshot_seq, found, &answer)) return answer;
  if (!mti_bloom_may_contain(&table->bloom, hash)) return MT_NOT_FOUND;

  entry_cursor cursor;
  mti_cursor_init_plain(&table->view, &cursor);
  /* The first entry at or after (key, snapshot): the key's newest visible version if it has one. */
  mt_status status = mti_cursor_seek(&table->view, &cursor, target, snapshot_seq, false);
  return get_answer(&table->view, &cursor, status, target, snapshot_seq, found);
}

mt_status mt_memtable_get(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                          mt_slice *value) {
  mt_entry found;
  mt_status status = mt_memtable_get_entry(table, key, key_len, snapshot_seq, &found);
  if (status == MT_OK && value != NULL) *value = found.value;
  return status;
}

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
      if (table->point_index != NULL && indexed_get(table, key, hash, snapshot_seq, &entry, &answer)) {
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
