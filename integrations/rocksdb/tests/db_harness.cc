// db_harness.cc - see db_harness.h.
#include "db_harness.h"

#include <rocksdb/memtablerep.h>
#include <rocksdb/merge_operator.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "memtable_rocksdb/memtable_rep_factory.h"

namespace harness {

int failures = 0;

void Fail(const char *file, int line, const std::string &what) {
  failures++;
  std::fprintf(stderr, "%s:%d: check failed: %s\n", file, line, what.c_str());
}

const char *RepName(Rep rep) { return rep == Rep::kPlugin ? "memtable_skiplist" : "skip_list"; }

TempDir::TempDir(const std::string &tag) {
  const char *base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/rocksdb_rep_" + tag + "_XXXXXX";
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(2);
  }
  path_ = buffer.data();
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

namespace {

// Appends with a comma: the result shows every operand in order, so a lost or reordered merge is visible.
class AppendOperator final : public rocksdb::AssociativeMergeOperator {
 public:
  bool Merge(const rocksdb::Slice &, const rocksdb::Slice *existing_value, const rocksdb::Slice &value,
             std::string *new_value, rocksdb::Logger *) const override {
    new_value->clear();
    if (existing_value != nullptr) {
      new_value->assign(existing_value->data(), existing_value->size());
      new_value->push_back(',');
    }
    new_value->append(value.data(), value.size());
    return true;
  }
  const char *Name() const override { return "AppendOperator"; }
};

}  // namespace

rocksdb::Options BaseOptions(Rep rep) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kNoCompression;
  options.merge_operator = std::make_shared<AppendOperator>();
  if (rep == Rep::kPlugin) {
    options.memtable_factory.reset(memtable::NewMemtableRepFactory(memtable::MemtableRepOptions()));
  } else {
    options.memtable_factory = std::make_shared<rocksdb::SkipListFactory>();
  }
  return options;
}

std::unique_ptr<rocksdb::DB> Open(const rocksdb::Options &options, const std::string &path) {
  rocksdb::DB *db = nullptr;
  rocksdb::Status status = rocksdb::DB::Open(options, path, &db);
  if (!status.ok()) {
    std::fprintf(stderr, "DB::Open(%s): %s\n", path.c_str(), status.ToString().c_str());
    std::exit(2);
  }
  return std::unique_ptr<rocksdb::DB>(db);
}

std::string GetText(rocksdb::DB *db, const std::string &key, const rocksdb::Snapshot *snapshot) {
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string value;
  rocksdb::Status status = db->Get(read_options, key, &value);
  if (status.ok()) return value;
  return status.ToString();
}

std::string WalkText(rocksdb::Iterator *iter, bool forward, int steps) {
  std::ostringstream out;
  for (int i = 0; i < steps && iter->Valid(); i++) {
    out << iter->key().ToString() << '=' << iter->value().ToString() << '\n';
    if (forward) {
      iter->Next();
    } else {
      iter->Prev();
    }
  }
  out << (iter->Valid() ? "(more)" : "(end)") << ' ' << iter->status().ToString() << '\n';
  return out.str();
}

std::string ScanText(rocksdb::DB *db, const rocksdb::ReadOptions &read_options) {
  std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(read_options));
  iter->SeekToFirst();
  std::string text = WalkText(iter.get(), true, 1 << 30);
  iter->SeekToLast();
  return text + "--\n" + WalkText(iter.get(), false, 1 << 30);
}

}  // namespace harness
