#include "movement.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <emmintrin.h> // SSE2: part of the x86-64 baseline

namespace tessel::x86 {
namespace {

// Whether two regions of one size and one destination stride set may write the same element,
// decided exactly when the strides of the levels longer than 1 are positive and nest
// (stride[0] >= size[1] * stride[1], stride[1] >= size[2] * stride[2]): then an offset difference
// has at most two candidates per level. Anything else counts as overlapping.
bool mayOverlap(const Region& a, const Region& b) {
  const auto& n = a.size;
  std::array<int64_t, 3> st = a.dst.stride;
  for (int l = 2; l >= 0; --l)
    if (n[l] == 1) st[l] = l == 2 ? 1 : st[l + 1] * n[l + 1]; // a level of one: any nesting stride
  if (st[2] <= 0 || st[1] < n[2] * st[2] || st[0] < n[1] * st[1]) return true;
  const auto floorDiv = [](int64_t x, int64_t y) {
    return x / y - (x % y != 0 && (x < 0) != (y < 0));
  };
  const int64_t d = a.dst.offset - b.dst.offset;
  for (int64_t di = floorDiv(d, st[0]); di <= floorDiv(d, st[0]) + 1; ++di) {
    if (di <= -n[0] || di >= n[0]) continue;
    const int64_t r0 = d - di * st[0];
    for (int64_t dj = floorDiv(r0, st[1]); dj <= floorDiv(r0, st[1]) + 1; ++dj) {
      if (dj <= -n[1] || dj >= n[1]) continue;
      const int64_t r1 = r0 - dj * st[1];
      if (r1 % st[2] == 0 && r1 / st[2] > -n[2] && r1 / st[2] < n[2]) return true;
    }
  }
  return false;
}

// The destination rows of a region never meet: strides positive and nested on the levels
// longer than 1 (then each (i, j) row covers its own elements).
bool rowsDisjoint(const Region& r) {
  const auto& n = r.size;
  std::array<int64_t, 3> st = r.dst.stride;
  for (int l = 2; l >= 0; --l)
    if (n[l] == 1) st[l] = l == 2 ? 1 : st[l + 1] * n[l + 1];
  return st[2] > 0 && st[1] >= n[2] * st[2] && st[0] >= n[1] * st[1];
}

// Whether rows of the regions may go to threads in any order: no destination element is
// written twice (else the later region, or row, must win and the rows keep their order).
bool writesOnce(const std::vector<Region>& regions) {
  if (regionsWriteOnceDense(regions)) return true; // most rasters: no pairs to compare
  for (const Region& r : regions)
    if (r.size[0] * r.size[1] * r.size[2] > 0 && !rowsDisjoint(r)) return false;
  for (size_t i = 0; i < regions.size(); ++i)
    for (size_t j = i + 1; j < regions.size(); ++j) {
      const Region &a = regions[i], &b = regions[j];
      if (a.size[0] * a.size[1] * a.size[2] == 0 || b.size[0] * b.size[1] * b.size[2] == 0)
        continue;
      int64_t alo = 0, ahi = 0, blo = 0, bhi = 0; // validated regions: no overflow
      viewRange(a.dst, a.size, &alo, &ahi);
      viewRange(b.dst, b.size, &blo, &bhi);
      if (ahi < blo || bhi < alo) continue; // apart
      if (a.size == b.size && a.dst.stride == b.dst.stride && !mayOverlap(a, b)) continue;
      return false;
    }
  return true;
}

class RasterKernel final : public PreparedKernel {
public:
  explicit RasterKernel(const RasterParams& p) : p_(p) {
    for (const Region& r : p.regions)
      rows_ += r.size[0] * r.size[1] * (r.size[2] > 0 ? 1 : 0);
    // Pairwise checks are quadratic in the regions: past a few thousand (no converter rule
    // emits that many), rows run in order on one thread.
    ordered_ = p.regions.size() > 4096 || !writesOnce(p.regions);
    // Row by row across regions only when that cannot change the result: one shape, one
    // destination stride set, no element written twice.
    interleaved_ = !ordered_ && p.regions.size() > 1 &&
                   p.regions.front().size[0] * p.regions.front().size[1] >= 8; // rows to split
    for (const Region& r : p.regions) // (no two overlap: !ordered_ says so)
      interleaved_ = interleaved_ && r.size == p.regions.front().size && r.size[2] > 0 &&
                     r.dst.stride == p.regions.front().dst.stride;
    // Pairs of 4-byte regions whose rows interleave element by element into one output line
    // (the column phases of a 2x upsampling or depth-to-space: destination stride 2, offsets one
    // apart, contiguous sources): written together, two vectors unpacked into two.
    partner_.assign(p.regions.size(), -1);
    for (size_t i = 0; interleaved_ && i < p.regions.size(); ++i) {
      const Region& a = p.regions[i];
      if (partner_[i] != -1 || a.dst.stride[2] != 2 || a.src.stride[2] != 1) continue;
      for (size_t j = 0; j < p.regions.size(); ++j) {
        const Region& b = p.regions[j];
        if (j != i && partner_[j] == -1 && b.src.stride[2] == 1 &&
            b.dst.offset == a.dst.offset + 1) {
          partner_[i] = static_cast<int>(j);
          partner_[j] = -2; // written with i
          break;
        }
      }
    }
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    const size_t elem = dtypeSize(out.desc->dtype);
    auto* dst = out.mutableHostData<uint8_t>();
    if (p_.fill) {
      const int64_t n = out.desc->storageNumel();
      if (*p_.fill == 0.0) {
        std::memset(dst, 0, static_cast<size_t>(n) * elem);
      } else {
        uint8_t v[8];
        storeDouble(out.desc->dtype, *p_.fill, v);
        for (int64_t i = 0; i < n; ++i)
          std::memcpy(dst + i * elem, v, elem);
      }
    }
    // Tasks: runs of rows (i, j) over all regions, about 4 per thread; one when an element is
    // written twice (the later write must win).
    const int64_t tasks = ordered_ ? std::min<int64_t>(rows_, 1)
                                   : std::min<int64_t>(rows_, std::max(1, ctx.threads) * 4);
    if (tasks == 0) return Status::ok();
    if (interleaved_) {
      // Regions of one shape (a depth-to-space, an upsampling) take turns row by row, so the
      // output lines they share are written while in cache, not once per region.
      const Region& first = p_.regions.front();
      const int64_t count = first.size[0] * first.size[1];
      const int64_t rowTasks = std::min<int64_t>(count, std::max(1, ctx.threads) * 4);
      parallelFor(ctx, rowTasks, [&](int64_t task, int) {
        for (int64_t q = count * task / rowTasks; q < count * (task + 1) / rowTasks; ++q)
          for (size_t k = 0; k < p_.regions.size(); ++k) {
            const Region& r = p_.regions[k];
            const int64_t i = q / r.size[1], j = q % r.size[1];
            if (partner_[k] == -2) continue; // written with its partner
            const auto* src = in[r.source].hostData<uint8_t>();
            if (partner_[k] < 0) {
              copyRow(r, i, j, src, dst, elem);
              continue;
            }
            const Region& b = p_.regions[static_cast<size_t>(partner_[k])];
            const auto* srcB = in[b.source].hostData<uint8_t>();
            if (elem == 4) {
              interleaveRows(r, b, i, j, src, srcB, dst);
            } else {
              copyRow(r, i, j, src, dst, elem);
              copyRow(b, i, j, srcB, dst, elem);
            }
          }
      });
      return Status::ok();
    }
    parallelFor(ctx, tasks, [&](int64_t task, int) {
      const int64_t r0 = rows_ * task / tasks, r1 = rows_ * (task + 1) / tasks;
      int64_t row = 0;
      for (const Region& r : p_.regions) {
        if (r.size[2] <= 0) continue;
        const int64_t count = r.size[0] * r.size[1];
        if (row + count <= r0 || row >= r1) {
          row += count;
          continue;
        }
        const auto* src = in[r.source].hostData<uint8_t>();
        for (int64_t q = std::max(r0 - row, int64_t{0}); q < std::min(r1 - row, count); ++q)
          copyRow(r, q / r.size[1], q % r.size[1], src, dst, elem);
        row += count;
      }
    });
    return Status::ok();
  }

private:
  static void copyRow(const Region& r, int64_t i, int64_t j, const uint8_t* src, uint8_t* dst,
                      size_t elem) {
    const int64_t s = r.src.offset + i * r.src.stride[0] + j * r.src.stride[1];
    const int64_t d = r.dst.offset + i * r.dst.stride[0] + j * r.dst.stride[1];
    const int64_t n = r.size[2];
    if (r.src.stride[2] == 1 && r.dst.stride[2] == 1) {
      std::memcpy(dst + d * elem, src + s * elem, static_cast<size_t>(n) * elem);
      return;
    }
    if (elem == 4) { // the common case, without a memcpy call per element
      const auto* sp = reinterpret_cast<const uint32_t*>(src) + s;
      auto* dp = reinterpret_cast<uint32_t*>(dst) + d;
      for (int64_t k = 0; k < n; ++k)
        dp[k * r.dst.stride[2]] = sp[k * r.src.stride[2]];
      return;
    }
    for (int64_t k = 0; k < n; ++k)
      std::memcpy(dst + (d + k * r.dst.stride[2]) * elem, src + (s + k * r.src.stride[2]) * elem,
                  elem);
  }

