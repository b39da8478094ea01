#include "agent/stream/pg_change_source.h"

#include <variant>

#include "connectors/postgres/pgoutput_decoder.h"

namespace tombsync {

bool PgChangeSource::next(std::chrono::milliseconds timeout, SourceStep& out) {
  auto frame = stream_.read(timeout);
  if (!frame) return false;
  out.events.clear();
  if (auto* x = std::get_if<pg::XLogData>(&*frame)) {
    out.kind = SourceStep::Kind::kData;
    out.wal_start = x->wal_start;
    out.wal_end = x->wal_end;
    out.reply_requested = false;
    pg::PgOutputMessage msg = pg::decode_pgoutput(x->payload, x->wal_start);
    stream_.release_frame();  // `msg` holds its own copy of the values; `x->payload` is now invalid
    out.step = builder_.apply(std::move(msg), out.wal_start, out.events);
    return true;
  }
  const auto& k = std::get<pg::PrimaryKeepalive>(*frame);
  out.kind = SourceStep::Kind::kKeepalive;
  out.wal_end = k.wal_end;
  out.reply_requested = k.reply_requested;
  out.step = {};
  return true;
}

}  // namespace tombsync
