#include "connectors/kafka/kafka_admin.h"

#include <librdkafka/rdkafka.h>

#include <memory>

namespace tombsync {
namespace {

struct HandleDeleter {
  void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
};
using Handle = std::unique_ptr<rd_kafka_t, HandleDeleter>;

// The log callback of `options`, reached through the conf's opaque.
void log_line(const rd_kafka_t* rk, int level, const char* facility, const char* message) {
  auto* options = static_cast<const KafkaSinkOptions*>(rd_kafka_opaque(rk));
  if (options && options->log) options->log(level, facility, message);
}

// A producer that cannot create topics: allow.auto.create.topics=false, and the metadata request
// asks for all topics, which never auto-creates one.
Handle admin_client(const KafkaSinkOptions& options, std::string& error) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [&](const std::string& k, const std::string& v) {
    return rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof errstr) == RD_KAFKA_CONF_OK;
  };
  for (const auto& [k, v] : options.properties)
    if (k != "allow.auto.create.topics") set(k, v);  // KafkaSink judged them already
  set("bootstrap.servers", options.brokers);
  set("client.id", "tombsync-check");
  set("allow.auto.create.topics", "false");
  if (options.log) {
    rd_kafka_conf_set_opaque(conf, const_cast<KafkaSinkOptions*>(&options));
    rd_kafka_conf_set_log_cb(conf, log_line);
  }
  Handle h(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
  if (!h) {
    rd_kafka_conf_destroy(conf);
    error = errstr;
  }
  return h;
}

// A broker's or a topic's configuration (DescribeConfigs), or nullopt with `error` set; `denied`
// when the principal may not describe it.
std::optional<std::map<std::string, std::string>> describe_config(rd_kafka_t* rk, rd_kafka_ResourceType_t type,
                                                                  const std::string& name, int timeout_ms,
                                                                  std::string& error, bool& denied) {
  char errstr[512];
  auto* res = rd_kafka_ConfigResource_new(type, name.c_str());
  auto* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
  rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr, sizeof errstr);
  auto* queue = rd_kafka_queue_new(rk);
  rd_kafka_DescribeConfigs(rk, &res, 1, opts, queue);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(queue, timeout_ms + 1000);
  std::optional<std::map<std::string, std::string>> out;
  if (!ev) {
    error = "DescribeConfigs timed out";
  } else if (rd_kafka_event_error(ev)) {
    error = std::string("DescribeConfigs: ") + rd_kafka_event_error_string(ev);
  } else {
    size_t n = 0;
    const auto** resources = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
    for (size_t i = 0; i < n; ++i) {
      if (rd_kafka_ConfigResource_error(resources[i])) {
        const auto code = rd_kafka_ConfigResource_error(resources[i]);
        denied = code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED ||
                 code == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
        error = std::string("DescribeConfigs: ") + rd_kafka_ConfigResource_error_string(resources[i]);
        continue;
      }
      size_t entries = 0;
      const auto** cfg = rd_kafka_ConfigResource_configs(resources[i], &entries);
      out.emplace();
      for (size_t j = 0; j < entries; ++j) {
        const char* v = rd_kafka_ConfigEntry_value(cfg[j]);
        (*out)[rd_kafka_ConfigEntry_name(cfg[j])] = v ? v : "";
      }
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(opts);
  rd_kafka_ConfigResource_destroy(res);
  return out;
}

// Metadata for `topic` by name (the client never auto-creates): the topic's error, or the
// request's when it failed; `partitions` set when it exists.
rd_kafka_resp_err_t describe_topic(rd_kafka_t* rk, const std::string& topic, int timeout_ms, int& partitions) {
  std::unique_ptr<rd_kafka_topic_t, decltype(&rd_kafka_topic_destroy)> t(rd_kafka_topic_new(rk, topic.c_str(), nullptr),
                                                                           &rd_kafka_topic_destroy);
  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, t.get(), &md, timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return err;
  err = RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
  for (int i = 0; i < md->topic_cnt; ++i)
    if (topic == md->topics[i].topic) {
      err = md->topics[i].err;
      partitions = md->topics[i].partition_cnt;
    }
  rd_kafka_metadata_destroy(md);
  return err;
}

}  // namespace

KafkaFacts inspect_topics(const KafkaSinkOptions& options, const std::vector<std::string>& topics,
                          bool broker_config_if_unknown) {
  KafkaFacts f;
  Handle h = admin_client(options, f.error);
  if (!h) {
    f.failure = KafkaFacts::Failure::kClient;
    return f;
  }
  const rd_kafka_metadata_t* md = nullptr;
  auto err = rd_kafka_metadata(h.get(), /*all_topics=*/1, nullptr, &md, options.connect_timeout_ms);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    f.failure = KafkaFacts::Failure::kMetadata;
    f.error = rd_kafka_err2str(err);
    return f;
  }
  std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(md, rd_kafka_metadata_destroy);
  f.brokers = md->broker_cnt;
  bool any_unknown = false;
  for (const auto& name : topics) {
    KafkaTopicFacts t{.name = name};
    const rd_kafka_metadata_topic_t* found = nullptr;
    for (int i = 0; i < md->topic_cnt; ++i)
      if (name == md->topics[i].topic) found = &md->topics[i];
    if (found && found->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      t.exists = true;
      t.partitions = found->partition_cnt;
    } else if (found && found->err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      t.error = rd_kafka_err2str(found->err);
    } else {
      const rd_kafka_resp_err_t terr = describe_topic(h.get(), name, options.connect_timeout_ms, t.partitions);
      if (terr == RD_KAFKA_RESP_ERR_NO_ERROR) {
        t.exists = true;  // created since the first answer
      } else if (terr == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        t.unknown = true;
        any_unknown = true;
      } else {
        t.denied = terr == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED;
        t.error = rd_kafka_err2str(terr);
      }
    }
    f.topics.push_back(std::move(t));
  }
  if (broker_config_if_unknown && any_unknown) {
    if (md->broker_cnt == 0)
      f.broker_config_error = "no broker in the metadata";
    else
      f.broker_config = describe_config(h.get(), RD_KAFKA_RESOURCE_BROKER, std::to_string(md->brokers[0].id),
                                        options.connect_timeout_ms, f.broker_config_error, f.broker_config_denied);
  }
  return f;
}

