// factory.cc - the plugin's MemTableRepFactory, its options by name, and its registration in RocksDB's
// default ObjectLibrary when the shared library is loaded.
#include <rocksdb/convenience.h>
#include <rocksdb/utilities/object_registry.h>
#include <rocksdb/utilities/options_type.h>

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>

#include "memtable_rocksdb/memtable_rep_factory.h"
#include "skiplist_rep.h"

namespace memtable {

const char *const kMemtableRepFactoryName = "MemtableSkipListRepFactory";
const char *const kMemtableRepFactoryNickName = "memtable_skiplist";

namespace {

// The options as RocksDB's configuration strings name them ("id=memtable_skiplist;branching=8").
const std::unordered_map<std::string, rocksdb::OptionTypeInfo> &OptionTypes() {
  static const std::unordered_map<std::string, rocksdb::OptionTypeInfo> types = {
      {"branching",
       {offsetof(MemtableRepOptions, branching), rocksdb::OptionType::kInt,
        rocksdb::OptionVerificationType::kNormal, rocksdb::OptionTypeFlags::kNone}},
      {"max_height",
       {offsetof(MemtableRepOptions, max_height), rocksdb::OptionType::kInt,
        rocksdb::OptionVerificationType::kNormal, rocksdb::OptionTypeFlags::kNone}},
      {"bytewise_fast_path",
       {offsetof(MemtableRepOptions, bytewise_fast_path), rocksdb::OptionType::kBoolean,
        rocksdb::OptionVerificationType::kNormal, rocksdb::OptionTypeFlags::kNone}},
      {"arena_block_size",
       {offsetof(MemtableRepOptions, arena_block_size), rocksdb::OptionType::kSizeT,
        rocksdb::OptionVerificationType::kNormal, rocksdb::OptionTypeFlags::kNone}},
  };
  return types;
}

class SkipListRepFactory final : public rocksdb::MemTableRepFactory {
 public:
  explicit SkipListRepFactory(const MemtableRepOptions &options) : options_(options) {
    RegisterOptions("MemtableRepOptions", &options_, &OptionTypes());
  }

  static const char *kClassName() { return kMemtableRepFactoryName; }
  const char *Name() const override { return kMemtableRepFactoryName; }
  const char *NickName() const override { return kMemtableRepFactoryNickName; }

  using MemTableRepFactory::CreateMemTableRep;
  rocksdb::MemTableRep *CreateMemTableRep(const rocksdb::MemTableRep::KeyComparator &key_comparator,
                                          rocksdb::Allocator *allocator, const rocksdb::SliceTransform *,
                                          rocksdb::Logger *) override {
    return new memtable_rocksdb::SkipListRep(key_comparator, allocator, options_);
  }

  bool IsInsertConcurrentlySupported() const override { return true; }
  bool CanHandleDuplicatedKey() const override { return true; }

 private:
  MemtableRepOptions options_;
};

int RegisterFactory(rocksdb::ObjectLibrary &library, const std::string &) {
  library.AddFactory<rocksdb::MemTableRepFactory>(
      rocksdb::ObjectLibrary::PatternEntry(kMemtableRepFactoryName).AnotherName(kMemtableRepFactoryNickName),
      [](const std::string &, std::unique_ptr<rocksdb::MemTableRepFactory> *guard, std::string *) {
        guard->reset(new SkipListRepFactory(MemtableRepOptions()));
        return guard->get();
      });
  return 1;
}

// Loading the library (a link, dlopen or LD_PRELOAD) registers the factory, so a RocksDB program that has
// never heard of it finds it by name. ObjectLibrary::Default() is a function-local static of librocksdb,
// which is loaded (and initialised) before this library because this library depends on it.
struct RegisterOnLoad {
  RegisterOnLoad() { RegisterFactory(*rocksdb::ObjectLibrary::Default(), ""); }
} register_on_load;

}  // namespace

rocksdb::MemTableRepFactory *NewMemtableRepFactory(const MemtableRepOptions &options) {
  return new SkipListRepFactory(options);
}

}  // namespace memtable
