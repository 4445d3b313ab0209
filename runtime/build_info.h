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

// OpenBLAS picks its kernels from the CPU model; virtual machines often hide the model, and
// OpenBLAS then falls back to generic SSE3 kernels ("Prescott") even on AVX-512 hardware (3.5x
// slower GEMM here). Returns the OPENBLAS_CORETYPE value that selects kernels matching the CPU's
// features when that happened and OPENBLAS_CORETYPE is unset; "" otherwise.
std::string openblas_recommended_coretype();

// For a program's main(): when openblas_recommended_coretype() is not empty, sets
// OPENBLAS_CORETYPE and re-executes the program (OpenBLAS reads it only when it loads). Returns
// when there is nothing to do or the re-execution failed (the program then runs as it is).
void reexec_with_openblas_coretype(char** argv);

}  // namespace groove
