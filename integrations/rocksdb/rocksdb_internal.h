// rocksdb_internal.h - the parts of RocksDB 7.x's internal classes the rep relies on, declared here because
// RocksDB does not install their headers. Each was checked against librocksdb.so 7.8.3 (its vtables and
// disassembly); CMakeLists.txt accepts RocksDB 7.x only, and key_order.cc checks the one layout it reads
// by value before trusting it.
#ifndef MEMTABLE_ROCKSDB_INTERNAL_H
#define MEMTABLE_ROCKSDB_INTERNAL_H

#include <rocksdb/memtablerep.h>
#include <rocksdb/version.h>

#include <cstddef>

#if ROCKSDB_MAJOR != 7
#error "rocksdb_internal.h declares RocksDB 7.x's internal classes; other majors differ"
#endif

namespace rocksdb {

// memory/allocator.h: the interface of the memory a MemTableRep is created with (a MemTable's
// ConcurrentArena) and of the Arena an iterator may be placed in. Same virtual functions in the same order,
// so calls land in RocksDB's implementation. AllocateAligned aligns to alignof(max_align_t) and throws
// std::bad_alloc when memory runs out.
class Allocator {
 public:
  virtual ~Allocator() {}
  virtual char *Allocate(size_t bytes) = 0;
  virtual char *AllocateAligned(size_t bytes, size_t huge_page_size = 0, Logger *logger = nullptr) = 0;
  virtual size_t BlockSize() const = 0;
};

}  // namespace rocksdb

namespace memtable_rocksdb {

// rocksdb::Arena derives from Allocator alone (memory/arena.h), so an Arena* is its Allocator*.
inline rocksdb::Allocator *AllocatorOfArena(rocksdb::Arena *arena) {
  return reinterpret_cast<rocksdb::Allocator *>(arena);
}

// db/dbformat.h's LookupKey begins with three pointers: the length-prefixed internal key starts at start,
// the internal key at key_start, both end at end (memtable_key() = [start, end)). Its accessors are inline
// in that header, so the rep reads these fields; skiplist_rep.cc checks them against the length prefix.
struct LookupKeyLayout {
  const char *start;
  const char *key_start;
  const char *end;
};

inline const LookupKeyLayout &LayoutOf(const rocksdb::LookupKey &key) {
  return *reinterpret_cast<const LookupKeyLayout *>(&key);
}

}  // namespace memtable_rocksdb

#endif
