#include "agent/snapshot/snapshotter.h"

#include <fmt/format.h>
#include <pthread.h>

#include <algorithm>
#include <charconv>
#include <random>
#include <thread>
#include <unordered_set>

#include "agent/ops/job_progress.h"
#include "base/error.h"
#include "base/log.h"
#include "connectors/postgres/snapshot_reader.h"

namespace tombsync {
namespace {

constexpr std::string_view kPrefix = "tombsync";

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

// A watermark's content: "snapshot <low|high> <slot> <nonce>-<chunk id> <schema.table>".
struct WatermarkId {
  bool high = false;
  std::string_view slot;
  uint64_t nonce = 0;
  uint64_t chunk = 0;
};

std::optional<WatermarkId> parse_watermark(std::string_view s) {
  auto word = [&]() {
    size_t sp = s.find(' ');
    std::string_view w = s.substr(0, sp);
    s = sp == std::string_view::npos ? std::string_view() : s.substr(sp + 1);
    return w;
  };
  if (word() != "snapshot") return std::nullopt;
  WatermarkId id;
  std::string_view kind = word();
  if (kind != "low" && kind != "high") return std::nullopt;
  id.high = kind == "high";
  id.slot = word();
  std::string_view chunk = word();
  size_t dash = chunk.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto a = std::from_chars(chunk.data(), chunk.data() + dash, id.nonce, 16);
  auto b = std::from_chars(chunk.data() + dash + 1, chunk.data() + chunk.size(), id.chunk);
  if (a.ec != std::errc() || b.ec != std::errc() || b.ptr != chunk.data() + chunk.size()) return std::nullopt;
  return id;
}

}  // namespace

struct Snapshotter::Table {
  pg::ResolvedTable resolved;
  std::shared_ptr<const SnapshotPlan> plan;  // null until its columns are read (a table added later)
  SnapshotProgress progress;                           // as persisted
  std::optional<std::vector<std::string>> next_after;  // where the next chunk starts (ahead of progress)
  bool read_all = false;      // the last chunk was read; done once it is acknowledged
  bool reading = false;       // a chunk of it is being read (the next one needs its last key)
  int unsaved = 0;            // chunks started whose progress is not saved yet
  Reader* reader = nullptr;   // the reader it holds until its last chunk is read
  uint64_t rows_emitted = 0;  // by this run
  uint64_t rows_at_start = 0;  // persisted rows when this run began
  std::optional<std::chrono::steady_clock::time_point> started;
  bool swept = false;  // a reconciliation's last chunk was emitted: its sweep is the stream's
};

struct Snapshotter::Chunk {
  uint64_t id = 0;
  Table* table = nullptr;
  std::optional<std::vector<std::string>> after;  // where it starts
  // Stream side (pipeline thread).
  bool in_window = false;  // the low watermark was seen
  bool emitted = false;    // the high watermark was seen and the rows emitted
  bool truncated = false;  // a TRUNCATE in the window: the stream wins for every row
  std::unordered_set<std::string> changed;  // keys the stream changed in the window
  Lsn commit_lsn;                           // of the high watermark's transaction
  // Read side: written by the reader under mu_ before it writes the high
  // watermark, taken over by absorb() on the pipeline thread.
  bool ready = false;
  bool absorbed = false;
  ChunkRows result;
  std::shared_ptr<const SnapshotPlan> plan;  // the plan it was read with
  // Pipeline thread, after absorb().
  std::vector<std::vector<Datum>> rows;
  std::optional<std::vector<std::string>> last_key;
  bool last_chunk = false;
};

struct Snapshotter::Job {
  Chunk* chunk = nullptr;
  const pg::ResolvedTable* resolved = nullptr;
  std::shared_ptr<const SnapshotPlan> plan;  // null: read the table's columns first
  std::string low, high;                     // the watermarks' contents
};

struct Snapshotter::Reader {
  std::thread thread;
  std::condition_variable wake;
  std::optional<Job> job;                  // under mu_
  std::unique_ptr<SnapshotReader> conn;    // under mu_ (created by the thread on its first job)
  Table* table = nullptr;                  // pipeline thread: the table it reads
};

Snapshotter::Snapshotter(const Config& config, const std::string& slot, CursorStore& store,
                         const std::vector<pg::ResolvedTable>& tables,
                         const std::unordered_map<uint32_t, std::string>& type_names)
    : config_(config), slot_(slot), store_(store), type_names_(type_names), nonce_(std::random_device{}()) {
  nonce_ = (nonce_ << 32) ^ static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  for (int i = 0; i < config_.snapshot_max_connections; ++i) readers_.push_back(std::make_unique<Reader>());
  for (const auto& resolved : tables) {
    const TableConfig* tc = config_.find_table(resolved.schema, resolved.table);
    if (tc == nullptr) continue;
    auto progress = store_.load_snapshot(slot_, resolved.qualified());
    if (progress && progress->done) continue;
    // A reconciliation re-reads the table whatever its snapshot mode.
    if (progress && progress->reconcile_mark != 0 && !keeps_ledger(*tc, resolved)) end_reconcile(resolved, *progress);
    const bool reconciling = progress && progress->reconcile_mark != 0;
    if (!reconciling && config_.snapshot_for(*tc) == SnapshotMode::kNever) continue;
    if (resolved.key_columns.empty())
      throw Error(ErrorKind::kSource, "keyless table " + resolved.qualified() + " has no key to page its snapshot "
                                      "by; set snapshot: never, or give it key_columns");
    auto t = std::make_unique<Table>();
    t->resolved = resolved;
    t->progress = progress.value_or(SnapshotProgress{});
    t->next_after = t->progress.last_key;
    t->rows_at_start = t->progress.rows;
    tables_.push_back(std::move(t));
  }
  if (tables_.empty()) return;
  // Read every table's columns now, so a table that cannot be paged stops the
  // start; the connection then serves the first reader.
  auto conn = std::make_unique<SnapshotReader>(config_.source.dsn);
  for (auto& t : tables_) {
    t->plan = std::make_shared<SnapshotPlan>(conn->plan(t->resolved, type_names_, config_.snapshot_chunk_rows));
    log_start(*t);
  }
  readers_.front()->conn = std::move(conn);
}

Snapshotter::~Snapshotter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& r : readers_) {
      if (r->conn) r->conn->cancel();
      r->wake.notify_one();
    }
  }
  for (auto& r : readers_)
    if (r->thread.joinable()) r->thread.join();
}

