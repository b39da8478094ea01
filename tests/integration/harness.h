// Helpers for tests against the real services started by tests/services/up:
// SQL on the throwaway Postgres, a Kafka reader over a real broker, and the
// tombsync binary run as a child process with a generated config.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "connectors/postgres/pg_connection.h"

namespace tombsync::it {

struct ServiceEnv {
  std::string pg_dsn;             // as the tombsync role
  std::string pg_superuser_dsn;
  std::string kafka_brokers;
  std::string pg_port;
  static const ServiceEnv& get();  // FAILs the test when the services are not up
};

// A name unique to this test process and call, for tables, slots and topics.
std::string unique_name(const std::string& stem);

class Sql {
 public:
  explicit Sql(const std::string& dsn);
  void exec(const std::string& sql);
  std::vector<std::vector<std::optional<std::string>>> query(const std::string& sql);
  std::optional<std::string> scalar(const std::string& sql);

 private:
  pg::PgConnection conn_;
};

struct KafkaRecord {
  int partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::map<std::string, std::string> headers;
  nlohmann::json json() const { return nlohmann::json::parse(value.value()); }
  nlohmann::json key_json() const { return nlohmann::json::parse(key.value()); }
};

// librdkafka properties of a test client (bootstrap.servers included). The overloads without
// one talk to the plain test broker; secure_env.h gives the secure broker's.
using KafkaClientProps = std::map<std::string, std::string>;

// Reads a topic from the beginning of every partition. Records are returned
// per partition in offset order, partitions concatenated in ascending order.
std::vector<KafkaRecord> read_topic(const std::string& topic, size_t at_least,
                                    std::chrono::milliseconds timeout = std::chrono::seconds(60));
std::vector<KafkaRecord> read_topic(const std::string& topic, size_t at_least, std::chrono::milliseconds timeout,
                                    const KafkaClientProps& client);

// Creates `topic` (replication factor 1) with topic `configs` through the Admin API of the broker
// `client` names; FAILs with the broker's reason. The overload without a client uses the plain
// test broker.
void create_topic_with(const KafkaClientProps& client, const std::string& topic, int partitions,
                       const std::map<std::string, std::string>& configs = {});
void create_topic_with(const std::string& topic, int partitions, const std::map<std::string, std::string>& configs);

// Sum of the end offsets of a topic's partitions (0 while it does not exist).
uint64_t topic_end_offsets(const std::string& topic);
uint64_t topic_end_offsets(const std::string& topic, const KafkaClientProps& client);

struct AgentOptions {
  std::string name;                       // slot, publication and topic prefix
  std::vector<std::string> tables;        // "public.x" (short form)
  std::string extra_yaml;                 // appended to the config verbatim
  std::string table_yaml;                 // replaces the tables list when set (long form entries)
  std::string dsn;                        // default: the tombsync role's
  std::string format = "json";
  std::string deletes = "both";
  std::string state_dir;                  // default: a fresh temp dir
  std::string brokers;                    // default: the test broker
  std::string source_yaml;                // appended to the source: section verbatim
  std::string kafka_yaml;                 // appended to the kafka: section verbatim
  std::string publication;                // default: name
  std::string admin_dsn;                  // drops the slot at the end; default: the plain superuser
};

class Agent {
 public:
  explicit Agent(AgentOptions options);
  ~Agent();
  void start();
  // Waits until the log shows the agent streaming (or it exits: then FAILs with the log).
  void wait_streaming(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  // Sends a signal and waits for the exit; returns the exit status (128+sig if killed).
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // Waits for a started agent to exit by itself; FAILs after the timeout.
  int wait_exit(std::chrono::milliseconds timeout);
  // Runs to completion (for configs that must fail); returns the exit code.
  int run_to_exit(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  std::string log() const;
  const std::string& config_path() const { return config_path_; }
  const std::string& state_dir() const { return options_.state_dir; }
  std::string topic(const std::string& table) const { return options_.name + "." + table; }

 private:
  void write_config();
  AgentOptions options_;
  std::string dir_;
  std::string config_path_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// A throwaway Postgres of its own (tests/services/pg-up in a temp dir), for
// tests that must misconfigure the server; stopped and removed on destruction,
// even when an assertion fails. Its `dsn` connects as the tombsync role.
class ScratchCluster {
 public:
  // `settings` are `-c name=value` overrides applied with a restart (e.g. wal_level=replica).
  ScratchCluster(const std::string& stem, const std::vector<std::string>& settings);
  ~ScratchCluster();
  ScratchCluster(const ScratchCluster&) = delete;
  ScratchCluster& operator=(const ScratchCluster&) = delete;
  std::string dsn;

 private:
  std::string dir_, prefix_;
};

// Runs a shell command, REQUIREs exit 0, returns its output (stdout and whatever the command redirects).
std::string run_capture(const std::string& cmd);

// The slot's confirmed_flush_lsn as a number (0 when absent).
uint64_t confirmed_flush(Sql& sql, const std::string& slot);
// Drops the slot and publication a test created (best effort); `admin_dsn` empty = the plain
// test Postgres' superuser.
void drop_replication_objects(const std::string& name, const std::string& admin_dsn = "");

// Waits until `pred` holds, polling every 100 ms; returns false on timeout.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred()) return true;
    struct timespec ts {0, 100'000'000};
    nanosleep(&ts, nullptr);
  }
  return pred();
}

}  // namespace tombsync::it
