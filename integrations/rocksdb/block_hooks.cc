// block_hooks.cc - mt_allocator hooks over a rocksdb::Allocator (see block_hooks.h).
#include "block_hooks.h"

#include <new>

namespace memtable_rocksdb {

namespace {

// RocksDB's allocator throws std::bad_alloc when memory runs out; the arena is C and wants NULL, which it
// turns into MT_NOMEM (and the rep back into std::bad_alloc, as RocksDB's own rep would throw).
void *AllocateBlock(void *ctx, size_t size) noexcept {
  try {
    return static_cast<rocksdb::Allocator *>(ctx)->AllocateAligned(size);
  } catch (...) {
    return nullptr;
  }
}

// RocksDB frees its arena's memory all at once, with the MemTable.
void KeepBlock(void *, void *, size_t) noexcept {}

}  // namespace

mt_allocator BlockHooksOver(rocksdb::Allocator *allocator) {
  mt_allocator hooks;
  hooks.alloc = AllocateBlock;
  hooks.free = KeepBlock;
  hooks.ctx = allocator;
  return hooks;
}

}  // namespace memtable_rocksdb
