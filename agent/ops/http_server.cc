#include "agent/ops/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "base/error.h"
#include "base/log.h"
#include "agent/ops/http_message.h"

namespace tombsync {
namespace {

using http::is_token;
using http::parse_head;
using http::Request;
using http::serialize;
using http::text;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Limits. A client gets kReadTimeout to deliver its whole request head (a
// total, not per read, so trickling one byte at a time does not extend it),
// kWriteTimeout to take the response, and kDrainTimeout for the lingering
// close below. kubelet and Prometheus send their request the moment they
// connect, so a short head deadline costs them nothing and frees the slot of
// a client that sends nothing (docs/operations.md, "The HTTP endpoints").
constexpr size_t kHeaderCap = 8 * 1024;
constexpr milliseconds kReadTimeout{2000};
constexpr milliseconds kWriteTimeout{5000};
constexpr milliseconds kDrainTimeout{1000};
// A response the client has not taken for this long may be closed for a new
// client when every slot is taken (HttpServer::kMaxConnections).
constexpr milliseconds kStuckWrite{500};
constexpr int kListenBacklog = 512;
// After accept() or poll() fails for lack of descriptors or memory, wait this
// long rather than spin (a listening socket with a queued client stays readable).
constexpr milliseconds kBackoff{100};

class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  ~UniqueFd() { reset(); }
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.release();
    }
    return *this;
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

Error address_error(const std::string& address, const std::string& why, const std::string& fix) {
  return Error(ErrorKind::kConfig, "http.address " + address + ": " + why + "; " + fix);
}

constexpr const char* kAddressForm = "write host:port, e.g. 0.0.0.0:9187, [::]:9187 or localhost:9187";

struct HostPort {
  std::string host;  // without brackets; empty for all IPv4 interfaces
  std::string port;  // decimal, 0..65535
};

HostPort split_address(const std::string& address) {
  HostPort hp;
  std::string port;
  if (!address.empty() && address.front() == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      throw address_error(address, "an IPv6 host in brackets must be followed by :port", kAddressForm);
    }
    hp.host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    // The last colon separates the port, so "::" and "::1" work unbracketed too.
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) throw address_error(address, "no port", kAddressForm);
    hp.host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  const bool digits = !port.empty() && port.size() <= 5 &&
                      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || std::stoi(port) > 65535) {
    throw address_error(address, "port '" + port + "' is not a number from 0 to 65535",
                        "use 0 for any free port, " + std::string(kAddressForm));
  }
  hp.port = std::to_string(std::stoi(port));
  if (hp.host == "0.0.0.0") hp.host.clear();
  return hp;
}

std::string bind_failure(int err) {
  switch (err) {
    case EADDRINUSE:
      return "address already in use: another process listens there";
    case EACCES:
      return "permission denied: ports below 1024 need privileges";
    case EADDRNOTAVAIL:
      return "address not available: no interface of this host has that IP";
    default:
      return std::strerror(err);
  }
}

std::string bind_fix(int err) {
  switch (err) {
    case EADDRINUSE:
      return "choose another http.address port";
    case EACCES:
      return "choose a port at or above 1024";
    case EADDRNOTAVAIL:
    case EAFNOSUPPORT:
      return "use 0.0.0.0, [::] or an address of this host";
    default:
      return "check http.address";
  }
}

int bound_port(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return 0;
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return 0;
}

