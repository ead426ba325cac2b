/* Reading entries out of the skiplist: lookup keys, checked loads, and the searches and backward steps that
 * get, the internal-key iterator and the user view share. See cursor.h for why each search
 * also checks the entry on the far side of its landing gap when the table has checksums. */
#include <stdlib.h>

#include "memtable/cursor.h"

/* Lookup keys up to this size are built on the stack; longer ones (keys above ~240 bytes) come from the
 * reader allocator. */
#define LOOKUP_KEY_STACK_BYTES 256

void *mti_reader_alloc(const mti_view *view, size_t size) {
  return view->reader_allocator.alloc(view->reader_allocator.ctx, size);
}

void mti_reader_free(const mti_view *view, void *ptr, size_t size) {
  view->reader_allocator.free(view->reader_allocator.ctx, ptr, size);
}

/* A lookup key (coding.h), on the stack when it is short. */
typedef struct lookup_key {
  char *data;
  size_t size;
  char stack[LOOKUP_KEY_STACK_BYTES];
} lookup_key;

static mt_status lookup_key_build(const mti_view *view, lookup_key *lookup, mt_slice key, uint64_t seq) {
  if ((key.data == NULL && key.len != 0) || key.len > MT_MAX_KEY_LEN) return MT_INVALID_ARGUMENT;
  if (seq > MT_MAX_SEQUENCE) seq = MT_MAX_SEQUENCE;
  lookup->size = lookup_key_size(key.len);
  lookup->data = lookup->stack;
  if (lookup->size > sizeof(lookup->stack)) {
    lookup->data = mti_reader_alloc(view, lookup->size);
    if (lookup->data == NULL) return MT_NOMEM;
  }
  lookup_key_encode(lookup->data, key.data, key.len, seq);
  return MT_OK;
}

static void lookup_key_release(const mti_view *view, lookup_key *lookup) {
  if (lookup->data != lookup->stack) mti_reader_free(view, lookup->data, lookup->size);
}

MEMTABLE_NOINLINE mt_status mti_cursor_load_checked(const mti_view *view, entry_cursor *cursor) {
  const char *stored = skiplist_iter_key_inline(&cursor->position);
  if (stored == NULL) return MT_NOT_FOUND;
  size_t stored_size = skiplist_iter_key_size_inline(&cursor->position);
  bool decoded = mti_entry_decode_checked(view, stored, stored_size, &cursor->entry, &cursor->entry_len);
  return decoded ? MT_OK : MT_CORRUPTION;
}

/* A neighbour a search ended beside (not valid: none) passes its checks. Only called with checksums. */
static bool neighbour_is_sound(const mti_view *view, const mt_skiplist_iter *neighbour) {
  const char *stored = skiplist_iter_key_inline(neighbour);
  if (stored == NULL) return true;
  mt_entry entry;
  size_t entry_len;
  return mti_entry_decode_checked(view, stored, skiplist_iter_key_size_inline(neighbour), &entry, &entry_len);
}

/* With checksums: the level-0 successor of a backward landing (the first entry when it landed before the
 * first), unless it is `left`, the entry the step came from (already checked). */
static bool successor_is_sound(const mti_view *view, const entry_cursor *cursor, const char *left) {
  mt_skiplist_iter successor = cursor->position;
  if (skiplist_iter_key_inline(&successor) == NULL) {
    mt_skiplist_iter_seek_to_first(&successor);
  } else {
    skiplist_iter_next_inline(&successor);
  }
  return skiplist_iter_key_inline(&successor) == left || neighbour_is_sound(view, &successor);
}

mt_status mti_cursor_step_back(const mti_view *view, entry_cursor *cursor) {
  const char *left = skiplist_iter_key_inline(&cursor->position);
  mt_skiplist_iter_prev(&cursor->position);
  mt_status status = mti_cursor_load(view, cursor);
  if (view->checksum_bytes != 0 && status != MT_CORRUPTION && !successor_is_sound(view, cursor, left)) {
    status = MT_CORRUPTION;
  }
  return status;
}

mt_status mti_cursor_seek(const mti_view *view, entry_cursor *cursor, mt_slice user_key, uint64_t seq, bool for_prev) {
  if (cursor->readahead != NULL) mti_readahead_reset(cursor->readahead);
  lookup_key lookup;
  mt_status status = lookup_key_build(view, &lookup, user_key, seq);
  if (status != MT_OK) return status;
  bool checked = view->checksum_bytes != 0;
  mt_skiplist_iter predecessor;
  if (for_prev) {
    mt_skiplist_iter_seek_for_prev(&cursor->position, lookup.data);
  } else if (checked) {
    mt_skiplist_iter_seek_with_predecessor(&cursor->position, lookup.data, &predecessor);
  } else {
    mt_skiplist_iter_seek(&cursor->position, lookup.data);
  }
  lookup_key_release(view, &lookup);
  status = mti_cursor_load(view, cursor);
  if (!checked || status == MT_CORRUPTION) return status;
  bool sound = for_prev ? successor_is_sound(view, cursor, NULL) : neighbour_is_sound(view, &predecessor);
  return sound ? status : MT_CORRUPTION;
}

mt_status mti_cursor_load_landing(const mti_view *view, entry_cursor *cursor, const mt_skiplist_iter *predecessor) {
  mt_status status = mti_cursor_load(view, cursor);
  if (view->checksum_bytes == 0 || status == MT_CORRUPTION) return status;
  return neighbour_is_sound(view, predecessor) ? status : MT_CORRUPTION;
}
