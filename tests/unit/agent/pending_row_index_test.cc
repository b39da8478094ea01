// PendingRowIndex (agent/stream/pending_row_index.h): the newest change per
// key wins; a key never put is not found although another key's entry sits at
// its hash; keys whose hashes collide are kept apart exactly; drop() removes
// only the change of the transaction and delta it names.
#include "agent/stream/pending_row_index.h"

#include <catch2/catch.hpp>

#include <map>
#include <string>

namespace tombsync {
namespace {

// Entries resolve through a table the test keeps: offset -> (table, key).
struct Deltas {
  std::map<size_t, std::pair<LedgerTableId, std::string>> at;
  size_t next = 0;
  PendingRowIndex::Entry add(LedgerTableId id, const std::string& key, uint64_t serial, bool live = true) {
    at[next] = {id, key};
    return PendingRowIndex::Entry{serial, next, false, live, next++};
  }
};

uint64_t same_hash(LedgerTableId, std::string_view) { return 42; }

}  // namespace

TEST_CASE("pending row index: newest change wins, collisions kept apart, drops only their own", "[ledger][rows]") {
  for (bool collide : {false, true}) {
    INFO((collide ? "every key with the same hash" : "the default hash"));
    Deltas d;
    PendingRowIndex index(
        [&](const PendingRowIndex::Entry& e) {
          const auto& [id, key] = d.at.at(e.offset);
          return std::pair<LedgerTableId, std::string_view>(id, key);
        },
        collide ? &same_hash : &PendingRowIndex::default_hash);
    const LedgerTableId t1(1), t2(2);
    index.put(t1, "a", d.add(t1, "a", 1));
    index.put(t1, "b", d.add(t1, "b", 1));
    index.put(t2, "a", d.add(t2, "a", 1, false));  // same key bytes, another table
    const auto newer = d.add(t1, "a", 2);
    index.put(t1, "a", newer);
    REQUIRE(index.find(t1, "a") != nullptr);
    CHECK(index.find(t1, "a")->serial == 2);
    CHECK(index.find(t1, "b")->serial == 1);
    CHECK_FALSE(index.find(t2, "a")->live);
    CHECK(index.find(t1, "never") == nullptr);
    CHECK(index.size() == 3);
    index.drop(t1, "a", 1, false);  // transaction 1 saved: its change of a is no longer the newest
    CHECK(index.find(t1, "a")->serial == 2);
    index.drop(t1, "b", 1, true);   // the snapshot delta did not make it
    CHECK(index.find(t1, "b") != nullptr);
    index.drop(t1, "b", 1, false);
    index.drop(t2, "a", 1, false);
    CHECK(index.find(t1, "b") == nullptr);
    CHECK(index.find(t2, "a") == nullptr);
    index.drop(t1, "a", 2, false);
    CHECK(index.empty());
  }
}

}  // namespace tombsync
