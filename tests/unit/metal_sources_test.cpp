// The Metal plugin's shader sources as it embeds them (backends/metal/embed_msl.cmake, from the
// golden files): one per shader of backends/vulkan/shaders.cmake, in gpu::Shader's order, each
// defining its entry point with the indices the plugin binds (README.md). Linux cannot compile
// MSL; this checks what the plugin would hand the driver.
#include <catch2/catch.hpp>
#include <cstdint>
#include <iterator>
#include <string>

namespace {
#include "shader_ids.inc"
const char* const kMslSources[] = {
#include "msl_sources.inc"
};
} // namespace

TEST_CASE("metal: each embedded source defines its own shader's entry point, in list order") {
  REQUIRE(std::size(kMslSources) == std::size(kShaderNames));
  for (size_t i = 0; i < std::size(kShaderNames); ++i) {
    const std::string name = kShaderNames[i];
    const std::string source = kMslSources[i];
    INFO(name);
    CHECK(source.find("kernel void tessel_" + name + "(") != std::string::npos);
    CHECK(source.find("constant Params& p [[buffer(8)]]") != std::string::npos);
    // Only the texel variant reads textures, at the three fixed indices.
    const bool texels = name.find("texels") != std::string::npos;
    for (int t = 0; t < 3; ++t)
      CHECK((source.find("[[texture(" + std::to_string(t) + ")]]") != std::string::npos) == texels);
    for (size_t j = 0; j < std::size(kShaderNames); ++j)
      if (j != i)
        CHECK(source.find("kernel void tessel_" + std::string(kShaderNames[j]) + "(") ==
              std::string::npos);
  }
}