// Resolves and binds the first usable address, IPv4 first: "localhost" then
// means 127.0.0.1, where most probes connect. Only an address the host lacks
// (no IPv6 in the container) moves on to the next candidate; "in use" does
// not, or we would quietly listen on ::1 while another process owns
// 127.0.0.1 on the same port.
UniqueFd listen_on(const std::string& address) {
  const HostPort hp = split_address(address);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string host = hp.host.empty() ? "0.0.0.0" : hp.host;
  if (int rc = ::getaddrinfo(host.c_str(), hp.port.c_str(), &hints, &found); rc != 0) {
    throw address_error(address, "cannot resolve host '" + hp.host + "': " + ::gai_strerror(rc),
                        "use an IP address or a host name this machine resolves");
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owner(found, &::freeaddrinfo);
  std::vector<const addrinfo*> candidates;
  for (const addrinfo* ai = found; ai; ai = ai->ai_next) candidates.push_back(ai);
  std::stable_partition(candidates.begin(), candidates.end(),
                        [](const addrinfo* ai) { return ai->ai_family == AF_INET; });
  int err = EADDRNOTAVAIL;
  for (const addrinfo* ai : candidates) {
    UniqueFd fd(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
    if (fd.get() < 0) {
      err = errno;
      if (err == EAFNOSUPPORT) continue;
      break;
    }
    const int on = 1;
    const int off = 0;
    // A restarted agent must rebind while the old connections sit in TIME_WAIT.
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    // "[::]" serves IPv4 too, whatever the host's bindv6only default.
    if (ai->ai_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    if (::bind(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd.get(), kListenBacklog) == 0) {
      return fd;
    }
    err = errno;
    if (err != EADDRNOTAVAIL && err != EAFNOSUPPORT) break;
  }
  throw address_error(address, bind_failure(err), bind_fix(err));
}

// One client connection, driven by the poll loop: read the head, write the
// response, then close gracefully.
struct Connection {
  enum class State { kReading, kWriting, kDraining, kDone };
  UniqueFd fd;
  State state = State::kReading;
  std::string in;
  std::string out;
  size_t sent = 0;
  int blank_lines = 0;  // empty lines before the request line (RFC 9112 2.2 allows one)
  Clock::time_point deadline;
  Clock::time_point since;  // when `state` began: eviction picks the oldest
};

// Which connection to close for a new client, lower first; kNever is not closed.
enum class Eviction { kIdle, kPartial, kDraining, kStuckWriting, kNever };

Eviction eviction_rank(const Connection& c, Clock::time_point now) {
  switch (c.state) {
    case Connection::State::kReading:
      return c.in.empty() && c.blank_lines == 0 ? Eviction::kIdle : Eviction::kPartial;
    case Connection::State::kDraining:
      return Eviction::kDraining;
    case Connection::State::kWriting:
      return now - c.since > kStuckWrite ? Eviction::kStuckWriting : Eviction::kNever;
    case Connection::State::kDone:
      break;
  }
  return Eviction::kNever;
}

}  // namespace

HttpServer::HttpServer(const std::string& address, std::map<std::string, Handler> routes,
                       size_t max_connections)
    : routes_(std::move(routes)), max_connections_(std::max<size_t>(max_connections, 1)) {
  UniqueFd listener = listen_on(address);
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) != 0) {
    throw Error(ErrorKind::kInternal, std::string("http server: cannot create its wake-up pipe: ") +
                                          std::strerror(errno) + "; raise the open-files limit");
  }
  UniqueFd wake_read(pipe_fds[0]);
  UniqueFd wake_write(pipe_fds[1]);
  port_ = bound_port(listener.get());
  listen_fd_ = listener.get();
  wake_read_fd_ = wake_read.get();
  thread_ = std::thread([this] { run(); });  // if this throws, the UniqueFds close everything
  listener.release();
  wake_read.release();
  wake_write_fd_ = wake_write.release();
}

HttpServer::~HttpServer() {
  const char byte = 1;
  while (::write(wake_write_fd_, &byte, 1) < 0 && errno == EINTR) {
  }
  thread_.join();
  ::close(wake_write_fd_);
  ::close(wake_read_fd_);
  ::close(listen_fd_);
}

namespace {

// The poll loop's state and steps; lives on the server's thread only.
class ConnectionLoop {
 public:
  ConnectionLoop(int listen_fd, int wake_fd, const std::map<std::string, HttpServer::Handler>& routes,
                 size_t max_connections)
      : listen_fd_(listen_fd), wake_fd_(wake_fd), routes_(routes), max_(max_connections) {}
  void run();

 private:
  // Resource exhaustion is the one thing this server logs, at most once a minute.
  void warn_rarely(Clock::time_point now, const std::string& message);
  void respond(Connection& c, const HttpResponse& r, bool head_only, bool allow);
  void dispatch(Connection& c, std::string_view head);
  void on_readable(Connection& c);
  void on_writable(Connection& c);
  void on_drainable(Connection& c);
  // The connection among the first `existing` of conns_ to close for a new
  // client (HttpServer::kMaxConnections), or conns_.end() when none may be.
  std::vector<std::unique_ptr<Connection>>::iterator victim(size_t existing, Clock::time_point now);
  // When a full table next gets a connection it may close (a response turning stuck).
  Clock::time_point room_at() const;
  void accept_all(Clock::time_point now);
  // Waits for the next event; false when the destructor asked the server to stop.
  bool wait(int& ready, bool& accepting);
  void serve(int ready, bool accepting);

