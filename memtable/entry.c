/* The public entry codec: LevelDB's MemTable entry format. See include/memtable/memtable.h. */
#include <memtable/memtable.h>

#include <assert.h>

#include "memtable/coding.h"

size_t mt_entry_encoded_size(size_t key_len, size_t value_len) { return entry_encoded_size(key_len, value_len); }

mt_status mt_entry_encode(char *buf, size_t buf_len, uint64_t seq, mt_entry_type type, const void *key, size_t key_len,
                          const void *value, size_t value_len, size_t *written) {
  if (written != NULL) *written = 0;
  if (buf == NULL || seq > MT_MAX_SEQUENCE || (type != MT_TYPE_DELETION && type != MT_TYPE_VALUE)) {
    return MT_INVALID_ARGUMENT;
  }
  if ((key == NULL && key_len != 0) || (value == NULL && value_len != 0)) return MT_INVALID_ARGUMENT;
  size_t size = entry_encoded_size(key_len, value_len);
  if (size == 0 || size > buf_len) return MT_INVALID_ARGUMENT;
  char *end = entry_encode_unchecked(buf, seq, type, key, key_len, value, value_len);
  assert((size_t)(end - buf) == size);
  (void)end;
  if (written != NULL) *written = size;
  return MT_OK;
}

mt_status mt_entry_decode(const void *data, size_t len, mt_entry *entry, size_t *consumed) {
  if (entry == NULL || (data == NULL && len != 0)) return MT_INVALID_ARGUMENT;
  if (data == NULL) return MT_CORRUPTION; /* zero bytes: truncated */
  mt_entry decoded;
  size_t decoded_len;
  if (!entry_decode_bounded(data, len, &decoded, &decoded_len)) return MT_CORRUPTION;
  *entry = decoded;
  if (consumed != NULL) *consumed = decoded_len;
  return MT_OK;
}
