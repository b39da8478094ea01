#include "agent/stream/topic_cleanup.h"

#include "connectors/kafka/kafka_admin.h"

namespace tombsync {
namespace {

class KafkaTopicCleanup final : public TopicCleanup {
 public:
  explicit KafkaTopicCleanup(KafkaSinkOptions options) : options_(std::move(options)) {}

  std::optional<bool> compacted(const std::string& topic, std::string& why) override {
    if (auto it = known_.find(topic); it != known_.end()) return it->second;
    auto policy = topic_cleanup_policy(options_, topic, why);
    if (!policy) return std::nullopt;
    const bool compact = policy->find("compact") != std::string::npos;
    known_.emplace(topic, compact);
    return compact;
  }

 private:
  KafkaSinkOptions options_;
  std::map<std::string, bool> known_;
};

}  // namespace

std::unique_ptr<TopicCleanup> kafka_topic_cleanup(KafkaSinkOptions options) {
  return std::make_unique<KafkaTopicCleanup>(std::move(options));
}

}  // namespace tombsync
