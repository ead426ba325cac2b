// bench/peer_leveldb.cc - LevelDB as a memtable-bench peer, through its public DB API on an in-memory Env.
//
// LevelDB's MemTable class is internal: libleveldb.so exports no MemTable symbol and its headers are not
// installed, so the memtable cannot be driven directly without compiling LevelDB's sources. The public path
// that keeps every entry in the memtable is a DB on leveldb::NewMemEnv with a write buffer larger than the
// data (no flush ever happens, which check_after_fill verifies). Each measured operation therefore includes
// LevelDB's DB layer around the memtable:
//   put:  DB::Put -> a one-entry WriteBatch, the writer queue and mutex, a CRC32C'd log record appended to
//         an in-memory file (sync=false), then the memtable insert;
//   get:  DB::Get -> mutex + memtable ref, LookupKey, MemTable::Get, the value copied into a std::string;
//   seek/scan: a DBIter over a MergingIterator over the memtable iterator;
//   fillbatch: one WriteBatch of the batch's puts per DB::Write (LevelDB's native batch);
//   fillconcurrent: DB::Put from every writer thread. LevelDB has no concurrent memtable insert: the writers
//         queue on the DB mutex and the queue's head appends the group's batches as one log record and
//         inserts them into the memtable alone, so this measures LevelDB's answer to many writers.
// Memory is the "leveldb.approximate-memory-usage" property: the memtable's arena (the in-memory log file
// is not counted).

#include <leveldb/db.h>
#include <leveldb/env.h>
#include <leveldb/helpers/memenv.h>
#include <leveldb/iterator.h>
#include <leveldb/options.h>
#include <leveldb/slice.h>
#include <leveldb/write_batch.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>

#include "peer.h"

