// A value with a name the compiler checks: a relation OID cannot be passed
// where a Kafka partition is expected, nor Postgres' 2000-based clock where a
// Unix time is (the idea of redpanda's named_type). Construction is explicit,
// `value()` unwraps; comparison and hashing are the underlying type's.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>

namespace tombsync {

template <typename T, typename Tag>
class NamedType {
 public:
  using value_type = T;
  constexpr NamedType() = default;
  constexpr explicit NamedType(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  constexpr auto operator<=>(const NamedType&) const = default;

 private:
  T v_{};
};

}  // namespace tombsync

template <typename T, typename Tag>
struct std::hash<tombsync::NamedType<T, Tag>> {
  size_t operator()(const tombsync::NamedType<T, Tag>& v) const noexcept { return std::hash<T>{}(v.value()); }
};
