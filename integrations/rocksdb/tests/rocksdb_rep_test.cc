// rocksdb_rep_test.cc - the plugin rep tested through RocksDB's public DB API only. Each case runs one
// program on a DB using the plugin and on a DB using RocksDB's default skip_list rep, and requires the same
// answers from both (and, where a case knows them, the right ones). Usage: rocksdb_rep_test <case>; prints
// "N passed, N failed". MEMTABLE_ROCKSDB_TEST_OPS sets the randomized differential's operation count.
#include <rocksdb/comparator.h>
#include <rocksdb/convenience.h>
#include <rocksdb/db.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/utilities/object_registry.h>
#include <rocksdb/utilities/transaction_db.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "db_harness.h"
#include "memtable_rocksdb/memtable_rep_factory.h"

using harness::GetText;
using harness::Open;
using harness::Rep;
using harness::ScanText;
using harness::TempDir;
using harness::WalkText;

namespace {

std::string Key(uint64_t i) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "key%08llu", static_cast<unsigned long long>(i));
  return buffer;
}

std::string FactoryName(rocksdb::DB *db) { return db->GetOptions().memtable_factory->Name(); }

// Runs program on both reps and requires equal transcripts; returns the plugin's.
std::string Differential(const char *name, const std::function<std::string(Rep)> &program) {
  std::string ours = program(Rep::kPlugin);
  std::string theirs = program(Rep::kSkipList);
  CHECK_EQ_TEXT(ours, theirs);
  if (std::getenv("MEMTABLE_ROCKSDB_TEST_VERBOSE") != nullptr) std::printf("%s:\n%s\n", name, ours.c_str());
  return ours;
}

// Put, Get, Delete, SingleDelete and Merge, read at snapshots taken between them.
void PointOpsAtSnapshots() {
  std::string text = Differential("point_ops", [](Rep rep) {
    TempDir dir("point_ops");
    auto db = Open(harness::BaseOptions(rep), dir.path());
    CHECK(FactoryName(db.get()) ==
          (rep == Rep::kPlugin ? memtable::kMemtableRepFactoryName : rocksdb::SkipListFactory::kClassName()));
    rocksdb::WriteOptions write;
    std::vector<const rocksdb::Snapshot *> snapshots;
    std::vector<std::string> keys = {"a", "b", "c", "d", "m", "s"};
    CHECK_OK(db->Put(write, "a", "a1"));
    CHECK_OK(db->Put(write, "b", "b1"));
    CHECK_OK(db->Put(write, "s", "once"));
    CHECK_OK(db->Merge(write, "m", "m1"));
    snapshots.push_back(db->GetSnapshot());
    CHECK_OK(db->Put(write, "a", "a2"));
    CHECK_OK(db->Delete(write, "b"));
    CHECK_OK(db->Merge(write, "m", "m2"));
    CHECK_OK(db->SingleDelete(write, "s"));
    snapshots.push_back(db->GetSnapshot());
    CHECK_OK(db->Put(write, "b", "b3"));
    CHECK_OK(db->Merge(write, "m", "m3"));
    CHECK_OK(db->Put(write, "c", "c3"));
    CHECK_OK(db->Delete(write, "d"));  // a deletion of nothing
    rocksdb::WriteBatch batch;
    CHECK_OK(batch.Put("d", "d4"));
    CHECK_OK(batch.Merge("m", "m4"));
    CHECK_OK(batch.Delete("a"));
    CHECK_OK(db->Write(write, &batch));
    snapshots.push_back(nullptr);
    std::string out;
    for (const rocksdb::Snapshot *snapshot : snapshots) {
      for (const std::string &key : keys) out += key + ":" + GetText(db.get(), key, snapshot) + " ";
      rocksdb::ReadOptions read;
      read.snapshot = snapshot;
      out += "\n" + ScanText(db.get(), read);
    }
    CHECK(GetText(db.get(), "m", snapshots[1]) == "m1,m2");
    CHECK(GetText(db.get(), "m") == "m1,m2,m3,m4");
    CHECK(GetText(db.get(), "a", snapshots[0]) == "a1");
    CHECK(GetText(db.get(), "a") == "NotFound: ");
    CHECK(GetText(db.get(), "s", snapshots[0]) == "once");
    CHECK(GetText(db.get(), "s") == "NotFound: ");
    for (const rocksdb::Snapshot *snapshot : snapshots) {
      if (snapshot != nullptr) db->ReleaseSnapshot(snapshot);
    }
    return out;
  });
  CHECK(!text.empty());
}