// "snapshot of T", or for a reconciliation's re-read "reconcile of T (re-read)".
std::string Snapshotter::title(const Table& t) {
  if (t.progress.reconcile_mark == 0) return "snapshot of " + t.resolved.qualified();
  return "reconcile of " + t.resolved.qualified() + (t.progress.dry_run ? " (dry run, re-read)" : " (re-read)");
}

void Snapshotter::log_start(const Table& t) const {
  log::info("{} {}: about {:.0f} rows, {} rows per chunk", title(t),
            t.progress.last_key ? fmt::format("resumes after {} rows", t.progress.rows) : std::string("starts"),
            t.plan ? t.plan->estimate : 0.0, config_.snapshot_chunk_rows);
  if (t.progress.reconcile_mark != 0) publish_reading(t, 0, t.plan ? t.plan->estimate : 0.0);
}

void Snapshotter::publish_reading(const Table& t, double rate, double total) const {
  JobProgress p{.job = "reconcile", .table = t.resolved.qualified(), .lsn = "-", .running = true};
  p.done = t.rows_at_start + t.rows_emitted;
  p.total = std::max(p.done, static_cast<uint64_t>(total));
  p.rate = rate;
  p.eta_s = rate > 0 ? static_cast<int64_t>(static_cast<double>(p.total - p.done) / rate) : 0;
  p.elapsed_s = t.started ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *t.started).count() : 0;
  p.updated_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  p.phase = "reading";
  p.dry_run = t.progress.dry_run;
  p.request_id = t.progress.request_id;
  write_job_progress(config_.state_dir, p);
}

