// TRUNCATE expansion (docs/deletes.md) against the real services: with `truncate: expand` (the
// default where the table keeps a key ledger) a TRUNCATE becomes the keyless truncate event on
// every partition (not on a compacted topic, where Kafka refuses keyless records), then one
// delete event and tombstone, marked tombsync.truncate, for every key the ledger holds, at the
// TRUNCATE's position; the ledger is then empty and the transaction's later inserts enter it.
// With `truncate: event` only the truncate event is written and the ledger keeps the keys.
#include <catch2/catch.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fstream>
#include <iomanip>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "base/hex.h"
#include "tests/integration/harness.h"
#include "tests/integration/http_client.h"
#include "tests/integration/topic_state.h"

using namespace tombsync::it;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

namespace {

std::string hex(const std::string& bytes) { return tombsync::to_hex(bytes); }

std::string id_key(long long id) { return "{\"id\":" + std::to_string(id) + "}"; }

// The table's key ledger as hex keys (the hidden `tombsync ledger-keys`, read-only).
std::set<std::string> ledger_keys(const Agent& agent, const std::string& table) {
  const std::string out = run_capture(std::string(TOMBSYNC_BINARY) + " ledger-keys --config " + agent.config_path() +
                                      " --table " + table);
  std::set<std::string> keys;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);)
    if (!line.empty()) keys.insert(line);
  return keys;
}

std::set<std::string> hex_keys(const std::vector<long long>& ids) {
  std::set<std::string> keys;
  for (long long id : ids) keys.insert(hex(id_key(id)));
  return keys;
}

// `tombsync status --json` tables[].ledger_keys of `table`; -1 when absent or null.
long long status_ledger_keys(const Agent& agent, const std::string& table) {
  const auto status = nlohmann::json::parse(
      run_capture(std::string(TOMBSYNC_BINARY) + " status --json --config " + agent.config_path() + " || true"));
  for (const auto& t : status["tables"])
    if (t["name"] == table && t["ledger_keys"].is_number()) return t["ledger_keys"].get<long long>();
  return -1;
}

