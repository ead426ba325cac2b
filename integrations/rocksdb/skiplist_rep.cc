// skiplist_rep.cc - the MemTableRep over the library's skiplist (see skiplist_rep.h).
#include "skiplist_rep.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "block_hooks.h"
#include "key_order.h"
#include "rep_iterator.h"

namespace memtable_rocksdb {

namespace {

// Throws what RocksDB's own arena throws when memory runs out, so RocksDB sees the failure it knows.
[[noreturn]] void ThrowOutOfMemory() { throw std::bad_alloc(); }

size_t ArenaBlockSize(const memtable::MemtableRepOptions &options, const rocksdb::Allocator *allocator) {
  size_t size = options.arena_block_size != 0 ? options.arena_block_size : allocator->BlockSize();
  return std::min(std::max(size, MT_ARENA_DEFAULT_BLOCK_SIZE), MT_ARENA_MAX_BLOCK_SIZE);
}

}  // namespace

SkipListRep::SkipListRep(const KeyComparator &key_comparator, rocksdb::Allocator *allocator,
                         const memtable::MemtableRepOptions &options)
    : MemTableRep(allocator),
      key_comparator_(key_comparator),
      bytewise_(options.bytewise_fast_path && IsBytewiseMemtableOrder(key_comparator)) {
  mt_arena_options arena_options;
  mt_arena_options_init(&arena_options);
  arena_options.block_size = ArenaBlockSize(options, allocator);
  arena_options.allocator = BlockHooksOver(allocator);
  arena_options.concurrent = true;
  if (mt_arena_try_create(&arena_options, &arena_) != MT_OK) ThrowOutOfMemory();

  mt_skiplist_options list_options;
  mt_skiplist_options_init(&list_options);
  list_options.compare = bytewise_ ? CompareBytewise : CompareThroughComparator;
  list_options.compare_ctx = const_cast<KeyComparator *>(&key_comparator_);
  list_options.branching = std::max(options.branching, 2);
  list_options.max_height = std::min(std::max(options.max_height, 1), MT_SKIPLIST_MAX_HEIGHT_LIMIT);
  list_options.concurrent_inserts = true;
  if (mt_skiplist_try_create(arena_, &list_options, &list_) != MT_OK) {
    mt_arena_destroy(arena_);
    ThrowOutOfMemory();
  }
}

SkipListRep::~SkipListRep() { mt_arena_destroy(arena_); }

rocksdb::KeyHandle SkipListRep::Allocate(const size_t len, char **buf) {
  char *key = nullptr;
  // The options and arguments are valid, so the only failure is the allocator's (or a length RocksDB's
  // uint32 encoding cannot produce).
  if (mt_skiplist_allocate_key(list_, len, &key) != MT_OK) ThrowOutOfMemory();
  *buf = key;
  return key;
}

bool SkipListRep::Link(rocksdb::KeyHandle handle) {
  return mt_skiplist_insert_allocated(list_, static_cast<char *>(handle)) == MT_OK;
}

// RocksDB promises no equal entry for Insert; should one come, the list keeps the first (as InsertKey would
// report).
void SkipListRep::Insert(rocksdb::KeyHandle handle) { (void)Link(handle); }
bool SkipListRep::InsertKey(rocksdb::KeyHandle handle) { return Link(handle); }

// Hints are not used: the skiplist's public API does not hand back the splice an insert ended at, so a hint
// could only save what a search costs anyway. The hint pointer is left as RocksDB passed it (nullptr: nothing
// for RocksDB to free).
void SkipListRep::InsertWithHint(rocksdb::KeyHandle handle, void **) { (void)Link(handle); }
bool SkipListRep::InsertKeyWithHint(rocksdb::KeyHandle handle, void **) { return Link(handle); }
void SkipListRep::InsertWithHintConcurrently(rocksdb::KeyHandle handle, void **) { (void)Link(handle); }
bool SkipListRep::InsertKeyWithHintConcurrently(rocksdb::KeyHandle handle, void **) { return Link(handle); }

// The list links concurrently in every mode (see skiplist_rep.h).
void SkipListRep::InsertConcurrently(rocksdb::KeyHandle handle) { (void)Link(handle); }
bool SkipListRep::InsertKeyConcurrently(rocksdb::KeyHandle handle) { return Link(handle); }

bool SkipListRep::Contains(const char *key) const { return mt_skiplist_contains(list_, key); }

// Nothing to do: no writer state outlives an insert, and memory goes with the MemTable.
void SkipListRep::MarkReadOnly() {}
void SkipListRep::MarkFlushed() {}

void SkipListRep::Get(const rocksdb::LookupKey &k, void *callback_args,
                      bool (*callback_func)(void *arg, const char *entry)) {
  // The lookup key's memtable form, read from its layout (rocksdb_internal.h); if its length prefix does not
  // describe the rest, the layout is not the one expected and RocksDB's generic Get (an iterator) serves.
  const LookupKeyLayout &layout = LayoutOf(k);
  uint32_t internal_key_length = 0;
  if (layout.start == nullptr || layout.key_start == nullptr || layout.end < layout.key_start ||
      layout.key_start - layout.start > 5 ||
      DecodeVarint32(layout.start, &internal_key_length) != layout.key_start ||
      internal_key_length != static_cast<size_t>(layout.end - layout.key_start)) {
    MemTableRep::Get(k, callback_args, callback_func);
    return;
  }
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list_);
  for (mt_skiplist_iter_seek(&iter, layout.start);
       mt_skiplist_iter_valid(&iter) && callback_func(callback_args, mt_skiplist_iter_key(&iter));
       mt_skiplist_iter_next(&iter)) {
  }
}

