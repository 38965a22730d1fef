// Det: determinants of square matrices as sums of signed products (Leibniz's formula), one gather
// of every permutation's entries, a product and a signed sum: no linear-algebra primitive.
#include "builder.h"

#include <algorithm>
#include <numeric>

namespace tessel::decompose {

// Matrices up to 6x6 (720 products of 6 entries); larger ones are refused by name. Gaussian
// elimination would need a pivot search per column, a data-dependent row exchange each step.
Status lowerDet(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0)) return n.error("expects an input");
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32 && x.dtype != DType::F64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(x.dtype)));
  if (x.rank() < 2 || x.shape[x.rank() - 1] != x.shape[x.rank() - 2])
    return n.error("input " + x.toString() + " is not a stack of square matrices");
  const int64_t size = x.shape[x.rank() - 1];
  constexpr int64_t kMaxSize = 6;
  if (size > kMaxSize)
    return unsupported(n.label() + ": matrices of " + std::to_string(size) + "x" +
                       std::to_string(size) + " (at most " + std::to_string(kMaxSize) + "x" +
                       std::to_string(kMaxSize) + ")");
  const Shape outShape(x.shape.begin(), x.shape.end() - 2);
  const int64_t batch = product(outShape, 0, outShape.size());
  const int32_t out = b.setOutput(0, {x.dtype, outShape});
  // Every permutation p: the flat positions of entries (i, p[i]), and its sign.
  std::vector<int64_t> perm(static_cast<size_t>(size)), positions;
  std::iota(perm.begin(), perm.end(), 0);
  std::vector<double> signs;
  do {
    int64_t inversions = 0;
    for (size_t i = 0; i < perm.size(); ++i) {
      positions.push_back(static_cast<int64_t>(i) * size + perm[i]);
      for (size_t j = i + 1; j < perm.size(); ++j)
        inversions += perm[i] > perm[j];
    }
    signs.push_back(inversions % 2 ? -1.0 : 1.0);
  } while (std::next_permutation(perm.begin(), perm.end()));
  const auto terms = static_cast<int64_t>(signs.size());
  if (size == 0) { // the empty product: 1
    b.binary(BinaryKind::Add, b.scalar(x.dtype, 1.0), b.scalar(x.dtype, 0.0), out);
    return Status::ok();
  }
  const int32_t table = b.constant({DType::I64, {terms * size}}, positions.data());
  const int32_t entries = b.temp({x.dtype, {batch, terms, size}});
  b.emit(GatherParams{batch, size * size, 1}, {b.input(0), table}, entries);
  const int32_t products = b.temp({x.dtype, {batch, terms}});
  ReduceParams prod;
  prod.kind = ReduceKind::Prod;
  prod.outer = batch * terms;
  prod.extent = size;
  b.emit(prod, {entries}, products);
  std::vector<uint8_t> signBytes(static_cast<size_t>(terms) * dtypeSize(x.dtype));
  for (size_t i = 0; i < signs.size(); ++i)
    storeDouble(x.dtype, signs[i], signBytes.data() + i * dtypeSize(x.dtype));
  const int32_t signed_ =
      b.binaryTemp(BinaryKind::Mul, products, b.constant({x.dtype, {terms}}, signBytes.data()));
  const int32_t sums = b.temp({x.dtype, {batch, 1}});
  ReduceParams sum;
  sum.outer = batch;
  sum.extent = terms;
  b.emit(sum, {signed_}, sums);
  b.view(sums, out);
  return Status::ok();
}

} // namespace tessel::decompose