// DeleteRange lives beside the rep (RocksDB's range tombstone table); point reads and scans through the rep
// must still honour it, at snapshots before and after.
void DeleteRange() {
  Differential("delete_range", [](Rep rep) {
    TempDir dir("delete_range");
    auto db = Open(harness::BaseOptions(rep), dir.path());
    rocksdb::WriteOptions write;
    for (int i = 0; i < 200; i++) CHECK_OK(db->Put(write, Key(static_cast<uint64_t>(i)), "v" + std::to_string(i)));
    const rocksdb::Snapshot *before = db->GetSnapshot();
    CHECK_OK(db->DeleteRange(write, db->DefaultColumnFamily(), Key(50), Key(150)));
    CHECK_OK(db->Put(write, Key(100), "after"));
    std::string out;
    for (int i = 40; i < 160; i += 7) {
      out += GetText(db.get(), Key(static_cast<uint64_t>(i))) + "|" +
             GetText(db.get(), Key(static_cast<uint64_t>(i)), before) + "\n";
    }
    CHECK(GetText(db.get(), Key(60)) == "NotFound: ");
    CHECK(GetText(db.get(), Key(60), before) == "v60");
    CHECK(GetText(db.get(), Key(100)) == "after");
    rocksdb::ReadOptions read;
    out += ScanText(db.get(), read);
    read.snapshot = before;
    out += ScanText(db.get(), read);
    db->ReleaseSnapshot(before);
    return out;
  });
}

// Iterators forwards and backwards, Seek and SeekForPrev to present and absent keys, direction changes,
// lower and upper bounds, and a snapshot under newer versions.
void IteratorsBothWays() {
  Differential("iterators", [](Rep rep) {
    TempDir dir("iterators");
    auto db = Open(harness::BaseOptions(rep), dir.path());
    rocksdb::WriteOptions write;
    for (int i = 0; i < 300; i += 3) CHECK_OK(db->Put(write, Key(static_cast<uint64_t>(i)), "a" + std::to_string(i)));
    const rocksdb::Snapshot *snapshot = db->GetSnapshot();
    for (int i = 0; i < 300; i += 6) CHECK_OK(db->Put(write, Key(static_cast<uint64_t>(i)), "b" + std::to_string(i)));
    for (int i = 0; i < 300; i += 9) CHECK_OK(db->Delete(write, Key(static_cast<uint64_t>(i))));
    std::string out;
    std::string lower = Key(30), upper = Key(270);
    rocksdb::Slice lower_slice(lower), upper_slice(upper);
    for (int variant = 0; variant < 4; variant++) {
      rocksdb::ReadOptions read;
      if (variant & 1) read.snapshot = snapshot;
      if (variant & 2) {
        read.iterate_lower_bound = &lower_slice;
        read.iterate_upper_bound = &upper_slice;
      }
      out += ScanText(db.get(), read);
      std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(read));
      for (int target : {-1, 0, 1, 29, 30, 31, 150, 151, 269, 270, 298, 299, 400}) {
        std::string key = target < 0 ? std::string() : Key(static_cast<uint64_t>(target));
        iter->Seek(key);
        out += "seek " + key + "\n" + WalkText(iter.get(), true, 3);
        iter->Seek(key);
        if (iter->Valid()) out += "then back\n" + WalkText(iter.get(), false, 3);
        iter->SeekForPrev(key);
        out += "seek_for_prev " + key + "\n" + WalkText(iter.get(), false, 3);
        iter->SeekForPrev(key);
        if (iter->Valid()) out += "then forward\n" + WalkText(iter.get(), true, 3);
      }
    }
    rocksdb::ReadOptions read;
    std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(read));
    iter->Seek(Key(3));
    CHECK(iter->Valid() && iter->key().ToString() == Key(3) && iter->value().ToString() == "a3");
    iter->SeekForPrev(Key(10));
    CHECK(iter->Valid() && iter->key().ToString() == Key(6) && iter->value().ToString() == "b6");
    db->ReleaseSnapshot(snapshot);
    return out;
  });
}

