#include "snapshotter.h"

#include <fmt/format.h>

#include <algorithm>
#include <random>
#include <sstream>

#include "error.h"
#include "log.h"
#include "type_mapping.h"

namespace tombsync {
namespace {

constexpr const char* kPrefix = "tombsync";

// Identity of a key, comparable between stream rows and snapshot rows (both
// decoded from Postgres text by the same type mapping).
std::optional<std::string> key_signature(const std::vector<Datum>& row, const std::vector<size_t>& key_indexes) {
  std::string sig;
  for (auto i : key_indexes) {
    const Datum& d = row[i];
    if (d.state == Datum::State::kAbsent || d.state == Datum::State::kUnchanged) return std::nullopt;
    sig += static_cast<char>('0' + static_cast<int>(d.state));
    sig += std::to_string(d.i);
    sig += d.b ? 't' : 'f';
    sig += d.text;
    sig += '\x1f';
  }
  return sig;
}

}  // namespace

struct Snapshotter::Table {
  pg::ResolvedTable resolved;
  std::shared_ptr<TableSchema> schema;
  std::string select_first;  // the first chunk
  std::string select_after;  // later chunks: WHERE (key) > ($1, ...)
  size_t key_count = 0;
  std::vector<size_t> key_positions;  // of the key columns in the SELECT list
  SnapshotProgress progress;                          // as persisted
  std::optional<std::vector<std::string>> next_after;  // where the next chunk starts (may be ahead of progress)
  bool read_all = false;       // the last chunk was read; done once it is acknowledged
  uint64_t rows_emitted = 0;   // by this run
  uint64_t rows_at_start = 0;  // persisted rows when this run began
  double estimate = 0;         // pg_class.reltuples
  std::optional<std::chrono::steady_clock::time_point> started;
};

struct Snapshotter::Chunk {
  uint64_t id = 0;
  size_t table = 0;
  bool in_window = false;  // the low watermark was seen
  bool emitted = false;    // the high watermark was seen and the rows emitted
  Lsn commit_lsn;          // of the high watermark's transaction
  std::vector<std::vector<Datum>> rows;
  std::vector<bool> dropped;
  std::unordered_map<std::string, size_t> by_key;
  std::optional<std::vector<std::string>> last_key;  // Postgres text of the last row's key
  bool last_chunk = false;
  uint64_t emitted_rows = 0;
};

Snapshotter::Snapshotter(const Config& config, const std::string& slot, CursorStore& store,
                         const std::vector<pg::ResolvedTable>& tables,
                         const std::unordered_map<uint32_t, std::string>& type_names)
    : config_(config), slot_(slot), store_(store), type_names_(type_names), nonce_(std::random_device{}()) {
  nonce_ = (nonce_ << 32) ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (const auto& resolved : tables) {
    const TableConfig* tc = config_.find_table(resolved.schema, resolved.table);
    if (tc == nullptr || config_.snapshot_for(*tc) == SnapshotMode::kNever) continue;
    auto progress = store_.load_snapshot(slot_, resolved.qualified());
    if (progress && progress->done) continue;
    Table t;
    t.resolved = resolved;
    t.progress = progress.value_or(SnapshotProgress{});
    t.next_after = t.progress.last_key;
    t.rows_at_start = t.progress.rows;
    if (resolved.key_columns.empty())
      throw Error(ErrorKind::kSource, "keyless table " + resolved.qualified() + " has no key to page its snapshot "
                                      "by; set snapshot: never, or give it key_columns");
    tables_.push_back(std::move(t));
  }
  for (auto& t : tables_) prepare(t);
}

void Snapshotter::prepare(Table& t) {
  if (!conn_) conn_ = std::make_unique<pg::PgConnection>(config_.source.dsn, pg::PgConnection::Mode::kSql);
  auto& r = t.resolved;
  auto cols = conn_->exec_params(
      "SELECT a.attname, a.atttypid, a.atttypmod, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
      "t.typname, n.nspname FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
      "JOIN pg_namespace n ON n.oid = t.typnamespace WHERE a.attrelid = $1::oid AND a.attnum > 0 "
      "AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum",
      {std::to_string(r.oid)}, "reading the columns of " + r.qualified() + " for its snapshot");
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
    auto known = type_names_.find(c.type_oid);
    c.type_name = known != type_names_.end() ? known->second
                                            : pg::value_at(cols.get(), i, 6).value_or("") + "." +
                                                  pg::value_at(cols.get(), i, 5).value_or("");
    c.type = pg::column_type_for_oid(c.type_oid);
    cast_types.push_back(pg::value_at(cols.get(), i, 3).value_or("text"));
    not_null.push_back(pg::value_at(cols.get(), i, 4) == "t");
    names.push_back(c.name);
    schema->columns.push_back(std::move(c));
  }
  std::string key_list, params, select_list;
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
    t.key_positions.push_back(at);
    key_list += (key_list.empty() ? "" : ", ") + pg::quote_ident(key);
    params += (params.empty() ? "$" : ", $") + std::to_string(t.key_positions.size()) + "::" + cast_types[at];
  }
  t.key_count = r.key_columns.size();
  std::string from = " FROM " + pg::quote_ident(r.schema) + "." + pg::quote_ident(r.table);
  std::string tail = " ORDER BY " + key_list + " LIMIT " + std::to_string(config_.snapshot_chunk_rows);
  t.select_first = "SELECT " + select_list + from + tail;
  t.select_after = "SELECT " + select_list + from + " WHERE (" + key_list + ") > (" + params + ")" + tail;
  t.schema = std::move(schema);
  auto est = conn_->exec_params("SELECT greatest(reltuples, 0)::float8 FROM pg_class WHERE oid = $1::oid",
                                {std::to_string(r.oid)}, "estimating the size of " + r.qualified());
  t.estimate = std::stod(pg::value_at(est.get(), 0, 0).value_or("0"));
  log::info("snapshot of {} {}: about {:.0f} rows, {} rows per chunk", r.qualified(),
            t.progress.last_key ? fmt::format("resumes after {} rows", t.progress.rows) : std::string("starts"),
            t.estimate, config_.snapshot_chunk_rows);
}

