// A minimal HTTP/1.1 client for the agent's /healthz, /readyz and /metrics,
// used by the integration tests that talk to a running agent.
#pragma once

#include <string>

#include "tests/integration/harness.h"

namespace tombsync::it {

struct HttpResult {
  int status = 0;  // 0 when the connection fails or the answer is not HTTP/1.1
  std::string body;
};

// A GET on 127.0.0.1:port, read until the server closes.
HttpResult http_get(int port, const std::string& path);

// The port from the agent's last "http: ... (port N)" line (http.address port 0): the running
// process's, when the log holds earlier ones of a restarted agent.
int http_port(const Agent& agent);

// A sample's value in Prometheus text, e.g. metric("tombsync_events_total{table=\"public.t\",op=\"insert\"}");
// -1 when the sample is not there.
double metric(const std::string& text, const std::string& sample);

}  // namespace tombsync::it
