// Records over the producer's message.max.bytes, against the real broker: the
// default stops with one line that names the record and the settings, on every
// restart, and writes nothing after it; oversized: truncate_column lets the
// same change through, cut to fit and marked; a broker limit below the
// producer's is reported with the fix for that case: lower the producer's limit
// to the topic's, or raise the topic's.
#include <catch2/catch.hpp>

#include <sstream>

#include "tests/integration/harness.h"

using namespace tombsync::it;
using nlohmann::json;

namespace {

std::string error_line(const std::string& log) {
  std::istringstream in(log);
  std::string found;
  for (std::string line; std::getline(in, line);)
    if (line.find(" error ") != std::string::npos) found = line;
  return found;
}

// `bytes` of text that lz4 cannot shrink much: hex digests.
std::string random_text_sql(size_t bytes) {
  return "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, " + std::to_string(bytes / 32) + "))";
}

}  // namespace

TEST_CASE("a record over message.max.bytes stops the stream with the settings named; truncate_column lets it through",
          "[integration][oversized]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("big");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, title text, body text)");
  Agent agent({.name = n, .tables = {"public." + n}});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1, 'small', 'x')");
  sql.exec("INSERT INTO " + n + " VALUES (2, 'big', " + random_text_sql(3'000'000) + ")");
  sql.exec("INSERT INTO " + n + " VALUES (3, 'after', 'y')");
  const std::string topic = agent.topic("public." + n);

  CHECK(agent.wait_exit(std::chrono::seconds(60)) == 1);
  std::string line = error_line(agent.log());
  INFO(agent.log());
  CHECK_THAT(line, Catch::Contains("encoding the insert of public." + n));
  CHECK_THAT(line, Catch::Contains("key {\"id\":2}"));
  CHECK_THAT(line, Catch::Contains("largest value: column body, 3000000 bytes"));
  CHECK_THAT(line, Catch::Contains("message.max.bytes (1000000)"));
  CHECK_THAT(line, Catch::Contains("the topic's max.message.bytes"));
  // Nothing after the oversized change was written: it is not skipped silently.
  REQUIRE(read_topic(topic, 1).size() == 1);
  CHECK(topic_end_offsets(topic) == 1);

  // Every restart stops at the same change.
  CHECK(agent.run_to_exit() == 1);
  CHECK(error_line(agent.log()).find("key {\"id\":2}") != std::string::npos);
  CHECK(topic_end_offsets(topic) == 1);

  // The operator chooses to truncate: the change goes through, cut to fit and marked.
  Agent cut({.name = n, .table_yaml = "    - name: public." + n + "\n      oversized: truncate_column\n",
             .state_dir = agent.state_dir()});
  cut.start();
  auto rs = read_topic(topic, 3);
  REQUIRE(rs.size() == 3);
  json big;
  std::string header;
  for (const auto& r : rs) {
    const json v = r.json();
    if (v["id"] == 2) {
      big = v;
      header = r.headers.count("tombsync.oversized") ? r.headers.at("tombsync.oversized") : "";
      CHECK(r.value->size() < 1'000'000);
    }
  }
  CHECK(big["title"] == "big");
  CHECK(big["body"].get<std::string>().size() > 900'000);
  CHECK_THAT(header, Catch::StartsWith("truncate_column: body from 3000000 to "));
  CHECK_THAT(cut.log(), Catch::Contains("oversized record of public." + n));
  CHECK(cut.stop(SIGTERM) == 0);
}

TEST_CASE("a broker limit below the producer's says to lower the producer's limit or raise the topic's", "[integration][oversized]") {
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("bigbroker");
  Sql sql(env.pg_dsn);
  sql.exec("CREATE TABLE " + n + " (id int PRIMARY KEY, body text)");
  // The producer allows 5 MB; the broker's default max.message.bytes is 1 MB.
  Agent agent({.name = n, .tables = {"public." + n},
               .kafka_yaml = "  properties:\n    message.max.bytes: \"5000000\"\n    compression.type: none\n"});
  agent.start();
  agent.wait_streaming();
  sql.exec("INSERT INTO " + n + " VALUES (1, " + random_text_sql(2'000'000) + ")");
  CHECK(agent.wait_exit(std::chrono::seconds(60)) == 1);
  const std::string line = error_line(agent.log());
  INFO(agent.log());
  CHECK_THAT(line, Catch::Contains("Message size too large"));
  // Raising the producer's limit is what caused it: the fix is to lower it to the topic's, so
  // that the table's oversized: rule applies before sending, or to raise the topic's.
  CHECK_THAT(line, Catch::Contains("lower kafka.properties.message.max.bytes to the topic's max.message.bytes"));
  CHECK_THAT(line, Catch::Contains("or raise the topic's max.message.bytes"));
  CHECK_THAT(line, !Catch::Contains("raise kafka.properties.message.max.bytes"));
  CHECK(topic_end_offsets(agent.topic("public." + n)) == 0);
}