// Data written to the rep, flushed to an SST and read after a reopen, equals what the rep served.
void FlushAndReopen() {
  Differential("flush_and_reopen", [](Rep rep) {
    TempDir dir("flush_reopen");
    rocksdb::Options options = harness::BaseOptions(rep);
    std::string in_memtable, after_flush, after_reopen;
    {
      auto db = Open(options, dir.path());
      rocksdb::WriteOptions write;
      for (int i = 0; i < 2000; i++) {
        uint64_t k = static_cast<uint64_t>(i * 7919 % 2000);
        CHECK_OK(db->Put(write, Key(k), std::string(static_cast<size_t>(i % 50), 'x') + std::to_string(i)));
        if (i % 5 == 0) CHECK_OK(db->Merge(write, Key(k), "m"));
        if (i % 11 == 0) CHECK_OK(db->Delete(write, Key(k / 2)));
      }
      in_memtable = ScanText(db.get(), rocksdb::ReadOptions());
      CHECK_OK(db->Flush(rocksdb::FlushOptions()));
      after_flush = ScanText(db.get(), rocksdb::ReadOptions());
    }
    auto db = Open(options, dir.path());
    after_reopen = ScanText(db.get(), rocksdb::ReadOptions());
    CHECK_EQ_TEXT(in_memtable, after_flush);
    CHECK_EQ_TEXT(in_memtable, after_reopen);
    CHECK(in_memtable.size() > 2000);
    return after_reopen;
  });
}

// A write buffer so small that many memtables fill, turn immutable and flush while reads go on; the
// memtable's memory figures (which come from the rep's allocations) must trigger those flushes.
void SmallWriteBufferRotates() {
  Differential("small_write_buffer", [](Rep rep) {
    TempDir dir("small_buffer");
    rocksdb::Options options = harness::BaseOptions(rep);
    options.write_buffer_size = 64 << 10;
    options.max_write_buffer_number = 4;
    options.disable_auto_compactions = true;
    options.level0_slowdown_writes_trigger = 1000;
    options.level0_stop_writes_trigger = 1000;
    auto db = Open(options, dir.path());
    rocksdb::WriteOptions write;
    std::string out;
    const int kKeys = 20000;
    for (int i = 0; i < kKeys; i++) {
      uint64_t k = static_cast<uint64_t>(i) * 7919 % kKeys;
      CHECK_OK(db->Put(write, Key(k), std::string(100, static_cast<char>('a' + i % 26))));
      if (i % 997 == 0) out += GetText(db.get(), Key(k / 3)) + "\n";
    }
    CHECK_OK(db->Flush(rocksdb::FlushOptions()));
    std::vector<rocksdb::LiveFileMetaData> files;
    db->GetLiveFilesMetaData(&files);
    // About 2.4 MB of entries through 64 KiB buffers: dozens of flushes, however each rep packs them.
    CHECK(files.size() >= 10);
    CHECK(files.size() <= 200);
    out += ScanText(db.get(), rocksdb::ReadOptions()).substr(0, 4000);
    std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(rocksdb::ReadOptions()));
    int count = 0;
    for (iter->SeekToFirst(); iter->Valid(); iter->Next()) count++;
    CHECK(count == kKeys);
    return out;
  });
}