std::string Snapshotter::watermark(const char* kind, const Chunk& c) const {
  return fmt::format("snapshot {} {} {:x}-{} {}", kind, slot_, nonce_, c.id, c.table->resolved.qualified());
}

// Reader thread: one job (chunk) at a time. The rows are handed over before the
// high watermark is written, so they are there when the stream reaches it.
void Snapshotter::reader_loop(Reader& r) {
  pthread_setname_np(pthread_self(), "snapshot-read");  // its own line in per-thread CPU figures
  while (true) {
    Job job;
    SnapshotReader* conn = nullptr;
    {
      std::unique_lock lock(mu_);
      r.wake.wait(lock, [&] { return stopping_ || r.job.has_value(); });
      if (stopping_) return;
      job = std::move(*r.job);
      r.job.reset();
      conn = r.conn.get();
    }
    try {
      if (conn == nullptr) {
        auto fresh = std::make_unique<SnapshotReader>(config_.source.dsn);
        std::lock_guard lock(mu_);
        r.conn = std::move(fresh);
        conn = r.conn.get();
        if (stopping_) return;
      }
      auto plan = job.plan;
      if (!plan)
        plan = std::make_shared<SnapshotPlan>(conn->plan(*job.resolved, type_names_, config_.snapshot_chunk_rows));
      conn->watermark(job.low);
      ChunkRows rows;
      conn->read(*plan, job.chunk->after, rows);
      {
        std::lock_guard lock(mu_);
        job.chunk->result = std::move(rows);
        job.chunk->plan = std::move(plan);
        job.chunk->ready = true;
      }
      conn->watermark(job.high);
    } catch (...) {
      std::lock_guard lock(mu_);
      if (stopping_) return;  // a cancelled read
      if (!failure_) failure_ = std::current_exception();
      return;
    }
  }
}

void Snapshotter::check_readers() {
  std::lock_guard lock(mu_);
  if (failure_) std::rethrow_exception(failure_);
}

void Snapshotter::absorb(Chunk& c) {
  if (c.absorbed || !c.ready) return;
  c.absorbed = true;
  Table& t = *c.table;
  if (!t.plan) {
    t.plan = c.plan;
    log_start(t);
  }
  c.last_chunk = c.result.rows.size() < static_cast<size_t>(config_.snapshot_chunk_rows);
  c.last_key = c.result.last_key ? std::move(c.result.last_key) : c.after;
  c.rows = std::move(c.result.rows);
  t.next_after = c.last_key;
  t.reading = false;
  if (c.last_chunk) {
    t.read_all = true;
    if (t.reader) t.reader->table = nullptr;  // free for another table
    t.reader = nullptr;
  }
}

void Snapshotter::absorb_ready() {
  std::lock_guard lock(mu_);
  if (failure_) std::rethrow_exception(failure_);
  for (auto& [id, c] : chunks_) absorb(*c);
}

Snapshotter::Reader* Snapshotter::reader_for(const Table& t) const {
  if (t.reader) return t.reader;
  for (const auto& r : readers_)
    if (r->table == nullptr) return r.get();
  return nullptr;
}

Snapshotter::Table* Snapshotter::next_table(Reader*& reader) {
  if (held_ >= readers_.size()) return nullptr;
  for (auto& t : tables_) {
    if (t->read_all || t->reading || t->unsaved >= kMaxUnsavedChunks) continue;
    if ((reader = reader_for(*t)) != nullptr) return t.get();
  }
  return nullptr;
}

bool Snapshotter::wants_chunk() {
  absorb_ready();
  Reader* reader = nullptr;
  return next_table(reader) != nullptr;
}

