/* The read path: get and get_entry (get_batch: read_batch.c). See include/memtable/memtable.h.
 *
 * A get asks the point index first (when the table has one), then the bloom filter, then searches the
 * skiplist for (key, snapshot): the first entry at or after it is the key's newest visible version, if the key
 * has one.
 */
#include "memtable/cursor.h"
#include "memtable/memtable_internal.h"

/* Older versions a get steps through from the newest the point index names before it searches the skiplist
 * instead (as the user view's max_sequential_skip): a key overwritten many times costs a search at an old
 * snapshot, not a walk. */
#define MAX_VERSION_STEPS 8u

/* The index matches user keys by their bytes (see options.point_index). */
static inline bool bytes_equal(mt_slice a, mt_slice b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* From `newest` (node, its entry), the key's newest version, to the newest at or below the snapshot: a few
 * steps, then one search. */
mt_status mti_memtable_index_step_to_snapshot(const mt_memtable *table, mt_slice key, uint64_t snapshot_seq,
                                              const char *node, const mt_entry *newest, mt_entry *found) {
  const mti_view *view = &table->view;
  entry_cursor cursor;
  mti_cursor_init_plain(view, &cursor);
  skiplist_iter_set_key(&cursor.position, node);
  cursor.entry = *newest;
  for (unsigned steps = 0; cursor.entry.seq > snapshot_seq; steps++) {
    if (steps == MAX_VERSION_STEPS) {
      return get_answer(view, &cursor, mti_cursor_seek(view, &cursor, key, snapshot_seq, false), key, snapshot_seq,
                        found);
    }
    mt_status status = mti_cursor_step(view, &cursor, true);
    if (status != MT_OK) return status; /* MT_NOT_FOUND at the end, or MT_CORRUPTION */
    if (!bytes_equal(cursor.entry.user_key, key)) return MT_NOT_FOUND;
  }
  if (found != NULL) *found = cursor.entry;
  return cursor.entry.type == MT_TYPE_DELETION ? MT_DELETED : MT_OK;
}

mt_status mt_memtable_get_entry(const mt_memtable *table, const void *key, size_t key_len, uint64_t snapshot_seq,
                                mt_entry *found) {
  if (table == NULL || (key == NULL && key_len != 0) || key_len > MT_MAX_KEY_LEN) return MT_INVALID_ARGUMENT;
  if (snapshot_seq > MT_MAX_SEQUENCE) snapshot_seq = MT_MAX_SEQUENCE;
  uint64_t hash = memtable_key_hash(table, key, key_len);
  mt_slice target = {key, key_len};
  mt_status answer;
  if (table->point_index != NULL && memtable_indexed_get(table, target, hash, snapshot_seq, found, &answer))
    return answer;
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
