// libFuzzer target: the ONNX frontend (protobuf parse, the ONNX checker, shape inference through
// the decomposition rules, constant folding on the reference backend) on arbitrary bytes, then
// the whole model run on the reference backend: every node lowered in order and evaluated on its
// inputs' values (small patterned graph inputs, each node fed what the nodes before computed):
// `tessel convert` + `tessel run` without the MLIR passes. run_fuzzer.sh caps its memory.
#include "tessel/frontend/graph.h"

#include <cstdint>
#include <cstring>

namespace {

// Small values of every dtype, so indices hit both valid and out-of-range rows and bools stay
// 0 or 1 (the runtime normalises bools at its boundary; this harness feeds kernels directly).
std::vector<uint8_t> patterned(const tessel::TensorDesc& d) {
  std::vector<uint8_t> bytes(static_cast<size_t>(d.byteSize()));
  const size_t elem = tessel::dtypeSize(d.dtype);
  for (size_t i = 0; elem && i < bytes.size() / elem; ++i) {
    const auto v = static_cast<int64_t>(i % 7) - 2;
    uint8_t* at = bytes.data() + i * elem;
    if (d.dtype == tessel::DType::Bool)
      *at = static_cast<uint8_t>(i & 1);
    else if (tessel::dtypeIsFloat(d.dtype))
      tessel::storeDouble(d.dtype, static_cast<double>(v) * 0.75, at);
    else // unsigned types see 0..4, signed ones -2..4
      tessel::storeDouble(d.dtype,
                          static_cast<double>(tessel::dtypeIsUnsigned(d.dtype) ? v + 2 : v), at);
  }
  return bytes;
}

} // namespace

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
  // Every value's bytes: constants as imported, inputs patterned, the rest as computed.
  std::vector<tessel::frontend::ConstantBytes> values(graph->values.size());
  int64_t inputBytes = 0;
  for (size_t id = 0; id < graph->values.size(); ++id)
    values[id] = graph->values[id].constant;
  for (int32_t id : graph->inputs) {
    inputBytes += graph->values[id].desc.byteSize();
    if (inputBytes > (int64_t{1} << 20)) return 0;
    values[id] = std::make_shared<const std::vector<uint8_t>>(patterned(graph->values[id].desc));
  }
  for (const auto& gn : graph->nodes) {
    auto low = tessel::decompose::lower(gn.node);
    if (!low.isOk()) return 0; // the converter stops here too
    // Keep each run small: skip models whose tensors would pass 64 MiB at one node.
    int64_t bytes = 0;
    for (const auto& t : low->tensors)
      if (__builtin_add_overflow(bytes, t.byteSize(), &bytes) || bytes > (int64_t{64} << 20))
        return 0;
    std::vector<const void*> in;
    for (int32_t id : gn.inputs)
      in.push_back(id >= 0 && values[id] ? values[id]->data() : nullptr);
    auto outs = tessel::frontend::evaluateLowering(*low, in);
    if (!outs.isOk()) return 0; // a run-time error (a bad index): the run stops with it
    for (size_t k = 0; k < gn.outputs.size() && k < outs->size(); ++k)
      values[gn.outputs[k]] = (*outs)[k];
  }
  return 0;
}
