// The delete contract on a compacted topic (docs/deletes.md): after Kafka's log cleaner has run,
// a consumer that reads the topic from its beginning materialises exactly the rows the table
// still has. Hard deletes reach it as tombstones, which compaction keeps (until
// delete.retention.ms) while it drops every earlier record of the key.
#include <catch2/catch.hpp>

#include <signal.h>

#include <set>
#include <thread>

#include "tests/integration/harness.h"
#include "tests/integration/topic_state.h"

using namespace tombsync::it;

TEST_CASE("hard deletes on a compacted topic: after compaction a fresh consumer materialises exactly the live rows",
          "[integration][compaction]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("compact");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, v text)");
  Agent agent({.name = n, .tables = {"public." + n}});
  const std::string topic = agent.topic("public." + n);
  create_compacted_topic(topic, 3);
  agent.start();
  agent.wait_streaming();

  sql.exec("INSERT INTO " + n + " SELECT g, 'v' || g FROM generate_series(1, 1000) g");
  sql.exec("DELETE FROM " + n + " WHERE id > 10");
  REQUIRE(eventually([&] { return topic_end_offsets(topic) >= 1000 + 2 * 990; }, std::chrono::seconds(60)));
  // Records after segment.ms roll every partition's segment, so the ones above become cleanable
  // (the cleaner never touches the active segment). 50 keys reach all 3 partitions.
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  sql.exec("INSERT INTO " + n + " SELECT g, 'late' || g FROM generate_series(2001, 2050) g");
  REQUIRE(eventually([&] { return topic_end_offsets(topic) >= 1000 + 2 * 990 + 50; }, std::chrono::seconds(60)));

  auto deleted_key_kept = [](const KafkaRecord& r) {  // anything but a tombstone for a deleted id
    return r.key && r.key_json()["id"].get<int>() > 10 && r.key_json()["id"].get<int>() <= 1000 && r.value;
  };
  const auto records = read_once_compacted(topic, [&](const std::vector<KafkaRecord>& rs) {
    return std::none_of(rs.begin(), rs.end(), deleted_key_kept);
  });
  const Materialized m = materialize(records);
  std::set<std::string> source_keys;
  for (const auto& row : sql.query("SELECT id FROM " + n)) source_keys.insert("{\"id\":" + row[0].value() + "}");
  std::set<std::string> topic_keys;
  for (const auto& [k, v] : m.live) topic_keys.insert(k);
  WARN("compacted topic: 3,030 records written, " << records.size() << " left after compaction; "
                                                 << m.live.size() << " live keys, source has " << source_keys.size());
  CHECK(records.size() < 3030);
  CHECK(topic_keys == source_keys);
  CHECK(m.live.size() == 60);
  CHECK(agent.stop(SIGTERM) == 0);
}
