// rep_iterator.h - the rep's MemTableRep::Iterator: a skiplist iterator, plus a buffer to turn the bare
// internal keys RocksDB may seek to into the length-prefixed form the list compares.
#ifndef MEMTABLE_ROCKSDB_REP_ITERATOR_H
#define MEMTABLE_ROCKSDB_REP_ITERATOR_H

#include <memtable/skiplist.h>
#include <rocksdb/memtablerep.h>

#include <string>

namespace memtable_rocksdb {

class RepIterator final : public rocksdb::MemTableRep::Iterator {
 public:
  explicit RepIterator(const mt_skiplist *list);
  bool Valid() const override;
  const char *key() const override;
  void Next() override;
  void Prev() override;
  void Seek(const rocksdb::Slice &internal_key, const char *memtable_key) override;
  void SeekForPrev(const rocksdb::Slice &internal_key, const char *memtable_key) override;
  void SeekToFirst() override;
  void SeekToLast() override;

 private:
  // memtable_key when RocksDB gave one, else internal_key encoded into encoded_.
  const char *Target(const rocksdb::Slice &internal_key, const char *memtable_key);

  mt_skiplist_iter iter_;
  std::string encoded_;
};

}  // namespace memtable_rocksdb

#endif