// Runs a small program under a given comparator (the rep must order through it).
std::string ComparatorProgram(Rep rep, const rocksdb::Comparator *comparator) {
  TempDir dir("comparator");
  rocksdb::Options options = harness::BaseOptions(rep);
  options.comparator = comparator;
  auto db = Open(options, dir.path());
  rocksdb::WriteOptions write;
  harness::Random random(7);
  for (int i = 0; i < 3000; i++) {
    std::string key = "k" + std::to_string(random.Uniform(500));
    if (random.Uniform(4) == 0) {
      CHECK_OK(db->Delete(write, key));
    } else {
      CHECK_OK(db->Put(write, key, std::to_string(i)));
    }
  }
  const std::string before_flush = ScanText(db.get(), rocksdb::ReadOptions());
  std::unique_ptr<rocksdb::Iterator> order(db->NewIterator(rocksdb::ReadOptions()));
  std::string previous;
  int keys = 0;
  for (order->SeekToFirst(); order->Valid(); order->Next(), keys++) {
    if (keys > 0) CHECK(comparator->Compare(previous, order->key()) < 0);
    previous = order->key().ToString();
  }
  order.reset();
  CHECK(keys > 100);
  std::string out = before_flush;
  std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(rocksdb::ReadOptions()));
  for (const char *target : {"k1", "k250", "k3", "k499", "k9", "a", "z"}) {
    iter->Seek(target);
    out += std::string("seek ") + target + "\n" + WalkText(iter.get(), true, 2);
    iter->SeekForPrev(target);
    out += std::string("seek_for_prev ") + target + "\n" + WalkText(iter.get(), false, 2);
    out += GetText(db.get(), target) + "\n";
  }
  iter.reset();
  CHECK_OK(db->Flush(rocksdb::FlushOptions()));
  CHECK_EQ_TEXT(ScanText(db.get(), rocksdb::ReadOptions()), before_flush);
  return out;
}

void ReverseComparator() {
  Differential("reverse_comparator",
               [](Rep rep) { return ComparatorProgram(rep, rocksdb::ReverseBytewiseComparator()); });
}

// A user comparator that is not RocksDB's: orders by length first, then bytes.
class LengthFirstComparator final : public rocksdb::Comparator {
 public:
  const char *Name() const override { return "memtable_rocksdb_test.LengthFirst"; }
  int Compare(const rocksdb::Slice &a, const rocksdb::Slice &b) const override {
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b);
  }
  void FindShortestSeparator(std::string *, const rocksdb::Slice &) const override {}
  void FindShortSuccessor(std::string *) const override {}
};

void CustomComparator() {
  static LengthFirstComparator comparator;
  Differential("custom_comparator", [](Rep rep) { return ComparatorProgram(rep, &comparator); });
}

// allow_concurrent_memtable_write with several writer threads (RocksDB then calls the rep's concurrent
// inserts from them at once) and reader threads checking that what a writer finished is visible. Each
// writer owns its keys, so the final contents are known: nothing lost, nothing extra.
void ConcurrentWritersAndReaders() {
  for (int writers = 2; writers <= 4; writers++) {
    Differential("concurrent", [writers](Rep rep) {
      TempDir dir("concurrent");
      rocksdb::Options options = harness::BaseOptions(rep);
      options.allow_concurrent_memtable_write = true;
      options.enable_write_thread_adaptive_yield = true;
      options.write_buffer_size = 1 << 20;  // some rotation and flushing while writers run
      auto db = Open(options, dir.path());
      const int kPerWriter = 4000;
      std::vector<std::atomic<int>> done(static_cast<size_t>(writers));
      for (auto &d : done) d.store(0);
      std::atomic<bool> stop{false};
      std::atomic<int> reader_failures{0};
      std::vector<std::thread> threads;
      for (int w = 0; w < writers; w++) {
        threads.emplace_back([&, w] {
          rocksdb::WriteOptions write;
          for (int i = 0; i < kPerWriter; i += 4) {
            rocksdb::WriteBatch batch;  // small batches: RocksDB groups concurrent writers' batches
            for (int j = i; j < i + 4; j++) {
              uint64_t k = static_cast<uint64_t>(j * writers + w);
              batch.Put(Key(k), "w" + std::to_string(w) + "." + std::to_string(j));
            }
            if (!db->Write(write, &batch).ok()) reader_failures.fetch_add(1);
            // release: a reader that sees the count sees the batch's writes completed.
            done[static_cast<size_t>(w)].store(i + 4, std::memory_order_release);
          }
        });
      }
      for (int r = 0; r < 2; r++) {
        threads.emplace_back([&, r] {
          harness::Random random(static_cast<uint64_t>(r + 1));
          while (!stop.load(std::memory_order_acquire)) {
            int w = static_cast<int>(random.Uniform(static_cast<uint64_t>(writers)));
            // acquire: pairs with the writer's release above.
            int finished = done[static_cast<size_t>(w)].load(std::memory_order_acquire);
            if (finished == 0) continue;
            int j = static_cast<int>(random.Uniform(static_cast<uint64_t>(finished)));
            std::string value;
            rocksdb::Status status = db->Get(rocksdb::ReadOptions(), Key(static_cast<uint64_t>(j * writers + w)), &value);
            if (!status.ok() || value != "w" + std::to_string(w) + "." + std::to_string(j)) reader_failures.fetch_add(1);
          }
        });
      }
      for (int w = 0; w < writers; w++) threads[static_cast<size_t>(w)].join();
      stop.store(true, std::memory_order_release);
      for (size_t t = static_cast<size_t>(writers); t < threads.size(); t++) threads[t].join();
      CHECK(reader_failures.load() == 0);
      std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(rocksdb::ReadOptions()));
      int count = 0;
      bool values_right = true;
      for (iter->SeekToFirst(); iter->Valid(); iter->Next(), count++) {
        uint64_t k = std::strtoull(iter->key().ToString().c_str() + 3, nullptr, 10);
        uint64_t w = k % static_cast<uint64_t>(writers), j = k / static_cast<uint64_t>(writers);
        if (iter->value().ToString() != "w" + std::to_string(w) + "." + std::to_string(j)) values_right = false;
      }
      CHECK(count == writers * kPerWriter);
      CHECK(values_right);
      return ScanText(db.get(), rocksdb::ReadOptions());
    });
  }
}