void Snapshotter::start_chunk() {
  absorb_ready();
  Reader* reader = nullptr;
  while (Table* t = next_table(reader)) {
    auto c = std::make_unique<Chunk>();
    c->id = next_chunk_id_++;
    c->table = t;
    c->after = t->next_after;
    Job job{c.get(), &t->resolved, t->plan, watermark("low", *c), watermark("high", *c)};
    t->reading = true;
    ++t->unsaved;
    t->reader = reader;
    reader->table = t;
    if (!t->started) t->started = std::chrono::steady_clock::now();
    ++held_;
    chunks_.emplace(c->id, std::move(c));
    std::lock_guard lock(mu_);
    reader->job = std::move(job);
    if (!reader->thread.joinable()) reader->thread = std::thread([this, reader] { reader_loop(*reader); });
    reader->wake.notify_one();
  }
}

void Snapshotter::on_change(const ChangeEvent& e) {
  if (e.op == Op::kTruncate) renew_mark(e.table->relid);
  for (auto& [id, c] : chunks_) {
    if (!c->in_window || c->emitted || e.table->relid != c->table->resolved.oid) continue;
    if (e.op == Op::kTruncate) {
      c->truncated = true;
      continue;
    }
    if (auto sig = key_signature(e.row, e.table->key_indexes)) c->changed.insert(std::move(*sig));  // the stream's value is newer
  }
}

ChunkEnd Snapshotter::on_message(const pg::LogicalMsg& m, const pg::TxnBegin& txn, Lsn wal_start,
                                 std::vector<ChangeEvent>& out) {
  if (m.prefix != kPrefix) return {};
  auto id = parse_watermark(m.content);
  if (!id || id->slot != slot_ || id->nonce != nonce_) return {};  // another agent's, or an earlier run's
  auto it = chunks_.find(id->chunk);
  if (it == chunks_.end()) return {};
  Chunk& c = *it->second;
  if (!id->high) {
    c.in_window = true;
    return {};
  }
  if (!c.in_window || c.emitted) return {};
  {
    std::lock_guard lock(mu_);
    if (failure_) std::rethrow_exception(failure_);
    absorb(c);
  }
  if (!c.absorbed)
    throw Error(ErrorKind::kInternal, "the high watermark of snapshot chunk " + std::to_string(c.id) + " of " +
                                          c.table->resolved.qualified() + " arrived before its rows");
  Table& t = *c.table;
  const auto& key_indexes = t.plan->schema->key_indexes;
  uint64_t emitted = 0;
  for (auto& row : c.rows) {
    if (c.truncated) break;
    if (!c.changed.empty()) {
      auto sig = key_signature(row, key_indexes);
      if (sig && c.changed.count(*sig)) continue;  // the stream's value is newer
    }
    ChangeEvent& e = out.emplace_back();
    e.op = Op::kRead;
    e.table = t.plan->schema;
    e.row = std::move(row);
    e.source.lsn = wal_start;
    e.source.commit_lsn = txn.commit_lsn;
    e.source.xid = txn.xid;
    e.source.commit_ts_us = txn.commit_ts_us;
    ++emitted;
  }
  c.rows = {};
  c.changed = {};
  c.emitted = true;
  c.commit_lsn = txn.commit_lsn;
  t.rows_emitted += emitted;
  --held_;
  ChunkEnd end{t.progress.dry_run, std::nullopt};
  if (c.last_chunk && t.progress.reconcile_mark != 0) {
    t.swept = true;
    ReconcileSweep& s = end.sweep.emplace();
    s.table = t.plan->schema;
    s.mark = t.progress.reconcile_mark;
    s.dry_run = t.progress.dry_run;
    s.request_id = t.progress.request_id;
    s.rows_read = t.rows_at_start + t.rows_emitted;
    s.read_seconds = t.started ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *t.started).count() : 0;
    s.at.lsn = wal_start;
    s.at.commit_lsn = txn.commit_lsn;
    s.at.xid = txn.xid;
    s.at.commit_ts_us = txn.commit_ts_us;
  }
  return end;
}

