#include "connectors/kafka/kafka_sink.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "base/error.h"
#include "connectors/kafka/kafka_hints.h"
#include "connectors/kafka/kafka_properties.h"

namespace tombsync {
namespace {

using Clock = std::chrono::steady_clock;

// How long send() waits for delivery reports before retrying a full queue, and the slice flush()
// serves between checks for a failed message. Short, so interrupt() and failures are seen fast.
constexpr int kServeSliceMs = 100;

// The end LSN travels as the per-message opaque pointer's value: no allocation per message.
static_assert(sizeof(uintptr_t) >= sizeof(uint64_t), "the LSN is carried in a pointer value");
void* lsn_to_opaque(Lsn lsn) {
  return reinterpret_cast<void*>(static_cast<uintptr_t>(lsn.value()));
}
Lsn lsn_from_opaque(void* p) {
  return Lsn(static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)));
}

// Applied before KafkaSinkOptions::properties.
constexpr std::array<std::pair<const char*, const char*>, 13> kDefaults = {{
    {"client.id", "tombsync"},
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"max.in.flight.requests.per.connection", "5"},
    {"partitioner", "murmur2_random"},
    // 0 = infinite: a message is retried until Kafka takes it, however long Kafka is down. The
    // agent must not lose records, and a failed message would stop it anyway.
    {"message.timeout.ms", "0"},
    {"linger.ms", "10"},
    {"batch.num.messages", "10000"},
    {"batch.size", "1000000"},  // message.max.bytes caps a batch at ~1 MB anyway
    {"compression.type", "lz4"},
    // The bound on what the agent holds in memory; when full, send() blocks (back-pressure).
    {"queue.buffering.max.messages", "100000"},
    {"queue.buffering.max.kbytes", "131072"},  // 128 MiB
    {"allow.auto.create.topics", "true"},      // already librdkafka's producer default
}};

std::string seconds(int ms) { return fmt::format("{:g}", ms / 1000.0); }

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

std::string fatal_reason(rd_kafka_t* rk) {
  char buf[512] = {0};
  rd_kafka_resp_err_t err = rd_kafka_fatal_error(rk, buf, sizeof buf);
  return fmt::format("{} ({})", buf, rd_kafka_err2name(err));
}

// "app.public.users [2]", or just the topic while no partition was chosen.
std::string where(std::string_view topic, int32_t partition) {
  if (partition < 0) return std::string(topic);
  return fmt::format("{} [{}]", topic, partition);
}

// For a record librdkafka refuses as too large: its size and the settings to raise.
std::string size_hint(rd_kafka_resp_err_t err, const Record& r) {
  if (err != RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) return {};
  size_t bytes = (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
  for (const auto& [name, value] : r.headers) bytes += name.size() + value.size();
  return fmt::format(" (key, value and headers: {} bytes); {}", bytes, kMessageSizeHint);
}

struct HeadersDeleter {
  void operator()(rd_kafka_headers_t* h) const { rd_kafka_headers_destroy(h); }
};
using HeadersPtr = std::unique_ptr<rd_kafka_headers_t, HeadersDeleter>;

struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

}  // namespace

// librdkafka's C callbacks. They run inside rd_kafka_poll()/rd_kafka_flush() on the pipeline
// thread and must not throw through librdkafka's C frames; KafkaSink records what they report.
struct KafkaSink::Callbacks {
  static void delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<KafkaSink*>(opaque)->report(m->err, rd_kafka_topic_name(m->rkt), m->partition,
                                            m->offset, lsn_from_opaque(m->_private));
  }
  static void error(rd_kafka_t*, int err, const char* reason, void* opaque) {
    static_cast<KafkaSink*>(opaque)->warn(err, reason);
  }
  // Any librdkafka thread; options_.log is documented as thread-safe and never changes.
  static void log(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
    auto* sink = static_cast<KafkaSink*>(rd_kafka_opaque(rk));
    if (sink != nullptr && sink->options_.log) sink->options_.log(level, facility, message);
  }
};