// Waits until the slot confirmed everything written so far.
void wait_confirmed(Sql& super, const std::string& slot, seconds timeout = seconds(120)) {
  const uint64_t target = std::stoull(super.scalar("SELECT pg_current_wal_lsn() - '0/0'").value());
  REQUIRE(eventually([&] { return confirmed_flush(super, slot) >= target; }, timeout));
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// The pid of the running `tombsync run --config <config>` (harness.h keeps it private).
pid_t agent_pid(const Agent& agent) {
  DIR* proc = opendir("/proc");
  REQUIRE(proc != nullptr);
  pid_t found = -1;
  while (dirent* e = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::ifstream f("/proc/" + std::string(e->d_name) + "/cmdline");
    std::string cmdline((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::vector<std::string> argv;
    for (size_t at = 0; at < cmdline.size();) {
      const size_t end = cmdline.find('\0', at);
      argv.push_back(cmdline.substr(at, end - at));
      at = end == std::string::npos ? cmdline.size() : end + 1;
    }
    if (argv.size() >= 4 && argv[0] == TOMBSYNC_BINARY && argv[1] == "run" && argv[3] == agent.config_path())
      found = pid;
  }
  closedir(proc);
  REQUIRE(found > 0);
  return found;
}

// A "Vm...:" field of /proc/<pid>/status in KiB (VmHWM: the peak resident set).
long vm_kib(pid_t pid, const std::string& field) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  FAIL("no " << field << " in /proc/" << pid << "/status");
  return -1;
}

// The expansion's log lines for `table` from `from` on: the start line's LSN and key count, the
// final line's deletes and seconds, and how many progress lines (keys/s) came between.
struct Expansion {
  bool started = false, done = false;
  std::string lsn;
  long long keys = -1, deletes = -1;
  double seconds = -1;
  size_t progress_lines = 0;
};
Expansion expansion_in(const std::string& log, const std::string& table, size_t from = 0) {
  Expansion x;
  const std::string rest = log.substr(from);
  std::smatch m;
  const std::regex start("TRUNCATE of " + std::regex_replace(table, std::regex("\\."), "\\.") +
                         " at LSN ([0-9A-F]+/[0-9A-F]+): deleting (?:the |about )?([0-9]+) keys the key ledger holds");
  if (!std::regex_search(rest, m, start)) return x;
  x.started = true;
  x.lsn = m[1];
  x.keys = std::stoll(m[2]);
  const std::string after = m.suffix();
  const std::regex done("done: ([0-9]+) deletes in ([0-9.]+) ?s");
  std::smatch d;
  const bool has_done = std::regex_search(after, d, done);
  const std::string between = has_done ? std::string(d.prefix()) : after;
  x.progress_lines = count_of(between, "keys/s");
  if (has_done) {
    x.done = true;
    x.deletes = std::stoll(d[1]);
    x.seconds = std::stod(d[2]);
  }
  return x;
}

bool truncate_marked(const KafkaRecord& r) { return r.headers.count("tombsync.truncate") > 0; }
std::string header(const KafkaRecord& r, const std::string& name) {
  auto it = r.headers.find(name);
  return it == r.headers.end() ? "" : it->second;
}
long long seq_of(const KafkaRecord& r) { return std::stoll(header(r, "tombsync.seq")); }

// The per-key deletes a TRUNCATE made, checked record by record: the delete event carries the
// markers and the TRUNCATE's commit time and position (`commit_lsn`, `commit_ts`), its tombstone
// follows it (same partition, next position). Returns the keys (JSON text) of each kind.
struct MadeDeletes {
  std::set<std::string> events, tombstones;
};
MadeDeletes check_made_deletes(const std::vector<KafkaRecord>& rs, const std::string& commit_lsn,
                               const std::string& commit_ts) {
  MadeDeletes made;
  std::map<std::string, std::pair<int, long long>> event_at;  // key -> partition, seq
  size_t bad = 0;
  for (const auto& r : rs) {
    if (!truncate_marked(r)) continue;
    REQUIRE(r.key.has_value());
    const bool ok_header = header(r, "tombsync.truncate") == "true" && header(r, "tombsync.commit_lsn") == commit_lsn;
    if (r.value) {
      const auto v = r.json();
      const bool ok = ok_header && header(r, "tombsync.op") == "delete" && v["is_deleted"] == true &&
                      v.value("__truncate", false) && v["deleted_at"] == commit_ts && v["__commit_ts"] == commit_ts;
      if (!ok && bad++ < 3) WARN("unexpected truncate delete event: " << *r.value << " headers lsn " << header(r, "tombsync.commit_lsn"));
      made.events.insert(*r.key);
      event_at[*r.key] = {r.partition, seq_of(r)};
    } else {
      auto it = event_at.find(*r.key);
      const bool ok = ok_header && header(r, "tombsync.op") == "tombstone" && it != event_at.end() &&
                      it->second.first == r.partition && it->second.second + 1 == seq_of(r);
      if (!ok && bad++ < 3) WARN("unexpected truncate tombstone for key " << *r.key << " seq " << header(r, "tombsync.seq"));
      made.tombstones.insert(*r.key);
    }
  }
  CHECK(bad == 0);
  return made;
}

std::set<std::string> json_keys(long long from, long long to, const std::vector<long long>& more = {}) {
  std::set<std::string> keys;
  for (long long id = from; id <= to; ++id) keys.insert(id_key(id));
  for (long long id : more) keys.insert(id_key(id));
  return keys;
}

template <class Map>
std::set<std::string> keys_of(const Map& m) {
  std::set<std::string> keys;
  for (const auto& [k, v] : m) keys.insert(k);
  return keys;
}

// How long compaction must wait: while the agent expands the TRUNCATE and the test reads the whole
// topic, the log cleaner must not take any of it, so the read counts every record written.
constexpr int kCompactionLagMs = 15000;
// The compacted-topic case's table.
constexpr long long kRows = 100000;

}  // namespace

TEST_CASE("TRUNCATE on a compacted topic: a delete per ledger key, no keyless record; compacted, the rows after it",
          "[integration][truncate]") {
  const auto test_start = steady_clock::now();
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("texp_c");  // no "compact" in the name: the log is searched for it
  const std::string table = "public." + n;
  Sql sql(env.pg_dsn), super(env.pg_superuser_dsn);
  sql.exec("CREATE TABLE " + n + " (id bigint PRIMARY KEY, v text)");
  sql.exec("INSERT INTO " + n + " SELECT g, 'v' || g FROM generate_series(1, " + std::to_string(kRows) + ") g");
  Agent agent({.name = n, .tables = {table}, .extra_yaml = "http: {address: \"127.0.0.1:0\"}\n"});
  const std::string topic = agent.topic(table);
  // create_compacted_topic's settings, plus min.compaction.lag.ms: the cleaner takes a segment only
  // once its newest record is that old, so the read below sees every record the expansion wrote.
  create_topic_with(topic, 3,
                    {{"cleanup.policy", "compact"},
                     {"segment.ms", "200"},
                     {"min.cleanable.dirty.ratio", "0.001"},
                     {"min.compaction.lag.ms", std::to_string(kCompactionLagMs)},
                     {"delete.retention.ms", "0"}});
  agent.start();
  agent.wait_streaming(seconds(120));
  REQUIRE(eventually([&] { return status_ledger_keys(agent, table) == kRows; }, seconds(60)));
  wait_confirmed(super, n);
  const auto snapshot_done = steady_clock::now();

  // A fresh process: its peak RSS covers only its start and the expansion.
  REQUIRE(agent.stop(SIGTERM) == 0);
  agent.start();
  REQUIRE(eventually([&] { return count_of(agent.log(), "streaming slot") >= 2; }, seconds(60)));
  const size_t second_run = agent.log().rfind("streaming slot");
  const pid_t pid = agent_pid(agent);
  const long hwm_at_start = vm_kib(pid, "VmHWM");
  const uint64_t written_before = topic_end_offsets(topic);
  CHECK(written_before == kRows);

  // 5 new rows with truncated ids, 5 with new ones; one transaction with the TRUNCATE.
  const std::vector<long long> new_ids = {1, 2, 3, 4, 5, 100001, 100002, 100003, 100004, 100005};
  const auto truncated_at = steady_clock::now();
  sql.exec("BEGIN; TRUNCATE " + n + "; INSERT INTO " + n + " SELECT g, 'new' || g FROM unnest(ARRAY[1, 2, 3, 4, 5, " +
           "100001, 100002, 100003, 100004, 100005]::bigint[]) g; COMMIT;");
  wait_confirmed(super, n, seconds(180));
  const auto confirmed_at = steady_clock::now();
  const long hwm = vm_kib(pid, "VmHWM"), rss = vm_kib(pid, "VmRSS");
  const std::string log = agent.log();
  const Expansion x = expansion_in(log, table, second_run);
  WARN("TRUNCATE of " << kRows << " keys on a compacted topic: peak RSS (VmHWM) " << hwm / 1024 << " MiB (" << hwm_at_start / 1024
       << " MiB after the start, VmRSS now " << rss / 1024 << " MiB); expansion " << std::fixed << std::setprecision(1) << x.seconds << " s by the agent's log ("
       << x.progress_lines << " progress lines), TRUNCATE to confirmed "
       << std::chrono::duration<double>(confirmed_at - truncated_at).count() << " s");
  CHECK(x.started);
  CHECK(x.keys == kRows);
  CHECK(x.done);
  CHECK(x.deletes == kRows);
  if (x.seconds >= 6) CHECK(x.progress_lines >= 1);
  // One line says that the truncate event was not written to the compacted topic.
  std::istringstream lines(log.substr(second_run));
  std::string skipped_line;
  for (std::string line; std::getline(lines, line);) {
    std::string lower = line;
    std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
    if (lower.find("compact") != std::string::npos && lower.find("truncate") != std::string::npos) skipped_line = line;
  }
  INFO(log.substr(second_run, 20000));
  CHECK_FALSE(skipped_line.empty());
  WARN("the compacted-topic line: " << skipped_line);

  const std::string metrics = http_get(http_port(agent), "/metrics").body;
  CHECK(metric(metrics, "tombsync_truncate_deletes_total{table=\"" + table + "\"}") == kRows);
  CHECK(ledger_keys(agent, table) == hex_keys(new_ids));
  CHECK(status_ledger_keys(agent, table) == 10);

  // Every record as written (the cleaner waits kCompactionLagMs).
  const uint64_t written = topic_end_offsets(topic);
  const auto records = read_topic(topic, written, seconds(120));
  INFO("the log cleaner took records before the read: raise kCompactionLagMs on this machine");
  REQUIRE(records.size() == written);
  CHECK(written == 3 * kRows + 10);
  CHECK(std::none_of(records.begin(), records.end(), [](const KafkaRecord& r) { return !r.key.has_value(); }));
  std::string commit_lsn, commit_ts;
  std::set<int> new_partitions;
  for (const auto& r : records)
    if (r.value && header(r, "tombsync.op") == "insert") {
      commit_lsn = header(r, "tombsync.commit_lsn");
      commit_ts = r.json()["__commit_ts"].get<std::string>();
      new_partitions.insert(r.partition);
    }
  const MadeDeletes made = check_made_deletes(records, commit_lsn, commit_ts);
  CHECK(made.events == json_keys(1, kRows));
  CHECK(made.tombstones == json_keys(1, kRows));
  const Materialized m = materialize(records);
  CHECK(keys_of(m.live) == json_keys(0, -1, new_ids));
  CHECK(keys_of(m.truncated) == json_keys(1, kRows));
  CHECK(std::all_of(m.truncated.begin(), m.truncated.end(), [](const auto& kv) { return kv.second == 1; }));
  CHECK(m.reads.size() == kRows);

  // Compaction: once every record is older than the lag, changes to the 10 rows (on all 3
  // partitions) close the segments that hold them; then the snapshot's reads and the truncate
  // delete events go (only tombstones may be left of a truncated key).
  REQUIRE(new_partitions.size() == 3);  // murmur2 of these keys; choose others if this fails
  std::this_thread::sleep_until(confirmed_at + milliseconds(kCompactionLagMs + 500));
  sql.exec("UPDATE " + n + " SET v = v || '+'");
  const std::set<std::string> live_ids = json_keys(0, -1, new_ids);
  const auto compacted = read_once_compacted(topic, [&](const std::vector<KafkaRecord>& rs) {
    return std::none_of(rs.begin(), rs.end(), [&](const KafkaRecord& r) { return r.value && !live_ids.count(*r.key); });
  });
  const Materialized after = materialize(compacted);
  std::map<std::string, nlohmann::json> table_rows;
  for (const auto& row : sql.query("SELECT id, v FROM " + n)) table_rows[id_key(std::stoll(*row[0]))] = *row[1];
  std::map<std::string, nlohmann::json> topic_rows;
  for (const auto& [k, v] : after.live) topic_rows[k] = v["v"];
  CHECK(topic_rows == table_rows);
  CHECK(topic_rows.size() == 10);
  CHECK(compacted.size() < records.size());
  CHECK(std::none_of(compacted.begin(), compacted.end(), [](const KafkaRecord& r) { return !r.key.has_value(); }));
  CHECK(agent.stop(SIGTERM) == 0);
  WARN("compacted topic: " << written << " records written, " << compacted.size() << " left after compaction, "
       << topic_rows.size() << " live rows; snapshot of " << kRows << " rows "
       << std::chrono::duration<double>(snapshot_done - test_start).count() << " s, test "
       << std::chrono::duration<double>(steady_clock::now() - test_start).count() << " s");
}

namespace {

// The records of the transaction `commit_lsn` in stream order (seq), each with its kind, checked
// per partition and overall: early inserts, the truncate event(s), the made deletes, late inserts.
enum Kind { kEarly = 0, kTruncateEvent = 1, kMadeDelete = 2, kLate = 3, kOther = 4 };
std::map<Kind, size_t> check_transaction_order(const std::vector<KafkaRecord>& rs, const std::string& commit_lsn,
                                               const std::set<std::string>& early, const std::set<std::string>& late,
                                               std::set<int>& truncate_partitions) {
  std::map<Kind, size_t> counts;
  std::map<int, Kind> last_in_partition;
  std::vector<std::pair<long long, Kind>> by_seq;
  for (const auto& r : rs) {  // per partition, offsets ascending
    if (header(r, "tombsync.commit_lsn") != commit_lsn) continue;
    Kind k = kOther;
    if (!r.key && header(r, "tombsync.op") == "truncate") k = kTruncateEvent;
    else if (truncate_marked(r)) k = kMadeDelete;
    else if (r.key && header(r, "tombsync.op") == "insert") k = early.count(*r.key) ? kEarly : late.count(*r.key) ? kLate : kOther;
    ++counts[k];
    if (k == kTruncateEvent) {
      CHECK(truncate_partitions.insert(r.partition).second);  // one per partition
      CHECK(r.json()["__op"] == "truncate");
    }
    auto [it, first] = last_in_partition.try_emplace(r.partition, k);
    if (!first) {
      INFO("partition " << r.partition << " offset " << r.offset << ": kind " << k << " after kind " << it->second);
      CHECK(k >= it->second);
      it->second = k;
    }
    by_seq.emplace_back(seq_of(r), k);
  }
  std::sort(by_seq.begin(), by_seq.end());
  for (size_t i = 1; i < by_seq.size(); ++i) {
    INFO("seq " << by_seq[i].first << ": kind " << by_seq[i].second << " after kind " << by_seq[i - 1].second);
    CHECK(by_seq[i].second >= by_seq[i - 1].second);
  }
  CHECK(counts[kOther] == 0);
  return counts;
}

std::string commit_lsn_of_insert(const std::vector<KafkaRecord>& rs, const std::string& key) {
  for (const auto& r : rs)
    if (r.key == key && header(r, "tombsync.op") == "insert") return header(r, "tombsync.commit_lsn");
  FAIL("no insert of " << key);
  return "";
}

}  // namespace

TEST_CASE("TRUNCATE on a delete-policy topic: the truncate event, then a delete per key live at it; truncate: event keeps the keys",
          "[integration][truncate]") {
  const auto test_start = steady_clock::now();
  const auto& env = ServiceEnv::get();
  const std::string n = unique_name("texp_d");
  const std::string expand = "public." + n + "_x", event = "public." + n + "_e";
  Sql sql(env.pg_dsn), super(env.pg_superuser_dsn);
  for (const auto& t : {expand, event}) {
    sql.exec("CREATE TABLE " + t + " (id int PRIMARY KEY, v text)");
    sql.exec("INSERT INTO " + t + " SELECT g, 'v' || g FROM generate_series(1, 500) g");
  }
  Agent agent({.name = n,
               .extra_yaml = "http: {address: \"127.0.0.1:0\"}\n",
               .table_yaml = "    - name: " + expand + "\n    - name: " + event + "\n      truncate: event\n"});
  for (const auto& t : {expand, event}) create_topic_with(agent.topic(t), 3, {{"cleanup.policy", "delete"}});
  agent.start();
  agent.wait_streaming();
  REQUIRE(eventually([&] { return status_ledger_keys(agent, expand) == 500 && status_ledger_keys(agent, event) == 500; },
                     seconds(30)));
  wait_confirmed(super, n);

  // Inserts before and after the TRUNCATE, in its transaction; id 1 comes back.
  for (const auto& t : {expand, event})
    sql.exec("BEGIN; INSERT INTO " + t + " VALUES (501, 'early'), (502, 'early'), (503, 'early'); TRUNCATE " + t +
             "; INSERT INTO " + t + " VALUES (1, 'late'), (600, 'late'); COMMIT;");
  wait_confirmed(super, n);
  const std::set<std::string> early = json_keys(501, 503), late = json_keys(0, -1, {1, 600});

  {
    const std::string topic = agent.topic(expand);
    const auto rs = read_topic(topic, topic_end_offsets(topic));
    REQUIRE(rs.size() == topic_end_offsets(topic));
    const std::string commit_lsn = commit_lsn_of_insert(rs, id_key(501));
    std::set<int> truncate_partitions;
    auto counts = check_transaction_order(rs, commit_lsn, early, late, truncate_partitions);
    CHECK(counts[kEarly] == 3);
    CHECK(counts[kTruncateEvent] == 3);
    CHECK(truncate_partitions == std::set<int>{0, 1, 2});
    CHECK(counts[kMadeDelete] == 2 * 503);
    CHECK(counts[kLate] == 2);
    std::string commit_ts;
    for (const auto& r : rs)
      if (!r.key && header(r, "tombsync.commit_lsn") == commit_lsn) commit_ts = r.json()["__commit_ts"].get<std::string>();
    const MadeDeletes made = check_made_deletes(rs, commit_lsn, commit_ts);
    CHECK(made.events == json_keys(1, 503));  // the 3 early inserts too
    CHECK(made.tombstones == json_keys(1, 503));
    const Materialized m = materialize(rs);
    std::map<std::string, nlohmann::json> table_rows, topic_rows;
    for (const auto& row : sql.query("SELECT id, v FROM " + expand)) table_rows[id_key(std::stoll(*row[0]))] = *row[1];
    for (const auto& [k, v] : m.live) topic_rows[k] = v["v"];
    CHECK(topic_rows == table_rows);
    CHECK(topic_rows.size() == 2);
    CHECK(ledger_keys(agent, expand) == hex_keys({1, 600}));
    CHECK(status_ledger_keys(agent, expand) == 2);
    const Expansion x = expansion_in(agent.log(), expand);
    CHECK(x.started);
    CHECK(x.done);
    CHECK(x.deletes == 503);
    WARN("expand: start line at LSN " << x.lsn << " says " << x.keys << " keys; done: " << x.deletes << " deletes in "
                                      << x.seconds << " s; " << rs.size() << " records in the topic");
  }
  {
    const std::string topic = agent.topic(event);
    const auto rs = read_topic(topic, topic_end_offsets(topic));
    REQUIRE(rs.size() == topic_end_offsets(topic));
    const std::string commit_lsn = commit_lsn_of_insert(rs, id_key(501));
    std::set<int> truncate_partitions;
    auto counts = check_transaction_order(rs, commit_lsn, early, late, truncate_partitions);
    CHECK(counts[kEarly] == 3);
    CHECK(counts[kTruncateEvent] == 3);
    CHECK(truncate_partitions == std::set<int>{0, 1, 2});
    CHECK(counts[kLate] == 2);
    CHECK(std::none_of(rs.begin(), rs.end(), truncate_marked));
    CHECK(rs.size() == 500 + 3 + 3 + 2);
    // The ledger keeps the truncated keys: it is what the topic holds as live, the truncate
    // event (keyless) applied by nobody.
    std::set<std::string> live;
    for (const auto& [k, v] : materialize(rs).live) live.insert(hex(k));
    const auto ledger = ledger_keys(agent, event);
    CHECK(ledger == live);
    CHECK(ledger.size() == 504);  // 1..503 and 600; the table has 2 rows
    CHECK(status_ledger_keys(agent, event) == 504);
    CHECK_FALSE(expansion_in(agent.log(), event).started);
  }
  const std::string metrics = http_get(http_port(agent), "/metrics").body;
  CHECK(metric(metrics, "tombsync_truncate_deletes_total{table=\"" + expand + "\"}") == 503);
  CHECK(metric(metrics, "tombsync_truncate_deletes_total{table=\"" + event + "\"}") == 0);
  CHECK(agent.stop(SIGTERM) == 0);
  WARN("delete-policy topic and truncate: event: test " << std::chrono::duration<double>(steady_clock::now() - test_start).count()
                                                       << " s");
}
