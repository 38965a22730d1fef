// Einsum: an equation over labelled axes as diagonals and broadcasts (rasters), sums over axes
// no later step needs (reductions), and pairwise contractions (batched matmuls), left to right.
#include "builder.h"
#include "tessel/decompose/strided_copy.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace tessel::decompose {
namespace {

// Axis labels: the equation's letters as themselves, the axes an ellipsis stands for as
// kEllipsis + their position counted in the longest ellipsis (right-aligned, as numpy
// broadcasts them).
constexpr int kEllipsis = 1000;
using Labels = std::vector<int>;

struct Equation {
  std::vector<Labels> inputs; // as written (a letter may repeat: a diagonal)
  Labels output;
};

bool has(const Labels& l, int label) {
  return std::find(l.begin(), l.end(), label) != l.end();
}

// One term: letters and at most one "..." standing for `rank` minus the letters' count axes.
Result<Labels> parseTerm(const Node& n, const std::string& term, int64_t rank, int64_t ellipsis,
                         bool isOutput) {
  Labels labels;
  int64_t letters = 0;
  size_t dots = std::string::npos;
  for (size_t i = 0; i < term.size(); ++i) {
    if (term.compare(i, 3, "...") == 0) {
      if (dots != std::string::npos) return n.error("'" + term + "' has two ellipses");
      dots = labels.size();
      i += 2;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(term[i])))
      return n.error("equation term '" + term + "' has a character other than letters and ...");
    labels.push_back(term[i]);
    ++letters;
  }
  const int64_t spread = isOutput ? (dots == std::string::npos ? 0 : ellipsis) : rank - letters;
  if (!isOutput && (spread < 0 || (dots == std::string::npos && spread != 0)))
    return n.error("term '" + term + "' does not match an input of rank " + std::to_string(rank));
  if (dots != std::string::npos) {
    Labels dims;
    for (int64_t j = 0; j < spread; ++j)
      dims.push_back(kEllipsis + static_cast<int>(ellipsis - spread + j));
    labels.insert(labels.begin() + static_cast<std::ptrdiff_t>(dots), dims.begin(), dims.end());
  }
  return labels;
}

