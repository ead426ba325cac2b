// db_harness.h - what the plugin's DB-level tests share: a temporary DB directory, options for either rep
// (the plugin's, or RocksDB's default skip_list), a merge operator, readers that turn what the public DB API
// returns into text, and a small check/report framework.
#ifndef MEMTABLE_ROCKSDB_TESTS_DB_HARNESS_H
#define MEMTABLE_ROCKSDB_TESTS_DB_HARNESS_H

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace harness {

enum class Rep { kPlugin, kSkipList };
const char *RepName(Rep rep);

// A fresh directory under $TMPDIR (or /tmp), removed with its contents when the object dies.
class TempDir {
 public:
  explicit TempDir(const std::string &tag);
  ~TempDir();
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

// create_if_missing, the rep's factory, an appending merge operator, no compression.
rocksdb::Options BaseOptions(Rep rep);

// Opens (or reopens) a DB at path, failing the test on error.
std::unique_ptr<rocksdb::DB> Open(const rocksdb::Options &options, const std::string &path);

// Get as text: "value", "NotFound" or the status.
std::string GetText(rocksdb::DB *db, const std::string &key, const rocksdb::Snapshot *snapshot = nullptr);
// Every entry an iterator with these read options yields forwards, then backwards, as text.
std::string ScanText(rocksdb::DB *db, const rocksdb::ReadOptions &read_options);
// One line per key=value, from an iterator positioned by the caller, stepping `steps` times.
std::string WalkText(rocksdb::Iterator *iter, bool forward, int steps);

// Checks record failures with file and line; each case reports "N passed, N failed" once.
extern int failures;
void Fail(const char *file, int line, const std::string &what);
#define CHECK(cond)                                 \
  do {                                              \
    if (!(cond)) harness::Fail(__FILE__, __LINE__, #cond); \
  } while (0)
#define CHECK_EQ_TEXT(a, b)                                                                         \
  do {                                                                                              \
    const std::string check_a_ = (a), check_b_ = (b);                                               \
    if (check_a_ != check_b_)                                                                       \
      harness::Fail(__FILE__, __LINE__, std::string(#a " != " #b "\n--- left:\n") + check_a_.substr(0, 2000) + \
                                            "\n--- right:\n" + check_b_.substr(0, 2000));          \
  } while (0)
#define CHECK_OK(expr)                                                                   \
  do {                                                                                   \
    rocksdb::Status check_status_ = (expr);                                              \
    if (!check_status_.ok()) harness::Fail(__FILE__, __LINE__, #expr ": " + check_status_.ToString()); \
  } while (0)

// A deterministic generator (xorshift64*) so a failing randomized case can be replayed from its seed.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed ? seed : 1) {}
  uint64_t Next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }
  uint64_t Uniform(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

}  // namespace harness

#endif
