// libFuzzer target: the ONNX frontend (protobuf parse, shape inference through the decomposition
// rules, constant folding on the reference backend) on arbitrary bytes.
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
  (void)tessel::frontend::importGraph(*model, shapes);
  return 0;
}
