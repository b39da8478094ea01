#include "connectors/kafka/kafka_permissions.h"

#include <librdkafka/rdkafka.h>

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <string_view>

#include "connectors/kafka/kafka_properties.h"

namespace tombsync {
namespace {

using Handle = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;
using Result = PermissionProbe::Result;

bool authorization_error(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || err == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

// What a probe client's callbacks report; librdkafka's threads write the atomics.
struct ProbeState {
  const KafkaSinkOptions* options = nullptr;
  std::atomic<bool> delivered{false};
  rd_kafka_resp_err_t delivery_err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int64_t offset = -1;
  std::atomic<bool> pid_acquired{false};
};

void log_line(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  auto* state = static_cast<ProbeState*>(rd_kafka_opaque(rk));
  // librdkafka 2.0's eos debug line once InitProducerId answered: "Acquired PID{Id:..,Epoch:..}".
  if (std::string_view(message).find("Acquired PID") != std::string_view::npos) state->pid_acquired = true;
  if (state->options->log) state->options->log(level, facility, message);
}

// A producer with the user's properties (SASL, TLS, client.id...), never auto-creating topics,
// then `overrides`. Null with `error` set when librdkafka refuses the configuration.
Handle probe_client(const KafkaSinkOptions& options, ProbeState& state,
                    std::initializer_list<std::pair<const char*, const char*>> overrides, std::string& error) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "client.id", "tombsync-check", errstr, sizeof errstr);  // the user's (quotas) wins
  for (const auto& [k, v] : options.properties)
    if (!find_owned_property(k)) rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "bootstrap.servers", options.brokers.c_str(), errstr, sizeof errstr);
  rd_kafka_conf_set(conf, "allow.auto.create.topics", "false", errstr, sizeof errstr);
  for (const auto& [k, v] : overrides) {
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      error = errstr;
      return Handle(nullptr, &rd_kafka_destroy);
    }
  }
  state.options = &options;
  rd_kafka_conf_set_opaque(conf, &state);
  rd_kafka_conf_set_log_cb(conf, log_line);
  rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* s = static_cast<ProbeState*>(opaque);
    s->delivery_err = m->err;
    s->offset = m->offset;
    s->delivered = true;
  });
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!rk) {
    rd_kafka_conf_destroy(conf);
    error = errstr;
  }
  return Handle(rk, &rd_kafka_destroy);
}

}  // namespace

PermissionProbe probe_write(const KafkaSinkOptions& options, const std::string& topic, int32_t partition) {
  ProbeState state;
  std::string error;
  const std::string timeout = std::to_string(options.connect_timeout_ms);
  Handle rk = probe_client(options, state,
                           {{"enable.idempotence", "false"}, {"acks", "2"}, {"message.send.max.retries", "0"},
                            {"linger.ms", "0"}, {"message.timeout.ms", timeout.c_str()}},
                           error);
  if (!rk) return {Result::kUnknown, "cannot create a Kafka client: " + error};
  static const char kValue[] = "tombsync check: write permission probe (acks=2, never appended)";
  std::array<rd_kafka_vu_t, 3> vu{};
  vu[0].vtype = RD_KAFKA_VTYPE_TOPIC;
  vu[0].u.cstr = topic.c_str();
  vu[1].vtype = RD_KAFKA_VTYPE_PARTITION;
  vu[1].u.i32 = partition;
  vu[2].vtype = RD_KAFKA_VTYPE_VALUE;
  vu[2].u.mem.ptr = const_cast<char*>(kValue);
  vu[2].u.mem.size = sizeof kValue - 1;
  if (rd_kafka_error_t* e = rd_kafka_produceva(rk.get(), vu.data(), vu.size())) {
    PermissionProbe p{Result::kUnknown, rd_kafka_error_string(e)};
    rd_kafka_error_destroy(e);
    return p;
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.connect_timeout_ms + 1000);
  while (!state.delivered && std::chrono::steady_clock::now() < deadline) rd_kafka_poll(rk.get(), 50);
  if (!state.delivered) return {Result::kUnknown, "no answer to the produce request"};
  if (state.delivery_err == RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS) return {Result::kGranted, ""};
  if (authorization_error(state.delivery_err)) return {Result::kDenied, rd_kafka_err2str(state.delivery_err)};
  if (state.delivery_err == RD_KAFKA_RESP_ERR_NO_ERROR)  // not Apache Kafka's behaviour: say so loudly
    return {Result::kGranted, "but the broker accepted acks=2 and APPENDED the probe record (keyless, value \"" +
                                  std::string(kValue) + "\") at offset " + std::to_string(state.offset) +
                                  "; Apache Kafka refuses acks=2 before any append, this broker does not: on it "
                                  "check's Write probe writes, and a denied Write may not be told apart",
            true};
  return {Result::kUnknown, rd_kafka_err2str(state.delivery_err)};
}

