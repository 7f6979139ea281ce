// Counts and times every RPC the daemon answers, by method and status code
// (a gRPC server interceptor, so no handler needs to remember to).
#pragma once

#include <memory>

#include <grpcpp/support/server_interceptor.h>

#include "scheduler/observe/daemon_metrics.h"

namespace meridian::scheduler {

// `metrics` outlives the server.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface> RpcMetricsInterceptor(DaemonMetrics* metrics);

}  // namespace meridian::scheduler
