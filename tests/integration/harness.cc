#include "tests/integration/harness.h"

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sys/stat.h>
#include <sstream>

namespace tombsync::it {
namespace {

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string make_temp_dir(const std::string& stem) {
  std::string tmpl = (std::filesystem::temp_directory_path() / ("tombsync-it-" + stem + "-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) FAIL("mkdtemp failed");
  return tmpl;
}

}  // namespace

const ServiceEnv& ServiceEnv::get() {
  static ServiceEnv env{env_or_empty("TOMBSYNC_PG_DSN"), env_or_empty("TOMBSYNC_PG_SUPERUSER_DSN"),
                        env_or_empty("TOMBSYNC_KAFKA_BROKERS"), env_or_empty("TOMBSYNC_PG_PORT")};
  if (env.pg_dsn.empty() || env.kafka_brokers.empty())
    FAIL("the test services are not running: run scripts/test, or tests/services/up and "
         "source .services/env");
  return env;
}

std::string unique_name(const std::string& stem) {
  static std::atomic<int> counter{0};
  return "it_" + stem + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++);
}

Sql::Sql(const std::string& dsn) : conn_(dsn, pg::PgConnection::Mode::kSql) {}

void Sql::exec(const std::string& sql) { conn_.exec(sql, "test SQL: " + sql.substr(0, 80)); }

std::vector<std::vector<std::optional<std::string>>> Sql::query(const std::string& sql) {
  auto r = conn_.exec(sql, "test query: " + sql.substr(0, 80));
  std::vector<std::vector<std::optional<std::string>>> rows;
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    std::vector<std::optional<std::string>> row;
    for (int j = 0; j < PQnfields(r.get()); ++j) row.push_back(pg::value_at(r.get(), i, j));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::optional<std::string> Sql::scalar(const std::string& sql) {
  auto rows = query(sql);
  if (rows.empty() || rows[0].empty()) return std::nullopt;
  return rows[0][0];
}

KafkaClientProps plain_client() { return {{"bootstrap.servers", ServiceEnv::get().kafka_brokers}}; }

std::vector<KafkaRecord> read_topic(const std::string& topic, size_t at_least,
                                    std::chrono::milliseconds timeout) {
  return read_topic(topic, at_least, timeout, plain_client());
}

std::vector<KafkaRecord> read_topic(const std::string& topic, size_t at_least, std::chrono::milliseconds timeout,
                                    const KafkaClientProps& client) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const char* k, const std::string& v) {
    if (rd_kafka_conf_set(conf, k, v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) FAIL(err);
  };
  for (const auto& [k, v] : client) set(k.c_str(), v);
  set("group.id", unique_name("reader"));
  set("enable.auto.commit", "false");
  set("enable.partition.eof", "true");
  set("isolation.level", "read_committed");
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) FAIL(err);

  // The topic may not exist yet: wait for its metadata.
  int partitions = 0;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (partitions == 0 && std::chrono::steady_clock::now() < deadline) {
    rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        partitions = md->topics[0].partition_cnt;
      rd_kafka_metadata_destroy(md);
    }
    rd_kafka_topic_destroy(t);
    if (partitions == 0) usleep(200'000);
  }
  std::vector<std::vector<KafkaRecord>> by_partition(static_cast<size_t>(partitions));
  if (partitions > 0) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p)
      rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    size_t total = 0;
    std::vector<bool> at_eof(static_cast<size_t>(partitions), false);
    while (std::chrono::steady_clock::now() < deadline) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 200);
      if (!m) continue;
      auto p = static_cast<size_t>(m->partition);
      if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        at_eof[p] = true;
      } else if (m->err) {
        std::string why = rd_kafka_message_errstr(m);
        rd_kafka_message_destroy(m);
        FAIL("consume error on " << topic << ": " << why);
      } else {
        KafkaRecord r;
        r.partition = m->partition;
        r.offset = m->offset;
        if (m->key) r.key = std::string(static_cast<const char*>(m->key), m->key_len);
        if (m->payload) r.value = std::string(static_cast<const char*>(m->payload), m->len);
        rd_kafka_headers_t* hdrs = nullptr;
        if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
          const char* name;
          const void* val;
          size_t size;
          for (size_t i = 0; rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i)
            r.headers[name] = std::string(static_cast<const char*>(val), size);
        }
        by_partition[p].push_back(std::move(r));
        at_eof[p] = false;
        ++total;
      }
      rd_kafka_message_destroy(m);
      bool all_eof = std::all_of(at_eof.begin(), at_eof.end(), [](bool b) { return b; });
      if (all_eof && total >= at_least) break;
    }
  }
  rd_kafka_consumer_close(rk);
  rd_kafka_destroy(rk);
  std::vector<KafkaRecord> out;
  for (auto& part : by_partition)
    for (auto& r : part) out.push_back(std::move(r));
  return out;
}

