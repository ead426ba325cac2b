// memtable_rocksdb/memtable_rep_factory.h - the library's skiplist as a RocksDB MemTableRep.
//
// Two ways to turn it on (integrations/rocksdb/README.md):
//   options.memtable_factory.reset(memtable::NewMemtableRepFactory(memtable::MemtableRepOptions()));
// or by name, once libmemtable_rocksdb.so is loaded (linked, or LD_PRELOAD for a program that does not know
// it): MemTableRepFactory::CreateFromString(config, "memtable_skiplist", &factory), an OPTIONS file's
// memtable_factory, or db_bench --memtablerep=memtable_skiplist. Options by name:
// "id=memtable_skiplist;branching=4;max_height=12;bytewise_fast_path=true;arena_block_size=0".
//
// The rep supports concurrent inserts (allow_concurrent_memtable_write) and detects a duplicate (key, seq).
// Its memory comes from the Allocator RocksDB hands it, so RocksDB's memtable accounting and flush triggers
// see every byte.
#ifndef MEMTABLE_ROCKSDB_MEMTABLE_REP_FACTORY_H
#define MEMTABLE_ROCKSDB_MEMTABLE_REP_FACTORY_H

#include <rocksdb/memtablerep.h>

#include <cstddef>

#define MEMTABLE_ROCKSDB_API __attribute__((visibility("default")))

namespace memtable {

struct MemtableRepOptions {
  // Skiplist shape: a node reaches the next level with probability 1/branching (>= 2), towers of at most
  // max_height (1..32) links. Out-of-range values are raised or lowered to the nearest valid one.
  int branching = 4;
  int max_height = 12;
  // Compare entries byte by byte, without RocksDB's virtual comparator calls, when the column family's
  // comparator is RocksDB's BytewiseComparator() (checked when each memtable is created; any other
  // comparator always goes through RocksDB's KeyComparator).
  bool bytewise_fast_path = true;
  // Bytes per block of the rep's arena, each taken from RocksDB's Allocator; 0 = the Allocator's own block
  // size (RocksDB's arena_block_size), so each block is one allocation RocksDB counts exactly.
  size_t arena_block_size = 0;
};

// The factory's registered names: its class name and the short name db_bench and OPTIONS files use.
MEMTABLE_ROCKSDB_API extern const char *const kMemtableRepFactoryName;      // "MemtableSkipListRepFactory"
MEMTABLE_ROCKSDB_API extern const char *const kMemtableRepFactoryNickName;  // "memtable_skiplist"

// A new factory (the caller owns it: hand it to Options::memtable_factory).
MEMTABLE_ROCKSDB_API rocksdb::MemTableRepFactory *NewMemtableRepFactory(const MemtableRepOptions &options);

}  // namespace memtable

#endif
