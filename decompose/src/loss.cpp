// Loss functions: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss as gathers, selects and
// reductions.
#include "builder.h"

namespace tessel::decompose {
namespace {

// ONNX's negative log-likelihood over log-probabilities viewed as lp3 = [N, C, D] (D the
// product of the trailing dims, 1 without): per (n, d) the element -lp[n, t, d] * w[t] with
// t = target[n, d], zero where t is ignore_index; reduced by `reduction`. Output 0 is the loss,
// shaped [N, d...] for "none", a scalar otherwise. A target outside [-C, C) that is not ignored
// fails the run (the gathers check their indices).
Status negativeLogLikelihood(LoweringBuilder& b, int32_t lp3, size_t targetInput,
                             size_t weightInput) {
  const Node& n = b.node();
  const Shape s = b.shape(lp3);
  const int64_t batch = s[0], classes = s[1], inner = s[2];
  const TensorDesc target = b.desc(b.input(targetInput));
  if (target.dtype != DType::I64 && target.dtype != DType::I32)
    return n.error("target is " + std::string(dtypeName(target.dtype)) + " (i32 or i64 expected)");
  if (target.numel() != batch * inner || target.rank() < 1 || target.shape[0] != batch)
    return n.error("target " + shapeToString(target.shape) +
                   " does not match the input's N and trailing dims");
  const bool weighted = n.hasInput(weightInput);
  if (weighted) {
    const TensorDesc w = b.desc(b.input(weightInput));
    if (w.dtype != DType::F32 || w.rank() != 1 || w.shape[0] != classes)
      return n.error("weight must be f32 [" + std::to_string(classes) + "], got " +
                     std::string(dtypeName(w.dtype)) + shapeToString(w.shape));
  }
  TESSEL_ASSIGN_OR_RETURN(std::string reduction, n.stringAttr("reduction", "mean"));
  if (reduction != "none" && reduction != "sum" && reduction != "mean")
    return n.error("reduction '" + reduction + "' (none, sum or mean expected)");
  const Shape rows{batch, 1, inner};
  const TensorDesc f32Rows{DType::F32, rows};
  int32_t t = b.temp({target.dtype, rows});
  b.view(b.input(targetInput), t);
  // Ignored positions read class 0 (their target may lie outside the classes) and weigh 0.
  int32_t ignored = -1;
  if (n.hasAttr("ignore_index")) {
    TESSEL_ASSIGN_OR_RETURN(int64_t ii, n.intAttr("ignore_index", 0));
    ignored = b.temp({DType::Bool, rows});
    b.binary(BinaryKind::Equal, t, b.scalar(target.dtype, static_cast<double>(ii)), ignored);
    const int32_t safe = b.temp({target.dtype, rows});
    b.select(ignored, b.scalar(target.dtype, 0), t, safe);
    t = safe;
  }
  GatherParams picks{batch, classes, inner};
  picks.elements = true;
  const int32_t picked = b.temp(f32Rows);
  b.emit(picks, {lp3, t}, picked);
  int32_t weight = -1; // per (n, d), or none for 1 everywhere
  if (weighted) {
    weight = b.temp(f32Rows);
    b.emit(GatherParams{1, classes, 1}, {b.input(weightInput), t}, weight);
  }
  if (ignored >= 0) {
    const int32_t kept = b.temp(f32Rows);
    b.select(ignored, b.scalar(DType::F32, 0), weight >= 0 ? weight : b.scalar(DType::F32, 1),
             kept);
    weight = kept;
  }
  int32_t product = picked;
  if (weight >= 0) product = b.binaryTemp(BinaryKind::Mul, picked, weight);
  const int32_t loss = b.temp(f32Rows);
  b.unary(UnaryKind::Neg, product, loss);
  if (reduction == "none") {
    b.view(loss, b.setOutput(0, {DType::F32, target.shape}));
    return Status::ok();
  }
  const int32_t out = b.setOutput(0, {DType::F32, {}});
  const ReduceParams all{ReduceKind::Sum, 1, batch * inner, 1};
  if (reduction == "sum") {
    b.emit(all, {loss}, out);
    return Status::ok();
  }
  // mean: the sum over the weights the positions carried (their count without weights).
  const int32_t total = b.temp({DType::F32, {}});
  b.emit(all, {loss}, total);
  int32_t count = b.scalar(DType::F32, static_cast<double>(batch * inner));
  if (weight >= 0) {
    count = b.temp({DType::F32, {}});
    b.emit(all, {weight}, count);
  }
  b.binary(BinaryKind::Div, total, count, out);
  return Status::ok();
}

// The input [N, C, d...] of a loss viewed as [N, C, D], after its checks.
Result<int32_t> classesView(LoweringBuilder& b, const char* what) {
  const Node& n = b.node();
  const TensorDesc x = b.desc(b.input(0));
  if (x.dtype != DType::F32)
    return unsupported(n.label() + ": " + what + " of element type " +
                       std::string(dtypeName(x.dtype)) + " (only float32)");
  if (x.rank() < 2)
    return n.error(std::string(what) + " must be [N, C, ...], got rank " +
                   std::to_string(x.rank()));
  const int32_t x3 = b.temp({DType::F32, {x.shape[0], x.shape[1], product(x.shape, 2, x.rank())}});
  b.view(b.input(0), x3);
  return x3;
}

} // namespace

Status lowerNegativeLogLikelihoodLoss(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects input and target");
  TESSEL_ASSIGN_OR_RETURN(int32_t x3, classesView(b, "input"));
  return negativeLogLikelihood(b, x3, 1, 2);
}

// log_prob = LogSoftmax over the classes; loss = NegativeLogLikelihoodLoss(log_prob, labels).
Status lowerSoftmaxCrossEntropyLoss(LoweringBuilder& b) {
  const Node& n = b.node();
  if (!n.hasInput(0) || !n.hasInput(1)) return n.error("expects scores and labels");
  if (n.numOutputs > 2) return n.error("has more than 2 outputs");
  TESSEL_ASSIGN_OR_RETURN(int32_t x3, classesView(b, "scores"));
  const int32_t logProb = softmaxMiddle(b, x3, true);
  if (n.numOutputs > 1) b.view(logProb, b.setOutput(1, b.desc(b.input(0))));
  return negativeLogLikelihood(b, logProb, 1, 2);
}

} // namespace tessel::decompose
