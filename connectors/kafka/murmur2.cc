#include "connectors/kafka/murmur2.h"

#include <cstddef>

namespace tombsync {

uint32_t murmur2(std::string_view bytes) {
  constexpr uint32_t kSeed = 0x9747b28c;
  constexpr uint32_t kM = 0x5bd1e995;
  constexpr int kR = 24;

  // Bytes are unsigned here; Java masks each signed byte with 0xff, which is the same thing.
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  uint32_t h = kSeed ^ static_cast<uint32_t>(n);

  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t k = static_cast<uint32_t>(p[i]) | static_cast<uint32_t>(p[i + 1]) << 8 |
                 static_cast<uint32_t>(p[i + 2]) << 16 | static_cast<uint32_t>(p[i + 3]) << 24;
    k *= kM;
    k ^= k >> kR;
    k *= kM;
    h *= kM;
    h ^= k;
  }

  switch (n - i) {
    case 3:
      h ^= static_cast<uint32_t>(p[i + 2]) << 16;
      [[fallthrough]];
    case 2:
      h ^= static_cast<uint32_t>(p[i + 1]) << 8;
      [[fallthrough]];
    case 1:
      h ^= static_cast<uint32_t>(p[i]);
      h *= kM;
      break;
    default:
      break;
  }

  h ^= h >> 13;
  h *= kM;
  h ^= h >> 15;
  return h;
}

KafkaPartition murmur2_partition(std::string_view key, int partitions) {
  return KafkaPartition(static_cast<int32_t>((murmur2(key) & 0x7fffffffu) % static_cast<uint32_t>(partitions)));
}

}  // namespace tombsync
