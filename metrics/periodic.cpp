// Periodic statistics: column layout and the calls into metrics/svm.h, metrics/probes.h and
// metrics/pgd.h.
#include "metrics/periodic.h"

#include <cmath>

#include "kernels/stats_ops.h"
#include "metrics/probes.h"
#include "metrics/svm.h"

namespace groove::metrics {

Periodic::Periodic(const nn::Model& model, const PeriodicSpec& spec, std::int64_t classes,
                   std::vector<std::string> groups, bool hidden, bool has_heldout)
    : model_(&model),
      spec_(spec),
      classes_(classes),
      groups_(std::move(groups)),
      hidden_(hidden),
      heldout_(has_heldout) {
  if (hidden_) {
    if (spec_.svm) {
      for (const char* c : {"svm_margin", "svm_min_distance", "svm_closest_1pct", "svm_closest_5pct",
                            "svm_margin_bound", "svm_separable", "svm_converged"}) {
        columns_.push_back(c);
      }
    }
    if (spec_.ridge) {
      columns_.push_back("ridge_train_acc");
      if (heldout_) {
        columns_.push_back("ridge_heldout_acc");
        for (const std::string& g : groups_) columns_.push_back("ridge_" + g + "_acc");
      }
    }
    if (spec_.logistic) {
      columns_.push_back("logistic_train_acc");
      if (heldout_) {
        columns_.push_back("logistic_heldout_acc");
        columns_.push_back("logistic_heldout_loss");
        for (const std::string& g : groups_) columns_.push_back("logistic_" + g + "_acc");
      }
      columns_.push_back("logistic_converged");
    }
    if (spec_.fisher) {
      std::vector<std::string> sets = {"train"};
      if (heldout_) sets.insert(sets.end(), groups_.begin(), groups_.end());
      for (const std::string& set : sets) {
        for (const char* c : {"_J", "_dist", "_within"}) columns_.push_back("fisher_" + set + c);
      }
    }
    if (spec_.rsa) {
      std::vector<std::string> names;
      for (std::int64_t c = 0; c < classes_; ++c) names.push_back("class" + std::to_string(c));
      if (heldout_) names.insert(names.end(), groups_.begin(), groups_.end());
      for (std::size_t a = 0; a < names.size(); ++a) {
        for (std::size_t b = a + 1; b < names.size(); ++b) columns_.push_back("rsm_" + names[a] + "_" + names[b]);
      }
      if (spec_.rsa_reference.defined()) {
        const std::int64_t m = static_cast<std::int64_t>(names.size());
        GROOVE_CHECK(spec_.rsa_reference.shape() == (Shape{m, m}), "monitor: the RSA reference must be [", m, ", ", m,
                     "] (", classes_, " classes + ", heldout_ ? groups_.size() : 0, " held-out groups), got ",
                     spec_.rsa_reference.str());
        columns_.push_back("rsa_spearman");
      }
    }
    if (spec_.kernel_alignment) columns_.push_back("kernel_alignment");
  }
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
  const auto ks = static_cast<std::size_t>(k);
  const std::size_t g = groups_.size();
  auto put = [&](std::size_t c, const auto& values) {  // one column from a [K] vector
    for (std::size_t j = 0; j < ks; ++j) out[j][c] = static_cast<double>(values[j]);
  };
  auto put_groups = [&](std::size_t c, const std::vector<double>& values) {  // G columns from [K * G]
    for (std::size_t j = 0; j < ks; ++j) {
      for (std::size_t i = 0; i < g; ++i) out[j][c + i] = values[j * g + i];
    }
  };
  if (hidden_) {
    Context& ctx = model_->params().context();
    ProbeSet set;
    set.train_features = features(in.train_x);
    set.train_labels = in.train_classes;
    if (heldout_) {
      set.test_features = features(in.held_x);
      set.test_labels = in.held_classes;
      set.test_groups = in.held_groups;
      set.groups = static_cast<int>(g);
    }
    set.classes = static_cast<int>(classes_);
    if (spec_.svm) {
      SvmOptions o;
      o.tol = spec_.svm_tol;
      const SvmStats st = svm_max_margin(set.train_features, in.train_classes, static_cast<int>(classes_), o, ctx);
      put(col++, st.margin);
      put(col++, st.min_distance);
      put(col++, st.closest_1pct);
      put(col++, st.closest_5pct);
      put(col++, st.margin_bound);
      put(col++, st.separable);
      put(col++, st.converged);
    }
    if (spec_.ridge) {
      const RidgeProbeResult r = ridge_probe(set, spec_.ridge_lambda, ctx);
      put(col++, r.train_accuracy);
      if (heldout_) {
        put(col++, r.test_accuracy);
        put_groups(col, r.group_accuracy);
        col += g;
      }
    }
    if (spec_.logistic) {
      const LogisticProbeResult r =
          logistic_probe(set, spec_.logistic_lambda, spec_.logistic_max_iter, spec_.logistic_tol, ctx);
      put(col++, r.train_accuracy);
      if (heldout_) {
        put(col++, r.test_accuracy);
        put(col++, r.test_log_loss);
        put_groups(col, r.group_accuracy);
        col += g;
      }
      put(col++, r.converged);
    }
    if (spec_.fisher) {
      const FisherResult r = fisher(set, spec_.fisher_target_class, spec_.fisher_ridge, ctx);
      for (std::int64_t s = 0; s < r.sets; ++s) {
        for (std::size_t j = 0; j < ks; ++j) {
          const std::size_t e = j * static_cast<std::size_t>(r.sets) + static_cast<std::size_t>(s);
          out[j][col] = r.criterion[e];
          out[j][col + 1] = r.centroid_distance[e];
          out[j][col + 2] = r.within_variance[e];
        }
        col += 3;
      }
    }
    if (spec_.rsa) {
      const Tensor m = rsm(set, ctx);
      const std::int64_t n = m.dim(1);
      for (std::size_t j = 0; j < ks; ++j) {
        std::size_t c = col;
        for (std::int64_t a = 0; a < n; ++a) {
          for (std::int64_t b = a + 1; b < n; ++b)
            out[j][c++] = m.flat<double>((static_cast<std::int64_t>(j) * n + a) * n + b);
        }
      }
      col += static_cast<std::size_t>(n * (n - 1) / 2);
      if (spec_.rsa_reference.defined()) put(col++, rsa_spearman(m, spec_.rsa_reference));
    }
    if (spec_.kernel_alignment) {
      put(col++, kernel_alignment(set.train_features, in.train_classes, static_cast<int>(classes_), ctx));
    }
  }
  if (spec_.pgd.epsilon > 0 && heldout_) {
    const Tensor m = pgd_margins(*model_, in.held_x, in.held_labels, spec_.pgd).to_host();
    const std::int64_t q = m.dim(1);
    for (std::int64_t j = 0; j < k; ++j) {
      std::vector<double> correct(g + 1), count(g + 1);
      for (std::int64_t i = 0; i < q; ++i) {
        const double ok = m.flat<double>(j * q + i) > 0;
        const auto gi = static_cast<std::size_t>(in.held_group_host[static_cast<std::size_t>(i)]);
        correct[0] += ok;
        count[0] += 1;
        correct[gi + 1] += ok;
        count[gi + 1] += 1;
      }
      for (std::size_t c = 0; c <= g; ++c) {
        out[static_cast<std::size_t>(j)][col + c] = count[c] > 0 ? correct[c] / count[c] : NAN;
      }
    }
    col += g + 1;
  }
  GROOVE_ASSERT(col == columns_.size(), "periodic: filled ", col, " of ", columns_.size(), " columns");
  return out;
}

}  // namespace groove::metrics
