// OpenMP helpers for the CPU backend: parallel loops only when the work is worth a fork/join.
#pragma once

#include <omp.h>

#include <cstdint>

namespace groove::cpu {

// Below this many elements a loop runs on the calling thread (a fork/join costs ~1-5 us).
inline constexpr std::int64_t kParallelElements = 1 << 15;

// Calls body(begin, end) over [0, n): once on the calling thread when the work (n items of
// `elements_per_item` elements) is small, else once per OpenMP thread on contiguous chunks.
// Bodies should capture by value so their loops vectorize.
template <typename Body>
inline void parallel_chunks(std::int64_t n, const Body& body, std::int64_t elements_per_item = 1) {
  if (n * elements_per_item < kParallelElements || n < 2 || omp_get_max_threads() == 1) {
    body(std::int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const std::int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    body(n * t / nt, n * (t + 1) / nt);
  }
}

}  // namespace groove::cpu