bool Snapshotter::is_reading(uint32_t relid) const {
  return std::any_of(tables_.begin(), tables_.end(),
                     [&](const Table& t) { return t.resolved.oid == relid && !t.progress.done; });
}

bool Snapshotter::add_table(const pg::ResolvedTable& resolved) {
  for (auto& t : tables_)
    if (t.resolved.oid == resolved.oid && !t.progress.done) return false;  // already being read
  tables_.erase(std::remove_if(tables_.begin(), tables_.end(),
                               [&](const Table& t) { return t.resolved.oid == resolved.oid; }),
                tables_.end());
  if (chunk_) return false;  // indexes into tables_ must not move under a chunk: retried later
  Table t;
  t.resolved = resolved;
  if (resolved.key_columns.empty())
    throw Error(ErrorKind::kSource, "keyless table " + resolved.qualified() + " cannot be snapshotted");
  prepare(t);
  tables_.push_back(std::move(t));
  return true;
}

Snapshotter::~Snapshotter() = default;

Snapshotter::Table* Snapshotter::next_table() {
  for (auto& t : tables_)
    if (!t.read_all) return &t;
  return nullptr;
}

bool Snapshotter::wants_chunk() const {
  if (chunk_ || !confirmations_.empty()) return false;
  return std::any_of(tables_.begin(), tables_.end(), [](const Table& t) { return !t.read_all; });
}

void Snapshotter::emit_watermark(const std::string& kind) {
  // Transactional, so the watermark takes its place in commit order in the stream.
  auto content = fmt::format("snapshot {} {} {:x}-{}", kind, slot_, nonce_, chunk_->id);
  conn_->exec_params("SELECT pg_logical_emit_message(true, $1, $2)", {kPrefix, content},
                     "writing the snapshot's " + kind + " watermark");
}

void Snapshotter::start_chunk() {
  Table* t = next_table();
  if (t == nullptr || chunk_) return;
  chunk_ = std::make_unique<Chunk>();
  chunk_->id = next_chunk_id_++;
  chunk_->table = static_cast<size_t>(t - tables_.data());
  if (!t->started) t->started = std::chrono::steady_clock::now();
  emit_watermark("low");
  pg::PgResult r = t->next_after ? conn_->exec_params(t->select_after, *t->next_after,
                                                      "reading a snapshot chunk of " + t->resolved.qualified())
                                 : conn_->exec(t->select_first, "reading a snapshot chunk of " + t->resolved.qualified());
  emit_watermark("high");
  const int rows = PQntuples(r.get());
  const auto& cols = t->schema->columns;
  chunk_->rows.reserve(static_cast<size_t>(rows));
  for (int i = 0; i < rows; ++i) {
    std::vector<Datum> row;
    row.reserve(cols.size());
    for (size_t c = 0; c < cols.size(); ++c) {
      int ci = static_cast<int>(c);
      if (PQgetisnull(r.get(), i, ci)) {
        row.push_back(Datum::null());
      } else {
        row.push_back(pg::decode_text_value(
            cols[c].type, std::string_view(PQgetvalue(r.get(), i, ci), static_cast<size_t>(PQgetlength(r.get(), i, ci)))));
      }
    }
    if (auto sig = key_signature(row, t->schema->key_indexes)) chunk_->by_key.emplace(*sig, chunk_->rows.size());
    chunk_->rows.push_back(std::move(row));
  }
  chunk_->dropped.assign(chunk_->rows.size(), false);
  if (rows > 0) {
    std::vector<std::string> last;
    for (auto pos : t->key_positions)
      last.push_back(pg::value_at(r.get(), rows - 1, static_cast<int>(pos)).value_or(""));
    chunk_->last_key = std::move(last);
  } else {
    chunk_->last_key = t->next_after;
  }
  chunk_->last_chunk = rows < config_.snapshot_chunk_rows;
}

