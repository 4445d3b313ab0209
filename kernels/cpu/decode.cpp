// CPU kernel of ops::fit_linear_decoders: one model per OpenMP iteration (dynamic schedule: the
// iterative solvers' costs vary), each thread reusing one model's scratch from the context's
// workspace, so the workspace is threads x decode::scratch_doubles(F, T) doubles whatever K is.
// The per-model fit is decode::fit_model (kernels/decode_math.h), the code the CUDA twin
// (kernels/cuda/decode.cu) runs per thread.
#include <algorithm>

#include "kernels/cpu/parallel.h"
#include "kernels/decode_ops.h"

namespace groove::cpu {

void fit_linear_decoders(const decode::Batch& b, const decode::Params& p, Context& ctx) {
  const int threads = static_cast<int>(std::min<std::int64_t>(std::max(ctx.cpu_threads(), 1), b.models));
  const std::int64_t per = decode::scratch_doubles(b.features_max, b.trials);
  auto* ws = static_cast<double*>(ctx.workspace(static_cast<std::size_t>(threads * per) * sizeof(double)));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const decode::Contiguous scratch{ws + omp_get_thread_num() * per};
#pragma omp for schedule(dynamic, 8)
    for (std::int64_t k = 0; k < b.models; ++k) decode::fit_model(b, p, k, scratch);
  }
}

}  // namespace groove::cpu
