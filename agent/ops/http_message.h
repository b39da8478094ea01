// HTTP/1.1 messages for the embedded server (http_server.h): parsing a
// request head (RFC 9112: request line, header fields; everything the
// probes and a Prometheus scrape send) and serialising a response. Pure
// functions, no I/O; called from the server's thread.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "agent/ops/http_server.h"

namespace tombsync::http {

struct Request {
  std::string method;
  std::string path;  // the target's path, without query or fragment
};

// The request, or the error response to send (400 with the reason).
std::variant<Request, HttpResponse> parse_head(std::string_view head);
// Status line, Date, Content-Type, Content-Length, Connection: close (and Allow: GET, HEAD when
// `allow_header`), then the body unless `head_only`.
std::string serialize(const HttpResponse& r, bool head_only, bool allow_header);
// A text/plain response.
HttpResponse text(int status, std::string body);
// RFC 9110 token: one or more tchar.
bool is_token(std::string_view s);

}  // namespace tombsync::http
