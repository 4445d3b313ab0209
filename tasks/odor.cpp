// The odor-mixture task of SCIENCE.md: k odorants, n-hot odors, one target (label 1), non-targets
// sharing no odorant with it (label 0), held-out probe groups sharing exactly `overlap` odorants
// with the target (correct label 0), a fixed random "glomerular" projection, optional input noise
// and class balancing.
#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "tasks/generators.h"

namespace groove::tasks {

namespace {
enum Stream : std::uint64_t { kTarget = 11, kNonTargets, kProbes, kTest, kNoise, kProjection };

using Odor = std::vector<std::int32_t>;  // sorted odorant indices

// Draws distinct odors with `from_target` odorants of the target and the rest from `others`;
// never one of `taken` (which it extends). Throws when the space of such odors is exhausted.
std::vector<Odor> draw_odors(HostRng& rng, std::int64_t count, const Odor& target, const Odor& others,
                             std::int64_t from_target, std::int64_t size, std::set<Odor>& taken, const char* what) {
  std::vector<Odor> out;
  const std::int64_t max_attempts = 1000 * (count + 1);
  for (std::int64_t attempt = 0; static_cast<std::int64_t>(out.size()) < count; ++attempt) {
    GROOVE_CHECK(attempt < max_attempts, "odor task: could not draw ", count, " distinct ", what,
                 " odors; the odorant space is too small for this many (choose more odorants or fewer odors)");
    Odor o = rng.sample(target, from_target);
    const Odor rest = rng.sample(others, size - from_target);
    o.insert(o.end(), rest.begin(), rest.end());
    std::sort(o.begin(), o.end());
    if (taken.insert(o).second) out.push_back(o);
  }
  return out;
}
}  // namespace

Dataset make_odor_task(const OdorSpec& s, Context& ctx) {
  const char* task = "odor";
  const std::int64_t k = s.odorants, n = s.odor_size;
  GROOVE_CHECK(k >= 2 && n >= 1 && 2 * n <= k, "odor task: need odorants >= 2 * odor_size (non-targets share no ",
               "odorant with the target), got odorants = ", k, ", odor_size = ", n);
  GROOVE_CHECK(s.non_targets >= 1, "odor task: non_targets must be >= 1, got ", s.non_targets);
  GROOVE_CHECK(s.probes_per_group >= 0 && s.test_non_targets >= 0 && s.input_noise >= 0,
               "odor task: probes_per_group, test_non_targets and input_noise must be >= 0");
  for (std::int64_t o : s.probe_overlaps) {
    GROOVE_CHECK(o >= 0 && o < n, "odor task: probe overlap ", o, " must lie in [0, odor_size) = [0, ", n,
                 ") (a probe is never the target)");
  }
  GROOVE_CHECK(s.projection == Projection::none || s.glomeruli >= 1, "odor task: glomeruli must be >= 1");
  GROOVE_CHECK(s.projection != Projection::sparse || (s.sparsity > 0 && s.sparsity <= 1),
               "odor task: sparsity must lie in (0, 1], got ", s.sparsity);

  // Odors.
  Odor all(static_cast<std::size_t>(k));
  for (std::int64_t i = 0; i < k; ++i) all[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i);
  HostRng target_rng(s.seed, kTarget), nt_rng(s.seed, kNonTargets), probe_rng(s.seed, kProbes),
      test_rng(s.seed, kTest);
  Odor target = target_rng.sample(all, n);
  std::sort(target.begin(), target.end());
  Odor others;
  std::set_difference(all.begin(), all.end(), target.begin(), target.end(), std::back_inserter(others));
  std::set<Odor> taken = {target};
  const std::vector<Odor> non_targets = draw_odors(nt_rng, s.non_targets, target, others, 0, n, taken, "non-target");
  const std::vector<Odor> test = draw_odors(test_rng, s.test_non_targets, target, others, 0, n, taken, "test");
  std::vector<std::vector<Odor>> probes;
  for (std::int64_t overlap : s.probe_overlaps) {
    probes.push_back(draw_odors(probe_rng, s.probes_per_group, target, others, overlap, n, taken, "probe"));
  }

  // Rows: the target (repeated to balance, or once with a weight), non-targets, test, probes.
  const std::int64_t target_copies = s.balance == Balance::repeat ? s.non_targets : 1;
  std::vector<const Odor*> rows;
  std::vector<std::int32_t> labels;
  for (std::int64_t i = 0; i < target_copies; ++i) {
    rows.push_back(&target);
    labels.push_back(1);
  }
  for (const Odor& o : non_targets) {
    rows.push_back(&o);
    labels.push_back(0);
  }
  const auto n_train = static_cast<std::int32_t>(rows.size());
  for (const Odor& o : test) {
    rows.push_back(&o);
    labels.push_back(0);
  }
  for (const auto& group : probes) {
    for (const Odor& o : group) {
      rows.push_back(&o);
      labels.push_back(0);
    }
  }
  const auto total = static_cast<std::int64_t>(rows.size());

  // The glomerular projection M [k, D]: Gaussian N(0, 1/n), or sparse with a fraction `sparsity`
  // of non-zero N(0, 1/(n sparsity)) entries (the same variance), or none (x = the odor).
  const std::int64_t d = s.projection == Projection::none ? k : s.glomeruli;
  std::vector<double> m(static_cast<std::size_t>(k * d), 0.0);
  HostRng proj(s.projection_seed, kProjection);
  for (std::int64_t i = 0; i < k; ++i) {
    for (std::int64_t j = 0; j < d; ++j) {
      double& v = m[static_cast<std::size_t>(i * d + j)];
      switch (s.projection) {
        case Projection::none: v = i == j ? 1.0 : 0.0; break;
        case Projection::gaussian: v = proj.normal() / std::sqrt(static_cast<double>(n)); break;
        case Projection::sparse: {
          const double z = proj.normal();
          v = proj.uniform() < s.sparsity ? z / std::sqrt(static_cast<double>(n) * s.sparsity) : 0.0;
          break;
        }
      }
    }
  }

  HostRng noise(s.seed, kNoise);
  Tensor x = Tensor::host({total, d}, s.dtype);
  Tensor odors = Tensor::host_zeros({total, k}, DType::i32);
  for (std::int64_t r = 0; r < total; ++r) {
    for (std::int32_t o : *rows[static_cast<std::size_t>(r)]) odors.flat<std::int32_t>(r * k + o) = 1;
    for (std::int64_t j = 0; j < d; ++j) {
      double v = 0;
      for (std::int32_t o : *rows[static_cast<std::size_t>(r)]) v += m[static_cast<std::size_t>(o * d + j)];
      if (s.input_noise > 0) v += s.input_noise * noise.normal();
      if (s.dtype == DType::f32) x.flat<float>(r * d + j) = static_cast<float>(v);
      else x.flat<double>(r * d + j) = v;
    }
  }

  Dataset ds;
  ds.task = task;
  ds.x = x;
  ds.y = Tensor::from_vector<std::int32_t>({total}, labels);
  ds.num_classes = 2;
  if (s.balance == Balance::weights) {
    ds.weights = Tensor::host({total}, s.dtype);
    for (std::int64_t r = 0; r < total; ++r) {
      const double w = r == 0 ? static_cast<double>(s.non_targets) : 1.0;
      if (s.dtype == DType::f32) ds.weights.flat<float>(r) = static_cast<float>(w);
      else ds.weights.flat<double>(r) = w;
    }
  }
  std::int32_t next = n_train;
  ds.groups.push_back({"train", {}});
  for (std::int32_t i = 0; i < n_train; ++i) ds.groups[0].indices.push_back(i);
  if (!test.empty()) {
    Group g{"test", {}};
    for (std::size_t i = 0; i < test.size(); ++i) g.indices.push_back(next++);
    ds.groups.push_back(g);
  }
  for (std::size_t gi = 0; gi < probes.size(); ++gi) {
    Group g{"probe_overlap_" + std::to_string(s.probe_overlaps[gi]), {}};
    for (std::size_t i = 0; i < probes[gi].size(); ++i) g.indices.push_back(next++);
    ds.groups.push_back(g);
  }
  ds.truth["odors"] = odors;
  ds.truth["target_odorants"] = Tensor::from_vector<std::int32_t>({n}, target);
  Tensor mt = Tensor::host({k, d}, DType::f64);
  for (std::size_t i = 0; i < m.size(); ++i) mt.flat<double>(static_cast<std::int64_t>(i)) = m[i];
  ds.truth["projection"] = mt;
  ds.info["odorants"] = static_cast<double>(k);
  ds.info["odor_size"] = static_cast<double>(n);
  ds.info["target_copies"] = static_cast<double>(target_copies);
  ds.validate(task);
  return ds.to(ctx);
}

}  // namespace groove::tasks
