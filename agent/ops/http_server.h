// The agent's embedded HTTP/1.1 server for /healthz, /readyz and /metrics:
// GET and HEAD on fixed paths, one request per connection (every response
// says "Connection: close"), which is all kubelet probes and Prometheus need.
// It logs nothing per request: probes hit it every few seconds.
//
// Spec: RFC 9112 (message syntax), RFC 9110 (semantics, status codes).
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <string>
#include <thread>

namespace tombsync {

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Serves GET (and HEAD) on a background thread until destroyed. Handlers run
// on that thread, one request at a time, and must be thread-safe against the
// pipeline (they read atomics/snapshots). A handler that throws answers 500
// with the exception's message; a slow handler delays every other client.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse()>;
  // Connections served at once. When all are taken and a new client arrives,
  // one connection that was already open is closed for it, in this order:
  // one that has sent nothing, then one with a partial request head, then one
  // lingering after its response, then one whose response has been stuck for
  // more than 500 ms; oldest first within each. A probe sends its request at
  // once and is read the moment it is accepted, so idle or slowloris sockets
  // cannot keep /healthz waiting. When nothing may be closed, new clients
  // wait in the listen backlog.
  static constexpr size_t kMaxConnections = 256;

  // address: "host:port"; host may be empty or "0.0.0.0" (all IPv4), "[::]"
  // or "::" (IPv6 any, which also takes IPv4 unless the host forbids it),
  // "localhost" (IPv4 loopback preferred) or an IP. Port 0 picks a free port.
  // Routes map exact paths ("/metrics") to handlers; query strings are
  // ignored. Throws Error(kConfig, "http.address <addr>: <why>; <fix>") when
  // the address cannot be parsed, resolved or bound. Listens before
  // returning, so a client may connect as soon as the constructor is done.
  // max_connections (at least 1) is for tests; the agent uses the default.
  HttpServer(const std::string& address, std::map<std::string, Handler> routes,
             size_t max_connections = kMaxConnections);
  // Stops the thread promptly (it is woken through a pipe, not a timeout)
  // and closes every socket, including connections still in progress.
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const { return port_; }

 private:
  void run();

  const std::map<std::string, Handler> routes_;  // read-only once constructed
  const size_t max_connections_;
  int listen_fd_ = -1;
  int wake_read_fd_ = -1;   // the destructor writes to wake_write_fd_ to end run()
  int wake_write_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace tombsync
