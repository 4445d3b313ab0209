// Periodic statistics: column layout and the calls into metrics/svm.h, metrics/probes.h and
// metrics/pgd.h.
#include "metrics/periodic.h"

#include <cmath>

#include "kernels/stats_ops.h"

namespace groove::metrics {

Periodic::Periodic(const nn::Mlp& model, const PeriodicSpec& spec, std::int64_t classes,
                   std::vector<std::string> groups, bool hidden, bool has_heldout)
    : model_(&model), spec_(spec), classes_(classes), groups_(std::move(groups)), hidden_(hidden),
      heldout_(has_heldout) {
  if (spec_.pgd.epsilon > 0 && heldout_) {
    columns_.push_back("pgd_acc");
    for (const std::string& g : groups_) columns_.push_back("pgd_" + g + "_acc");
  }
}

Tensor Periodic::features(const Tensor& x) const {
  Context& ctx = model_->params().context();
  Tape tape(ctx);
  Tape::NoGrad no_grad(tape);
  nn::RngRef rng;
  rng.train = false;
  model_->forward(tape, tape.input(x), rng);
  const Var f = tape.tagged("features");
  GROOVE_CHECK(f.defined(), "monitor: the model tags no hidden features");
  return tape.value(f);
}

std::vector<std::vector<double>> Periodic::compute(const PeriodicInputs& in) {
  const std::int64_t k = model_->params().models();
  std::vector<std::vector<double>> out(static_cast<std::size_t>(k), std::vector<double>(columns_.size(), NAN));
  std::size_t col = 0;
  if (spec_.pgd.epsilon > 0 && heldout_) {
    const Tensor m = pgd_margins(*model_, in.held_x, in.held_labels, spec_.pgd).to_host();
    const std::int64_t q = m.dim(1), g = static_cast<std::int64_t>(groups_.size());
    for (std::int64_t j = 0; j < k; ++j) {
      std::vector<double> correct(static_cast<std::size_t>(g + 1)), count(static_cast<std::size_t>(g + 1));
      for (std::int64_t i = 0; i < q; ++i) {
        const double ok = m.flat<double>(j * q + i) > 0;
        const auto gi = static_cast<std::size_t>(in.held_group_host[static_cast<std::size_t>(i)]);
        correct[0] += ok;
        count[0] += 1;
        correct[gi + 1] += ok;
        count[gi + 1] += 1;
      }
      for (std::int64_t c = 0; c <= g; ++c) {
        const auto ci = static_cast<std::size_t>(c);
        out[static_cast<std::size_t>(j)][col + ci] = count[ci] > 0 ? correct[ci] / count[ci] : NAN;
      }
    }
    col += static_cast<std::size_t>(g + 1);
  }
  return out;
}

}  // namespace groove::metrics