  const int listen_fd_;
  const int wake_fd_;
  const std::map<std::string, HttpServer::Handler>& routes_;
  const size_t max_;
  std::vector<std::unique_ptr<Connection>> conns_;
  std::vector<pollfd> fds_;
  Clock::time_point accept_paused_until_{};
  Clock::time_point last_warning_{};
  uint64_t evicted_ = 0;
};

void ConnectionLoop::warn_rarely(Clock::time_point now, const std::string& message) {
  if (last_warning_ != Clock::time_point{} && now - last_warning_ < std::chrono::minutes(1)) return;
  last_warning_ = now;
  log::warn("{}", message);
}

void ConnectionLoop::respond(Connection& c, const HttpResponse& r, bool head_only, bool allow) {
  c.out = serialize(r, head_only, allow);
  c.sent = 0;
  c.state = Connection::State::kWriting;
  c.since = Clock::now();
  c.deadline = c.since + kWriteTimeout;
}

void ConnectionLoop::dispatch(Connection& c, std::string_view head) {
  auto parsed = parse_head(head);
  if (auto* error = std::get_if<HttpResponse>(&parsed)) return respond(c, *error, false, false);
  const Request& req = std::get<Request>(parsed);
  const bool head_only = req.method == "HEAD";
  auto route = routes_.find(req.path);
  if (route == routes_.end()) {
    std::string paths;
    for (const auto& [path, handler] : routes_) paths += (paths.empty() ? "" : " ") + path;
    return respond(c, text(404, "not found; paths: " + paths + "\n"), head_only, false);
  }
  if (req.method != "GET" && !head_only) {
    return respond(c, text(405, "method not allowed; use GET or HEAD\n"), false, true);
  }
  HttpResponse r;
  try {
    r = route->second();
    if (r.status < 200 || r.status > 599) {
      r = text(500, "internal error: the handler returned status " + std::to_string(r.status) + "\n");
    } else if (std::any_of(r.content_type.begin(), r.content_type.end(),
                           [](char ch) { return static_cast<unsigned char>(ch) < 0x20; })) {
      r = text(500, "internal error: the handler returned a content type with control characters\n");
    }
  } catch (const std::exception& e) {
    r = text(500, std::string("internal error: ") + e.what() + "\n");
  } catch (...) {
    r = text(500, "internal error: unknown exception\n");
  }
  respond(c, r, head_only, false);
}

// Drops the empty lines (CRLF or bare LF) that start c.in, counting them.
void skip_blank_lines(Connection& c) {
  for (;;) {
    size_t n = 0;
    if (c.in.compare(0, 2, "\r\n") == 0) {
      n = 2;
    } else if (!c.in.empty() && c.in[0] == '\n') {
      n = 1;
    }
    if (n == 0) return;
    c.in.erase(0, n);
    ++c.blank_lines;
  }
}

// Reads what the socket holds; answers once the head is complete or too large.
void ConnectionLoop::on_readable(Connection& c) {
  char buf[4096];
  bool eof = false;
  for (;;) {
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n <= 0) {
      // A client may half-close after its request (nc -N); a reset or an
      // EOF before a whole head means it left without asking anything.
      eof = true;
      if (n < 0) c.in.clear();
      break;
    }
    c.in.append(buf, static_cast<size_t>(n));
    skip_blank_lines(c);
    if (c.in.size() > kHeaderCap) break;
  }
  // RFC 9112 section 2.2 asks a server to ignore at least one empty line
  // before the request line; a request made of empty lines only ("\r\n\r\n")
  // is answered now rather than held until kReadTimeout.
  if (c.blank_lines > 1) {
    return respond(c, text(400, "bad request: empty lines where the request line should be\n"), false, false);
  }
  size_t end = c.in.find("\r\n\r\n");
  size_t terminator = 4;
  if (const size_t lf = c.in.find("\n\n"); lf != std::string::npos && lf < end) {
    end = lf;
    terminator = 2;
  }
  // Bytes that cannot start a request line (a TLS ClientHello sent to the
  // plain-HTTP port, say) get their 400 now, not after kReadTimeout.
  const std::string_view method = std::string_view(c.in).substr(0, c.in.find_first_of(" \r\n"));
  if (end != std::string::npos && end + terminator <= kHeaderCap) {
    dispatch(c, std::string_view(c.in).substr(0, end));
  } else if (!method.empty() && !is_token(method)) {
    dispatch(c, c.in);
  } else if (c.in.size() >= kHeaderCap) {
    if (c.in.find('\n') >= kHeaderCap) {
      respond(c, text(414, "request line longer than " + std::to_string(kHeaderCap) + " bytes\n"), false, false);
    } else {
      respond(c, text(431, "request headers longer than " + std::to_string(kHeaderCap) + " bytes\n"), false, false);
    }
  } else if (eof) {
    c.state = Connection::State::kDone;
  }
}

