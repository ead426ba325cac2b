// rep_iterator.cc - the rep's iterator (see rep_iterator.h).
#include "rep_iterator.h"

#include "key_order.h"

namespace memtable_rocksdb {

RepIterator::RepIterator(const mt_skiplist *list) { mt_skiplist_iter_init(&iter_, list); }

bool RepIterator::Valid() const { return mt_skiplist_iter_valid(&iter_); }

const char *RepIterator::key() const { return mt_skiplist_iter_key(&iter_); }

void RepIterator::Next() { mt_skiplist_iter_next(&iter_); }

void RepIterator::Prev() { mt_skiplist_iter_prev(&iter_); }

void RepIterator::Seek(const rocksdb::Slice &internal_key, const char *memtable_key) {
  mt_skiplist_iter_seek(&iter_, Target(internal_key, memtable_key));
}

void RepIterator::SeekForPrev(const rocksdb::Slice &internal_key, const char *memtable_key) {
  mt_skiplist_iter_seek_for_prev(&iter_, Target(internal_key, memtable_key));
}

void RepIterator::SeekToFirst() { mt_skiplist_iter_seek_to_first(&iter_); }

void RepIterator::SeekToLast() { mt_skiplist_iter_seek_to_last(&iter_); }

const char *RepIterator::Target(const rocksdb::Slice &internal_key, const char *memtable_key) {
  if (memtable_key != nullptr) return memtable_key;
  char prefix[5];
  char *end = EncodeVarint32(prefix, static_cast<uint32_t>(internal_key.size()));
  encoded_.assign(prefix, static_cast<size_t>(end - prefix));
  encoded_.append(internal_key.data(), internal_key.size());
  return encoded_.data();
}

}  // namespace memtable_rocksdb
