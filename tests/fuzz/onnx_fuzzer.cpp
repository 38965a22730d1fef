// libFuzzer target: the ONNX frontend (protobuf parse, the ONNX checker, shape inference through
// the decomposition rules, constant folding on the reference backend) on arbitrary bytes, then
// every remaining node's lowering run on the reference backend with zero inputs (what `tessel
// convert` + `tessel run` do per node, without MLIR). run_fuzzer.sh caps its memory.
#include "tessel/frontend/graph.h"

#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto model = tessel::frontend::parseOnnxModel(data, size);
  if (!model.isOk()) return 0;
  // Pin symbolic dims small so the fuzzer explores rules, not allocation sizes.
  tessel::frontend::ShapeOverrides shapes;
  for (const auto& in : model->inputs) {
    tessel::Shape s;
    for (int64_t d : in.dims)
      s.push_back(d < 0 ? 2 : d);
    shapes[in.name] = s;
  }
  auto graph = tessel::frontend::importGraph(*model, shapes);
  if (!graph.isOk()) return 0;
  for (const auto& gn : graph->nodes) {
    auto low = tessel::decompose::lower(gn.node);
    if (!low.isOk()) continue;
    // Zero bytes for each non-constant input; small graphs only (keep each run short).
    std::vector<std::vector<uint8_t>> owned;
    std::vector<const void*> data;
    int64_t bytes = 0;
    for (const auto& in : gn.node.inputs) {
      if (!in.present || in.constant) {
        data.push_back(in.constant);
        continue;
      }
      bytes += in.desc.byteSize();
      if (bytes > (int64_t{1} << 20)) return 0;
      owned.emplace_back(static_cast<size_t>(in.desc.byteSize()), 0);
      data.push_back(owned.back().data());
    }
    (void)tessel::frontend::evaluateLowering(*low, data);
  }
  return 0;
}
