// CPU indexing kernels: row gather by index, one-hot.
#include <cstring>

#include "kernels/backend.h"
#include "kernels/cpu/parallel.h"

namespace groove::cpu {

template <typename T>
void gather_rows(T* y, const T* x, const std::int32_t* index, const GatherShape& s, Context&) {
  // Validate first: nothing may throw inside the parallel loop.
  const std::int64_t n_index = s.index_batch_stride ? s.batch * s.m : s.m;
  for (std::int64_t i = 0; i < n_index; ++i) {
    GROOVE_CHECK(index[i] >= 0 && index[i] < s.p, "gather_rows: index[", i, "] = ", index[i], " is out of range [0, ",
                 s.p, ")");
  }
#pragma omp parallel for if (s.batch * s.m * s.d >= kParallelElements)
  for (std::int64_t row = 0; row < s.batch * s.m; ++row) {
    const std::int64_t b = row / s.m, i = row % s.m;
    const std::int32_t src = index[b * s.index_batch_stride + i];
    std::memcpy(y + row * s.d, x + b * s.x_batch_stride + src * s.d, static_cast<std::size_t>(s.d) * sizeof(T));
  }
}

template <typename T>
void one_hot(T* y, const std::int32_t* labels, std::int64_t n, std::int64_t classes, Context&) {
#pragma omp parallel for if (n * classes >= kParallelElements)
  for (std::int64_t i = 0; i < n; ++i) {
    for (std::int64_t c = 0; c < classes; ++c) y[i * classes + c] = labels[i] == c ? T(1) : T(0);
  }
}

GROOVE_FOR_ALL_TYPES(GROOVE_INSTANTIATE_GATHER)
GROOVE_FOR_FLOAT_TYPES(GROOVE_INSTANTIATE_ONE_HOT)

}  // namespace groove::cpu
