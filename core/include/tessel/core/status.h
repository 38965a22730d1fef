// Status and Result: how every fallible call in Tessel reports failure (no exceptions).
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace tessel {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument, // the caller passed something wrong (shape, dtype, name)
  kUnsupported,     // valid input that Tessel cannot handle yet (operator, attribute)
  kCorrupt,         // a file or buffer failed validation
  kNotFound,
  kIo,
  kInternal,
  kResourceExhausted, // over a memory or size budget (the limit is in the message)
};

class [[nodiscard]] Status {
public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status ok() { return {}; }

  bool isOk() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "<message>" prefixed by context, keeping the code: used to name the node or file at fault.
  Status withContext(const std::string& context) const;

private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status invalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status unsupported(std::string m) {
  return {StatusCode::kUnsupported, std::move(m)};
}
inline Status corrupt(std::string m) {
  return {StatusCode::kCorrupt, std::move(m)};
}
inline Status internalError(std::string m) {
  return {StatusCode::kInternal, std::move(m)};
}
inline Status ioError(std::string m) {
  return {StatusCode::kIo, std::move(m)};
}
inline Status resourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}

// A value or the Status that explains why there is none.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT(google-explicit-constructor)
  Result(Status status) : status_(std::move(status)) {} // NOLINT(google-explicit-constructor)

  bool isOk() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }

private:
  std::optional<T> value_;
  Status status_;
};

} // namespace tessel

#define TESSEL_CONCAT_INNER(a, b) a##b
#define TESSEL_CONCAT(a, b) TESSEL_CONCAT_INNER(a, b)

#define TESSEL_RETURN_IF_ERROR(expr)                                                               \
  do {                                                                                             \
    ::tessel::Status tessel_status_ = (expr);                                                      \
    if (!tessel_status_.isOk()) return tessel_status_;                                             \
  } while (0)

#define TESSEL_ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr)                                               \
  auto tmp = (expr);                                                                               \
  if (!tmp.isOk()) return tmp.status();                                                            \
  lhs = std::move(tmp).value()

#define TESSEL_ASSIGN_OR_RETURN(lhs, expr)                                                         \
  TESSEL_ASSIGN_OR_RETURN_IMPL(TESSEL_CONCAT(tessel_result_, __LINE__), lhs, expr)
