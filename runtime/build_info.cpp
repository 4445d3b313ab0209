// build_info(): version, git hash, build options and the BLAS library in use.
#include "runtime/build_info.h"

#include <cblas.h>
#include <groove/config.h>
#include <omp.h>

#include "git_hash.inc"  // generated on every build: #define GROOVE_GIT_HASH "..."

namespace groove {

namespace {
std::string blas_description() {
  std::string s = openblas_get_config();
  s += ", core ";
  s += openblas_get_corename();
  switch (openblas_get_parallel()) {
    case 0:
      s += " (sequential)";
      break;
    case 1:
      s += " (pthreads)";
      break;
    case 2:
      s += " (OpenMP)";
      break;
    default:
      break;
  }
  return s;
}
}  // namespace

BuildInfo build_info() {
  BuildInfo b;
  b.version = GROOVE_VERSION_STRING;
  b.git_hash = GROOVE_GIT_HASH;
  b.build_type = GROOVE_BUILD_TYPE;
  b.with_cuda = GROOVE_WITH_CUDA;
  b.cuda_architectures = GROOVE_WITH_CUDA ? GROOVE_CUDA_ARCHITECTURES : "";
  b.cuda_sync_debug = GROOVE_CUDA_SYNC_DEBUG;
#if defined(__clang__)
  b.compiler = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  b.compiler = std::string("g++ ") + __VERSION__;
#else
  b.compiler = "unknown";
#endif
  b.blas = blas_description();
  b.omp_max_threads = omp_get_max_threads();
  return b;
}

}  // namespace groove
