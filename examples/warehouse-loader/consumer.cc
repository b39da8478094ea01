#include "examples/warehouse-loader/consumer.h"

#include "base/error.h"
#include "examples/warehouse-loader/log.h"

namespace tombsync::loader {
namespace {

void set(rd_kafka_conf_t* conf, const char* key, const std::string& value) {
  char err[512];
  if (rd_kafka_conf_set(conf, key, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK)
    throw Error(ErrorKind::kConfig, std::string("Kafka setting ") + key + ": " + err);
}

}  // namespace

RedeliveryFilter::RedeliveryFilter(const Batch& batch) {
  for (const auto& adv : batch.partitions) seen_[adv.partition] = adv.applied_before;
}

bool RedeliveryFilter::redelivered(const std::string& topic, const LoaderRecord& r) {
  auto& seen = seen_[{topic, r.partition}];
  if (seen && r.position <= *seen) return true;
  seen = r.position;
  return false;
}

Consumer::Consumer(ConsumerConfig config, LoadOffsets load_offsets)
    : options_(std::move(config)), load_offsets_(std::move(load_offsets)) {
  const ConsumerConfig& options = options_;
  for (size_t i = 0; i < options.tables.size(); ++i) table_by_topic_[options.tables[i].topic] = i;
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  set(conf, "bootstrap.servers", options.brokers);
  set(conf, "group.id", options.group);
  set(conf, "client.id", options.client_id);
  // Positions come from the warehouse (see on_assign); Kafka's committed offsets are informational.
  set(conf, "enable.auto.commit", "false");
  set(conf, "enable.auto.offset.store", "false");
  set(conf, "auto.offset.reset", "earliest");
  set(conf, "isolation.level", "read_committed");
  set(conf, "enable.partition.eof", "true");
  // Eager assignment: every partition is revoked before it moves, so two loaders never hold one.
  set(conf, "partition.assignment.strategy", "range,roundrobin");
  // A topic tombsync creates after the loader started is picked up within seconds.
  set(conf, "topic.metadata.refresh.interval.ms", "2000");
  // A partition at its end answers within this; --order-settle-ms counts on it.
  set(conf, "fetch.wait.max.ms", "100");
  if (options.session_timeout) set(conf, "session.timeout.ms", std::to_string(options.session_timeout->count()));
  rd_kafka_conf_set_rebalance_cb(conf, &Consumer::rebalance_cb);
  rd_kafka_conf_set_opaque(conf, this);
  char err[512];
  rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
  if (!rk_) {
    rd_kafka_conf_destroy(conf);
    throw Error(ErrorKind::kConfig, std::string("cannot create the Kafka consumer: ") + err);
  }
  rd_kafka_poll_set_consumer(rk_);

  const rd_kafka_metadata_t* md = nullptr;
  rd_kafka_resp_err_t e = rd_kafka_metadata(rk_, 1, nullptr, &md, 10000);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);
    throw Error(ErrorKind::kSink, "cannot reach Kafka at " + options.brokers + " within 10 s (" +
                                      rd_kafka_err2str(e) + "): check --brokers and that Kafka is running");
  }
  for (const auto& [topic, table] : table_by_topic_) {
    bool found = false;
    for (int i = 0; i < md->topic_cnt; ++i)
      if (topic == md->topics[i].topic && md->topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) found = true;
    if (!found)
      log::warn("topic {} does not exist yet: waiting for tombsync to write {}", topic,
                options.tables[table].qualified());
  }
  rd_kafka_metadata_destroy(md);

  rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(static_cast<int>(table_by_topic_.size()));
  for (const auto& [topic, table] : table_by_topic_)
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
  e = rd_kafka_subscribe(rk_, topics);
  rd_kafka_topic_partition_list_destroy(topics);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
    rd_kafka_destroy(rk_);
    throw Error(ErrorKind::kSink, std::string("cannot subscribe to the table topics: ") + rd_kafka_err2str(e));
  }
}

Consumer::~Consumer() {
  rd_kafka_consumer_close(rk_);
  rd_kafka_destroy(rk_);
}

void Consumer::rebalance_cb(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                            void* opaque) {
  auto* self = static_cast<Consumer*>(opaque);
  try {
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) self->on_assign(parts);
    else self->on_revoke(parts);
  } catch (...) {
    // No exception may cross librdkafka's C frames: hand it to poll().
    self->callback_error_ = std::current_exception();
    rd_kafka_assign(rk, nullptr);
  }
}