void ConnectionLoop::on_writable(Connection& c) {
  while (c.sent < c.out.size()) {
    // MSG_NOSIGNAL: a client that hung up gives EPIPE here, not a SIGPIPE that ends the agent.
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      c.state = Connection::State::kDone;
      return;
    }
    c.sent += static_cast<size_t>(n);
  }
  // Lingering close: closing with unread request bytes (a client still
  // sending a 431-sized head) makes the kernel send RST, which can destroy
  // the response before the client reads it. So half-close and read until
  // the client closes too, or kDrainTimeout passes.
  ::shutdown(c.fd.get(), SHUT_WR);
  c.state = Connection::State::kDraining;
  c.since = Clock::now();
  c.deadline = c.since + kDrainTimeout;
}

void ConnectionLoop::on_drainable(Connection& c) {
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    c.state = Connection::State::kDone;
    return;
  }
}

std::vector<std::unique_ptr<Connection>>::iterator ConnectionLoop::victim(size_t existing, Clock::time_point now) {
  auto best = conns_.end();
  Eviction best_rank = Eviction::kNever;
  // conns_ is in accept order, but `since` moves with each state: compare it.
  for (auto it = conns_.begin(); it != conns_.begin() + static_cast<std::ptrdiff_t>(existing); ++it) {
    const Eviction rank = eviction_rank(**it, now);
    if (rank < best_rank || (rank != Eviction::kNever && rank == best_rank && (*it)->since < (*best)->since)) {
      best = it;
      best_rank = rank;
    }
  }
  return best;
}

Clock::time_point ConnectionLoop::room_at() const {
  Clock::time_point at = Clock::time_point::max();
  for (const auto& c : conns_)
    if (c->state == Connection::State::kWriting) at = std::min(at, c->since + kStuckWrite + milliseconds(1));
  return at;
}

// Accepts what the backlog holds. With every slot taken, a new client is
// accepted only if a connection open before this call may be closed for it
// (never one accepted here: it has not been read yet); its request is read at
// once, so a probe is answered within this call.
void ConnectionLoop::accept_all(Clock::time_point now) {
  size_t existing = conns_.size();
  for (;;) {
    const bool full = conns_.size() >= max_;
    if (full && victim(existing, now) == conns_.end()) return;  // the rest wait in the backlog
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      auto c = std::make_unique<Connection>();
      c->fd = UniqueFd(fd);
      c->since = now;
      c->deadline = now + kReadTimeout;
      on_readable(*c);
      if (c->state == Connection::State::kWriting) on_writable(*c);
      if (c->state == Connection::State::kDone) continue;  // it left without asking anything
      if (full) {
        conns_.erase(victim(existing, now));
        --existing;
        ++evicted_;
        warn_rarely(now, "http server: " + std::to_string(max_) +
                             " connections open; closing an idle or stalled one for each new client (" +
                             std::to_string(evicted_) +
                             " so far), so that probes are still answered. Many idle clients on the port: "
                             "bind http.address to the pod IP or a private interface (docs/operations.md)");
      }
      conns_.push_back(std::move(c));
      continue;
    }
    const int err = errno;
    if (err == EAGAIN || err == EWOULDBLOCK) return;
    // A client that gave up before accept(), or a network error Linux passes on (accept(2)).
    if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM || err == ENETDOWN ||
        err == ENOPROTOOPT || err == EHOSTDOWN || err == ENONET || err == EHOSTUNREACH ||
        err == EOPNOTSUPP || err == ENETUNREACH) {
      continue;
    }
    // Out of descriptors or memory: the listening socket stays readable, so
    // pause accepting instead of spinning; warn at most once a minute.
    accept_paused_until_ = now + kBackoff;
    warn_rarely(now, std::string("http server cannot accept connections: ") + std::strerror(err) +
                         "; raise the open-files limit (ulimit -n)");
    return;
  }
}