  // Row (i, j) of regions a and b (partners: 4-byte elements, destination stride 2, b one
  // element after a, contiguous sources) into their shared output line.
  static void interleaveRows(const Region& a, const Region& b, int64_t i, int64_t j,
                             const uint8_t* srcA, const uint8_t* srcB, uint8_t* dst) {
    const auto* pa = reinterpret_cast<const float*>(srcA) + a.src.offset + i * a.src.stride[0] +
                     j * a.src.stride[1];
    const auto* pb = reinterpret_cast<const float*>(srcB) + b.src.offset + i * b.src.stride[0] +
                     j * b.src.stride[1];
    auto* d =
        reinterpret_cast<float*>(dst) + a.dst.offset + i * a.dst.stride[0] + j * a.dst.stride[1];
    const int64_t n = a.size[2];
    int64_t k = 0;
    for (; k + 4 <= n; k += 4) { // moves only: the bits of any 4-byte dtype pass unchanged
      const __m128 va = _mm_loadu_ps(pa + k), vb = _mm_loadu_ps(pb + k);
      _mm_storeu_ps(d + 2 * k, _mm_unpacklo_ps(va, vb));
      _mm_storeu_ps(d + 2 * k + 4, _mm_unpackhi_ps(va, vb));
    }
    for (; k < n; ++k) {
      std::memcpy(d + 2 * k, pa + k, 4);
      std::memcpy(d + 2 * k + 1, pb + k, 4);
    }
  }