void Snapshotter::on_commit(Lsn commit_lsn, Lsn end_lsn) {
  for (auto it = chunks_.begin(); it != chunks_.end(); ++it) {
    Chunk& c = *it->second;
    if (!c.emitted || c.commit_lsn != commit_lsn) continue;
    Table& t = *c.table;
    SnapshotProgress p = t.progress;  // a reconciliation's mark, dry run and request stay
    p.done = c.last_chunk;
    p.last_key = c.last_key;
    p.rows = t.rows_at_start + t.rows_emitted;
    confirmations_.push_back(Confirmation{end_lsn, &t, p});
    chunks_.erase(it);
    return;
  }
}

void Snapshotter::on_acknowledged(Lsn acked, const RowsLedger& rows_ledger) {
  while (!confirmations_.empty() && confirmations_.front().end_lsn <= acked) {
    auto& c = confirmations_.front();
    Table& t = *c.table;
    LedgerDelta ledger;
    if (rows_ledger) rows_ledger(c.end_lsn, ledger);
    c.progress.reconcile_mark = t.progress.reconcile_mark;  // a TRUNCATE since may have renewed it
    store_.save_snapshot(slot_, t.resolved.qualified(), c.progress, ledger);
    t.progress = c.progress;
    --t.unsaved;
    if (c.progress.done && c.progress.reconcile_mark != 0) finish_job(t);
    if (c.progress.done) {
      double secs = t.started ? std::chrono::duration<double>(std::chrono::steady_clock::now() - *t.started).count() : 0;
      log::info("{} done: {} rows ({} in this run, {:.1f} s, {:.0f} rows/s), confirmed at {}", title(t),
                c.progress.rows, t.rows_emitted, secs,
                secs > 0 ? static_cast<double>(t.rows_emitted) / secs : 0.0, c.end_lsn.str());
    }
    confirmations_.pop_front();
  }
}

// The reconciliation's sweep wrote its counts ("swept"); now that they are saved with the final
// progress, its job is done (what `tombsync reconcile` waits for).
void Snapshotter::finish_job(const Table& t) const {
  for (auto& p : read_job_progress(config_.state_dir)) {
    if (p.job != "reconcile" || p.table != t.resolved.qualified() || p.phase != "swept") continue;
    p.running = false;
    p.phase = "done";
    p.updated_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    write_job_progress(config_.state_dir, p);
  }
}

bool Snapshotter::keeps_ledger(const TableConfig& tc, const pg::ResolvedTable& resolved) const {
  return config_.ledger_for(tc) != LedgerMode::kNone && !resolved.key_columns.empty();
}

// A reconciliation whose table keeps no key ledger now (its config changed): it cannot sweep (the
// keys it would stamp are not recorded), so it ends here; its re-read goes on as a plain snapshot
// where the table's snapshot mode allows one, else the progress is marked done.
void Snapshotter::end_reconcile(const pg::ResolvedTable& resolved, SnapshotProgress& progress) {
  log::warn("reconcile of {} ends unfinished: the table keeps no key ledger now (ledger: none, or no key); {}",
            resolved.qualified(), progress.dry_run ? "nothing was published" : "no inferred deletes are made");
  JobProgress p{.job = "reconcile", .table = resolved.qualified(), .lsn = "-", .running = false};
  p.phase = "ended: the table keeps no key ledger";
  p.request_id = progress.request_id;
  p.updated_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  write_job_progress(config_.state_dir, p);
  const TableConfig* tc = config_.find_table(resolved.schema, resolved.table);
  progress.reconcile_mark = 0;
  progress.dry_run = false;
  progress.request_id.clear();
  if (tc == nullptr || config_.snapshot_for(*tc) == SnapshotMode::kNever) progress.done = true;
  store_.save_snapshot(slot_, resolved.qualified(), progress);
}

Snapshotter::Table* Snapshotter::reconciling(RelationId relid) const {
  for (const auto& t : tables_)
    if (t->resolved.oid == relid && t->progress.reconcile_mark != 0 && !t->progress.done && !t->swept) return t.get();
  return nullptr;
}

