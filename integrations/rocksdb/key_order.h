// key_order.h - how the rep's skiplist orders RocksDB's memtable entries.
//
// An entry is varint32(internal key length) | internal key | varint32(value length) | value, and a lookup
// key is the entry's first two parts; the order is the column family's, through RocksDB's KeyComparator.
// When that comparator is RocksDB's bytewise one, entries compare here directly (user key bytes ascending,
// then the 8-byte tag seq << 8 | type descending), the same order without its virtual calls.
#ifndef MEMTABLE_ROCKSDB_KEY_ORDER_H
#define MEMTABLE_ROCKSDB_KEY_ORDER_H

#include <rocksdb/memtablerep.h>

#include <cstdint>
#include <cstring>

namespace memtable_rocksdb {

// Decodes a varint32 at p, stores it in *value, returns the first byte after it. Entries reach the rep from
// RocksDB's own encoder, so a varint is at most 5 bytes and well formed.
inline const char *DecodeVarint32(const char *p, uint32_t *value) {
  uint32_t byte = static_cast<unsigned char>(*p);
  if (byte < 0x80) {
    *value = byte;
    return p + 1;
  }
  uint32_t result = byte & 0x7f;
  for (unsigned shift = 7; shift <= 28; shift += 7) {
    byte = static_cast<unsigned char>(*++p);
    result |= (byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  *value = result;
  return p + 1;
}

inline char *EncodeVarint32(char *out, uint32_t value) {
  while (value >= 0x80) {
    *out++ = static_cast<char>(value | 0x80);
    value >>= 7;
  }
  *out++ = static_cast<char>(value);
  return out;
}

// The skiplist's comparator for each order: ctx is the rep's KeyComparator (unused by the bytewise one).
int CompareThroughComparator(void *ctx, const char *stored, const char *key);
int CompareBytewise(void *ctx, const char *stored, const char *key);

// True when key_comparator is RocksDB's MemTable::KeyComparator over BytewiseComparator(): the one case
// CompareBytewise orders as RocksDB does.
bool IsBytewiseMemtableOrder(const rocksdb::MemTableRep::KeyComparator &key_comparator);

}  // namespace memtable_rocksdb

#endif
