#include "connectors/postgres/snapshot_reader.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>

#include "base/error.h"
#include "connectors/postgres/type_mapping.h"

namespace tombsync {
namespace {

std::string one_line(const char* message) { return libpq_message_line(message); }

struct CopyBuffer {
  char* data = nullptr;
  ~CopyBuffer() { reset(); }
  void reset(char* p = nullptr) {
    if (data) PQfreemem(data);
    data = p;
  }
};

// Calls `field(index, text, is_null)` for each tab-separated field of a COPY text row.
template <class Fn>
size_t for_each_field(std::string_view line, Fn&& field) {
  size_t index = 0;
  size_t start = 0;
  while (true) {
    size_t tab = line.find('\t', start);
    std::string_view f = line.substr(start, tab == std::string_view::npos ? std::string_view::npos : tab - start);
    field(index++, f, f == "\\N");
    if (tab == std::string_view::npos) break;
    start = tab + 1;
  }
  return index;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string libpq_message_line(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  std::replace(s.begin(), s.end(), '\n', ' ');
  return s;
}

// COPY's text format (https://www.postgresql.org/docs/current/sql-copy.html,
// "Text Format"): \b \f \n \r \t \v, \digits (octal), \xdigits (hex), and a
// backslash before any other character stands for that character.
void unescape_copy_field(std::string_view field, std::string& out) {
  out.clear();
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    char c = field[i];
    if (c != '\\' || i + 1 == field.size()) {
      out += c;
      continue;
    }
    char e = field[++i];
    switch (e) {
      case 'b': out += '\b'; break;
      case 'f': out += '\f'; break;
      case 'n': out += '\n'; break;
      case 'r': out += '\r'; break;
      case 't': out += '\t'; break;
      case 'v': out += '\v'; break;
      case 'x': {
        int v = 0, n = 0;
        while (n < 2 && i + 1 < field.size() && hex_value(field[i + 1]) >= 0) v = v * 16 + hex_value(field[++i]), ++n;
        if (n == 0) out += 'x';
        else out += static_cast<char>(v);
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          int v = e - '0', n = 1;
          while (n < 3 && i + 1 < field.size() && field[i + 1] >= '0' && field[i + 1] <= '7') v = v * 8 + (field[++i] - '0'), ++n;
          out += static_cast<char>(v);
        } else {
          out += e;
        }
    }
  }
}

void parse_copy_row(std::string_view line, const TableSchema& schema, std::vector<Datum>& row, std::string& scratch) {
  const auto& cols = schema.columns;
  row.clear();
  row.reserve(cols.size());
  size_t n = for_each_field(line, [&](size_t i, std::string_view f, bool is_null) {
    if (i >= cols.size()) return;
    if (is_null) {
      row.push_back(Datum::null());
    } else if (f.find('\\') == std::string_view::npos) {
      row.push_back(pg::decode_text_value(cols[i].type, f));
    } else {
      unescape_copy_field(f, scratch);
      row.push_back(pg::decode_text_value(cols[i].type, scratch));
    }
  });
  if (n != cols.size())
    throw Error(ErrorKind::kProtocol, fmt::format("a snapshot row of {} has {} fields, the table {} columns; was the "
                                                  "table altered during the snapshot? Restart the agent",
                                                  schema.qualified(), n, cols.size()));
}

SnapshotReader::SnapshotReader(const std::string& dsn) : conn_(dsn, pg::PgConnection::Mode::kSql) {
  conn_.exec(std::string("SET application_name = '") + kApplicationName + "'", "naming the snapshot connection");
}

SnapshotReader::~SnapshotReader() = default;

void SnapshotReader::cancel() {
  // Shutting the socket down ends a blocked read at once and needs no network,
  // unlike PQcancel, which connects to the server (and hangs while it is
  // unreachable). The backend sees the connection go and ends its query.
  int fd = PQsocket(conn_.raw());
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
}

std::string SnapshotReader::literal(const std::string& text) {
  char* q = PQescapeLiteral(conn_.raw(), text.data(), text.size());
  if (q == nullptr)
    throw Error(ErrorKind::kSource, "quoting a snapshot key failed: " + one_line(PQerrorMessage(conn_.raw())));
  std::string s(q);
  PQfreemem(q);
  return s;
}

SnapshotPlan SnapshotReader::plan(const pg::ResolvedTable& r, const std::unordered_map<uint32_t, std::string>& type_names,
                                  int chunk_rows) {
  auto cols = conn_.exec_params(
      "SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
      "t.typname, n.nspname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
      "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE a.attrelid = $1::oid AND a.attnum > 0 "
      "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
      {std::to_string(r.oid.value())}, "reading the columns of " + r.qualified() + " for its snapshot");
  auto schema = std::make_shared<TableSchema>();
  schema->relid = r.oid;
  schema->schema = r.schema;
  schema->table = r.table;
  std::vector<std::string> names, cast_types;
  std::vector<bool> not_null;
  for (int i = 0; i < PQntuples(cols.get()); ++i) {
    ColumnSpec c;
    c.name = pg::value_at(cols.get(), i, 0).value_or("");
    c.type_oid = static_cast<uint32_t>(std::stoul(pg::value_at(cols.get(), i, 1).value_or("0")));
    c.type_mod = std::stoi(pg::value_at(cols.get(), i, 2).value_or("-1"));
    auto known = type_names.find(c.type_oid);
    c.type_name = known != type_names.end() ? known->second
                                           : pg::value_at(cols.get(), i, 6).value_or("") + "." +
                                                 pg::value_at(cols.get(), i, 5).value_or("");
    c.type = pg::column_type_for_oid(c.type_oid);
    cast_types.push_back(pg::value_at(cols.get(), i, 3).value_or("text"));
    not_null.push_back(pg::value_at(cols.get(), i, 4) == "t");
    names.push_back(c.name);
    schema->columns.push_back(std::move(c));
  }
  SnapshotPlan p;
  std::string select_list;
  for (size_t i = 0; i < names.size(); ++i) select_list += (i ? ", " : "") + pg::quote_ident(names[i]);
  for (const auto& key : r.key_columns) {
    auto at = static_cast<size_t>(std::find(names.begin(), names.end(), key) - names.begin());
    if (at == names.size())
      throw Error(ErrorKind::kSource, "key column " + key + " of " + r.qualified() + " is not in the table");
    if (!not_null[at])
      throw Error(ErrorKind::kSource, "key column " + key + " of " + r.qualified() +
                                          " allows NULL, so a snapshot paged by it would skip rows; make it "
                                          "NOT NULL or set snapshot: never");
    schema->columns[at].key = true;
    schema->key_indexes.push_back(at);
    p.key_positions.push_back(at);
    p.key_types.push_back(cast_types[at]);
    p.key_list += (p.key_list.empty() ? "" : ", ") + pg::quote_ident(key);
  }
  p.select = "SELECT " + select_list + " FROM " + pg::quote_ident(r.schema) + "." + pg::quote_ident(r.table);
  p.chunk_rows = chunk_rows;
  auto est = conn_.exec_params("SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = $1::oid",
                               {std::to_string(r.oid.value())}, "estimating the size of " + r.qualified());
  p.estimate = std::stod(pg::value_at(est.get(), 0, 0).value_or("0"));
  p.schema = std::move(schema);
  return p;
}

void SnapshotReader::watermark(const std::string& content) {
  // Transactional, so the watermark takes its place in commit order in the stream.
  conn_.exec_params("SELECT pg_logical_emit_message(true, 'tombsync', $1)", {content},
                    "writing a snapshot watermark");
}

void SnapshotReader::read(const SnapshotPlan& plan, const std::optional<std::vector<std::string>>& after,
                          ChunkRows& out) {
  // COPY takes no parameters, so the keyset bound is written as typed literals.
  std::string sql = "COPY (" + plan.select;
  if (after) {
    if (after->size() != plan.key_types.size())
      throw Error(ErrorKind::kState, "the stored snapshot position of " + plan.schema->qualified() + " has " +
                                         std::to_string(after->size()) + " key values, the key " +
                                         std::to_string(plan.key_types.size()) +
                                         " columns; snapshot it again with tombsync snapshot --table");
    sql += " WHERE (" + plan.key_list + ") > (";
    for (size_t i = 0; i < after->size(); ++i)
      sql += (i ? ", " : "") + literal((*after)[i]) + "::" + plan.key_types[i];
    sql += ")";
  }
  sql += " ORDER BY " + plan.key_list + " LIMIT " + std::to_string(plan.chunk_rows) + ") TO STDOUT";
  const std::string what = "reading a snapshot chunk of " + plan.schema->qualified();

  pg::PgResult started(PQexec(conn_.raw(), sql.c_str()));
  if (!started || PQresultStatus(started.get()) != PGRES_COPY_OUT)
    throw Error(ErrorKind::kSource, what + " failed (" + conn_.describe() + "): " + one_line(PQerrorMessage(conn_.raw())));
  out.rows.clear();
  out.rows.reserve(static_cast<size_t>(plan.chunk_rows));
  std::string scratch;
  CopyBuffer line, last;
  size_t last_len = 0;
  int len;
  while ((len = PQgetCopyData(conn_.raw(), &line.data, 0)) > 0) {
    std::string_view text(line.data, static_cast<size_t>(len));
    if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
    out.rows.emplace_back();
    parse_copy_row(text, *plan.schema, out.rows.back(), scratch);
    last.reset(line.data);  // kept for the last key; freed when the next row arrives
    last_len = text.size();
    line.data = nullptr;
  }
  if (len == -2)
    throw Error(ErrorKind::kSource, what + " failed (" + conn_.describe() + "): " + one_line(PQerrorMessage(conn_.raw())));
  pg::PgResult done(PQgetResult(conn_.raw()));
  if (!done || PQresultStatus(done.get()) != PGRES_COMMAND_OK)
    throw Error(ErrorKind::kSource, what + " failed (" + conn_.describe() + "): " + one_line(PQerrorMessage(conn_.raw())));
  while (pg::PgResult extra{PQgetResult(conn_.raw())}) {
  }
  out.last_key.reset();
  if (last.data) {
    std::string_view text(last.data, last_len);
    std::vector<std::string> fields(plan.schema->columns.size());
    for_each_field(text, [&](size_t i, std::string_view f, bool) {
      if (i < fields.size()) unescape_copy_field(f, fields[i]);
    });
    std::vector<std::string> key;
    for (auto pos : plan.key_positions) key.push_back(std::move(fields[pos]));
    out.last_key = std::move(key);
  }
}

}  // namespace tombsync