KafkaSink::KafkaSink(KafkaSinkOptions options) : options_(std::move(options)) {
  if (options_.brokers.empty()) {
    throw Error(ErrorKind::kConfig, "kafka.brokers is empty: give host:port[,host:port...]");
  }
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char errstr[512];
  auto set = [&](const std::string& key, const std::string& value) {
    if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorKind::kConfig, fmt::format("kafka property '{}': {}", key, errstr));
    }
  };
  for (const auto& [key, value] : kDefaults) set(key, value);
  set("bootstrap.servers", options_.brokers);
  for (const auto& [key, value] : options_.properties) {
    if (const OwnedProperty* owned = find_owned_property(key)) {
      rd_kafka_conf_destroy(conf);
      throw Error(ErrorKind::kConfig,
                  fmt::format("kafka property '{}' cannot be set: {}", key, owned->sink_reason));
    }
    set(key, value);
  }
  rd_kafka_conf_set_dr_msg_cb(conf, &Callbacks::delivery);
  rd_kafka_conf_set_error_cb(conf, &Callbacks::error);
  rd_kafka_conf_set_opaque(conf, this);
  if (options_.log) rd_kafka_conf_set_log_cb(conf, &Callbacks::log);

  rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk_ == nullptr) {  // on failure the conf is still ours
    rd_kafka_conf_destroy(conf);
    throw Error(ErrorKind::kConfig, fmt::format("kafka producer configuration: {}", errstr));
  }
}

KafkaSink::~KafkaSink() {
  // The callbacks may capture objects that die before us; librdkafka must not reach them.
  on_delivered = nullptr;
  on_warning = nullptr;
  for (auto& [name, t] : topics_) rd_kafka_topic_destroy(t.handle);
  rd_kafka_destroy(rk_);
}

void KafkaSink::check_reachable() {
  throw_if_failed();
  const uint64_t causes_before = causes_;
  const uint64_t warnings_before = warnings_;
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  bool refused = false;
  // In slices, so that a refused login or certificate (which waiting does not fix) ends the
  // wait at once. No topic: asks only for the broker list, so nothing is auto-created.
  for (;;) {
    const rd_kafka_metadata_t* md = nullptr;
    err = rd_kafka_metadata(rk_, 0, nullptr, &md, std::max(1, std::min(500, remaining_ms(deadline))));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_metadata_destroy(md);
      connected_ = true;
      return;
    }
    // librdkafka's own account (connection refused, DNS, TLS, SASL) arrives through error_cb,
    // which only rd_kafka_poll serves; it says more than the metadata call's "timed out".
    serve(0);
    // Only when every bootstrap broker refused: another may still answer within the deadline.
    const auto bootstrap = static_cast<size_t>(std::count(options_.brokers.begin(), options_.brokers.end(), ',')) + 1;
    refused = causes_ != causes_before && refused_brokers_.size() >= bootstrap;
    if (refused || remaining_ms(deadline) == 0) break;
  }
  std::string reason = causes_ != causes_before       ? last_cause_
                       : warnings_ != warnings_before ? last_warning_
                                                      : rd_kafka_err2str(err);
  throw Error(ErrorKind::kSink,
              fmt::format("cannot reach Kafka at {}{}: {}; {}", options_.brokers,
                          refused ? "" : " within " + seconds(options_.connect_timeout_ms) + " s", reason,
                          kafka_connect_hint(reason, options_.properties)),
              Transient::kYes);  // ends a first start; a running agent waits for the brokers
}

