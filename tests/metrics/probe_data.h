// Test data shared by the CPU and CUDA probe tests: class-separated random features.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/ops.h"
#include "metrics/probes.h"
#include "tests/common/test_util.h"

namespace groove::test {

// Features whose class centers are separated by `sep`: x = noise + sep * center[k, label], noise
// and centers uniform in +-[0.1, 1) (host tensors of `dtype`). Labels are (7p + 3) % C, held-out
// labels (5q + 1) % C and groups q % groups.
inline metrics::ProbeSet make_probe_set(std::int64_t K, std::int64_t P, std::int64_t N, std::int64_t Q, int classes,
                                        int groups, double sep, std::uint64_t seed, DType dtype = DType::f64) {
  const int C = std::max(classes, 2);
  metrics::ProbeSet s;
  s.classes = classes;
  s.groups = groups;
  const Tensor centers = random_tensor({K, C, N}, DType::f64, seed);
  auto features = [&](std::int64_t rows, std::uint64_t sd, const std::vector<std::int32_t>& lab) {
    const Tensor noise = random_tensor({K, rows, N}, DType::f64, sd);
    Tensor x = Tensor::host({K, rows, N}, DType::f64);
    for (std::int64_t k = 0; k < K; ++k) {
      for (std::int64_t r = 0; r < rows; ++r) {
        for (std::int64_t n = 0; n < N; ++n) {
          x.flat<double>((k * rows + r) * N + n) =
              noise.flat<double>((k * rows + r) * N + n) +
              sep * centers.flat<double>((k * C + lab[static_cast<std::size_t>(r)]) * N + n);
        }
      }
    }
    Tensor out = Tensor::host({K, rows, N}, dtype);
    Context host;
    ops::convert(out, x, host);
    return out;
  };
  std::vector<std::int32_t> labels(static_cast<std::size_t>(P)), test_labels(static_cast<std::size_t>(Q)),
      test_groups(static_cast<std::size_t>(Q));
  for (std::int64_t p = 0; p < P; ++p) labels[static_cast<std::size_t>(p)] = static_cast<std::int32_t>((p * 7 + 3) % C);
  for (std::int64_t q = 0; q < Q; ++q) {
    test_labels[static_cast<std::size_t>(q)] = static_cast<std::int32_t>((q * 5 + 1) % C);
    test_groups[static_cast<std::size_t>(q)] = groups > 0 ? static_cast<std::int32_t>(q % groups) : 0;
  }
  s.train_features = features(P, seed + 1, labels);
  s.train_labels = Tensor::from_vector<std::int32_t>({P}, labels);
  if (Q > 0) {
    s.test_features = features(Q, seed + 2, test_labels);
    s.test_labels = Tensor::from_vector<std::int32_t>({Q}, test_labels);
    s.test_groups = Tensor::from_vector<std::int32_t>({Q}, test_groups);
  }
  return s;
}

}  // namespace groove::test
