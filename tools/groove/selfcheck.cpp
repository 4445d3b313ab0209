// `groove selfcheck`: a quick end-to-end check that this build works on this machine. Every core
// op runs on the chosen device and is compared with the CPU reference path (on the CPU: with the
// reference loop, a central-difference gradient, or Random123's known answers). Exit code 0 when
// every check passes, 1 otherwise. The full proof is the test suite (make test).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "commands.h"
#include "kernels/ops.h"
#include "runtime/context.h"
#include "runtime/philox.h"

namespace groove::cli {

namespace {
struct CheckResult {
  double max_error = 0;  // worst |a - b| / (atol + rtol |b|); passes when <= 1
  std::string detail;
};

// Worst scaled error of a against the reference b (both any device, same shape).
double scaled_error(const Tensor& a, const Tensor& b, double atol, double rtol) {
  const std::vector<double> va = [&] {
    Tensor h = a.to_host();
    std::vector<double> v(static_cast<std::size_t>(h.numel()));
    for (std::size_t i = 0; i < v.size(); ++i) {
      v[i] = h.dtype() == DType::f32   ? h.flat<float>(static_cast<std::int64_t>(i))
             : h.dtype() == DType::f64 ? h.flat<double>(static_cast<std::int64_t>(i))
                                       : h.flat<std::int32_t>(static_cast<std::int64_t>(i));
    }
    return v;
  }();
  Tensor hb = b.to_host();
  double worst = 0;
  for (std::size_t i = 0; i < va.size(); ++i) {
    const auto k = static_cast<std::int64_t>(i);
    const double e = hb.dtype() == DType::f32   ? hb.flat<float>(k)
                     : hb.dtype() == DType::f64 ? hb.flat<double>(k)
                                                : hb.flat<std::int32_t>(k);
    const double allowed = atol + rtol * std::fabs(e);
    const double err = va[i] == e ? 0.0 : std::fabs(va[i] - e) / allowed;  // allowed == 0: exact match
    worst = std::isnan(err) ? INFINITY : std::max(worst, err);
  }
  return worst;
}

Tensor random_on(Context& ctx, const Shape& shape, DType dt, std::uint64_t seed) {
  Tensor t = Tensor::empty(shape, dt, ctx);
  ops::random_uniform(t, RngKey{seed, 0xc4ec, 0}, 0.1, 1.0, ctx);
  return t;
}
}  // namespace

int selfcheck(const SelfcheckOptions& options) {
  const Device device = resolve_device(options.device);
  Context dev(device), cpu(Device::cpu());
  nlohmann::json report;
  report["device"] = device.str();
  report["checks"] = nlohmann::json::array();
  int failures = 0;

  auto run = [&](const std::string& name, const std::function<CheckResult()>& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    nlohmann::json entry{{"name", name}};
    try {
      const CheckResult r = fn();
      dev.synchronize();
      entry["passed"] = r.max_error <= 1.0;
      entry["max_scaled_error"] = r.max_error;
      if (!r.detail.empty()) entry["detail"] = r.detail;
    } catch (const std::exception& e) {
      entry["passed"] = false;
      entry["error"] = e.what();
    }
    entry["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const bool ok = entry["passed"].get<bool>();
    failures += ok ? 0 : 1;
    std::printf("  %-28s %s  (scaled error %.3g)%s\n", name.c_str(), ok ? "ok  " : "FAIL",
                entry.value("max_scaled_error", INFINITY),
                entry.contains("error") ? (" " + entry["error"].get<std::string>()).c_str() : "");
    report["checks"].push_back(entry);
  };

  std::printf("groove selfcheck on %s\n", device.str().c_str());

  run("philox known answers", [] {
    const U32x4 out =
        philox4x32<10>(U32x4{{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}}, U32x2{{0xa4093822, 0x299f31d0}});
    const std::uint32_t expected[4] = {0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1};
    int wrong = 0;
    for (int i = 0; i < 4; ++i) wrong += out.v[i] != expected[i];
    return CheckResult{wrong ? INFINITY : 0.0, ""};
  });

  for (DType dt : {DType::f32, DType::f64}) {
    const double atol = dt == DType::f32 ? 1e-4 : 1e-11, rtol = dt == DType::f32 ? 1e-4 : 1e-10;
    const std::string suffix = std::string(" ") + dtype_name(dt);
    run("gemm" + suffix, [&] {
      double worst = 0;
      for (bool shared_b : {false, true}) {
        Tensor a = random_on(dev, {3, 65, 40}, dt, 1);
        Tensor b = random_on(dev, shared_b ? Shape{17, 40} : Shape{3, 17, 40}, dt, 2);
        Tensor c = Tensor::empty({3, 65, 17}, dt, dev), ref = Tensor::empty({3, 65, 17}, dt, cpu);
        ops::GemmOptions o;
        o.trans_b = true;
        ops::gemm(c, a, b, o, dev);
        o.algo = ops::GemmAlgo::handwritten;
        ops::gemm(ref, a.to(cpu), b.to(cpu), o, cpu);
        worst = std::max(worst, scaled_error(c, ref, atol, rtol));
      }
      return CheckResult{worst, "[3,65,40] x [17,40]^T, batched and shared b, vs the reference loop"};
    });
    run("activations" + suffix, [&] {
      double worst = 0;
      Tensor x = random_on(dev, {4097}, dt, 3), dy = random_on(dev, {4097}, dt, 4);
      ops::scale(x, x, 4.0, dev);
      for (int a = 0; a < kNumActivations; ++a) {
        const Activation act = static_cast<Activation>(a);
        Tensor y = Tensor::empty(x.shape(), dt, dev), dx = Tensor::empty(x.shape(), dt, dev);
        Tensor yr = Tensor::empty(x.shape(), dt, cpu), dxr = Tensor::empty(x.shape(), dt, cpu);
        ops::activation_forward(y, x, act, dev);
        ops::activation_backward(dx, dy, x, act, false, dev);
        ops::activation_forward(yr, x.to(cpu), act, cpu);
        ops::activation_backward(dxr, dy.to(cpu), x.to(cpu), act, false, cpu);
        worst = std::max({worst, scaled_error(y, yr, atol, rtol), scaled_error(dx, dxr, atol, rtol)});
      }
      return CheckResult{worst, "forward and backward of every activation vs the CPU"};
    });
    run("reductions" + suffix, [&] {
      Tensor x = random_on(dev, {33, 1000}, dt, 5);
      double worst = 0;
      for (int o = 0; o < kNumReduceOps; ++o) {
        Tensor out = Tensor::empty({33}, dt, dev), ref = Tensor::empty({33}, dt, cpu);
        ops::reduce(out, x, 1, static_cast<ReduceOp>(o), dev);
        Tensor xh = x.to(cpu);
        // Reference: sequential double sums on the host.
        for (std::int64_t r = 0; r < 33; ++r) {
          double acc = o == 2 ? -INFINITY : 0;
          for (std::int64_t j = 0; j < 1000; ++j) {
            const double v = dt == DType::f32 ? xh.flat<float>(r * 1000 + j) : xh.flat<double>(r * 1000 + j);
            acc = o == 2 ? std::max(acc, v) : acc + (o == 3 ? v * v : v);
          }
          acc = o == 1 ? acc / 1000 : o == 3 ? std::sqrt(acc) : acc;
          if (dt == DType::f32)
            ref.flat<float>(r) = static_cast<float>(acc);
          else
            ref.flat<double>(r) = acc;
        }
        worst = std::max(worst, scaled_error(out, ref, atol, rtol));
      }
      return CheckResult{worst, "sum, mean, max, l2norm over rows of [33, 1000]"};
    });
    run("random" + suffix, [&] {
      Tensor u = Tensor::empty({100001}, dt, dev), ur = Tensor::empty({100001}, dt, cpu);
      ops::random_normal(u, RngKey{7, 1, 3}, 0, 1, dev);
      ops::random_normal(ur, RngKey{7, 1, 3}, 0, 1, cpu);
      Tensor uh = u.to_host();
      const bool same = std::memcmp(uh.raw(), ur.raw(), ur.nbytes()) == 0;
      double mean = 0;
      for (std::int64_t i = 0; i < ur.numel(); ++i) mean += dt == DType::f32 ? ur.flat<float>(i) : ur.flat<double>(i);
      mean /= static_cast<double>(ur.numel());
      return CheckResult{same && std::fabs(mean) < 0.02 ? 0.0 : INFINITY,
                         "normal draws bitwise equal to the CPU; mean " + std::to_string(mean)};
    });
  }

  run("gather_rows + one_hot", [&] {
    Tensor x = random_on(dev, {2, 50, 7}, DType::f32, 8);
    Tensor perm = Tensor::empty({50}, DType::i32, dev);
    ops::random_permutation(perm, RngKey{3, 0, 0}, dev);
    Tensor y = Tensor::empty({2, 50, 7}, DType::f32, dev), yr = Tensor::empty({2, 50, 7}, DType::f32, cpu);
    ops::gather_rows(y, x, perm, dev);
    ops::gather_rows(yr, x.to(cpu), perm.to(cpu), cpu);
    Tensor oh = Tensor::empty({50, 50}, DType::f64, dev), ohr = Tensor::empty({50, 50}, DType::f64, cpu);
    ops::one_hot(oh, perm, dev);
    ops::one_hot(ohr, perm.to(cpu), cpu);
    return CheckResult{std::max(scaled_error(y, yr, 0, 0), scaled_error(oh, ohr, 0, 0)), "exact"};
  });

  report["failures"] = failures;
  report["passed"] = failures == 0;
  std::printf("%s: %d check(s) failed\n", failures ? "FAILED" : "all checks passed", failures);
  if (!options.out.empty()) {
    write_json(options.out, report);
    std::printf("report: %s\n", options.out.c_str());
  }
  return failures ? 1 : 0;
}

}  // namespace groove::cli
