// Embedding groove in another C++ program: a context on the best device, a batched GEMM over an
// ensemble of 4 models sharing one input, a ReLU, a per-model reduction, checked against the
// values computed by hand. Exit code 0 when every value is right.
#include <groove/groove.h>

#include <cmath>
#include <cstdio>

int main() {
  try {
    const groove::Device device = groove::resolve_device("auto");
    groove::Context ctx(device);
    std::printf("groove %s on %s\n", groove::build_info().version.c_str(), device.str().c_str());

    // x: shared input [P=2, D=3]; w: per-model weights [K=4, N=2, D=3] with w[k] = (k+1) * base.
    groove::Tensor x = groove::Tensor::from_vector<float>({2, 3}, {1, 2, 3, -1, 0, 1}).to(ctx);
    std::vector<float> w_host;
    for (int k = 0; k < 4; ++k) {
      for (float v : {1.f, 0.f, 1.f, 0.f, -1.f, 0.f}) w_host.push_back(v * static_cast<float>(k + 1));
    }
    groove::Tensor w = groove::Tensor::from_vector<float>({4, 2, 3}, w_host).to(ctx);
    groove::Tensor h = groove::Tensor::empty({4, 2, 2}, groove::DType::f32, ctx);  // [K, P, N]

    groove::ops::GemmOptions opt;
    opt.trans_b = true;  // h[k] = x @ w[k]^T
    groove::ops::gemm(h, x, w, opt, ctx);
    groove::ops::activation_forward(h, h, groove::Activation::relu, ctx);
    groove::Tensor total = groove::Tensor::empty({4, 2}, groove::DType::f32, ctx);
    groove::ops::reduce(total, h, 2, groove::ReduceOp::sum, ctx);

    // x @ base^T = [[4, -2], [0, 0]] -> relu -> row sums [4, 0]; model k scales by k+1.
    const std::vector<float> got = total.to_vector<float>();
    int wrong = 0;
    for (int k = 0; k < 4; ++k) {
      const float expected[2] = {4.f * static_cast<float>(k + 1), 0.f};
      for (int p = 0; p < 2; ++p) {
        const float v = got[static_cast<std::size_t>(k * 2 + p)];
        std::printf("model %d row %d: %g (expected %g)\n", k, p, v, expected[p]);
        wrong += std::fabs(v - expected[p]) > 1e-6f;
      }
    }
    std::printf(wrong ? "embed: WRONG\n" : "embed: ok\n");
    return wrong ? 1 : 0;
  } catch (const groove::Error& e) {
    std::fprintf(stderr, "embed: %s\n", e.what());
    return 1;
  }
}