// Both DBs open side by side, fed the same random operations; every read and scan must agree.
void RandomizedDifferential() {
  const char *ops_text = std::getenv("MEMTABLE_ROCKSDB_TEST_OPS");
  const long operations = ops_text != nullptr ? std::atol(ops_text) : 100000;
  const uint64_t seed = 20240601;
  TempDir ours_dir("random_ours"), theirs_dir("random_theirs");
  rocksdb::Options ours_options = harness::BaseOptions(Rep::kPlugin);
  rocksdb::Options theirs_options = harness::BaseOptions(Rep::kSkipList);
  ours_options.write_buffer_size = theirs_options.write_buffer_size = 256 << 20;  // flushes only when asked
  auto ours = Open(ours_options, ours_dir.path());
  auto theirs = Open(theirs_options, theirs_dir.path());
  harness::Random random(seed);
  std::vector<const rocksdb::Snapshot *> our_snapshots, their_snapshots;
  rocksdb::WriteOptions write;
  write.disableWAL = true;
  long reads = 0, scans = 0, mismatches = 0;
  const uint64_t kKeySpace = 5000;
  for (long op = 0; op < operations && mismatches < 5; op++) {
    uint64_t choice = random.Uniform(1000);
    std::string key = Key(random.Uniform(kKeySpace));
    if (choice < 400) {
      std::string value = std::to_string(op) + std::string(random.Uniform(40), 'v');
      CHECK_OK(ours->Put(write, key, value));
      CHECK_OK(theirs->Put(write, key, value));
    } else if (choice < 500) {
      CHECK_OK(ours->Delete(write, key));
      CHECK_OK(theirs->Delete(write, key));
    } else if (choice < 560) {
      std::string operand = std::to_string(op % 97);
      CHECK_OK(ours->Merge(write, key, operand));
      CHECK_OK(theirs->Merge(write, key, operand));
    } else if (choice < 565) {
      std::string end = Key(random.Uniform(kKeySpace));
      if (end > key) {
        CHECK_OK(ours->DeleteRange(write, ours->DefaultColumnFamily(), key, end));
        CHECK_OK(theirs->DeleteRange(write, theirs->DefaultColumnFamily(), key, end));
      }
    } else if (choice < 900) {
      size_t s = our_snapshots.empty() || random.Uniform(2) == 0 ? SIZE_MAX : random.Uniform(our_snapshots.size());
      std::string a = GetText(ours.get(), key, s == SIZE_MAX ? nullptr : our_snapshots[s]);
      std::string b = GetText(theirs.get(), key, s == SIZE_MAX ? nullptr : their_snapshots[s]);
      reads++;
      if (a != b) {
        mismatches++;
        std::fprintf(stderr, "seed %llu op %ld: get %s: %s vs %s\n", static_cast<unsigned long long>(seed), op,
                     key.c_str(), a.c_str(), b.c_str());
      }
    } else if (choice < 990) {
      size_t s = our_snapshots.empty() || random.Uniform(2) == 0 ? SIZE_MAX : random.Uniform(our_snapshots.size());
      rocksdb::ReadOptions our_read, their_read;
      our_read.snapshot = s == SIZE_MAX ? nullptr : our_snapshots[s];
      their_read.snapshot = s == SIZE_MAX ? nullptr : their_snapshots[s];
      std::unique_ptr<rocksdb::Iterator> a(ours->NewIterator(our_read)), b(theirs->NewIterator(their_read));
      bool forward = random.Uniform(2) == 0;
      int steps = static_cast<int>(random.Uniform(20));
      if (forward) {
        a->Seek(key);
        b->Seek(key);
      } else {
        a->SeekForPrev(key);
        b->SeekForPrev(key);
      }
      scans++;
      if (WalkText(a.get(), forward, steps) != WalkText(b.get(), forward, steps)) {
        mismatches++;
        std::fprintf(stderr, "seed %llu op %ld: scan from %s differs\n", static_cast<unsigned long long>(seed), op,
                     key.c_str());
      }
    } else if (choice < 996) {
      if (our_snapshots.size() < 8) {
        our_snapshots.push_back(ours->GetSnapshot());
        their_snapshots.push_back(theirs->GetSnapshot());
      } else {
        size_t s = random.Uniform(our_snapshots.size());
        ours->ReleaseSnapshot(our_snapshots[s]);
        theirs->ReleaseSnapshot(their_snapshots[s]);
        our_snapshots.erase(our_snapshots.begin() + static_cast<long>(s));
        their_snapshots.erase(their_snapshots.begin() + static_cast<long>(s));
      }
    } else if (choice < 998) {
      CHECK_OK(ours->Flush(rocksdb::FlushOptions()));
      CHECK_OK(theirs->Flush(rocksdb::FlushOptions()));
    } else {
      CHECK_EQ_TEXT(ScanText(ours.get(), rocksdb::ReadOptions()), ScanText(theirs.get(), rocksdb::ReadOptions()));
      scans++;
    }
  }
  CHECK(mismatches == 0);
  CHECK_EQ_TEXT(ScanText(ours.get(), rocksdb::ReadOptions()), ScanText(theirs.get(), rocksdb::ReadOptions()));
  for (size_t s = 0; s < our_snapshots.size(); s++) {
    ours->ReleaseSnapshot(our_snapshots[s]);
    theirs->ReleaseSnapshot(their_snapshots[s]);
  }
  CHECK(reads > operations / 4);
  std::printf("randomized differential: seed %llu, %ld operations, %ld reads, %ld scans\n",
              static_cast<unsigned long long>(seed), operations, reads, scans);
}