Result<Equation> parseEquation(LoweringBuilder& b, std::string text) {
  const Node& n = b.node();
  text.erase(std::remove_if(text.begin(), text.end(),
                            [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
             text.end());
  const size_t arrow = text.find("->");
  const std::string lhs = text.substr(0, arrow);
  std::vector<std::string> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(lhs.substr(start, comma == std::string::npos ? comma : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != n.inputs.size())
    return n.error("equation '" + text + "' has " + std::to_string(terms.size()) + " terms for " +
                   std::to_string(n.inputs.size()) + " inputs");
  // The longest ellipsis: each input's rank less its letters.
  int64_t ellipsis = 0;
  for (size_t i = 0; i < terms.size(); ++i) {
    int64_t letters = 0;
    for (char c : terms[i])
      letters += std::isalpha(static_cast<unsigned char>(c)) ? 1 : 0;
    if (terms[i].find("...") != std::string::npos)
      ellipsis = std::max(ellipsis, b.desc(b.input(i)).rank() - letters);
  }
  Equation eq;
  for (size_t i = 0; i < terms.size(); ++i) {
    TESSEL_ASSIGN_OR_RETURN(Labels l,
                            parseTerm(n, terms[i], b.desc(b.input(i)).rank(), ellipsis, false));
    eq.inputs.push_back(std::move(l));
  }
  if (arrow != std::string::npos) {
    TESSEL_ASSIGN_OR_RETURN(eq.output, parseTerm(n, text.substr(arrow + 2), 0, ellipsis, true));
    for (size_t i = 0; i < eq.output.size(); ++i) {
      bool known = false;
      for (const Labels& in : eq.inputs)
        known = known || has(in, eq.output[i]);
      if (!known || std::count(eq.output.begin(), eq.output.end(), eq.output[i]) > 1)
        return n.error("output term of '" + text + "' names an axis twice or one no input has");
    }
  } else { // implicit: the ellipsis, then the letters used once, in alphabetical order
    for (int64_t j = 0; j < ellipsis; ++j)
      eq.output.push_back(kEllipsis + static_cast<int>(j));
    std::map<int, int> uses;
    for (const Labels& in : eq.inputs)
      for (int l : in)
        if (l < kEllipsis) ++uses[l];
    for (const auto& [l, count] : uses)
      if (count == 1) eq.output.push_back(l);
  }
  return eq;
}

// A tensor with one label per axis (no repeats).
struct Labelled {
  int32_t id;
  Labels labels;
};

// x's axes in the order `order` (a permutation of its labels), by one raster.
Result<Labelled> permute(LoweringBuilder& b, const Labelled& x, const Labels& order) {
  if (order == x.labels) return x;
  const Shape s = b.shape(x.id), strides = denseStrides(s);
  Shape shape, from;
  for (int l : order) {
    const auto at = std::find(x.labels.begin(), x.labels.end(), l) - x.labels.begin();
    shape.push_back(s[static_cast<size_t>(at)]);
    from.push_back(strides[static_cast<size_t>(at)]);
  }
  RasterParams r;
  TESSEL_RETURN_IF_ERROR(
      appendStridedCopy(&r.regions, 0, {0, from}, {0, denseStrides(shape)}, shape));
  const int32_t out = b.temp({b.desc(x.id).dtype, shape});
  b.emit(r, {x.id}, out);
  return Labelled{out, order};
}

// x summed over the axes whose labels `keep` lacks.
Labelled sumOut(LoweringBuilder& b, const Labelled& x, const Labels& keep) {
  std::vector<bool> reduced;
  Labels kept;
  Shape keptShape, reducedShape = b.shape(x.id);
  for (size_t i = 0; i < x.labels.size(); ++i) {
    const bool gone = !has(keep, x.labels[i]);
    reduced.push_back(gone);
    if (gone) {
      reducedShape[i] = 1;
    } else {
      kept.push_back(x.labels[i]);
      keptShape.push_back(reducedShape[i]);
    }
  }
  if (kept.size() == x.labels.size()) return x;
  const DType t = b.desc(x.id).dtype;
  const int32_t summed = b.temp({t, reducedShape});
  reduceRuns(b, ReduceKind::Sum, x.id, reduced, summed);
  const int32_t out = b.temp({t, keptShape});
  b.view(summed, out);
  return Labelled{out, kept};
}

} // namespace

// Einsum(inputs...; equation): each input's repeated labels become its diagonal and its
// ellipsis axes of 1 broadcast (one raster); axes no other input and not the output names are
// summed away; inputs then contract pairwise, left to right, as batched matmuls [batch, kept
// left, contracted] x [batch, contracted, kept right]; the result is summed and permuted into
// the output's order. f32 (cpu_x86 and the reference) or f64 (the reference).
Status lowerEinsum(LoweringBuilder& b) {
  const Node& n = b.node();
  if (n.inputs.empty()) return n.error("expects at least one input");
  const DType type = b.desc(b.input(0)).dtype;
  if (type != DType::F32 && type != DType::F64)
    return unsupported(n.label() + ": element type " + std::string(dtypeName(type)) +
                       " (f32 or f64)");
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    if (!n.hasInput(i)) return n.error("missing input " + std::to_string(i));
    if (b.desc(b.input(i)).dtype != type) return n.error("inputs have different element types");
  }
  TESSEL_ASSIGN_OR_RETURN(std::string text, n.stringAttr("equation", ""));
  TESSEL_ASSIGN_OR_RETURN(Equation eq, parseEquation(b, text));
  // Every label's size: letters must agree; an ellipsis axis of 1 broadcasts.
  std::map<int, int64_t> size;
  for (size_t i = 0; i < eq.inputs.size(); ++i) {
    const Shape s = b.shape(b.input(i));
    for (size_t a = 0; a < s.size(); ++a) {
      const int l = eq.inputs[i][a];
      auto [it, fresh] = size.emplace(l, s[a]);
      if (fresh || it->second == s[a]) continue;
      if (l >= kEllipsis && (it->second == 1 || s[a] == 1)) {
        it->second = std::max(it->second, s[a]);
        continue;
      }
      return n.error("axis '" +
                     (l < kEllipsis ? std::string(1, static_cast<char>(l)) : std::string("...")) +
                     "' has sizes " + std::to_string(it->second) + " and " + std::to_string(s[a]));
    }
  }
  // Each input with one axis per label: diagonals and broadcasts in one raster.
  std::vector<Labelled> terms;
  for (size_t i = 0; i < eq.inputs.size(); ++i) {
    const Labels& l = eq.inputs[i];
    const Shape s = b.shape(b.input(i)), strides = denseStrides(s);
    Labels unique;
    Shape shape, from;
    bool copy = false;
    for (size_t a = 0; a < l.size(); ++a) {
      const auto at = std::find(unique.begin(), unique.end(), l[a]) - unique.begin();
      const bool broadcast = s[a] != size[l[a]];
      if (static_cast<size_t>(at) == unique.size()) {
        unique.push_back(l[a]);
        shape.push_back(size[l[a]]);
        from.push_back(broadcast ? 0 : strides[a]);
        copy = copy || broadcast;
      } else {
        from[static_cast<size_t>(at)] += strides[a]; // a diagonal
        copy = true;
      }
    }
    Labelled t{b.input(i), unique};
    if (copy) {
      RasterParams r;
      TESSEL_RETURN_IF_ERROR(
          appendStridedCopy(&r.regions, 0, {0, from}, {0, denseStrides(shape)}, shape));
      t.id = b.temp({type, shape});
      b.emit(r, {b.input(i)}, t.id);
    }
    terms.push_back(t);
  }
  // The labels needed after input i: the output's and those of the inputs after it.
  const auto neededAfter = [&](size_t i) {
    Labels need = eq.output;
    for (size_t j = i + 1; j < terms.size(); ++j)
      need.insert(need.end(), terms[j].labels.begin(), terms[j].labels.end());
    return need;
  };
  Labelled acc = sumOut(b, terms[0], neededAfter(0));
  for (size_t i = 1; i < terms.size(); ++i) {
    const Labels later = neededAfter(i);
    Labels keepRight = later;
    keepRight.insert(keepRight.end(), acc.labels.begin(), acc.labels.end());
    const Labelled right = sumOut(b, terms[i], keepRight);
    Labels batch, left, contracted, kept;
    for (int l : acc.labels) {
      if (has(right.labels, l))
        (has(later, l) ? batch : contracted).push_back(l);
      else
        left.push_back(l);
    }
    for (int l : right.labels)
      if (!has(acc.labels, l)) kept.push_back(l);
    const auto sizeOf = [&](const Labels& ls) {
      int64_t p = 1;
      for (int l : ls)
        p *= size[l];
      return p;
    };
    Labels aOrder = batch, bOrder = batch;
    aOrder.insert(aOrder.end(), left.begin(), left.end());
    aOrder.insert(aOrder.end(), contracted.begin(), contracted.end());
    bOrder.insert(bOrder.end(), contracted.begin(), contracted.end());
    bOrder.insert(bOrder.end(), kept.begin(), kept.end());
    TESSEL_ASSIGN_OR_RETURN(Labelled a, permute(b, acc, aOrder));
    TESSEL_ASSIGN_OR_RETURN(Labelled m, permute(b, right, bOrder));
    const int64_t nb = sizeOf(batch), nl = sizeOf(left), nc = sizeOf(contracted), nk = sizeOf(kept);
    const int32_t a3 = b.temp({type, {nb, nl, nc}}), m3 = b.temp({type, {nb, nc, nk}});
    b.view(a.id, a3);
    b.view(m.id, m3);
    TESSEL_ASSIGN_OR_RETURN(int32_t product, numpyMatMul(b, a3, m3, false));
    Labels labels = batch;
    labels.insert(labels.end(), left.begin(), left.end());
    labels.insert(labels.end(), kept.begin(), kept.end());
    Shape shape;
    for (int l : labels)
      shape.push_back(size[l]);
    const int32_t unfolded = b.temp({type, shape});
    b.view(product, unfolded);
    acc = Labelled{unfolded, labels};
  }
  acc = sumOut(b, acc, eq.output);
  TESSEL_ASSIGN_OR_RETURN(acc, permute(b, acc, eq.output));
  Shape outShape;
  for (int l : eq.output)
    outShape.push_back(size[l]);
  b.view(acc.id, b.setOutput(0, {type, outShape}));
  return Status::ok();
}

} // namespace tessel::decompose