void Snapshotter::on_change(const ChangeEvent& e) {
  if (!chunk_ || !chunk_->in_window || chunk_->emitted) return;
  const Table& t = tables_[chunk_->table];
  if (e.table->relid != t.resolved.oid) return;
  if (e.op == Op::kTruncate) {
    chunk_->dropped.assign(chunk_->dropped.size(), true);
    return;
  }
  auto sig = key_signature(e.row, e.table->key_indexes);
  if (!sig) return;
  auto it = chunk_->by_key.find(*sig);
  if (it != chunk_->by_key.end()) chunk_->dropped[it->second] = true;  // the stream's value is newer
}

void Snapshotter::on_message(const pg::LogicalMsg& m, const pg::TxnBegin& txn, Lsn wal_start,
                             std::vector<ChangeEvent>& out) {
  if (!chunk_ || m.prefix != kPrefix) return;
  auto mine = [&](const char* kind) {
    return m.content == fmt::format("snapshot {} {} {:x}-{}", kind, slot_, nonce_, chunk_->id);
  };
  if (mine("low")) {
    chunk_->in_window = true;
    return;
  }
  if (!mine("high") || !chunk_->in_window || chunk_->emitted) return;
  Table& t = tables_[chunk_->table];
  for (size_t i = 0; i < chunk_->rows.size(); ++i) {
    if (chunk_->dropped[i]) continue;
    ChangeEvent e;
    e.op = Op::kRead;
    e.table = t.schema;
    e.row = std::move(chunk_->rows[i]);
    e.source.lsn = wal_start;
    e.source.commit_lsn = txn.commit_lsn;
    e.source.xid = txn.xid;
    e.source.commit_ts_us = txn.commit_ts_us;
    out.push_back(std::move(e));
    ++chunk_->emitted_rows;
  }
  chunk_->rows.clear();
  chunk_->emitted = true;
  chunk_->commit_lsn = txn.commit_lsn;
  t.rows_emitted += chunk_->emitted_rows;
}

void Snapshotter::on_commit(Lsn commit_lsn, Lsn end_lsn) {
  if (!chunk_ || !chunk_->emitted || chunk_->commit_lsn != commit_lsn) return;
  Table& t = tables_[chunk_->table];
  SnapshotProgress p;
  p.done = chunk_->last_chunk;
  p.last_key = chunk_->last_key;
  p.rows = t.rows_at_start + t.rows_emitted;
  confirmations_.push_back(Confirmation{end_lsn, chunk_->table, p});
  t.next_after = chunk_->last_key;
  if (chunk_->last_chunk) t.read_all = true;
  chunk_.reset();
}

void Snapshotter::on_acknowledged(Lsn acked) {
  while (!confirmations_.empty() && confirmations_.front().end_lsn <= acked) {
    auto& c = confirmations_.front();
    Table& t = tables_[c.table];
    store_.save_snapshot(slot_, t.resolved.qualified(), c.progress);
    t.progress = c.progress;
    if (c.progress.done) {
      double secs = t.started ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *t.started).count() : 0;
      log::info("snapshot of {} done: {} rows ({} in this run, {:.1f} s, {:.0f} rows/s), confirmed at {}",
                t.resolved.qualified(), c.progress.rows, t.rows_emitted, secs,
                secs > 0 ? static_cast<double>(t.rows_emitted) / secs : 0.0, c.end_lsn.str());
    }
    confirmations_.pop_front();
  }
}

bool Snapshotter::finished() const {
  return std::all_of(tables_.begin(), tables_.end(), [](const Table& t) { return t.progress.done; });
}

std::vector<std::string> Snapshotter::progress_lines() {
  std::vector<std::string> lines;
  auto now = std::chrono::steady_clock::now();
  if (now < next_progress_) return lines;
  next_progress_ = now + std::chrono::seconds(5);
  for (const auto& t : tables_) {
    if (!t.started || t.progress.done) continue;
    double secs = std::chrono::duration<double>(now - *t.started).count();
    double rate = secs > 0 ? static_cast<double>(t.rows_emitted) / secs : 0;
    uint64_t done = t.rows_at_start + t.rows_emitted;
    double total = std::max(t.estimate, static_cast<double>(done));
    std::string eta = rate > 0 ? fmt::format("{:.0f} s", (total - static_cast<double>(done)) / rate) : "unknown";
    lines.push_back(fmt::format("snapshot of {}: {} of ~{:.0f} rows ({:.0f}%), {:.0f} rows/s, ETA {}",
                                t.resolved.qualified(), done, total,
                                total > 0 ? 100.0 * static_cast<double>(done) / total : 100.0, rate, eta));
  }
  return lines;
}

}  // namespace tombsync
