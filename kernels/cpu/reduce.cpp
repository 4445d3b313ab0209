// CPU reductions over one axis of a [outer, r, inner] view. Each output is reduced sequentially
// (fixed order, deterministic); outputs are spread over threads. Reducers: kernels/math.h.
#include <algorithm>

#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"

namespace groove::cpu {

namespace {
constexpr std::int64_t kChunk = 64;  // inner positions reduced together (stack accumulators)

constexpr int kLanes = 8;  // partial accumulators per row (fixed, so the order is too)

// inner == 1: each row is reduced into kLanes interleaved partials (element j goes to lane
// j % kLanes), then the partials are combined pairwise in a fixed order. Deterministic, and the
// independent lanes vectorize and hide the add latency.
template <ReduceOp Op, typename T>
void reduce_rows(T* out, const T* x, const ReduceShape& s) {
  using R = math::Reducer<Op, T>;
  using Acc = typename R::Acc;
  parallel_chunks(
      s.outer,
      [=](std::int64_t begin, std::int64_t end) {
        for (std::int64_t o = begin; o < end; ++o) {
          const T* row = x + o * s.r;
          Acc lane[kLanes];
          for (int l = 0; l < kLanes; ++l) lane[l] = R::init();
          std::int64_t j = 0;
          for (; j + kLanes <= s.r; j += kLanes) {
            for (int l = 0; l < kLanes; ++l) lane[l] = R::step(lane[l], row[j + l]);
          }
          for (int l = 0; j < s.r; ++j, ++l) lane[l] = R::step(lane[l], row[j]);
          for (int width = kLanes / 2; width > 0; width /= 2) {
            for (int l = 0; l < width; ++l) lane[l] = R::combine(lane[l], lane[l + width]);
          }
          out[o] = R::finish(lane[0], s.r);
        }
      },
      s.r);
}

template <ReduceOp Op, typename T>
void reduce_impl(T* out, const T* x, const ReduceShape& s) {
  using R = math::Reducer<Op, T>;
  using Acc = typename R::Acc;
  if (s.inner == 1) {
    reduce_rows<Op, T>(out, x, s);
    return;
  }
  const std::int64_t chunks = (s.inner + kChunk - 1) / kChunk;
#pragma omp parallel for if (s.outer * s.r * s.inner >= kParallelElements)
  for (std::int64_t job = 0; job < s.outer * chunks; ++job) {
    const std::int64_t o = job / chunks, i0 = (job % chunks) * kChunk;
    const std::int64_t width = std::min(kChunk, s.inner - i0);
    Acc acc[kChunk];
    for (std::int64_t i = 0; i < width; ++i) acc[i] = R::init();
    const T* base = x + o * s.r * s.inner + i0;
    for (std::int64_t j = 0; j < s.r; ++j) {
      const T* row = base + j * s.inner;
      for (std::int64_t i = 0; i < width; ++i) acc[i] = R::step(acc[i], row[i]);
    }
    for (std::int64_t i = 0; i < width; ++i) out[o * s.inner + i0 + i] = R::finish(acc[i], s.r);
  }
}
}  // namespace

template <typename T>
void reduce(T* out, const T* x, const ReduceShape& s, ReduceOp op, Context&) {
  math::with_reduce_op(op, [&](auto o) { reduce_impl<decltype(o)::value, T>(out, x, s); });
}

template <typename T>
void argmax(std::int32_t* out, const T* x, const ReduceShape& s, Context&) {
#pragma omp parallel for if (s.outer * s.r * s.inner >= kParallelElements)
  for (std::int64_t o = 0; o < s.outer; ++o) {
    for (std::int64_t i = 0; i < s.inner; ++i) {
      math::ArgmaxAcc<T> acc = math::argmax_init<T>();
      const T* base = x + o * s.r * s.inner + i;
      for (std::int64_t j = 0; j < s.r; ++j) acc = math::argmax_combine(acc, math::ArgmaxAcc<T>{base[j * s.inner], j});
      out[o * s.inner + i] = static_cast<std::int32_t>(acc.index);
    }
  }
}

GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_REDUCE)

}  // namespace groove::cpu