std::optional<std::string> topic_cleanup_policy(const KafkaSinkOptions& options, const std::string& topic,
                                                std::string& error) {
  Handle h = admin_client(options, error);
  if (!h) return std::nullopt;
  int partitions = 0;
  const rd_kafka_resp_err_t err = describe_topic(h.get(), topic, options.connect_timeout_ms, partitions);
  bool denied = false;
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
    auto cfg = describe_config(h.get(), RD_KAFKA_RESOURCE_TOPIC, topic, options.connect_timeout_ms, error, denied);
    if (!cfg) return std::nullopt;
    auto it = cfg->find("cleanup.policy");
    return it == cfg->end() ? "delete" : it->second;  // Kafka's default
  }
  if (err != RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
    error = std::string("metadata of ") + topic + ": " + rd_kafka_err2str(err);
    return std::nullopt;
  }
  // Not created yet: the first produce auto-creates it with the broker's default.
  const rd_kafka_metadata_t* md = nullptr;
  if (rd_kafka_metadata(h.get(), 0, nullptr, &md, options.connect_timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      md->broker_cnt == 0) {
    if (md) rd_kafka_metadata_destroy(md);
    error = "no broker answered the metadata request";
    return std::nullopt;
  }
  const std::string broker = std::to_string(md->brokers[0].id);
  rd_kafka_metadata_destroy(md);
  auto cfg = describe_config(h.get(), RD_KAFKA_RESOURCE_BROKER, broker, options.connect_timeout_ms, error, denied);
  if (!cfg) return std::nullopt;
  auto it = cfg->find("log.cleanup.policy");
  return it == cfg->end() ? "delete" : it->second;
}

}  // namespace tombsync
