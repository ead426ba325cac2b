// bench/peer_rocksdb.cc - RocksDB's skiplist memtable rep as a memtable-bench peer.
//
// The rep is reached through the installed public header rocksdb/memtablerep.h: SkipListFactory builds the
// SkipListRep (an InlineSkipList) that RocksDB's own MemTable uses by default. The rep takes its memory
// from a rocksdb::Allocator, whose declaration (memory/allocator.h) is not installed; the RocksDB plugin's
// integrations/rocksdb/rocksdb_internal.h declares it (once, for both), and we implement it with a small bump arena (fillconcurrent: a thread-safe one, a
// shard per writer thread, as RocksDB's ConcurrentArena has a shard per core). Entries are encoded exactly as
// LevelDB/RocksDB memtable entries (the format our memtable stores), and the comparator orders them as
// internal keys: user key bytewise ascending, then the 8-byte tag (seq << 8 | type) descending. It compares
// bytes directly rather than through a virtual rocksdb::Comparator, so this is the rep at its best.

#include <rocksdb/memtablerep.h>
#include <rocksdb/slice.h>
#include <rocksdb_internal.h>
#include <rocksdb/version.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <vector>

#include "peer.h"

#define PEER_STRINGIFY_VALUE(x) #x
#define PEER_STRINGIFY(x) PEER_STRINGIFY_VALUE(x)
#define PEER_ROCKSDB_VERSION \
  PEER_STRINGIFY(ROCKSDB_MAJOR) "." PEER_STRINGIFY(ROCKSDB_MINOR) "." PEER_STRINGIFY(ROCKSDB_PATCH)

namespace {

constexpr size_t kBlockSize = 64 * 1024;  // our memtable's default arena block size: same footing
// RocksDB's Arena aligns AllocateAligned to alignof(max_align_t) (16 on x86-64); the rep's nodes pay that
// padding in RocksDB, so they pay it here.
constexpr size_t kAlignment = alignof(std::max_align_t);

// The bump pointer inside one block: Take returns nullptr when the block cannot hold the request.
struct BumpRegion {
  char *cursor = nullptr;
  size_t remaining = 0;

  char *Take(size_t bytes, size_t alignment) {
    if (cursor == nullptr) return nullptr;
    size_t padding = (alignment - reinterpret_cast<uintptr_t>(cursor) % alignment) % alignment;
    if (padding + bytes > remaining) return nullptr;
    char *result = cursor + padding;
    cursor = result + bytes;
    remaining -= padding + bytes;
    return result;
  }
};

// The blocks an arena owns; a block never moves once handed out.
class BlockList {
 public:
  BlockList() = default;
  BlockList(const BlockList &) = delete;
  BlockList &operator=(const BlockList &) = delete;
  ~BlockList() {
    for (char *block : blocks_) std::free(block);
  }

  char *NewBlock(size_t bytes) {  // malloc'd blocks are max_align_t-aligned
    char *block = static_cast<char *>(std::malloc(bytes));
    if (block == nullptr) throw std::bad_alloc();
    try {
      blocks_.push_back(block);
    } catch (...) {
      std::free(block);
      throw;
    }
    block_bytes_ += bytes;
    return block;
  }

  size_t MemoryUsage() const { return block_bytes_ + blocks_.capacity() * sizeof(char *); }

 private:
  std::vector<char *> blocks_;
  size_t block_bytes_ = 0;
};

// Serves one request from region, or from a fresh block: big requests get their own block so the current
// one keeps serving small ones (LevelDB's rule).
inline char *AllocateFrom(BumpRegion *region, BlockList *blocks, size_t bytes, size_t alignment) {
  if (char *result = region->Take(bytes, alignment)) return result;
  if (bytes > kBlockSize / 4) return blocks->NewBlock(bytes);
  char *block = blocks->NewBlock(kBlockSize);
  region->cursor = block + bytes;
  region->remaining = kBlockSize - bytes;
  return block;
}

// Single-writer bump arena. Readers never allocate.
class BumpArena final : public rocksdb::Allocator {
 public:
  BumpArena() = default;
  BumpArena(const BumpArena &) = delete;
  BumpArena &operator=(const BumpArena &) = delete;

