#include "agent/stream/ledger_row_codec.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <optional>

namespace tombsync {
namespace {

void put_varint(std::string& out, uint64_t v) {
  do {
    unsigned char b = v & 0x7f;
    v >>= 7;
    if (v != 0) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v != 0);
}

bool is_int(ColumnType t) { return t == ColumnType::kInt16 || t == ColumnType::kInt32 || t == ColumnType::kInt64; }
bool is_float(ColumnType t) { return t == ColumnType::kFloat32 || t == ColumnType::kFloat64; }

// A bounds-checked reader over an encoded row.
struct Reader {
  std::string_view in;
  size_t at = 0;
  std::optional<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at >= in.size()) return std::nullopt;
      const auto b = static_cast<unsigned char>(in[at++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return std::nullopt;
  }
  std::optional<std::string_view> bytes() {
    auto n = varint();
    if (!n || *n > in.size() - at) return std::nullopt;
    auto s = in.substr(at, *n);
    at += *n;
    return s;
  }
  std::optional<char> byte() {
    if (at >= in.size()) return std::nullopt;
    return in[at++];
  }
};

// The stored value `kind` (+ its bytes) as a Datum of column type `type`; unset when it does not fit.
std::optional<Datum> value_of(ColumnType type, char kind, Reader& r, bool& bad) {
  Datum d;
  if (kind == 'n') return Datum::null();
  d.state = Datum::State::kPresent;
  if (kind == 'i') {
    auto v = r.varint();
    if (!v) return bad = true, std::nullopt;
    d.i = static_cast<int64_t>((*v >> 1) ^ (~(*v & 1) + 1));
    if (!is_int(type)) return std::nullopt;
    return d;
  }
  if (kind == 'T' || kind == 'F') {
    d.b = kind == 'T';
    if (type != ColumnType::kBool) return std::nullopt;
    return d;
  }
  if (kind != 't') return bad = true, std::nullopt;
  auto text = r.bytes();
  if (!text) return bad = true, std::nullopt;
  if (is_int(type) || type == ColumnType::kBool) return std::nullopt;
  d.text = std::string(*text);
  if (is_float(type)) {
    if (d.text == "NaN") d.d = std::numeric_limits<double>::quiet_NaN();
    else if (d.text == "Infinity") d.d = std::numeric_limits<double>::infinity();
    else if (d.text == "-Infinity") d.d = -std::numeric_limits<double>::infinity();
    else if (auto [end, ec] = std::from_chars(d.text.data(), d.text.data() + d.text.size(), d.d);
             ec != std::errc() || end != d.text.data() + d.text.size())
      return std::nullopt;
  }
  return d;
}

}  // namespace

void encode_ledger_row(const TableSchema& table, const std::vector<Datum>& row, std::string& out) {
  out.clear();
  out.push_back('\x01');
  size_t n = 0;
  for (size_t c = 0; c < row.size() && c < table.columns.size(); ++c)
    n += row[c].state == Datum::State::kNull || row[c].present();
  put_varint(out, n);
  for (size_t c = 0; c < row.size() && c < table.columns.size(); ++c) {
    const Datum& d = row[c];
    if (d.state != Datum::State::kNull && !d.present()) continue;
    put_varint(out, table.columns[c].name.size());
    out.append(table.columns[c].name);
    put_varint(out, table.columns[c].type_oid);
    const ColumnType t = table.columns[c].type;
    if (d.state == Datum::State::kNull) {
      out.push_back('n');
    } else if (is_int(t)) {
      out.push_back('i');
      put_varint(out, (static_cast<uint64_t>(d.i) << 1) ^ static_cast<uint64_t>(d.i >> 63));
    } else if (t == ColumnType::kBool) {
      out.push_back(d.b ? 'T' : 'F');
    } else {
      out.push_back('t');
      put_varint(out, d.text.size());
      out.append(d.text);
    }
  }
}

size_t fill_from_ledger_row(const TableSchema& table, std::string_view encoded, std::vector<Datum>& row) {
  Reader r{encoded};
  if (r.byte() != '\x01') return 0;
  auto n = r.varint();
  if (!n) return 0;
  std::vector<std::pair<size_t, Datum>> found;  // applied only when the whole value parses
  size_t guess = 0;                              // the same schema: stored column k is column k
  for (uint64_t k = 0; k < *n; ++k) {
    auto name = r.bytes();
    auto oid = name ? r.varint() : std::nullopt;
    auto kind = oid ? r.byte() : std::nullopt;
    if (!kind) return 0;
    size_t c = guess < table.columns.size() && table.columns[guess].name == *name ? guess : table.columns.size();
    for (size_t j = 0; c == table.columns.size() && j < table.columns.size(); ++j)
      if (table.columns[j].name == *name) c = j;
    bool bad = false;
    auto d = value_of(c < table.columns.size() ? table.columns[c].type : ColumnType::kOther, *kind, r, bad);
    if (bad) return 0;
    guess = c + 1;
    // A column dropped since, or of another type now.
    if (c >= row.size() || !d || table.columns[c].type_oid != *oid) continue;
    const auto s = row[c].state;
    if (s == Datum::State::kUnchanged || s == Datum::State::kAbsent) found.emplace_back(c, std::move(*d));
  }
  if (r.at != encoded.size()) return 0;
  for (auto& [c, d] : found) row[c] = std::move(d);
  return found.size();
}

bool has_gaps(const std::vector<Datum>& row) {
  for (const auto& d : row)
    if (d.state == Datum::State::kUnchanged || d.state == Datum::State::kAbsent) return true;
  return false;
}

}  // namespace tombsync
