// skiplist_rep.h - a rocksdb::MemTableRep over the library's skiplist (include/memtable/skiplist.h).
//
// Entries live inline in skiplist nodes: Allocate reserves a node and hands RocksDB its key buffer, which
// RocksDB fills with the encoded entry, and Insert links it. The list is always created for concurrent
// inserts (RocksDB may call Allocate and InsertConcurrently from several writer threads at once when
// allow_concurrent_memtable_write is on); a single writer pays only the compare-and-swap per level.
// Readers (Get, Contains, iterators) take no lock and may run during inserts, as RocksDB requires.
#ifndef MEMTABLE_ROCKSDB_SKIPLIST_REP_H
#define MEMTABLE_ROCKSDB_SKIPLIST_REP_H

#include <memtable/arena.h>
#include <memtable/skiplist.h>
#include <rocksdb/memtablerep.h>

#include <unordered_set>

#include "memtable_rocksdb/memtable_rep_factory.h"
#include "rocksdb_internal.h"

namespace memtable_rocksdb {

class SkipListRep final : public rocksdb::MemTableRep {
 public:
  // Throws std::bad_alloc when the allocator cannot give the arena its header, as RocksDB's own rep would.
  SkipListRep(const KeyComparator &key_comparator, rocksdb::Allocator *allocator,
              const memtable::MemtableRepOptions &options);
  ~SkipListRep() override;
  SkipListRep(const SkipListRep &) = delete;
  SkipListRep &operator=(const SkipListRep &) = delete;

  rocksdb::KeyHandle Allocate(const size_t len, char **buf) override;
  void Insert(rocksdb::KeyHandle handle) override;
  bool InsertKey(rocksdb::KeyHandle handle) override;
  void InsertWithHint(rocksdb::KeyHandle handle, void **hint) override;
  bool InsertKeyWithHint(rocksdb::KeyHandle handle, void **hint) override;
  void InsertWithHintConcurrently(rocksdb::KeyHandle handle, void **hint) override;
  bool InsertKeyWithHintConcurrently(rocksdb::KeyHandle handle, void **hint) override;
  void InsertConcurrently(rocksdb::KeyHandle handle) override;
  bool InsertKeyConcurrently(rocksdb::KeyHandle handle) override;
  bool Contains(const char *key) const override;
  void MarkReadOnly() override;
  void MarkFlushed() override;
  void Get(const rocksdb::LookupKey &k, void *callback_args,
           bool (*callback_func)(void *arg, const char *entry)) override;
  uint64_t ApproximateNumEntries(const rocksdb::Slice &start_ikey, const rocksdb::Slice &end_ikey) override;
  void UniqueRandomSample(const uint64_t num_entries, const uint64_t target_sample_size,
                          std::unordered_set<const char *> *entries) override;
  size_t ApproximateMemoryUsage() override;
  Iterator *GetIterator(rocksdb::Arena *arena) override;

  bool UsesBytewiseOrder() const { return bytewise_; }

 private:
  // Links a node from Allocate: true, or false when an entry with the same (key, seq) is present (the node
  // is then unused and the list unchanged).
  bool Link(rocksdb::KeyHandle handle);

  const KeyComparator &key_comparator_;
  bool bytewise_;
  mt_arena *arena_ = nullptr;
  mt_skiplist *list_ = nullptr;
};

}  // namespace memtable_rocksdb

#endif
