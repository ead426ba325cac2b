// key_order.cc - comparing RocksDB memtable entries (see key_order.h).
#include "key_order.h"

#include <rocksdb/comparator.h>

#include <cstddef>
#include <string>
#include <typeinfo>

#include "rocksdb_internal.h"

namespace memtable_rocksdb {

int CompareThroughComparator(void *ctx, const char *stored, const char *key) {
  const auto &key_comparator = *static_cast<const rocksdb::MemTableRep::KeyComparator *>(ctx);
  return key_comparator(stored, key);
}

namespace {

inline uint64_t DecodeFixed64(const char *p) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t value;
  std::memcpy(&value, p, sizeof(value));
  return value;
#else
  uint64_t value = 0;
  for (int i = 7; i >= 0; i--) value = (value << 8) | static_cast<unsigned char>(p[i]);
  return value;
#endif
}

}  // namespace

// RocksDB's MemTable::KeyComparator compares with InternalKeyComparator::CompareKeySeq: user keys, then
// sequence numbers descending, the value type left out (so one (key, seq) is one entry whatever its type,
// which is how the rep detects a duplicate). The same here, for the bytewise user order.
int CompareBytewise(void *, const char *stored, const char *key) {
  uint32_t stored_length;
  uint32_t key_length;
  const char *stored_bytes = DecodeVarint32(stored, &stored_length);
  const char *key_bytes = DecodeVarint32(key, &key_length);
  if (stored_length < 8 || key_length < 8) {  // not an internal key: RocksDB never makes one
    size_t common = stored_length < key_length ? stored_length : key_length;
    int order = std::memcmp(stored_bytes, key_bytes, common);
    if (order != 0) return order;
    return stored_length < key_length ? -1 : stored_length > key_length ? 1 : 0;
  }
  size_t stored_user = stored_length - 8;
  size_t key_user = key_length - 8;
  size_t common = stored_user < key_user ? stored_user : key_user;
  int order = std::memcmp(stored_bytes, key_bytes, common);
  if (order != 0) return order;
  if (stored_user != key_user) return stored_user < key_user ? -1 : 1;
  uint64_t stored_seq = DecodeFixed64(stored_bytes + stored_user) >> 8;
  uint64_t key_seq = DecodeFixed64(key_bytes + key_user) >> 8;
  return stored_seq > key_seq ? -1 : stored_seq < key_seq ? 1 : 0;
}

namespace {

// A lookup-key-shaped entry (length prefix and internal key) for the probe below.
std::string ProbeEntry(const std::string &user_key, uint64_t seq, unsigned type) {
  std::string internal_key = user_key;
  uint64_t tag = (seq << 8) | type;
  for (int i = 0; i < 8; i++) internal_key.push_back(static_cast<char>((tag >> (8 * i)) & 0xff));
  char prefix[5];
  char *end = EncodeVarint32(prefix, static_cast<uint32_t>(internal_key.size()));
  return std::string(prefix, static_cast<size_t>(end - prefix)) + internal_key;
}

int Sign(int value) { return (value > 0) - (value < 0); }

}  // namespace

// RocksDB's MemTable::KeyComparator keeps its InternalKeyComparator's user comparator 16 bytes into the
// object (after its own vtable pointer and the InternalKeyComparator's): read there only when the dynamic
// type is that class. Then the two orders must also agree on probes where bytewise differs from other
// common orders (reverse, length first, case folding, signed bytes); any doubt means the comparator path.
bool IsBytewiseMemtableOrder(const rocksdb::MemTableRep::KeyComparator &key_comparator) {
  if (std::string(typeid(key_comparator).name()) != "N7rocksdb8MemTable13KeyComparatorE") return false;
  const rocksdb::Comparator *user_comparator = nullptr;
  std::memcpy(&user_comparator, reinterpret_cast<const char *>(&key_comparator) + 2 * sizeof(void *),
              sizeof(user_comparator));
  if (user_comparator != rocksdb::BytewiseComparator()) return false;
  const std::string probes[] = {
      ProbeEntry("", 1, 1),      ProbeEntry("a", 7, 1),          ProbeEntry("a", 9, 1),
      ProbeEntry("a", 9, 0),     ProbeEntry("B", 3, 1),          ProbeEntry("ab", 2, 1),
      ProbeEntry("b", 5, 1),     ProbeEntry("\x80", 4, 1),       ProbeEntry(std::string(1, '\0'), 6, 1),
      ProbeEntry("zz", 1, 1),    ProbeEntry("abc", 1ull << 40, 1),
  };
  for (const std::string &stored : probes) {
    for (const std::string &key : probes) {
      if (Sign(key_comparator(stored.data(), key.data())) != Sign(CompareBytewise(nullptr, stored.data(), key.data())))
        return false;
    }
  }
  return true;
}

}  // namespace memtable_rocksdb
