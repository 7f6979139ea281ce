#include "rpc/grpc_log.h"

#include <grpc/support/log.h>

#include "common/log.h"

namespace meridian::rpc {
namespace {

void LogGrpcRecord(gpr_log_func_args* args) {
  spdlog::level::level_enum level = spdlog::level::err;
  if (args->severity == GPR_LOG_SEVERITY_INFO) level = spdlog::level::info;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = spdlog::level::debug;
  Logger("grpc")->log(level, "{} ({}:{})", args->message ? args->message : "", args->file ? args->file : "?",
                      args->line);
}

}  // namespace

void RouteGrpcLogsToLogger() { gpr_set_log_function(LogGrpcRecord); }

}  // namespace meridian::rpc
