// What this copy of groove is: version, git hash, build options, BLAS. Recorded in every run's
// summary and printed by `groove info`.
#pragma once

#include <string>

namespace groove {

struct BuildInfo {
  std::string version;     // "0.1.0"
  std::string git_hash;    // "abc123def456" (+ "-dirty"), "unknown" outside a git checkout
  std::string build_type;  // CMake build type
  bool with_cuda = false;  // CUDA backend compiled in
  std::string cuda_architectures;
  bool cuda_sync_debug = false;
  std::string compiler;     // host compiler and version
  std::string blas;         // BLAS library and configuration, e.g. "OpenBLAS 0.3.21 ... (OpenMP)"
  int omp_max_threads = 1;  // OpenMP threads available to the CPU backend
};

BuildInfo build_info();

}  // namespace groove
