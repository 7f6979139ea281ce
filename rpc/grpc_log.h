// gRPC's own diagnostics (connection failures, TLS handshakes) through the
// program's logger, component "grpc", so that with --log-format json every
// line on stderr is still a JSON object.
#pragma once

namespace meridian::rpc {

// Installs the hook for the whole process; call after InitLogging. gRPC's
// verbosity is still set by $GRPC_VERBOSITY (default: errors only).
void RouteGrpcLogsToLogger();

}  // namespace meridian::rpc