  char *Allocate(size_t bytes) override { return AllocateFrom(&region_, &blocks_, bytes, 1); }
  char *AllocateAligned(size_t bytes, size_t, rocksdb::Logger *) override {
    return AllocateFrom(&region_, &blocks_, bytes, kAlignment);
  }
  size_t BlockSize() const override { return kBlockSize; }

  size_t MemoryUsage() const { return blocks_.MemoryUsage() + sizeof(*this); }

 private:
  BumpRegion region_;
  BlockList blocks_;
};

// fillconcurrent's arena, for writers calling InsertKeyConcurrently at once. RocksDB's ConcurrentArena gives
// each core a shard with its own small block under a spin lock, and takes the arena-wide lock only to refill
// a shard; this does the same with a shard per writer thread (threads numbered as they first allocate, so
// writers started together get distinct shards) and 64 KiB blocks like BumpArena's.
class ConcurrentBumpArena final : public rocksdb::Allocator {
 public:
  ConcurrentBumpArena() = default;
  ConcurrentBumpArena(const ConcurrentBumpArena &) = delete;
  ConcurrentBumpArena &operator=(const ConcurrentBumpArena &) = delete;

  char *Allocate(size_t bytes) override { return AllocateWithAlignment(bytes, 1); }
  char *AllocateAligned(size_t bytes, size_t, rocksdb::Logger *) override {
    return AllocateWithAlignment(bytes, kAlignment);
  }
  size_t BlockSize() const override { return kBlockSize; }

  size_t MemoryUsage() {
    std::lock_guard<std::mutex> hold(blocks_mutex_);
    return blocks_.MemoryUsage() + sizeof(*this);
  }

 private:
  static constexpr unsigned kShards = 16;

  // One cache line each, so two writers' shards never share one.
  struct alignas(64) Shard {
    std::atomic<bool> busy{false};
    BumpRegion region;
  };

  Shard &ShardOfThisThread() {
    // relaxed: only distinctness matters, nothing is published through the counter.
    static std::atomic<unsigned> next_thread{0};
    thread_local unsigned thread_number = next_thread.fetch_add(1, std::memory_order_relaxed);
    return shards_[thread_number % kShards];
  }

  char *AllocateWithAlignment(size_t bytes, size_t alignment) {
    Shard &shard = ShardOfThisThread();
    // acquire/release: the spin lock hands the shard's region from one thread to the next.
    while (shard.busy.exchange(true, std::memory_order_acquire)) {
    }
    char *result = shard.region.Take(bytes, alignment);
    if (result == nullptr) {
      try {
        std::lock_guard<std::mutex> hold(blocks_mutex_);
        result = AllocateFrom(&shard.region, &blocks_, bytes, alignment);
      } catch (...) {
        shard.busy.store(false, std::memory_order_release);
        throw;
      }
    }
    shard.busy.store(false, std::memory_order_release);
    return result;
  }

