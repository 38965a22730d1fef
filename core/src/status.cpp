#include "tessel/core/status.h"

namespace tessel {

Status Status::withContext(const std::string& context) const {
  if (isOk()) return *this;
  return {code_, context + ": " + message_};
}

} // namespace tessel
