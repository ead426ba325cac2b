/* mt_memtable_validate: the table's structure checks (include/memtable/memtable.h). Requires the writers to be
 * quiescent; every byte it reads is first checked to lie in the table's arena. */
#include "memtable/memtable_internal.h"

/* The skiplist's key_ok: the skiplist checks that each node lies in the arena but cannot say how long its
 * key is, so every read here is first checked to lie inside the arena's memory. The exact size is checked
 * by the level-0 walk in mt_memtable_validate. */
static bool stored_entry_in_arena(void *ctx, const char *stored) {
  const mt_memtable *table = ctx;
  /* The shortest entry: a 1-byte length, the tag, a 1-byte value length. That covers a 5-byte varint. */
  if (!mt_arena_contains(table->arena, stored, 1 + 8 + 1)) return false;
  uint32_t internal_len;
  const char *p = decode_varint32(stored, stored + VARINT32_MAX_BYTES, &internal_len);
  if (p == NULL || internal_len < 8) return false;
  size_t prefix = (size_t)(p - stored);
  /* Room for the internal key and the shortest value length. */
  if (!mt_arena_contains(table->arena, stored, prefix + internal_len + 1)) return false;
  const char *value_header = p + internal_len;
  size_t value_header_len = 1;
  if ((value_header[0] & 0x80) && mt_arena_contains(table->arena, value_header, VARINT32_MAX_BYTES)) {
    value_header_len = VARINT32_MAX_BYTES;
  }
  uint32_t value_len;
  const char *value = decode_varint32(value_header, value_header + value_header_len, &value_len);
  if (value == NULL) return false;
  size_t entry_len = (size_t)(value - stored) + value_len;
  if (entry_len < value_len || entry_len > SIZE_MAX - table->view.checksum_bytes) return false;
  if (!mt_arena_contains(table->arena, stored, entry_len + table->view.checksum_bytes)) return false;
  mt_entry entry;
  size_t consumed;
  if (table->view.checksum_bytes != 0)
    return mti_entry_decode_checked(&table->view, stored, entry_len + table->view.checksum_bytes, &entry, &consumed);
  return entry_decode_bounded(stored, entry_len, &entry, &consumed);
}

mt_status mt_memtable_validate(const mt_memtable *table) {
  if (table == NULL) return MT_INVALID_ARGUMENT;
  mt_status status = mt_skiplist_validate(table->list, stored_entry_in_arena, (void *)table);
  if (status != MT_OK) return MT_CORRUPTION;
  mt_skiplist_iter position;
  mt_skiplist_iter_init(&position, table->list);
  mt_skiplist_iter_seek_to_first(&position);
  uint64_t entries = 0;
  uint64_t deletions = 0;
  for (const char *stored; (stored = skiplist_iter_key_inline(&position)) != NULL;
       skiplist_iter_next_inline(&position)) {
    mt_entry entry;
    size_t entry_len;
    if (!mti_entry_load(&table->view, stored, &entry, &entry_len)) return MT_CORRUPTION;
    entries++;
    if (entry.type == MT_TYPE_DELETION) deletions++;
  }
  if (entries != mt_memtable_entry_count(table) || deletions != mt_memtable_deletion_count(table)) {
    return MT_CORRUPTION;
  }
  if (!mti_bloom_is_sound(&table->bloom)) return MT_CORRUPTION;
  if (table->point_index != NULL) {
    return mti_point_index_validate(table->point_index, &table->view, table->arena, stored_entry_in_arena,
                                    (void *)table);
  }
  return MT_OK;
}
