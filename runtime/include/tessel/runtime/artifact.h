// The .tsl artifact: writing a Program to one flatbuffer and loading it back, untrusted.
#pragma once

#include "tessel/runtime/program.h"

#include <cstdint>
#include <string>
#include <vector>

namespace flatbuffers {
class FlatBufferBuilder;
}

namespace tessel {

// 2: per-tensor layouts, per-primitive kernel choice, the target table, post-op lists.
// 3: a checksum trailer over the whole file.
inline constexpr uint32_t kArtifactFormatVersion = 3;

// An optional table another library adds to the model (the graph library's graph): it appends
// its constants to the data section first (64-byte aligned, recording their offsets), then
// builds its table into the same builder and returns the table's offset.
class ArtifactExtension {
public:
  virtual ~ArtifactExtension() = default;
  virtual void appendData(std::vector<uint8_t>* data) = 0;
  virtual uint32_t build(flatbuffers::FlatBufferBuilder& builder) = 0;
};

// Serializes a program (constants copied into the file, 64-byte aligned), and the graph table
// when `graph` is given.
std::vector<uint8_t> writeArtifact(const Program& program, const std::string& producer,
                                   ArtifactExtension* graph = nullptr);

// Verifies and loads an artifact from bytes the Program then owns.
Result<std::shared_ptr<const Program>> loadArtifact(std::vector<uint8_t> bytes);
// Loads from bytes the caller keeps alive and unchanged while the Program lives (64-byte aligned).
Result<std::shared_ptr<const Program>> loadArtifactBorrowed(const uint8_t* bytes, size_t size);
// Reads a file into memory the Program owns and loads it; the Program keeps the file open
// (Program::constantSource) to read released constants back for a later prepare.
Result<std::shared_ptr<const Program>> loadArtifactFile(const std::string& path);

} // namespace tessel