bool KafkaSink::probe(int timeout_ms) const {
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(rk_, 0, nullptr, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  rd_kafka_metadata_destroy(md);
  return true;
}

KafkaSink::Topic& KafkaSink::topic(const std::string& name) {
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second;
  rd_kafka_topic_t* handle = rd_kafka_topic_new(rk_, name.c_str(), nullptr);
  if (handle == nullptr) {
    throw Error(ErrorKind::kSink, fmt::format("cannot use Kafka topic '{}': {}", name,
                                              rd_kafka_err2str(rd_kafka_last_error())));
  }
  return topics_.emplace(name, Topic{handle, 0}).first->second;
}

int KafkaSink::partitions(const std::string& name) {
  Topic& t = topic(name);
  if (t.partitions > 0) return t.partitions;

  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
  std::string last;
  for (;;) {
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk_, 0, t.handle, &raw, remaining_ms(deadline));
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      MetadataPtr md(raw);
      err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;  // unless the answer lists it
      for (int i = 0; i < md->topic_cnt; ++i) {
        const rd_kafka_metadata_topic_t& mt = md->topics[i];
        if (name != mt.topic) continue;
        if (mt.err == RD_KAFKA_RESP_ERR_NO_ERROR && mt.partition_cnt > 0) {
          return t.partitions = mt.partition_cnt;
        }
        err = mt.err;
      }
      // Just auto-created (no leader yet), or absent: ask again. Anything else is a refusal.
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE &&
          err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        throw Error(ErrorKind::kSink,
                    fmt::format("cannot read the partitions of Kafka topic '{}': {}", name,
                                rd_kafka_err2str(err)));
      }
      last = err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART
                 ? "the topic does not exist and the broker did not create it (create it, or "
                   "set auto.create.topics.enable=true on the brokers)"
                 : rd_kafka_err2str(err);
    } else {
      last = rd_kafka_err2str(err);
    }
    if (Clock::now() >= deadline) {
      // Brokers that do not answer (restarting) may come back: a running agent waits for them.
      const bool missing_topic = last.rfind("the topic does not exist", 0) == 0;
      throw Error(ErrorKind::kSink,
                  fmt::format("cannot read the partitions of Kafka topic '{}' within {} s: {}",
                              name, seconds(options_.connect_timeout_ms), last),
                  missing_topic ? Transient::kNo : Transient::kYes);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::min(kServeSliceMs, std::max(1, remaining_ms(deadline)))));
  }
}

size_t KafkaSink::send(const Record& r) {
  throw_if_failed();
  Topic& t = topic(r.topic);
  if (r.partition) return produce(t, r.partition->value(), r) ? 1 : 0;
  if (!r.all_partitions) return produce(t, RD_KAFKA_PARTITION_UA, r) ? 1 : 0;
  const int n = partitions(r.topic);
  size_t sent = 0;
  for (int p = 0; p < n; ++p) {
    if (!produce(t, p, r)) break;
    ++sent;
  }
  return sent;
}

bool KafkaSink::produce(Topic& t, int32_t partition, const Record& r) {
  // Built once and reused across queue-full retries: librdkafka owns the list only on success.
  HeadersPtr headers;
  if (!r.headers.empty()) {
    headers.reset(rd_kafka_headers_new(r.headers.size()));
    for (const auto& [name, value] : r.headers) {
      rd_kafka_header_add(headers.get(), name.data(), static_cast<ssize_t>(name.size()),
                          value.data(), static_cast<ssize_t>(value.size()));
    }
  }

  // rd_kafka_produceva is rd_kafka_producev with an array instead of varargs macros (whose type
  // checks are GNU statement expressions, rejected by -Wpedantic in C++).
  std::array<rd_kafka_vu_t, 7> vu{};
  size_t n = 0;
  vu[n].vtype = RD_KAFKA_VTYPE_RKT;
  vu[n++].u.rkt = t.handle;
  vu[n].vtype = RD_KAFKA_VTYPE_PARTITION;
  vu[n++].u.i32 = partition;
  vu[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
  vu[n++].u.i = RD_KAFKA_MSG_F_COPY;  // the Record does not outlive this call
  vu[n].vtype = RD_KAFKA_VTYPE_KEY;
  vu[n].u.mem.ptr = r.key ? const_cast<char*>(r.key->data()) : nullptr;
  vu[n++].u.mem.size = r.key ? r.key->size() : 0;
  vu[n].vtype = RD_KAFKA_VTYPE_VALUE;  // null pointer = Kafka null value (tombstone)
  vu[n].u.mem.ptr = r.value ? const_cast<char*>(r.value->data()) : nullptr;
  vu[n++].u.mem.size = r.value ? r.value->size() : 0;
  vu[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
  vu[n++].u.ptr = lsn_to_opaque(r.commit_lsn);
  if (headers) {
    vu[n].vtype = RD_KAFKA_VTYPE_HEADERS;
    vu[n++].u.headers = headers.get();
  }

  for (;;) {
    rd_kafka_error_t* error = rd_kafka_produceva(rk_, vu.data(), n);
    if (error == nullptr) {
      (void)headers.release();  // now librdkafka's
      ++in_flight_;
      return true;
    }
    const rd_kafka_resp_err_t err = rd_kafka_error_code(error);
    const std::string text = rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);

    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Back-pressure: wait for acknowledgements to make room. Never drop, never grow.
      if (interrupted()) return false;
      serve(kServeSliceMs);
      if (interrupted()) return false;
      if (while_blocked) while_blocked();  // our own frame, not librdkafka's: may throw
      continue;
    }
    fail(fmt::format("cannot produce record for {} (end LSN {}): {}{}",
                     where(r.topic, partition), r.commit_lsn.str(),
                     err == RD_KAFKA_RESP_ERR__FATAL ? fatal_reason(rk_) : text, size_hint(err, r)));
    throw_if_failed();
  }
}

