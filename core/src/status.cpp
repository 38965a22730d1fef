#include "tessel/core/status.h"

namespace tessel {

const char* statusCodeName(StatusCode code) {
  switch (code) {
  case StatusCode::kOk: return "ok";
  case StatusCode::kInvalidArgument: return "invalid argument";
  case StatusCode::kUnsupported: return "unsupported";
  case StatusCode::kCorrupt: return "corrupt";
  case StatusCode::kNotFound: return "not found";
  case StatusCode::kIo: return "i/o error";
  case StatusCode::kInternal: return "internal error";
  }
  return "unknown";
}

Status Status::withContext(const std::string& context) const {
  if (isOk()) return *this;
  return {code_, context + ": " + message_};
}

} // namespace tessel
