// Status and Result<T>: errors as values, in the LevelDB manner.
//
// Recoverable errors (bad input files, malformed configs, invalid requests)
// travel as a Status up to the program's top, where they become one message
// and a non-zero exit. A message always names what it is about: the file,
// the field, the rank.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace meridian {

class [[nodiscard]] Status {
 public:
  enum class Code {
    kOk = 0,
    kInvalidArgument,
    kNotFound,
    kCorruption,
    kIOError,
    kFailedPrecondition,
    kUnavailable,
    kDeadlineExceeded,
    kInternal,
    kUnauthenticated,    // no, or no valid, credentials
    kPermissionDenied,   // valid credentials, not allowed this
    kResourceExhausted,  // a limit is reached (named in the message)
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return Status(Code::kInvalidArgument, std::move(msg)); }
  static Status NotFound(std::string msg) { return Status(Code::kNotFound, std::move(msg)); }
  static Status Corruption(std::string msg) { return Status(Code::kCorruption, std::move(msg)); }
  static Status IOError(std::string msg) { return Status(Code::kIOError, std::move(msg)); }
  static Status FailedPrecondition(std::string msg) { return Status(Code::kFailedPrecondition, std::move(msg)); }
  static Status Unavailable(std::string msg) { return Status(Code::kUnavailable, std::move(msg)); }
  static Status DeadlineExceeded(std::string msg) { return Status(Code::kDeadlineExceeded, std::move(msg)); }
  static Status Internal(std::string msg) { return Status(Code::kInternal, std::move(msg)); }
  static Status Unauthenticated(std::string msg) { return Status(Code::kUnauthenticated, std::move(msg)); }
  static Status PermissionDenied(std::string msg) { return Status(Code::kPermissionDenied, std::move(msg)); }
  static Status ResourceExhausted(std::string msg) { return Status(Code::kResourceExhausted, std::move(msg)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "Corruption: ckpt/model.bin: checksum mismatch ..." or "OK".
  std::string ToString() const;

  // Returns a copy whose message is "context: <old message>".
  Status WithContext(const std::string& context) const;

 private:
  Status(Code code, std::string msg) : code_(code), message_(std::move(msg)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* StatusCodeName(Status::Code code);

// Either a value or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT
  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() & { return *value_; }
  const T& operator*() const& { return *value_; }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace meridian

#define MERIDIAN_CONCAT_INNER(a, b) a##b
#define MERIDIAN_CONCAT(a, b) MERIDIAN_CONCAT_INNER(a, b)

#define MERIDIAN_RETURN_IF_ERROR(expr)              \
  do {                                              \
    ::meridian::Status meridian_status_ = (expr);   \
    if (!meridian_status_.ok()) return meridian_status_; \
  } while (0)

#define MERIDIAN_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return tmp.status();                  \
  lhs = std::move(tmp).value()

#define MERIDIAN_ASSIGN_OR_RETURN(lhs, expr) \
  MERIDIAN_ASSIGN_OR_RETURN_IMPL(MERIDIAN_CONCAT(meridian_result_, __LINE__), lhs, expr)
