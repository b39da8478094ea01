// Kafka's default key hash, as the Java client computes it, so tombsync can state (and tests can
// check) which partition a key lands on.
//
// Definition: MurmurHash2 (Austin Appleby), the endian-neutral variant, with Kafka's parameters:
// seed 0x9747b28c, m = 0x5bd1e995, r = 24, input read as little-endian 32-bit words, the 1-3 tail
// bytes mixed in before the final avalanche. The Java client's default partitioner then picks
// `(murmur2(key) & 0x7fffffff) % partitions` for a non-null key (Utils.toPositive drops the sign
// bit; it is not Math.abs). librdkafka's `murmur2_random` partitioner does the same.
#pragma once

#include "schemas/record.h"

#include <cstdint>
#include <string_view>

namespace tombsync {

// The 32-bit hash of `bytes`. The Java client returns the same bits as a signed int.
uint32_t murmur2(std::string_view bytes);

// The partition the Java client's default partitioner (and librdkafka's murmur2_random) picks
// for a non-null `key` on a topic with `partitions` partitions. `partitions` must be > 0.
KafkaPartition murmur2_partition(std::string_view key, int partitions);

}  // namespace tombsync