bool ConnectionLoop::wait(int& ready, bool& accepting) {
  for (;;) {
    const Clock::time_point now = Clock::now();
    fds_.clear();
    fds_.push_back({wake_fd_, POLLIN, 0});
    const bool room = conns_.size() < max_ || victim(conns_.size(), now) != conns_.end();
    accepting = room && now >= accept_paused_until_;
    fds_.push_back({accepting ? listen_fd_ : -1, POLLIN, 0});  // poll() skips negative fds
    Clock::time_point wake_at = accepting ? Clock::time_point::max() : accept_paused_until_;
    if (!room) wake_at = room_at();
    for (const auto& c : conns_) {
      const short events = c->state == Connection::State::kWriting ? POLLOUT : POLLIN;
      fds_.push_back({c->fd.get(), events, 0});
      wake_at = std::min(wake_at, c->deadline);
    }
    int timeout_ms = -1;
    if (wake_at != Clock::time_point::max()) {
      const auto left = std::chrono::ceil<milliseconds>(wake_at - now).count();
      timeout_ms = static_cast<int>(std::clamp<long long>(left, 0, 60'000));
    }
    ready = ::poll(fds_.data(), fds_.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      // Only ENOMEM is possible here; wait for memory rather than stop serving probes.
      warn_rarely(now, std::string("http server cannot poll its sockets: ") + std::strerror(errno));
      std::this_thread::sleep_for(kBackoff);
      continue;
    }
    if (fds_[0].revents != 0) return false;  // the destructor asked us to stop
    return true;
  }
}

void ConnectionLoop::serve(int ready, bool accepting) {
  const Clock::time_point after = Clock::now();
  for (size_t i = 0; i < conns_.size(); ++i) {
    Connection& c = *conns_[i];
    const short revents = ready > 0 ? fds_[i + 2].revents : 0;
    if (revents != 0) {
      if (c.state == Connection::State::kReading) on_readable(c);
      // Try the write at once: a small response usually fits the socket buffer.
      if (c.state == Connection::State::kWriting) on_writable(c);
      if (c.state == Connection::State::kDraining && (revents & (POLLIN | POLLHUP | POLLERR))) on_drainable(c);
    }
    if (c.state != Connection::State::kDone && after >= c.deadline) {
      if (c.state == Connection::State::kReading && !c.in.empty()) {
        // A partial request: say why we give up. An idle connection just closes.
        respond(c, text(408, "request not complete within " + std::to_string(kReadTimeout.count()) + " ms\n"),
                false, false);
        on_writable(c);
      } else {
        c.state = Connection::State::kDone;
      }
    }
  }
  conns_.erase(std::remove_if(conns_.begin(), conns_.end(),
                             [](const auto& c) { return c->state == Connection::State::kDone; }),
              conns_.end());
  if (accepting && ready > 0 && fds_[1].revents != 0) accept_all(after);
}

void ConnectionLoop::run() {
  int ready = 0;
  bool accepting = false;
  while (wait(ready, accepting)) serve(ready, accepting);
}

}  // namespace

// One thread multiplexes every connection with poll(), rather than serving
// one client at a time: kubelet's liveness and readiness probes and a
// Prometheus scrape often arrive together, and a client that stalls (a
// half-open connection from a node that died) must not delay them, or the
// liveness probe fails and the pod is restarted for nothing. Handlers still
// run one at a time on this thread, which keeps their thread-safety contract
// simple; they only read atomics, so they are quick.
void HttpServer::run() { ConnectionLoop(listen_fd_, wake_read_fd_, routes_, max_connections_).run(); }

}  // namespace tombsync