  const RasterParams& p_;
  bool ordered_ = false; // some element is written twice: rows in order, one thread
  int64_t rows_ = 0;
  bool interleaved_ = false; // every region of one shape
  std::vector<int> partner_; // interleaved: the region written with this one, -2 when this one is
                             // written with another, -1 alone
};

// A reduction of [outer, extent, inner]: rows (inner 1) split across the pool, or one task per
// outer index. A blocked input [N, C/B, H*W, B] reduced over its planes (outer N * C, extent
// H * W) reduces each block's plane as columns of B lanes and writes the block's channels, the
// padded lanes dropped, into the plain output.
class ReduceKernel final : public PreparedKernel {
public:
  ReduceKernel(const KernelTable& t, const ReduceParams& p, const TensorDesc& x)
      : t_(t), p_(p), block_(layoutBlock(x.layout)) {
    if (block_) n_ = x.shape[0], c_ = x.shape[1];
  }

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    const float* x = in[0].hostData<float>();
    float* y = out.mutableHostData<float>();
    const auto kind = static_cast<uint8_t>(p_.kind);
    if (p_.outer == 0 || p_.inner == 0) return Status::ok();
    if (block_) {
      const int64_t blocks = (c_ + block_ - 1) / block_;
      parallelFor(ctx, n_ * blocks, [&](int64_t o, int) {
        const int64_t c0 = o % blocks * block_, lanes = std::min(block_, c_ - c0);
        float* dst = y + o / blocks * c_ + c0;
        alignas(64) float part[16]; // a block's lanes when some are padding (B = W <= 16)
        t_.reduceColumns(x + o * p_.extent * block_, p_.extent, block_, kind,
                         lanes == block_ ? dst : part);
        if (lanes < block_) std::copy(part, part + lanes, dst);
      });
      return Status::ok();
    }
    if (p_.inner == 1) {
      const int64_t tasks = std::min<int64_t>(p_.outer, std::max(1, ctx.threads) * 4);
      parallelFor(ctx, tasks, [&](int64_t task, int) {
        t_.reduceRows(x, p_.outer * task / tasks, p_.outer * (task + 1) / tasks, p_.extent, kind,
                      y);
      });
      return Status::ok();
    }
    parallelFor(ctx, p_.outer, [&](int64_t o, int) {
      t_.reduceColumns(x + o * p_.extent * p_.inner, p_.extent, p_.inner, kind, y + o * p_.inner);
    });
    return Status::ok();
  }

private:
  const KernelTable& t_;
  const ReduceParams& p_;
  int64_t block_ = 0, n_ = 0, c_ = 0; // a blocked input's block, batch and channels
};

} // namespace