void create_topic_with(const KafkaClientProps& client, const std::string& topic, int partitions,
                       const std::map<std::string, std::string>& configs) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : client)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) FAIL(err);
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk(rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err),
                                                              &rd_kafka_destroy);
  if (!rk) FAIL(err);
  rd_kafka_NewTopic_t* t = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof err);
  if (!t) FAIL("NewTopic: " << err);
  for (const auto& [name, value] : configs)
    if (rd_kafka_NewTopic_set_config(t, name.c_str(), value.c_str())) FAIL("NewTopic config " << name);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_CreateTopics(rk.get(), &t, 1, nullptr, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
  std::string failure = ev ? "" : "no answer within 30 s";
  size_t n = 0;
  const rd_kafka_topic_result_t** results =
      ev ? rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n) : nullptr;
  for (size_t i = 0; i < n; ++i)
    if (rd_kafka_topic_result_error(results[i]) != RD_KAFKA_RESP_ERR_NO_ERROR)
      failure = rd_kafka_topic_result_error_string(results[i]);
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(t);
  if (!failure.empty()) FAIL("CreateTopics " << topic << ": " << failure);
}

void create_topic_with(const std::string& topic, int partitions, const std::map<std::string, std::string>& configs) {
  create_topic_with(plain_client(), topic, partitions, configs);
}

uint64_t topic_end_offsets(const std::string& topic) { return topic_end_offsets(topic, plain_client()); }

uint64_t topic_end_offsets(const std::string& topic, const KafkaClientProps& client) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [k, v] : client)
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) FAIL(err);
  rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", err, sizeof err);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk) FAIL(err);
  uint64_t total = 0;
  rd_kafka_topic_t* t = rd_kafka_topic_new(rk, topic.c_str(), nullptr);
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk, 0, t, &md, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
      for (int p = 0; p < md->topics[0].partition_cnt; ++p) {
        int64_t lo = 0, hi = 0;
        if (rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &lo, &hi, 5000) == RD_KAFKA_RESP_ERR_NO_ERROR)
          total += static_cast<uint64_t>(hi);
      }
    rd_kafka_metadata_destroy(md);
  }
  rd_kafka_topic_destroy(t);
  rd_kafka_destroy(rk);
  return total;
}

Agent::Agent(AgentOptions options) : options_(std::move(options)) {
  dir_ = make_temp_dir(options_.name);
  if (options_.state_dir.empty()) options_.state_dir = dir_ + "/state";
  if (options_.dsn.empty()) options_.dsn = ServiceEnv::get().pg_dsn;
  if (options_.brokers.empty()) options_.brokers = ServiceEnv::get().kafka_brokers;
  config_path_ = dir_ + "/tombsync.yaml";
  log_path_ = dir_ + "/agent.log";
  write_config();
}

Agent::~Agent() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  // Also when the test failed half way: a leaked slot pins WAL and uses up max_replication_slots.
  drop_replication_objects(options_.name, options_.admin_dsn);
}

void Agent::write_config() {
  std::ofstream f(config_path_);
  f << "source:\n"
    << "  dsn: \"" << options_.dsn << "\"\n"
    << "  slot: " << options_.name << "\n"
    << "  publication: " << (options_.publication.empty() ? options_.name : options_.publication) << "\n"
    << "  status_interval_ms: 200\n"
    << options_.source_yaml
    << "  tables:\n";
  if (!options_.table_yaml.empty()) f << options_.table_yaml;
  for (const auto& t : options_.tables) f << "    - " << t << "\n";
  f << "kafka:\n"
    << "  brokers: \"" << options_.brokers << "\"\n"
    << "  connect_timeout_ms: 3000\n"
    << "  topic_prefix: " << options_.name << "\n"
    << options_.kafka_yaml
    << "format: " << options_.format << "\n"
    << "deletes: " << options_.deletes << "\n"
    << "state_dir: \"" << options_.state_dir << "\"\n"
    << options_.extra_yaml;
}

