// Peer-check driver: trains one small K = 1 f32 MLP on the CPU with groove's Trainer and writes
// everything a reference implementation (tests/peers/torch_parity.py) needs to redo the same run:
//   DIR/init.npz    the initial parameters ("layer{i}.weight" [1, out, in], "layer{i}.bias" [1, out])
//   DIR/data.npz    x f32 [P, D], labels i32 [P], and the case's hyperparameters as small arrays
//                   (numbers as f64 [1] or i32 [n]; names as i32 arrays of ASCII codes)
//   DIR/final.npz   the parameters after `steps` full-batch steps
//   DIR/losses.npy  f64 [steps]: the mean loss of each step (before that step's update)
//
// Usage: parity_driver --out DIR --case NAME [--seed S] [--steps N]
//   --seed S overrides the case's seed (parameters and data), to survey the check over many draws;
//   --steps N trains N steps instead of 100 (to find where two runs part).
//   parity_driver --list prints the case names.
#include <cstdint>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "kernels/ops.h"
#include "nn/trainer.h"
#include "runtime/npy.h"

namespace {

using namespace groove;

struct Case {
  const char* name;
  const char* parameterization;
  std::vector<std::int64_t> hidden;
  const char* activation;
  double slope;          // leaky_relu
  std::int64_t classes;  // C: 1 for the binary losses
  const char* loss;
  double margin;  // hinge
  const char* optimizer;
  double lr;
  double momentum;
  double weight_decay;
  double gamma;  // mean-field richness
  std::uint64_t seed;
};

constexpr std::int64_t kExamples = 64;  // P
constexpr std::int64_t kInputDim = 12;  // D
constexpr std::int64_t kDefaultSteps = 100;

const std::vector<Case>& cases() {
  static const std::vector<Case> all = {
      // name, parameterization, hidden, activation, slope, C, loss, margin, optimizer, lr, momentum, wd, gamma, seed
      {"mlp_sgd_ce", "standard", {32}, "relu", 0.01, 3, "cross_entropy", 1.0, "sgd", 0.1, 0.0, 0.0, 1.0, 11},
      {"mlp_momentum_logistic",
       "ntk",
       {32, 16},
       "tanh",
       0.01,
       1,
       "logistic",
       1.0,
       "momentum",
       0.05,
       0.9,
       1e-3,
       1.0,
       12},
      {"mlp_adam_ce", "mean_field", {64}, "relu", 0.01, 2, "cross_entropy", 1.0, "adam", 1e-2, 0.0, 0.0, 0.5, 13},
      {"mlp_adamw_mse", "standard", {16}, "gelu", 0.01, 2, "squared_error", 1.0, "adamw", 1e-2, 0.0, 1e-2, 1.0, 14},
      {"nesterov_hinge", "standard", {32}, "leaky_relu", 0.01, 1, "hinge", 1.0, "nesterov", 0.05, 0.9, 0.0, 1.0, 15},
  };
  return all;
}

const Case& find_case(const std::string& name) {
  std::string valid;
  for (const Case& c : cases()) {
    if (name == c.name) return c;
    valid += std::string(valid.empty() ? "" : ", ") + c.name;
  }
  GROOVE_THROW("unknown case '", name, "': expected one of ", valid);
}

Tensor f64_scalar(double v) {
  return Tensor::from_vector<double>({1}, {v});
}
Tensor i32_vector(const std::vector<std::int64_t>& values) {
  std::vector<std::int32_t> v;
  for (std::int64_t x : values) v.push_back(static_cast<std::int32_t>(x));
  return Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(v.size())}, v);
}
Tensor ascii(const std::string& s) {
  std::vector<std::int64_t> codes;
  for (char ch : s) codes.push_back(static_cast<unsigned char>(ch));
  return i32_vector(codes);
}

// x ~ N(0, 1) [P, D] from Philox; labels: argmax of x[:, :C] for C >= 2, else 1 where x0 + x1 > 0.
void make_data(const Case& c, Context& ctx, Tensor& x, Tensor& labels) {
  x = Tensor::empty({kExamples, kInputDim}, DType::f32, ctx);
  ops::random_normal(x, RngKey{c.seed, 0x5eed, 0}, 0.0, 1.0, ctx);
  const Tensor xh = x.to_host();
  labels = Tensor::host({kExamples}, DType::i32);
  for (std::int64_t p = 0; p < kExamples; ++p) {
    const float* row = xh.data<float>() + p * kInputDim;
    std::int32_t label = 0;
    if (c.classes >= 2) {
      for (std::int64_t j = 1; j < c.classes; ++j) {
        if (row[j] > row[label]) label = static_cast<std::int32_t>(j);
      }
    } else {
      label = row[0] + row[1] > 0.0f ? 1 : 0;
    }
    labels.flat<std::int32_t>(p) = label;
  }
  labels = labels.to(ctx);
}