// Counted exactly, by walking the range: the skiplist keeps no ranks to estimate from.
uint64_t SkipListRep::ApproximateNumEntries(const rocksdb::Slice &start_ikey, const rocksdb::Slice &end_ikey) {
  RepIterator iter(list_);
  iter.Seek(start_ikey, nullptr);
  uint64_t count = 0;
  for (; iter.Valid() && key_comparator_(iter.key(), end_ikey) < 0; iter.Next()) count++;
  return count;
}

// RocksDB's mempurge (experimental_mempurge_threshold) samples entries to judge a memtable's garbage: a
// reservoir sample over one walk of the list, target_sample_size distinct entries (all of them when fewer).
void SkipListRep::UniqueRandomSample(const uint64_t, const uint64_t target_sample_size,
                                     std::unordered_set<const char *> *entries) {
  entries->clear();
  if (target_sample_size == 0) return;
  std::vector<const char *> sample;
  uint64_t seen = 0;
  uint64_t state = 0x9e3779b97f4a7c15ull ^ reinterpret_cast<uintptr_t>(this);
  mt_skiplist_iter iter;
  mt_skiplist_iter_init(&iter, list_);
  for (mt_skiplist_iter_seek_to_first(&iter); mt_skiplist_iter_valid(&iter); mt_skiplist_iter_next(&iter), seen++) {
    if (sample.size() < target_sample_size) {
      sample.push_back(mt_skiplist_iter_key(&iter));
      continue;
    }
    state ^= state << 13;  // xorshift64: any uniform-enough draw will do
    state ^= state >> 7;
    state ^= state << 17;
    uint64_t slot = state % (seen + 1);
    if (slot < target_sample_size) sample[slot] = mt_skiplist_iter_key(&iter);
  }
  entries->insert(sample.begin(), sample.end());
}

// Everything the rep holds, the arena's header included, comes from RocksDB's allocator, which RocksDB
// counts itself: nothing else to report.
size_t SkipListRep::ApproximateMemoryUsage() { return 0; }

rocksdb::MemTableRep::Iterator *SkipListRep::GetIterator(rocksdb::Arena *arena) {
  if (arena == nullptr) return new RepIterator(list_);
  // RocksDB destroys an arena-placed iterator with ~Iterator() and frees the arena itself.
  void *memory = AllocatorOfArena(arena)->AllocateAligned(sizeof(RepIterator));
  return new (memory) RepIterator(list_);
}

}  // namespace memtable_rocksdb