  Shard shards_[kShards];
  std::mutex blocks_mutex_;  // guards blocks_
  BlockList blocks_;
};

inline char *EncodeVarint32(char *out, uint32_t value) {
  unsigned char *p = reinterpret_cast<unsigned char *>(out);
  while (value >= 0x80) {
    *p++ = static_cast<unsigned char>(value | 0x80);
    value >>= 7;
  }
  *p++ = static_cast<unsigned char>(value);
  return reinterpret_cast<char *>(p);
}

inline size_t Varint32Length(uint32_t value) {
  size_t length = 1;
  while (value >= 0x80) {
    value >>= 7;
    length++;
  }
  return length;
}

// Entries we wrote ourselves, so the varint is well formed and at most 5 bytes.
inline const char *DecodeVarint32(const char *in, uint32_t *value) {
  const unsigned char *p = reinterpret_cast<const unsigned char *>(in);
  if (*p < 0x80) {  // every key below 120 bytes: RocksDB's GetVarint32Ptr has the same fast path
    *value = *p;
    return in + 1;
  }
  uint32_t result = 0;
  for (unsigned shift = 0; shift <= 28; shift += 7) {
    uint32_t byte = *p++;
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  *value = result;
  return reinterpret_cast<const char *>(p);
}

inline void EncodeFixed64(char *out, uint64_t value) {
  for (int i = 0; i < 8; i++) out[i] = static_cast<char>(value >> (8 * i));
}

inline uint64_t DecodeFixed64(const char *in) {
  uint64_t value;
  std::memcpy(&value, in, sizeof value);  // little-endian host (x86-64), as RocksDB itself assumes here
  return value;
}

constexpr uint64_t kMaxSequence = (uint64_t{1} << 56) - 1;
constexpr unsigned kTypeDeletion = 0;
constexpr unsigned kTypeValue = 1;

inline rocksdb::Slice LengthPrefixed(const char *entry) {
  uint32_t length;
  const char *data = DecodeVarint32(entry, &length);
  return rocksdb::Slice(data, length);
}

// Internal-key order: user key bytewise ascending, then tag (seq << 8 | type) descending.
inline int CompareInternalKeys(const rocksdb::Slice &a, const rocksdb::Slice &b) {
  size_t a_user = a.size() - 8;
  size_t b_user = b.size() - 8;
  int order = std::memcmp(a.data(), b.data(), a_user < b_user ? a_user : b_user);
  if (order != 0) return order;
  if (a_user != b_user) return a_user < b_user ? -1 : 1;
  uint64_t a_tag = DecodeFixed64(a.data() + a_user);
  uint64_t b_tag = DecodeFixed64(b.data() + b_user);
  if (a_tag == b_tag) return 0;
  return a_tag > b_tag ? -1 : 1;
}

class EntryComparator final : public rocksdb::MemTableRep::KeyComparator {
 public:
  DecodedType decode_key(const char *key) const override { return LengthPrefixed(key); }
  int operator()(const char *a, const char *b) const override {
    return CompareInternalKeys(LengthPrefixed(a), LengthPrefixed(b));
  }
  int operator()(const char *a, const rocksdb::Slice &b) const override {
    return CompareInternalKeys(LengthPrefixed(a), b);
  }
};

struct Table {
  EntryComparator comparator;  // the rep keeps a reference: must outlive it
  bool concurrent = false;     // the rep allocates from concurrent_arena, else from arena
  BumpArena arena;
  ConcurrentBumpArena concurrent_arena;
  rocksdb::SkipListFactory factory;
  rocksdb::MemTableRep *rep = nullptr;
  ~Table() { delete rep; }
};

struct Reader {
  rocksdb::MemTableRep::Iterator *iterator = nullptr;
  std::vector<char> lookup;  // the memtable-format lookup key, reused across calls
  ~Reader() { delete iterator; }

  // varint32(key_len + 8) | key | tag(kMaxSequence, kTypeValue): sorts before every entry for key.
  const char *EncodeLookup(const char *key, size_t key_len) {
    size_t needed = 5 + key_len + 8;
    if (lookup.size() < needed) lookup.resize(needed);
    char *p = EncodeVarint32(lookup.data(), static_cast<uint32_t>(key_len + 8));
    std::memcpy(p, key, key_len);
    EncodeFixed64(p + key_len, (kMaxSequence << 8) | kTypeValue);
    return lookup.data();
  }
};

void CopyError(char *error, size_t error_len, const char *message) {
  if (error_len > 0) std::snprintf(error, error_len, "%s", message);
}

void *RocksCreate(const bench_table_config *config, char *error, size_t error_len) {
  try {
    Table *table = new Table();
    table->concurrent = config->concurrent_writes;
    rocksdb::Allocator *allocator = table->concurrent ? static_cast<rocksdb::Allocator *>(&table->concurrent_arena)
                                                      : static_cast<rocksdb::Allocator *>(&table->arena);
    table->rep = table->factory.CreateMemTableRep(table->comparator, allocator, nullptr, nullptr);
    return table;
  } catch (const std::exception &e) {
    CopyError(error, error_len, e.what());
    return nullptr;
  }
}

void RocksDestroy(void *table) { delete static_cast<Table *>(table); }

// Encodes the entry into memory from the rep and links it in, as RocksDB's MemTable::Add does: InsertKey from
// the single writer, InsertKeyConcurrently from fillconcurrent's writers.
template <bool kConcurrent>
int Insert(Table *table, uint64_t seq, const char *key, size_t key_len, const char *value, size_t value_len,
           char *error, size_t error_len) {
  if (key_len > UINT32_MAX - 8 || value_len > UINT32_MAX || seq > kMaxSequence) {
    CopyError(error, error_len, "key, value or sequence number too large for the entry format");
    return -1;
  }
  uint32_t internal_len = static_cast<uint32_t>(key_len + 8);
  size_t encoded_len = Varint32Length(internal_len) + internal_len +
                       Varint32Length(static_cast<uint32_t>(value_len)) + value_len;
  try {
    char *buf = nullptr;
    rocksdb::KeyHandle handle = table->rep->Allocate(encoded_len, &buf);
    char *p = EncodeVarint32(buf, internal_len);
    std::memcpy(p, key, key_len);
    p += key_len;
    EncodeFixed64(p, (seq << 8) | kTypeValue);
    p += 8;
    p = EncodeVarint32(p, static_cast<uint32_t>(value_len));
    std::memcpy(p, value, value_len);
    if (!(kConcurrent ? table->rep->InsertKeyConcurrently(handle) : table->rep->InsertKey(handle))) {
      CopyError(error, error_len, "duplicate (key, seq) rejected by the rep");
      return -1;
    }
    return 0;
  } catch (const std::exception &e) {
    CopyError(error, error_len, e.what());
    return -1;
  }
}

int RocksPut(void *opaque, uint64_t seq, const char *key, size_t key_len, const char *value, size_t value_len,
             char *error, size_t error_len) {
  return Insert<false>(static_cast<Table *>(opaque), seq, key, key_len, value, value_len, error, error_len);
}

int RocksPutConcurrent(void *opaque, uint64_t seq, const char *key, size_t key_len, const char *value,
                       size_t value_len, char *error, size_t error_len) {
  Table *table = static_cast<Table *>(opaque);
  if (!table->concurrent) {
    CopyError(error, error_len, "concurrent insert into a table made for one writer");
    return -1;
  }
  return Insert<true>(table, seq, key, key_len, value, value_len, error, error_len);
}

// A WriteBatch reaches the rep entry by entry (MemTableInserter calls MemTable::Add for each).
int RocksPutBatch(void *opaque, uint64_t first_seq, const bench_batch_entry *entries, size_t count, char *error,
                  size_t error_len) {
  Table *table = static_cast<Table *>(opaque);
  for (size_t i = 0; i < count; i++) {
    const bench_batch_entry &entry = entries[i];
    if (Insert<false>(table, first_seq + i, entry.key, entry.key_len, entry.value, entry.value_len, error,
                      error_len) != 0)
      return -1;
  }
  return 0;
}

size_t RocksMemoryUsage(void *opaque) {
  Table *table = static_cast<Table *>(opaque);
  size_t arena_bytes = table->concurrent ? table->concurrent_arena.MemoryUsage() : table->arena.MemoryUsage();
  return arena_bytes + table->rep->ApproximateMemoryUsage();
}

void *RocksReaderCreate(void *opaque) {
  Table *table = static_cast<Table *>(opaque);
  try {
    Reader *reader = new Reader();
    reader->iterator = table->rep->GetIterator(nullptr);
    reader->lookup.resize(64);
    return reader;
  } catch (const std::exception &) {
    return nullptr;
  }
}

void RocksReaderDestroy(void *reader) { delete static_cast<Reader *>(reader); }

// The entry at the iterator, when its user key is key: returns 1 and the entry's tag and value.
int MatchCurrent(const rocksdb::MemTableRep::Iterator *iterator, const char *key, size_t key_len, uint64_t *tag,
                 size_t *value_len) {
  if (!iterator->Valid()) return 0;
  rocksdb::Slice internal_key = LengthPrefixed(iterator->key());
  size_t user_len = internal_key.size() - 8;
  if (user_len != key_len || std::memcmp(internal_key.data(), key, key_len) != 0) return 0;
  *tag = DecodeFixed64(internal_key.data() + user_len);
  uint32_t length;
  DecodeVarint32(internal_key.data() + internal_key.size(), &length);
  *value_len = length;
  return 1;
}

// What SkipListRep::Get does under RocksDB's MemTable::Get: seek to the lookup key, look at that entry.
int RocksGet(void *opaque, const char *key, size_t key_len, size_t *value_len) {
  Reader *reader = static_cast<Reader *>(opaque);
  reader->iterator->Seek(rocksdb::Slice(), reader->EncodeLookup(key, key_len));
  uint64_t tag;
  if (!MatchCurrent(reader->iterator, key, key_len, &tag, value_len)) return 0;
  return (tag & 0xff) == kTypeDeletion ? 0 : 1;
}

int RocksSeek(void *opaque, const char *key, size_t key_len) {
  Reader *reader = static_cast<Reader *>(opaque);
  reader->iterator->Seek(rocksdb::Slice(), reader->EncodeLookup(key, key_len));
  uint64_t tag;
  size_t value_len;
  return MatchCurrent(reader->iterator, key, key_len, &tag, &value_len);
}

uint64_t RocksScan(void *opaque, bool reverse, uint64_t *bytes) {
  rocksdb::MemTableRep::Iterator *iterator = static_cast<Reader *>(opaque)->iterator;
  uint64_t count = 0;
  uint64_t total = 0;
  if (reverse) {
    iterator->SeekToLast();
  } else {
    iterator->SeekToFirst();
  }
  while (iterator->Valid()) {
    rocksdb::Slice internal_key = LengthPrefixed(iterator->key());
    uint32_t value_len;
    DecodeVarint32(internal_key.data() + internal_key.size(), &value_len);
    total += internal_key.size() - 8 + value_len;
    count++;
    if (reverse) {
      iterator->Prev();
    } else {
      iterator->Next();
    }
  }
  *bytes += total;
  return count;
}

const bench_impl kRocksdbPeer = {
    "rocksdb",
    "rocksdb",
    "RocksDB " PEER_ROCKSDB_VERSION " SkipListFactory rep (InlineSkipList), our bump arena, bytewise comparator",
#ifdef MEMTABLE_BENCH_ROCKSDB_ASSERTS
    "this librocksdb was built with assert() enabled (no NDEBUG, as Debian's package is): InlineSkipList "
    "checks order with two extra key comparisons per search step, so the rocksdb column understates an "
    "NDEBUG RocksDB build",
#else
    nullptr,
#endif
    RocksCreate,
    RocksDestroy,
    RocksPut,
    nullptr,
    RocksMemoryUsage,
    RocksReaderCreate,
    RocksReaderDestroy,
    RocksGet,
    RocksSeek,
    RocksScan,
    RocksPutConcurrent,
    RocksPutBatch,
    "InsertKeyConcurrently over our thread-safe arena (a shard per writer thread, refilled under a mutex) in "
    "place of RocksDB's ConcurrentArena (a shard per core)",
    nullptr,  // no batched get: readrandom_batch calls RocksGet per key
};

}  // namespace

extern "C" const bench_impl *bench_peer_rocksdb(void) { return &kRocksdbPeer; }