// A non-negative integer option ("" keeps `fallback`).
std::uint64_t parse_count(const std::string& text, const char* option, std::uint64_t fallback) {
  if (text.empty()) return fallback;
  std::size_t used = 0;
  unsigned long long v = 0;
  try {
    v = std::stoull(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  GROOVE_CHECK(used == text.size() && text[0] != '-', option, " must be a non-negative integer, got '", text, "'");
  return static_cast<std::uint64_t>(v);
}

void run_case(Case c, const std::string& dir, const std::string& seed, const std::string& steps_text) {
  c.seed = parse_count(seed, "--seed", c.seed);
  const std::uint64_t steps_u = parse_count(steps_text, "--steps", kDefaultSteps);
  GROOVE_CHECK(steps_u >= 1 && steps_u <= 1000000, "--steps must lie in [1, 1000000], got ", steps_u);
  const auto steps = static_cast<std::int64_t>(steps_u);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  GROOVE_CHECK(!ec, "cannot create the output folder '", dir, "': ", ec.message());
  Context ctx(Device::cpu());

  nn::MlpSpec mlp;
  mlp.input_dim = kInputDim;
  mlp.hidden = c.hidden;
  mlp.output_dim = c.classes;
  mlp.activation = ops::parse_activation(c.activation);
  mlp.slope = c.slope;
  mlp.parameterization = nn::parse_parameterization(c.parameterization);
  nn::EnsembleSpec ensemble;
  ensemble.models = 1;
  ensemble.seeds = {c.seed};
  ensemble.gamma = {c.gamma};
  ensemble.dtype = DType::f32;
  nn::Mlp model(ctx, mlp, ensemble);

  Tensor x, labels;
  make_data(c, ctx, x, labels);

  nn::OptimizerSpec opt;
  opt.hyper.kind = nn::parse_optimizer(c.optimizer);
  if (c.momentum > 0) opt.hyper.momentum = c.momentum;  // momentum / nesterov; the others ignore it
  opt.precision = Precision::fp32;
  opt.lr = {c.lr};
  opt.weight_decay = {c.weight_decay};
  nn::Optimizer optimizer(model.params(), opt);

  nn::TrainerSpec ts;
  ts.loss.kind = nn::parse_loss(c.loss);
  ts.loss.margin = c.margin;
  ts.batch_size = 0;  // full batch
  ts.seeds = {c.seed};
  nn::TrainData data;
  data.x = x;
  data.labels = labels;  // squared error: groove targets the one-hot labels
  nn::Trainer trainer(model.params(), model.forward_fn(), optimizer, data, ts);

  model.params().save_npz(dir + "/init.npz");
  write_npz(dir + "/data.npz", {{"x", x.to_host()},
                                {"labels", labels.to_host()},
                                {"case", ascii(c.name)},
                                {"parameterization", ascii(c.parameterization)},
                                {"hidden", i32_vector(c.hidden)},
                                {"output_dim", i32_vector({c.classes})},
                                {"activation", ascii(c.activation)},
                                {"slope", f64_scalar(c.slope)},
                                {"loss", ascii(c.loss)},
                                {"margin", f64_scalar(c.margin)},
                                {"optimizer", ascii(c.optimizer)},
                                {"lr", f64_scalar(c.lr)},
                                {"momentum", f64_scalar(opt.hyper.momentum)},
                                {"beta1", f64_scalar(opt.hyper.beta1)},
                                {"beta2", f64_scalar(opt.hyper.beta2)},
                                {"eps", f64_scalar(opt.hyper.eps)},
                                {"weight_decay", f64_scalar(c.weight_decay)},
                                {"gamma", f64_scalar(c.gamma)},
                                {"seed", f64_scalar(static_cast<double>(c.seed))},
                                {"steps", i32_vector({steps})}});

  std::vector<double> losses;
  trainer.run(steps, 1, [&](std::int64_t) {
    const Tensor v = trainer.loss().value.to_host();
    losses.push_back(static_cast<double>(v.flat<float>(0)));
  });
  GROOVE_CHECK(static_cast<std::int64_t>(losses.size()) == steps, "expected ", steps, " loss values, got ",
               losses.size());
  model.params().save_npz(dir + "/final.npz");
  write_npy(dir + "/losses.npy", Tensor::from_vector<double>({steps}, losses));
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s --out DIR --case NAME [--seed S] [--steps N]\n       %s --list\n", argv0, argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string out, name, seed, steps;
  bool list = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--list") {
      list = true;
    } else if ((arg == "--out" || arg == "--case" || arg == "--seed" || arg == "--steps") && i + 1 < argc) {
      (arg == "--out" ? out : arg == "--case" ? name : arg == "--seed" ? seed : steps) = argv[++i];
    } else {
      std::fprintf(stderr, "parity_driver: unexpected argument '%s'\n", arg.c_str());
      return usage(argv[0]);
    }
  }
  if (list) {
    for (const Case& c : cases()) std::printf("%s\n", c.name);
    return 0;
  }
  if (out.empty() || name.empty()) return usage(argv[0]);
  try {
    run_case(find_case(name), out, seed, steps);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parity_driver: case '%s': %s\n", name.c_str(), e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "parity_driver: case '%s': unknown error\n", name.c_str());
    return 1;
  }
  return 0;
}
