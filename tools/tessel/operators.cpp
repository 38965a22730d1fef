// tessel operators: the supported ONNX operators and element types as the README's Markdown,
// from the lists the code runs on (decompose/include/tessel/decompose/onnx_ops.def, the
// control-flow table in graph/, TESSEL_DTYPES): tests/readme_operators.sh keeps the README's copy
// equal to it.
#include "commands.h"
#include "tessel/core/dtype.h"
#include "tessel/decompose/lowering.h"
#include "tessel/frontend/onnx_model.h"
#include "tessel/graph/graph.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace tessel::cli {

int operatorsCommand(const std::vector<std::string>& args) {
  if (!args.empty()) {
    std::fputs("usage: tessel operators\n", stderr);
    return 2;
  }
  std::vector<decompose::OpSummary> ops = decompose::supportedOps();
  const auto& flow = graph::controlFlowOps();
  ops.insert(ops.end(), flow.begin(), flow.end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.op < b.op; });
  std::printf("%zu ONNX operators (default domain, opsets 7 to 18):\n\n", ops.size());
  std::printf("| operator | what it becomes |\n|---|---|\n");
  for (const auto& o : ops)
    std::printf("| %.*s | %.*s |\n", static_cast<int>(o.op.size()), o.op.data(),
                static_cast<int>(o.summary.size()), o.summary.data());
  std::printf("\nElement types (ONNX name: Tessel's):");
  const char* sep = " ";
#define X(name, ctype, str, onnx)                                                                  \
  std::printf("%s%s: %s", sep, frontend::onnxTypeName(onnx).c_str(), str);                         \
  sep = ", ";
  TESSEL_DTYPES(X)
#undef X
  std::printf(".\n");
  return 0;
}

} // namespace tessel::cli