// The edges RocksDB can hand a rep: an empty user key (an entry of just the 8-byte tag), a large key, and
// values of many MiB (entries far above the arena's block size).
void EmptyKeysAndHugeValues() {
  Differential("edges", [](Rep rep) {
    TempDir dir("edges");
    rocksdb::Options options = harness::BaseOptions(rep);
    auto db = Open(options, dir.path());
    rocksdb::WriteOptions write;
    std::string huge(24u << 20, 'h');
    huge[12345] = 'x';
    std::string big_key(1u << 20, 'k');
    std::string out;
    CHECK_OK(db->Put(write, "", "empty-key"));
    CHECK_OK(db->Put(write, "e", ""));
    CHECK_OK(db->Put(write, "huge", huge));
    CHECK_OK(db->Put(write, big_key, "big-key"));
    CHECK(GetText(db.get(), "") == "empty-key");
    CHECK(GetText(db.get(), "e").empty());
    CHECK(GetText(db.get(), "huge") == huge);
    CHECK(GetText(db.get(), big_key) == "big-key");
    std::unique_ptr<rocksdb::Iterator> iter(db->NewIterator(rocksdb::ReadOptions()));
    for (iter->SeekToFirst(); iter->Valid(); iter->Next()) {
      out += std::to_string(iter->key().size()) + ":" + std::to_string(iter->value().size()) + "\n";
    }
    iter.reset();
    CHECK_OK(db->Delete(write, ""));
    out += GetText(db.get(), "") + "\n";
    CHECK_OK(db->Flush(rocksdb::FlushOptions()));
    out += GetText(db.get(), "") + "|" + std::to_string(GetText(db.get(), "huge").size()) + "\n";
    CHECK(GetText(db.get(), "huge") == huge);
    return out;
  });
}