namespace {

// Calls f with a value of the unsigned type of `bytes` (1, 2, 4, else 8) bytes: kernels that
// move elements of any dtype as words.
template <typename F> void withWord(size_t bytes, F&& f) {
  switch (bytes) {
  case 1: f(uint8_t{}); break;
  case 2: f(uint16_t{}); break;
  case 4: f(uint32_t{}); break;
  default: f(uint64_t{}); break;
  }
}

// Gather: indices checked first (a bad one fails the run before anything is written), then the
// rows (outer, index) split across the pool; 4- and 8-byte rows move as words, longer ones with
// memcpy.
class GatherKernel final : public PreparedKernel {
public:
  explicit GatherKernel(const GatherParams& p) : p_(p) {}

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    const int64_t count = in[1].desc->numel();
    const bool wide = in[1].desc->dtype == DType::I64;
    const void* idx = in[1].buffer.hostPointer();
    for (int64_t j = 0; j < count; ++j)
      TESSEL_RETURN_IF_ERROR(gatherRow(gatherIndexAt(idx, wide, j), p_.extent).status());
    if (p_.elements) return runElements(ctx, in, out, idx, wide);
    const size_t row = static_cast<size_t>(p_.inner) * dtypeSize(out.desc->dtype);
    const int64_t rows = p_.outer * count;
    if (rows == 0 || row == 0) return Status::ok();
    const auto* src = in[0].hostData<uint8_t>();
    auto* dst = out.mutableHostData<uint8_t>();
    const int64_t extent = p_.extent;
    // About 4 tasks per thread, none under 16 KiB of output.
    const int64_t tasks = std::clamp<int64_t>(static_cast<int64_t>(rows * row / 16384), 1,
                                              std::max(1, ctx.threads) * 4);
    parallelFor(ctx, tasks, [&](int64_t task, int) {
      const int64_t q0 = rows * task / tasks, q1 = rows * (task + 1) / tasks;
      const auto from = [&](int64_t q) {
        const int64_t o = q / count, j = q % count;
        const int64_t r = gatherIndexAt(idx, wide, j);
        return src + static_cast<size_t>(o * extent + (r < 0 ? r + extent : r)) * row;
      };
      if (row == 4) {
        for (int64_t q = q0; q < q1; ++q)
          std::memcpy(dst + static_cast<size_t>(q) * 4, from(q), 4);
      } else if (row == 8) {
        for (int64_t q = q0; q < q1; ++q)
          std::memcpy(dst + static_cast<size_t>(q) * 8, from(q), 8);
      } else {
        for (int64_t q = q0; q < q1; ++q)
          std::memcpy(dst + static_cast<size_t>(q) * row, from(q), row);
      }
    });
    return Status::ok();
  }

private:
  // One element per index (checked by run()), the output split across the pool.
  Status runElements(const ExecContext& ctx, std::span<const TensorArg> in, const TensorArg& out,
                     const void* idx, bool wide) const {
    const int64_t count = out.desc->numel();
    if (count == 0) return Status::ok();
    const size_t elem = dtypeSize(out.desc->dtype);
    const int64_t perOuter = count / p_.outer, inner = p_.inner, extent = p_.extent;
    const auto* src = in[0].hostData<uint8_t>();
    auto* dst = out.mutableHostData<uint8_t>();
    const int64_t tasks = std::clamp<int64_t>(count / 4096, 1, std::max(1, ctx.threads) * 4);
    parallelFor(ctx, tasks, [&](int64_t task, int) {
      const int64_t q0 = count * task / tasks, q1 = count * (task + 1) / tasks;
      withWord(elem, [&](auto word) {
        using T = decltype(word);
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t r = gatherIndexAt(idx, wide, q);
          const int64_t at = (q / perOuter * extent + (r < 0 ? r + extent : r)) * inner + q % inner;
          std::memcpy(dst + static_cast<size_t>(q) * sizeof(T),
                      src + static_cast<size_t>(at) * sizeof(T), sizeof(T));
        }
      });
    });
    return Status::ok();
  }

  const GatherParams& p_;
};