namespace {

// DBImpl clamps write_buffer_size to [64 KiB, 1 GiB]; past that the memtable would be flushed.
constexpr size_t kMaxWriteBuffer = size_t{1} << 30;
constexpr int kNumLevels = 7;

struct Table {
  std::unique_ptr<leveldb::Env> env;
  std::unique_ptr<leveldb::DB> db;
  leveldb::WriteOptions write_options;  // sync = false: the log append is a memory copy
  leveldb::WriteBatch batch;             // fillbatch's, cleared for each batch (writer only)
  uint64_t num = 0;
  size_t payload = 0;
  ~Table() {
    db.reset();  // the DB uses the Env until it is closed
    env.reset();
  }
};

struct Reader {
  leveldb::DB *db = nullptr;
  leveldb::ReadOptions read_options;
  std::unique_ptr<leveldb::Iterator> seek_iterator;  // made at the first seek: sees the table as filled
  std::string value;
};

void CopyError(char *error, size_t error_len, const std::string &message) {
  if (error_len > 0) std::snprintf(error, error_len, "%s", message.c_str());
}

void *LevelCreate(const bench_table_config *config, char *error, size_t error_len) {
  // Per entry: the payload, two varints and the tag, the skiplist node (key pointer + 1.33 next pointers on
  // average, up to 12) and arena slack; doubled so the memtable never reaches the limit.
  double estimate = static_cast<double>(config->num) *
                        static_cast<double>(config->key_size + config->value_size + 8 + 10 + 8 * 13) * 2.0 +
                    4.0 * 1024 * 1024;
  if (estimate > static_cast<double>(kMaxWriteBuffer)) {
    CopyError(error, error_len,
              "too much data to stay in LevelDB's memtable (its write buffer is capped at 1 GiB); "
              "use a smaller --num or --value_size");
    return nullptr;
  }
  try {
    std::unique_ptr<Table> table(new Table());
    table->env.reset(leveldb::NewMemEnv(leveldb::Env::Default()));
    table->num = config->num;
    table->payload = config->key_size + config->value_size;
    leveldb::Options options;
    options.env = table->env.get();
    options.create_if_missing = true;
    options.error_if_exists = true;
    options.write_buffer_size = static_cast<size_t>(estimate);
    options.compression = leveldb::kNoCompression;
    leveldb::DB *db = nullptr;
    leveldb::Status status = leveldb::DB::Open(options, "/memtable-bench", &db);
    if (!status.ok()) {
      CopyError(error, error_len, "leveldb open: " + status.ToString());
      return nullptr;
    }
    table->db.reset(db);
    return table.release();
  } catch (const std::exception &e) {
    CopyError(error, error_len, e.what());
    return nullptr;
  }
}

void LevelDestroy(void *table) { delete static_cast<Table *>(table); }

// LevelDB numbers its writes itself (1, 2, ... on a fresh DB), which matches the sequence numbers we pass.
int LevelPut(void *opaque, uint64_t, const char *key, size_t key_len, const char *value, size_t value_len,
             char *error, size_t error_len) {
  Table *table = static_cast<Table *>(opaque);
  try {
    leveldb::Status status =
        table->db->Put(table->write_options, leveldb::Slice(key, key_len), leveldb::Slice(value, value_len));
    if (status.ok()) return 0;
    CopyError(error, error_len, "leveldb put: " + status.ToString());
  } catch (const std::exception &e) {
    CopyError(error, error_len, e.what());
  }
  return -1;
}

// LevelDB gives a batch's entries consecutive sequence numbers, as first_seq + i.
int LevelPutBatch(void *opaque, uint64_t, const bench_batch_entry *entries, size_t count, char *error,
                  size_t error_len) {
  Table *table = static_cast<Table *>(opaque);
  try {
    table->batch.Clear();
    for (size_t i = 0; i < count; i++) {
      table->batch.Put(leveldb::Slice(entries[i].key, entries[i].key_len),
                       leveldb::Slice(entries[i].value, entries[i].value_len));
    }
    leveldb::Status status = table->db->Write(table->write_options, &table->batch);
    if (status.ok()) return 0;
    CopyError(error, error_len, "leveldb write: " + status.ToString());
  } catch (const std::exception &e) {
    CopyError(error, error_len, e.what());
  }
  return -1;
}

int LevelCheckAfterFill(void *opaque, char *error, size_t error_len) {
  Table *table = static_cast<Table *>(opaque);
  for (int level = 0; level < kNumLevels; level++) {
    std::string files;
    if (!table->db->GetProperty("leveldb.num-files-at-level" + std::to_string(level), &files) || files != "0") {
      CopyError(error, error_len, "leveldb flushed its memtable to an SSTable: the figures would not be memtable-only");
      return -1;
    }
  }
  return 0;
}

size_t LevelMemoryUsage(void *opaque) {
  Table *table = static_cast<Table *>(opaque);
  std::string usage;
  if (!table->db->GetProperty("leveldb.approximate-memory-usage", &usage)) return 0;
  return static_cast<size_t>(std::strtoull(usage.c_str(), nullptr, 10));
}

void *LevelReaderCreate(void *opaque) {
  Table *table = static_cast<Table *>(opaque);
  Reader *reader = new (std::nothrow) Reader();
  if (reader != nullptr) reader->db = table->db.get();
  return reader;
}

void LevelReaderDestroy(void *reader) { delete static_cast<Reader *>(reader); }

int LevelGet(void *opaque, const char *key, size_t key_len, size_t *value_len) {
  Reader *reader = static_cast<Reader *>(opaque);
  try {
    leveldb::Status status = reader->db->Get(reader->read_options, leveldb::Slice(key, key_len), &reader->value);
    if (status.ok()) {
      *value_len = reader->value.size();
      return 1;
    }
    return status.IsNotFound() ? 0 : -1;
  } catch (const std::exception &) {
    return -1;
  }
}

int LevelSeek(void *opaque, const char *key, size_t key_len) {
  Reader *reader = static_cast<Reader *>(opaque);
  try {
    if (!reader->seek_iterator) reader->seek_iterator.reset(reader->db->NewIterator(reader->read_options));
    leveldb::Iterator *iterator = reader->seek_iterator.get();
    iterator->Seek(leveldb::Slice(key, key_len));
    if (!iterator->Valid()) return iterator->status().ok() ? 0 : -1;
    return iterator->key() == leveldb::Slice(key, key_len) ? 1 : 0;
  } catch (const std::exception &) {
    return -1;
  }
}

uint64_t LevelScan(void *opaque, bool reverse, uint64_t *bytes) {
  Reader *reader = static_cast<Reader *>(opaque);
  try {
    std::unique_ptr<leveldb::Iterator> iterator(reader->db->NewIterator(reader->read_options));
    uint64_t count = 0;
    uint64_t total = 0;
    if (reverse) {
      iterator->SeekToLast();
    } else {
      iterator->SeekToFirst();
    }
    while (iterator->Valid()) {
      total += iterator->key().size() + iterator->value().size();
      count++;
      if (reverse) {
        iterator->Prev();
      } else {
        iterator->Next();
      }
    }
    if (!iterator->status().ok()) return UINT64_MAX;
    *bytes += total;
    return count;
  } catch (const std::exception &) {
    return UINT64_MAX;
  }
}

const bench_impl kLeveldbPeer = {
    "leveldb",
    "leveldb(db+memenv)",
    "LevelDB DB on NewMemEnv, everything in the memtable: includes WriteBatch + log record (put), DB mutex + "
    "value copy (get), DBIter (seek/scan)",
    "LevelDB's MemTable is not reachable through the installed library, so its column is a whole DB on an "
    "in-memory Env: puts include a WriteBatch and a log record, gets the DB mutex and a value copy, "
    "seeks and scans a DBIter",
    LevelCreate,
    LevelDestroy,
    LevelPut,
    LevelCheckAfterFill,
    LevelMemoryUsage,
    LevelReaderCreate,
    LevelReaderDestroy,
    LevelGet,
    LevelSeek,
    LevelScan,
    LevelPut,  // DB::Put is thread-safe: LevelDB serialises the writers itself
    LevelPutBatch,
    "LevelDB has no concurrent memtable insert: its fillconcurrent is DB::Put from every writer thread, which "
    "LevelDB queues (the queue's head writes the group's log record and memtable inserts alone)",
    nullptr,  // no batched get: readrandom_batch calls LevelGet per key
};

}  // namespace

extern "C" const bench_impl *bench_peer_leveldb(void) { return &kLeveldbPeer; }
