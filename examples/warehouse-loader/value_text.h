// JSON values of tombsync's row-shaped JSON back into Postgres input text,
// for the warehouse statements' parameters (docs/event-format.md "Type mapping").
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "examples/warehouse-loader/catalog.h"

namespace tombsync::loader {

// Text Postgres reads back as the same value; nullopt is SQL NULL.
std::optional<std::string> pg_input(const nlohmann::json& value, const Column& column);
// The statement placeholder for parameter n: decode($n, 'base64') for bytea, $n::<type> otherwise.
std::string placeholder(int n, const Column& column);

}  // namespace tombsync::loader
