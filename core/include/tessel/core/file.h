// Files named by users (models, artifacts, tensors): regular files only, opened without ever
// blocking (a FIFO or a device is refused, not waited on), read whole within a size limit.
#pragma once

#include "tessel/core/status.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace tessel {

// A read-only descriptor (O_CLOEXEC) of the regular file at `path`, and its size; a directory,
// FIFO, socket or device is an error naming the path and what it is. The caller closes it.
Result<int> openRegularFile(const std::string& path, int64_t* size);

// Exactly `size` bytes from the start of the open file `fd` into dst (pread: the descriptor's
// offset is left alone); an error naming `path` when the file is shorter or unreadable.
Status readExactly(int fd, void* dst, size_t size, const std::string& path);

// The whole file, refused before reading when it holds more than maxBytes.
Result<std::vector<uint8_t>>
readRegularFile(const std::string& path, int64_t maxBytes = std::numeric_limits<int64_t>::max());

} // namespace tessel