void Agent::start() {
  REQUIRE(pid_ < 0);
  pid_ = fork();
  REQUIRE(pid_ >= 0);
  if (pid_ == 0) {
    FILE* log = std::fopen(log_path_.c_str(), "a");
    if (log) {
      dup2(fileno(log), STDERR_FILENO);
      dup2(fileno(log), STDOUT_FILENO);
    }
    execl(TOMBSYNC_BINARY, TOMBSYNC_BINARY, "run", "--config", config_path_.c_str(), "--log-level", "debug",
          static_cast<char*>(nullptr));
    _exit(127);
  }
}

std::string Agent::log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void Agent::wait_streaming(std::chrono::milliseconds timeout) {
  bool ok = eventually(
      [&] {
        if (pid_ > 0) {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) == pid_) {
            pid_ = -1;
            FAIL("tombsync exited before streaming:\n" << log());
          }
        }
        // Streaming, and any initial snapshot done, so the test's own changes come after it.
        auto text = log();
        return text.find("streaming slot") != std::string::npos &&
               (text.find("snapshot: every table") != std::string::npos ||
                text.find("snapshot: never") != std::string::npos);
      },
      timeout);
  if (!ok) FAIL("tombsync did not start streaming in time:\n" << log());
}

int Agent::stop(int sig, std::chrono::milliseconds timeout) {
  REQUIRE(pid_ > 0);
  ::kill(pid_, sig);
  return wait_exit(timeout);
}

int Agent::run_to_exit(std::chrono::milliseconds timeout) {
  start();
  return wait_exit(timeout);
}

int Agent::wait_exit(std::chrono::milliseconds timeout) {
  REQUIRE(pid_ > 0);
  int status = 0;
  bool done = eventually([&] { return waitpid(pid_, &status, WNOHANG) == pid_; }, timeout);
  if (!done) {
    ::kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    FAIL("tombsync did not exit within the timeout:\n" << log());
  }
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string run_capture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int rc = pclose(p);
  INFO(cmd << "\n" << out);
  REQUIRE(rc == 0);
  return out;
}

ScratchCluster::ScratchCluster(const std::string& stem, const std::vector<std::string>& settings) {
  dir_ = (std::filesystem::temp_directory_path() / unique_name(stem)).string();
  std::filesystem::create_directories(dir_);
  chmod(dir_.c_str(), 0755);  // the postgres OS user must reach it
  std::string services = std::string(TOMBSYNC_SOURCE_DIR) + "/tests/services/";
  prefix_ = "TOMBSYNC_SERVICES_DIR=" + dir_ + " TOMBSYNC_PG_PREFERRED_PORT=55439 " + services;
  auto up = run_capture(prefix_ + "pg-up 2>&1");
  std::smatch m;
  REQUIRE(std::regex_search(up, m, std::regex("TOMBSYNC_PG_PORT=(\\d+)")));
  std::string restart = prefix_ + "pg-restart";
  for (const auto& setting : settings) restart += " -c " + setting;
  if (!settings.empty()) run_capture(restart + " 2>&1");
  dsn = "host=127.0.0.1 port=" + m[1].str() + " dbname=app user=tombsync password=tombsync";
}

ScratchCluster::~ScratchCluster() {
  if (std::system((prefix_ + "pg-down >/dev/null 2>&1").c_str()) != 0)
    std::fprintf(stderr, "pg-down failed for %s\n", dir_.c_str());
  std::filesystem::remove_all(dir_);
}

uint64_t confirmed_flush(Sql& sql, const std::string& slot) {
  auto v = sql.scalar("SELECT confirmed_flush_lsn - '0/0' FROM pg_replication_slots WHERE slot_name = '" + slot + "'");
  return v ? std::stoull(*v) : 0;
}

void drop_replication_objects(const std::string& name, const std::string& admin_dsn) {
  try {
    Sql sql(admin_dsn.empty() ? ServiceEnv::get().pg_superuser_dsn : admin_dsn);
    sql.exec("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '" + name +
             "' AND NOT active");
    sql.exec("DROP PUBLICATION IF EXISTS " + name);
  } catch (...) {
  }
}

}  // namespace tombsync::it