std::optional<uint32_t> Snapshotter::reconcile_mark(RelationId relid) const {
  const Table* t = reconciling(relid);
  if (t == nullptr) return std::nullopt;
  return t->progress.reconcile_mark;
}

// Saved at once, before the cursor may pass the TRUNCATE: a restart that does not read it again
// must not take the stamps made before it for live keys. A restart that does read it again renews
// the mark again.
void Snapshotter::renew_mark(RelationId relid) {
  Table* t = reconciling(relid);
  if (t == nullptr) return;
  const uint32_t old = t->progress.reconcile_mark;
  t->progress.reconcile_mark = store_.renew_reconcile_mark(slot_, t->resolved.qualified(), t->progress);
  log::info("{}: TRUNCATE during the re-read: keys stamped before it no longer count as live (mark {} -> {})",
            title(*t), old, t->progress.reconcile_mark);
}

bool Snapshotter::is_reading(RelationId relid) const {
  return std::any_of(tables_.begin(), tables_.end(),
                     [&](const auto& t) { return t->resolved.oid == relid && !t->progress.done; });
}

bool Snapshotter::add_table(const pg::ResolvedTable& resolved) {
  if (is_reading(resolved.oid)) return false;
  if (resolved.key_columns.empty())
    throw Error(ErrorKind::kSource, "keyless table " + resolved.qualified() + " cannot be snapshotted");
  // A done table has no chunk or confirmation left that points at it.
  tables_.erase(std::remove_if(tables_.begin(), tables_.end(),
                               [&](const auto& t) { return t->resolved.oid == resolved.oid; }),
                tables_.end());
  auto t = std::make_unique<Table>();
  t->resolved = resolved;
  t->progress = store_.load_snapshot(slot_, resolved.qualified()).value_or(SnapshotProgress{});
  t->next_after = t->progress.last_key;
  t->rows_at_start = t->progress.rows;
  tables_.push_back(std::move(t));
  return true;
}

bool Snapshotter::finished() const {
  return std::all_of(tables_.begin(), tables_.end(), [](const auto& t) { return t->progress.done; });
}

std::vector<std::string> Snapshotter::progress_lines() {
  std::vector<std::string> lines;
  auto now = std::chrono::steady_clock::now();
  if (now < next_progress_) return lines;
  next_progress_ = now + std::chrono::seconds(5);
  for (const auto& t : tables_) {
    if (!t->started || t->progress.done) continue;
    double secs = std::chrono::duration<double>(now - *t->started).count();
    double rate = secs > 0 ? static_cast<double>(t->rows_emitted) / secs : 0;
    uint64_t done = t->rows_at_start + t->rows_emitted;
    double total = std::max(t->plan ? t->plan->estimate : 0.0, static_cast<double>(done));
    std::string eta = rate > 0 ? fmt::format("{:.0f} s", (total - static_cast<double>(done)) / rate) : "unknown";
    lines.push_back(fmt::format("{}: {} of ~{:.0f} rows ({:.0f}%), {:.0f} rows/s, ETA {}", title(*t), done, total,
                                total > 0 ? 100.0 * static_cast<double>(done) / total : 100.0, rate, eta));
    if (t->progress.reconcile_mark != 0) publish_reading(*t, rate, total);
  }
  return lines;
}

std::vector<SnapshotTableStatus> Snapshotter::status() const {
  std::vector<SnapshotTableStatus> out;
  for (const auto& t : tables_) {
    SnapshotTableStatus s;
    s.table = t->resolved.qualified();
    s.rows_done = t->progress.rows;
    s.rows_estimated_total = std::max(s.rows_done, static_cast<uint64_t>(t->plan ? t->plan->estimate : 0.0));
    s.done = t->progress.done;
    s.reconciling = t->progress.reconcile_mark != 0 && !t->progress.done && !t->swept;
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace tombsync
