// example.cc - a RocksDB program on the library's skiplist: open a DB with the plugin's factory, write,
// read, flush to an SST, reopen and read again. Usage: memtable_rocksdb_example <db-directory>.
#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <cstdio>
#include <memory>
#include <string>

#include "memtable_rocksdb/memtable_rep_factory.h"

namespace {

bool Check(const rocksdb::Status &status, const char *what) {
  if (!status.ok()) std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  return status.ok();
}

}  // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <db-directory>\n", argv[0]);
    return 2;
  }
  const std::string path = argv[1];
  rocksdb::Options options;
  options.create_if_missing = true;
  memtable::MemtableRepOptions rep_options;  // the defaults; see the header for each field
  options.memtable_factory.reset(memtable::NewMemtableRepFactory(rep_options));
  // Or by name: rocksdb::MemTableRepFactory::CreateFromString(config, "memtable_skiplist", &factory).
  rocksdb::DestroyDB(path, options);

  rocksdb::DB *raw = nullptr;
  if (!Check(rocksdb::DB::Open(options, path, &raw), "open")) return 1;
  std::unique_ptr<rocksdb::DB> db(raw);
  std::printf("memtable factory: %s\n", db->GetOptions().memtable_factory->Name());

  const int kKeys = 10000;
  for (int i = 0; i < kKeys; i++) {
    if (!Check(db->Put(rocksdb::WriteOptions(), "key" + std::to_string(i), "value" + std::to_string(i)), "put"))
      return 1;
  }
  if (!Check(db->Delete(rocksdb::WriteOptions(), "key7"), "delete")) return 1;
  std::string value;
  if (!Check(db->Get(rocksdb::ReadOptions(), "key42", &value), "get") || value != "value42") return 1;
  if (!db->Get(rocksdb::ReadOptions(), "key7", &value).IsNotFound()) return 1;
  std::printf("read from the memtable: key42 = %s, key7 deleted\n", value.c_str());

  if (!Check(db->Flush(rocksdb::FlushOptions()), "flush")) return 1;
  db.reset();
  if (!Check(rocksdb::DB::Open(options, path, &raw), "reopen")) return 1;
  db.reset(raw);

  int count = 0;
  std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(rocksdb::ReadOptions()));
  for (iter->SeekToFirst(); iter->Valid(); iter->Next()) count++;
  if (!Check(iter->status(), "scan")) return 1;
  iter.reset();
  if (!Check(db->Get(rocksdb::ReadOptions(), "key9999", &value), "get after reopen") || value != "value9999") return 1;
  std::printf("after flush and reopen: %d keys, key9999 = %s\n", count, value.c_str());
  if (count != kKeys - 1) return 1;
  db.reset();
  rocksdb::DestroyDB(path, options);
  return 0;
}
