// block_hooks.h - the rep's arena takes its blocks from the rocksdb::Allocator the rep was created with.
//
// RocksDB sizes a memtable, and decides when to flush it, from what its allocator (the MemTable's
// ConcurrentArena) has handed out. Taking every block of the rep's arena (and the arena's header) from that
// allocator keeps those figures whole: the rep allocates nothing else. Blocks are never given back one by
// one: RocksDB frees them all with the MemTable, after the rep (and so its arena) is destroyed.
#ifndef MEMTABLE_ROCKSDB_BLOCK_HOOKS_H
#define MEMTABLE_ROCKSDB_BLOCK_HOOKS_H

#include <memtable/arena.h>

#include "rocksdb_internal.h"

namespace memtable_rocksdb {

// Hooks for mt_arena_options.allocator over `allocator`, which must outlive the arena. The arena calls them
// under its mutex (concurrent mode), so RocksDB's allocator sees one call at a time from the rep.
mt_allocator BlockHooksOver(rocksdb::Allocator *allocator);

}  // namespace memtable_rocksdb

#endif