// A write-prepared TransactionDB gives a whole batch one sequence number, so a batch writing a key twice
// hands the rep the same (key, seq) twice: the rep must refuse the second (InsertKey false), and RocksDB then
// starts a new sub-batch with the next sequence number. The later write must win.
void DuplicateKeySeqInBatch() {
  Differential("duplicate_key_seq", [](Rep rep) {
    TempDir dir("duplicate");
    rocksdb::Options options = harness::BaseOptions(rep);
    rocksdb::TransactionDBOptions txn_options;
    txn_options.write_policy = rocksdb::TxnDBWritePolicy::WRITE_PREPARED;
    rocksdb::TransactionDB *raw = nullptr;
    CHECK_OK(rocksdb::TransactionDB::Open(options, txn_options, dir.path(), &raw));
    std::unique_ptr<rocksdb::TransactionDB> db(raw);
    if (db == nullptr) return std::string();
    std::string out;
    for (int round = 0; round < 3; round++) {
      rocksdb::WriteBatch batch;
      for (int i = 0; i < 50; i++) {
        CHECK_OK(batch.Put(Key(static_cast<uint64_t>(i % 10)), "r" + std::to_string(round) + "." + std::to_string(i)));
        if (i % 7 == 0) CHECK_OK(batch.Merge("merged", std::to_string(i)));
      }
      CHECK_OK(db->Write(rocksdb::WriteOptions(), &batch));
    }
    for (int i = 0; i < 10; i++) out += GetText(db.get(), Key(static_cast<uint64_t>(i))) + "\n";
    CHECK(GetText(db.get(), Key(3)) == "r2.43");
    out += GetText(db.get(), "merged") + "\n";
    CHECK(GetText(db.get(), "merged").size() > 40);
    out += ScanText(db.get(), rocksdb::ReadOptions());
    return out;
  });
}

// GetApproximateMemTableStats asks the rep for ApproximateNumEntries; the plugin counts exactly.
void ApproximateMemtableStats() {
  TempDir dir("stats");
  auto db = Open(harness::BaseOptions(Rep::kPlugin), dir.path());
  for (int i = 0; i < 1000; i++) CHECK_OK(db->Put(rocksdb::WriteOptions(), Key(static_cast<uint64_t>(i)), "v"));
  std::string start = Key(100), limit = Key(300);
  uint64_t count = 0, size = 0;
  db->GetApproximateMemTableStats(rocksdb::Range(start, limit), &count, &size);
  CHECK(count == 200);
  CHECK(size > 0);
  std::string past = Key(5000);
  db->GetApproximateMemTableStats(rocksdb::Range(limit, past), &count, &size);
  CHECK(count == 700);
}

// RocksDB's mempurge samples the memtable through UniqueRandomSample; with it on, data must stay intact.
void MempurgeSamples() {
  Differential("mempurge", [](Rep rep) {
    TempDir dir("mempurge");
    rocksdb::Options options = harness::BaseOptions(rep);
    options.experimental_mempurge_threshold = 10.0;
    options.write_buffer_size = 256 << 10;
    auto db = Open(options, dir.path());
    for (int i = 0; i < 20000; i++) {
      CHECK_OK(db->Put(rocksdb::WriteOptions(), Key(static_cast<uint64_t>(i % 300)), std::string(60, 'a') + std::to_string(i)));
    }
    // No explicit Flush: with mempurge on, RocksDB 7.8's Flush can wait forever for a stall that the purged
    // memtables keep up, on either rep; background flushes (and purges) run as the buffers fill.
    std::string out = ScanText(db.get(), rocksdb::ReadOptions());
    CHECK(GetText(db.get(), Key(299)) == std::string(60, 'a') + "19799");
    return out;
  });
}