// Select: the output walked row by row (its last dim), each row's three operands at their
// offsets, split across the pool; elements of 1, 2, 4 or 8 bytes.
class SelectKernel final : public PreparedKernel {
public:
  explicit SelectKernel(const SelectParams& p) : p_(p) {}

  Status run(const ExecContext& ctx, std::span<const TensorArg> in,
             const TensorArg& out) const override {
    const Shape& shape = out.desc->shape;
    const int64_t total = out.desc->numel();
    if (total == 0) return Status::ok();
    const size_t rank = shape.size();
    const int64_t width = rank ? shape[rank - 1] : 1, rows = total / width;
    const auto* cond = in[0].hostData<uint8_t>();
    const auto* lhs = in[1].hostData<uint8_t>();
    const auto* rhs = in[2].hostData<uint8_t>();
    auto* dst = out.mutableHostData<uint8_t>();
    const int64_t tasks = std::clamp<int64_t>(total / 8192, 1, std::max(1, ctx.threads) * 4);
    parallelFor(ctx, tasks, [&](int64_t task, int) {
      const int64_t r0 = rows * task / tasks, r1 = rows * (task + 1) / tasks;
      withWord(dtypeSize(out.desc->dtype), [&](auto word) {
        using T = decltype(word);
        const int64_t cs = rank ? p_.condStrides[rank - 1] : 0;
        const int64_t ls = rank ? p_.lhsStrides[rank - 1] : 0;
        const int64_t rs = rank ? p_.rhsStrides[rank - 1] : 0;
        for (int64_t r = r0; r < r1; ++r) {
          int64_t oc = 0, ol = 0, orr = 0; // the row's offsets, from its index over the outer dims
          for (int64_t d = static_cast<int64_t>(rank) - 2, rest = r; d >= 0; --d) {
            const int64_t i = rest % shape[d];
            rest /= shape[d];
            oc += i * p_.condStrides[d], ol += i * p_.lhsStrides[d], orr += i * p_.rhsStrides[d];
          }
          T* y = reinterpret_cast<T*>(dst) + r * width;
          for (int64_t x = 0; x < width; ++x) {
            T a, b;
            std::memcpy(&a, lhs + static_cast<size_t>(ol + x * ls) * sizeof(T), sizeof(T));
            std::memcpy(&b, rhs + static_cast<size_t>(orr + x * rs) * sizeof(T), sizeof(T));
            y[x] = cond[oc + x * cs] ? a : b;
          }
        }
      });
    });
    return Status::ok();
  }

private:
  const SelectParams& p_;
};

} // namespace

std::unique_ptr<PreparedKernel> prepareGather(const KernelTable&, const PrepareArgs& args) {
  return std::make_unique<GatherKernel>(args.primitive->as<GatherParams>());
}

std::unique_ptr<PreparedKernel> prepareSelect(const KernelTable&, const PrepareArgs& args) {
  return std::make_unique<SelectKernel>(args.primitive->as<SelectParams>());
}

std::unique_ptr<PreparedKernel> prepareRaster(const KernelTable&, const PrepareArgs& args) {
  return std::make_unique<RasterKernel>(args.primitive->as<RasterParams>());
}

bool reduceLayoutsFit(const KernelTable& table, const Primitive& p,
                      const std::vector<TensorDesc>& t) {
  const TensorDesc& x = t[p.inputs[0]];
  if (t[p.outputs[0]].layout != Layout::Plain) return false;
  if (x.layout == Layout::Plain) return true;
  return layoutBlock(x.layout) == table.vectorWidth && reducesPlanes(p.as<ReduceParams>(), x);
}

std::unique_ptr<PreparedKernel> prepareReduce(const KernelTable& table, const PrepareArgs& args) {
  const Primitive& p = *args.primitive;
  return std::make_unique<ReduceKernel>(table, p.as<ReduceParams>(), (*args.tensors)[p.inputs[0]]);
}

} // namespace tessel::x86