void Consumer::on_assign(rd_kafka_topic_partition_list_t* parts) {
  std::vector<PartitionId> ids;
  for (int i = 0; i < parts->cnt; ++i) ids.emplace_back(parts->elems[i].topic, parts->elems[i].partition);
  auto stored = load_offsets_(ids);
  std::string summary;
  for (int i = 0; i < parts->cnt; ++i) {
    PartitionId id{parts->elems[i].topic, parts->elems[i].partition};
    PartitionState& st = partitions_[id];
    st = PartitionState{};
    if (auto it = stored.find(id); it != stored.end()) {
      st.stored_next = it->second.next_offset;
      st.applied = it->second.applied;
      parts->elems[i].offset = it->second.next_offset;
    } else {
      parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    summary += fmt::format("{}{}[{}]@{}", summary.empty() ? "" : ", ", id.first, id.second,
                           st.stored_next ? std::to_string(*st.stored_next) : std::string("beginning"));
  }
  rd_kafka_resp_err_t e = rd_kafka_assign(rk_, parts);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    throw Error(ErrorKind::kSink, std::string("cannot assign the partitions: ") + rd_kafka_err2str(e));
  log::info("assigned {} partitions, from the offsets stored in {}: {}", parts->cnt, options_.target, summary);
}

void Consumer::on_revoke(rd_kafka_topic_partition_list_t* parts) {
  // Buffered records of a revoked partition were never applied: the next owner reads them again.
  for (int i = 0; i < parts->cnt; ++i) partitions_.erase({parts->elems[i].topic, parts->elems[i].partition});
  rd_kafka_assign(rk_, nullptr);
  log::info("revoked {} partitions", parts->cnt);
}

void Consumer::poll(std::chrono::milliseconds wait) {
  rd_kafka_message_t* m = rd_kafka_consumer_poll(rk_, static_cast<int>(wait.count()));
  for (size_t n = 0; m; ++n) {
    try {
      handle(m);
    } catch (...) {
      rd_kafka_message_destroy(m);
      throw;
    }
    rd_kafka_message_destroy(m);
    if (callback_error_ || n >= 20000) break;
    m = rd_kafka_consumer_poll(rk_, 0);
  }
  if (callback_error_) std::rethrow_exception(std::exchange(callback_error_, nullptr));
}

void Consumer::handle(rd_kafka_message_t* m) {
  const char* topic = m->rkt ? rd_kafka_topic_name(m->rkt) : "";
  auto st = partitions_.find({topic, m->partition});
  if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
    if (st != partitions_.end()) st->second.at_eof = true;
    return;
  }
  if (m->err) {
    char fatal[256];
    if (rd_kafka_fatal_error(rk_, fatal, sizeof fatal) != RD_KAFKA_RESP_ERR_NO_ERROR)
      throw Error(ErrorKind::kSink, std::string("Kafka consumer failed: ") + fatal);
    if (m->err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      if (!warned_missing_topic_[topic]) log::warn("topic {} does not exist yet; waiting for it", topic);
      warned_missing_topic_[topic] = true;
      return;
    }
    // Broker restarts and leader moves are retried by librdkafka; say so now and then.
    auto now = std::chrono::steady_clock::now();
    if (now - last_kafka_warning_ > std::chrono::seconds(10)) {
      log::warn("Kafka: {} (retrying)", rd_kafka_message_errstr(m));
      last_kafka_warning_ = now;
    }
    return;
  }
  if (st == partitions_.end()) return;  // fetched before a revoke
  st->second.buffer.push_back(parse_record(m, table_by_topic_.at(topic)));
  st->second.at_eof = false;
}

size_t Consumer::buffered() const {
  size_t n = 0;
  for (const auto& [id, st] : partitions_) n += st.buffer.size();
  return n;
}

bool Consumer::all_partitions_ready() const {
  for (const auto& [id, st] : partitions_)
    if (st.buffer.empty() && !st.at_eof) return false;
  return !partitions_.empty();
}

Batch Consumer::next_batch(size_t max) const {
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
  const int64_t settled_before = now_ms - options_.order_settle.count();
  struct Cursor {
    const PartitionId* id;
    const PartitionState* st;
    size_t taken = 0;
    std::optional<Position> last_known() const {
      if (taken > 0) return st->buffer[taken - 1].position;
      return st->applied;
    }
  };
  std::vector<Cursor> cursors;
  for (const auto& [id, st] : partitions_) cursors.push_back({&id, &st});
  Batch batch;
  while (batch.records.size() < max) {
    Cursor* best = nullptr;
    for (auto& c : cursors)
      if (c.taken < c.st->buffer.size() &&
          (!best || c.st->buffer[c.taken].position < best->st->buffer[best->taken].position))
        best = &c;
    if (!best) break;
    const LoaderRecord& next = best->st->buffer[best->taken];
    // A partition with nothing buffered may still deliver anything after what it last showed.
    bool blocked = false;
    for (const auto& c : cursors)
      if (c.taken == c.st->buffer.size() && (!c.last_known() || *c.last_known() < next.position) &&
          (!c.st->at_eof || next.produced_ms > settled_before))
        blocked = true;
    if (blocked) break;
    batch.records.push_back(&best->st->buffer[best->taken]);
    ++best->taken;
  }
  for (const auto& c : cursors) {
    if (c.taken == 0) continue;
    const LoaderRecord& last = c.st->buffer[c.taken - 1];
    batch.partitions.push_back({.partition = *c.id, .records = c.taken, .expected_next = c.st->stored_next,
                                .next_offset = last.offset + 1, .last = last.position,
                                .applied_before = c.st->applied});
  }
  return batch;
}

void Consumer::committed(const Batch& batch) {
  rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(static_cast<int>(batch.partitions.size()));
  for (const auto& adv : batch.partitions) {
    auto it = partitions_.find(adv.partition);
    if (it == partitions_.end()) continue;
    PartitionState& st = it->second;
    for (size_t i = 0; i < adv.records && !st.buffer.empty(); ++i) st.buffer.pop_front();
    st.stored_next = adv.next_offset;
    st.applied = adv.last;
    rd_kafka_topic_partition_list_add(offsets, adv.partition.first.c_str(), adv.partition.second)->offset =
        adv.next_offset;
  }
  if (offsets->cnt > 0) rd_kafka_commit(rk_, offsets, /*async=*/1);
  rd_kafka_topic_partition_list_destroy(offsets);
}

}  // namespace tombsync::loader