// By name, as an OPTIONS file or db_bench would: both names resolve to the plugin once it is loaded.
void RegisteredByName() {
  rocksdb::ConfigOptions config;
  for (const char *name : {memtable::kMemtableRepFactoryNickName, memtable::kMemtableRepFactoryName}) {
    std::unique_ptr<rocksdb::MemTableRepFactory> factory;
    CHECK_OK(rocksdb::MemTableRepFactory::CreateFromString(config, name, &factory));
    CHECK(factory != nullptr && std::strcmp(factory->Name(), memtable::kMemtableRepFactoryName) == 0);
    if (factory == nullptr) continue;
    CHECK(factory->IsInsertConcurrentlySupported());
    CHECK(factory->CanHandleDuplicatedKey());
    TempDir dir("by_name");
    rocksdb::Options options = harness::BaseOptions(Rep::kSkipList);
    options.memtable_factory.reset(factory.release());
    auto db = Open(options, dir.path());
    CHECK(FactoryName(db.get()) == memtable::kMemtableRepFactoryName);
    CHECK_OK(db->Put(rocksdb::WriteOptions(), "k", "v"));
    CHECK(GetText(db.get(), "k") == "v");
  }
  std::unique_ptr<rocksdb::MemTableRepFactory> unknown;
  config.ignore_unsupported_options = false;
  CHECK(!rocksdb::MemTableRepFactory::CreateFromString(config, "memtable_skiplist_nonexistent", &unknown).ok());
}

// Options in a configuration string reach the rep's options, and a bad one is refused.
void OptionsByName() {
  rocksdb::ConfigOptions config;
  std::unique_ptr<rocksdb::MemTableRepFactory> factory;
  CHECK_OK(rocksdb::MemTableRepFactory::CreateFromString(
      config, "id=memtable_skiplist;branching=8;max_height=20;bytewise_fast_path=false;arena_block_size=65536",
      &factory));
  CHECK(factory != nullptr);
  if (factory == nullptr) return;
  const auto *options = factory->GetOptions<memtable::MemtableRepOptions>("MemtableRepOptions");
  CHECK(options != nullptr);
  if (options != nullptr) {
    CHECK(options->branching == 8);
    CHECK(options->max_height == 20);
    CHECK(!options->bytewise_fast_path);
    CHECK(options->arena_block_size == 65536);
  }
  TempDir dir("options");
  rocksdb::Options db_options = harness::BaseOptions(Rep::kSkipList);
  db_options.memtable_factory.reset(factory.release());
  auto db = Open(db_options, dir.path());
  for (int i = 0; i < 1000; i++) CHECK_OK(db->Put(rocksdb::WriteOptions(), Key(static_cast<uint64_t>(i)), "v"));
  CHECK(GetText(db.get(), Key(999)) == "v");
  std::unique_ptr<rocksdb::MemTableRepFactory> bad;
  CHECK(!rocksdb::MemTableRepFactory::CreateFromString(config, "id=memtable_skiplist;no_such_option=1", &bad).ok());
}

struct Case {
  const char *name;
  void (*run)();
};

const Case kCases[] = {
    {"point_ops_at_snapshots", PointOpsAtSnapshots},
    {"delete_range", DeleteRange},
    {"iterators_both_ways", IteratorsBothWays},
    {"flush_and_reopen", FlushAndReopen},
    {"small_write_buffer_rotates", SmallWriteBufferRotates},
    {"reverse_comparator", ReverseComparator},
    {"custom_comparator", CustomComparator},
    {"concurrent_writers_and_readers", ConcurrentWritersAndReaders},
    {"randomized_differential", RandomizedDifferential},
    {"empty_keys_and_huge_values", EmptyKeysAndHugeValues},
    {"duplicate_key_seq_in_batch", DuplicateKeySeqInBatch},
    {"approximate_memtable_stats", ApproximateMemtableStats},
    {"mempurge_samples", MempurgeSamples},
    {"registered_by_name", RegisteredByName},
    {"options_by_name", OptionsByName},
};

}  // namespace

int main(int argc, char **argv) {
  int passed = 0, failed = 0;
  bool matched = false;
  for (const Case &c : kCases) {
    if (argc > 1 && std::strcmp(argv[1], c.name) != 0) continue;
    matched = true;
    int before = harness::failures;
    c.run();
    bool ok = harness::failures == before;
    std::printf("[%s] %s\n", ok ? "  OK  " : " FAIL ", c.name);
    (ok ? passed : failed)++;
  }
  if (!matched) {
    std::fprintf(stderr, "unknown case '%s'\n", argc > 1 ? argv[1] : "");
    return 2;
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
