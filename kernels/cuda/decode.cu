// CUDA kernel of ops::fit_linear_decoders: one thread per model runs decode::fit_model
// (kernels/decode_math.h), the per-model fit the CPU twin (kernels/cpu/decode.cpp) runs per OpenMP
// iteration. Models run in chunks of ops::decoder_chunk_models(F, T) so the scratch in the
// context's workspace stays within the budget; a chunk's scratch is interleaved (element e of the
// model in slot i at ws[e * chunk + i]), so a warp's accesses are coalesced. No host
// synchronization, no atomics: every output element is written by its model's thread.
#include <algorithm>

#include "kernels/cuda/launch.h"
#include "kernels/decode_ops.h"

namespace groove::cuda {

namespace {
constexpr int kDecodeBlock = 128;

__global__ void fit_linear_decoders_kernel(decode::Batch b, decode::Params p, double* ws, std::int64_t k0,
                                           std::int64_t count, std::int64_t stride) {
  const std::int64_t i = global_thread();
  if (i >= count) return;
  decode::fit_model(b, p, k0 + i, decode::Strided{ws + i, stride});
}
}  // namespace

void fit_linear_decoders(const decode::Batch& b, const decode::Params& p, Context& ctx) {
  const std::int64_t per = decode::scratch_doubles(b.features_max, b.trials);
  const std::int64_t chunk = std::min(b.models, ops::decoder_chunk_models(b.features_max, b.trials));
  auto* ws = static_cast<double*>(ctx.workspace(static_cast<std::size_t>(chunk * per) * sizeof(double)));
  cudaStream_t stream = cuda_stream(ctx);
  for (std::int64_t k0 = 0; k0 < b.models; k0 += chunk) {
    const std::int64_t count = std::min(chunk, b.models - k0);
    const auto blocks = static_cast<unsigned>((count + kDecodeBlock - 1) / kDecodeBlock);
    fit_linear_decoders_kernel<<<blocks, kDecodeBlock, 0, stream>>>(b, p, ws, k0, count, chunk);
    GROOVE_LAUNCH_CHECK(stream, "fit_linear_decoders_kernel");
  }
}

}  // namespace groove::cuda
