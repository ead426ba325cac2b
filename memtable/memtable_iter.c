/* The internal-key iterator: every entry, in LevelDB's internal-key order. See include/memtable/memtable.h.
 *
 * Steps go through the scan walker (cursor_scan.c) when the table has readahead; without it, forward steps
 * use the skiplist's inline hot path (skiplist_inline.h): one link load and a decode per step, no call.
 */
#include "memtable/cursor.h"
#include "memtable/memtable_internal.h"

struct mt_memtable_iter {
  mt_memtable *table;
  entry_cursor cursor;
  bool valid;
  mt_status status;
};

mt_memtable_iter *mt_memtable_iter_create(mt_memtable *table) {
  if (table == NULL) return NULL;
  mt_memtable_iter *iter = mti_reader_alloc(&table->view, sizeof(*iter));
  if (iter == NULL) return NULL;
  mt_memtable_ref(table);
  iter->table = table;
  mti_cursor_init(&table->view, &iter->cursor);
  iter->valid = false;
  iter->status = MT_OK;
  return iter;
}

void mt_memtable_iter_destroy(mt_memtable_iter *iter) {
  if (iter == NULL) return;
  mt_memtable *table = iter->table;
  mti_cursor_release(&table->view, &iter->cursor);
  mti_reader_free(&table->view, iter, sizeof(*iter));
  mt_memtable_unref(table);
}

bool mt_memtable_iter_valid(const mt_memtable_iter *iter) { return iter != NULL && iter->valid; }

/* The functions below test validity inline rather than call mt_memtable_iter_valid: an exported function
 * may be interposed in a shared build, so the compiler would not inline the call. */
static inline bool iter_is_valid(const mt_memtable_iter *iter) { return iter != NULL && iter->valid; }

/* Where the cursor now stands: valid on an entry; a bad entry ends the iteration with MT_CORRUPTION, a
 * seek that could not run with its own status. */
static inline void iter_record(mt_memtable_iter *iter, mt_status status) {
  iter->valid = status == MT_OK;
  if (status != MT_OK && status != MT_NOT_FOUND) iter->status = status;
}

/* Out of line for the same reason as mti_cursor_load_checked. */
static MEMTABLE_NOINLINE void iter_settle_checked(mt_memtable_iter *iter) {
  iter_record(iter, mti_cursor_load_checked(&iter->table->view, &iter->cursor));
}

static inline void iter_settle(mt_memtable_iter *iter) {
  if (iter->table->view.checksum_bytes == 0) {
    iter_record(iter, mti_cursor_load_self_delimited(&iter->cursor));
  } else {
    iter_settle_checked(iter);
  }
}

void mt_memtable_iter_seek_to_first(mt_memtable_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  mt_skiplist_iter_seek_to_first(&iter->cursor.position);
  mti_cursor_scan_from(&iter->cursor, true, false);
  iter_settle(iter);
}

void mt_memtable_iter_seek_to_last(mt_memtable_iter *iter) {
  if (iter == NULL) return;
  iter->status = MT_OK;
  mt_skiplist_iter_seek_to_last(&iter->cursor.position);
  mti_cursor_scan_from(&iter->cursor, false, false);
  iter_settle(iter);
}

static void iter_seek(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t position_seq, bool for_prev) {
  if (iter == NULL) return;
  iter->valid = false;
  iter->status = MT_OK;
  mt_slice target = {key, key_len};
  iter_record(iter, mti_cursor_seek(&iter->table->view, &iter->cursor, target, position_seq, for_prev));
}

void mt_memtable_iter_seek(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t snapshot_seq) {
  iter_seek(iter, key, key_len, snapshot_seq, false);
}

void mt_memtable_iter_seek_for_prev(mt_memtable_iter *iter, const void *key, size_t key_len, uint64_t position_seq) {
  iter_seek(iter, key, key_len, position_seq, true);
}

void mt_memtable_iter_next(mt_memtable_iter *iter) {
  if (!iter_is_valid(iter)) return;
  if (iter->cursor.readahead != NULL) {
    iter_record(iter, mti_cursor_step_scanning(&iter->table->view, &iter->cursor, true));
    return;
  }
  skiplist_iter_next_inline(&iter->cursor.position);
  iter_settle(iter);
}

void mt_memtable_iter_prev(mt_memtable_iter *iter) {
  if (!iter_is_valid(iter)) return;
  iter_record(iter, mti_cursor_step(&iter->table->view, &iter->cursor, false));
}

static const mt_slice empty_slice = {"", 0};

mt_slice mt_memtable_iter_user_key(const mt_memtable_iter *iter) {
  return iter_is_valid(iter) ? iter->cursor.entry.user_key : empty_slice;
}

mt_slice mt_memtable_iter_internal_key(const mt_memtable_iter *iter) {
  if (!iter_is_valid(iter)) return empty_slice;
  /* The tag follows the user key directly in the entry. */
  mt_slice internal_key = {iter->cursor.entry.user_key.data, iter->cursor.entry.user_key.len + 8};
  return internal_key;
}

uint64_t mt_memtable_iter_seq(const mt_memtable_iter *iter) { return iter_is_valid(iter) ? iter->cursor.entry.seq : 0; }

mt_entry_type mt_memtable_iter_type(const mt_memtable_iter *iter) {
  return iter_is_valid(iter) ? iter->cursor.entry.type : MT_TYPE_DELETION;
}

mt_slice mt_memtable_iter_value(const mt_memtable_iter *iter) {
  return iter_is_valid(iter) ? iter->cursor.entry.value : empty_slice;
}

mt_slice mt_memtable_iter_entry(const mt_memtable_iter *iter) {
  if (!iter_is_valid(iter)) return empty_slice;
  mt_slice raw = {skiplist_iter_key_inline(&iter->cursor.position), iter->cursor.entry_len};
  return raw;
}

mt_status mt_memtable_iter_status(const mt_memtable_iter *iter) {
  return iter == NULL ? MT_INVALID_ARGUMENT : iter->status;
}