void KafkaSink::poll(int timeout_ms) {
  throw_if_failed();
  serve(timeout_ms);
}

bool KafkaSink::flush(int timeout_ms) {
  throw_if_failed();
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(0, timeout_ms));
  for (;;) {
    const int left = remaining_ms(deadline);
    if (left == 0) {  // rd_kafka_flush(0) serves nothing; one last non-blocking pass
      serve(0);
      return in_flight_ == 0;
    }
    // rd_kafka_flush serves the callbacks and sends lingering batches at once; in slices, so a
    // failed message is thrown without waiting for the rest.
    rd_kafka_flush(rk_, std::min(left, kServeSliceMs));
    throw_if_failed();
    if (in_flight_ == 0) return true;
  }
}

void KafkaSink::interrupt() {
  interrupted_.store(true);
  rd_kafka_yield(rk_);
}

void KafkaSink::serve(int timeout_ms) {
  rd_kafka_poll(rk_, timeout_ms);
  throw_if_failed();
}

void KafkaSink::throw_if_failed() {
  if (callback_error_) std::rethrow_exception(std::exchange(callback_error_, nullptr));
  if (failure_) throw Error(ErrorKind::kSink, *failure_, failure_transient_ ? Transient::kYes : Transient::kNo);
}

void KafkaSink::fail(std::string message, bool transient) {
  if (failure_) return;
  failure_ = std::move(message);
  failure_transient_ = transient;
}

// A template so that no std::function is built per delivery report.
template <typename Fn>
void KafkaSink::run_callback(Fn&& fn) {
  try {
    fn();
  } catch (const std::exception& e) {
    callback_error_ = std::current_exception();
    fail(fmt::format("Kafka sink stopped after its callback failed: {}", e.what()));
  } catch (...) {
    callback_error_ = std::current_exception();
    fail("Kafka sink stopped after its callback failed");
  }
}

void KafkaSink::report(int err, const char* topic, int32_t partition, int64_t offset, Lsn commit_lsn) {
  --in_flight_;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fail(fmt::format("record for {} (end LSN {}) failed: {}{}", where(topic, partition),
                     commit_lsn.str(),
                     err == RD_KAFKA_RESP_ERR__FATAL
                         ? fatal_reason(rk_)
                         : rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err)),
                     err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE ? std::string("; ") + std::string(kBrokerMessageSizeHint)
                                                                 : std::string()));
    return;
  }
  // After a failure nothing more is confirmed: the failed record's LSN stays unacknowledged.
  if (failure_ || !on_delivered) return;
  run_callback([&] { on_delivered(Delivery{commit_lsn, KafkaPartition(partition), offset}); });
}

void KafkaSink::warn(int err, const char* reason) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    // The idempotent producer can no longer guarantee order or once-ness.
    fail(fmt::format("Kafka producer fatal error: {}", fatal_reason(rk_)));
    return;
  }
  if (connected_ && (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED)) {
    // The credentials that worked were refused: rotated (a new password in the Secret, the old
    // one removed on the broker). librdkafka would retry with the old ones for ever; a new
    // producer reads the properties again (kafka.property_files), so end this one.
    fail(fmt::format("Kafka refused the credentials this producer connected with: {}; a new producer is "
                     "created with kafka.property_files read again",
                     reason),
         true);
    return;
  }
  ++warnings_;
  last_warning_ = reason;
  if (err != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {  // a summary; the cause came just before
    ++causes_;
    last_cause_ = reason;
    last_cause_err_ = err;
    if (err == RD_KAFKA_RESP_ERR__AUTHENTICATION || err == RD_KAFKA_RESP_ERR__SSL ||
        kafka_client_certificate_refused(last_cause_))
      refused_brokers_.insert(last_cause_.substr(0, last_cause_.find(": ")));
  }
  if (!on_warning || failure_) return;
  run_callback([&] { on_warning(last_warning_); });
}

}  // namespace tombsync