PermissionProbe probe_create(const KafkaSinkOptions& options, const std::string& topic) {
  ProbeState state;
  std::string error;
  Handle rk = probe_client(options, state, {}, error);
  if (!rk) return {Result::kUnknown, "cannot create a Kafka client: " + error};
  char errstr[512];
  rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic.c_str(), -1, -1, errstr, sizeof errstr);
  if (!nt) return {Result::kUnknown, errstr};
  rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_validate_only(opts, 1, errstr, sizeof errstr);
  rd_kafka_AdminOptions_set_request_timeout(opts, options.connect_timeout_ms, errstr, sizeof errstr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk.get());
  rd_kafka_CreateTopics(rk.get(), &nt, 1, opts, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, options.connect_timeout_ms + 1000);
  PermissionProbe p{Result::kUnknown, "no answer to CreateTopics (validate only)"};
  if (ev && rd_kafka_event_error(ev)) {
    const auto err = rd_kafka_event_error(ev);
    p = {authorization_error(err) ? Result::kDenied : Result::kUnknown, rd_kafka_event_error_string(ev)};
  } else if (ev) {
    size_t n = 0;
    const rd_kafka_topic_result_t** r = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (n == 1) {
      const auto err = rd_kafka_topic_result_error(r[0]);
      const char* why = rd_kafka_topic_result_error_string(r[0]);
      p = {err == RD_KAFKA_RESP_ERR_NO_ERROR ? Result::kGranted
           : authorization_error(err)        ? Result::kDenied
                                             : Result::kUnknown,
           err == RD_KAFKA_RESP_ERR_NO_ERROR ? "" : (why ? why : rd_kafka_err2str(err))};
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(q);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_NewTopic_destroy(nt);
  return p;
}

PermissionProbe probe_idempotent_producer(const KafkaSinkOptions& options) {
  ProbeState state;
  std::string error;
  // debug=eos: the only sign librdkafka 2.0 gives of an acquired producer id is its eos log line.
  Handle rk = probe_client(options, state, {{"enable.idempotence", "true"}, {"debug", "eos"}}, error);
  if (!rk) return {Result::kUnknown, "cannot create a Kafka client: " + error};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.connect_timeout_ms);
  char reason[512];
  while (std::chrono::steady_clock::now() < deadline) {
    if (state.pid_acquired) return {Result::kGranted, ""};
    if (const rd_kafka_resp_err_t fatal = rd_kafka_fatal_error(rk.get(), reason, sizeof reason))
      return {authorization_error(fatal) ||  // the code; the text for librdkafka versions that wrap it
                      std::string_view(reason).find("authorization failed") != std::string_view::npos
                  ? Result::kDenied
                  : Result::kUnknown,
              reason};
    rd_kafka_poll(rk.get(), 50);
  }
  return {Result::kUnknown, "no producer id within the connect timeout"};
}

}  // namespace tombsync
