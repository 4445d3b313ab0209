// NeuralDataset::validate and the synthetic neural-like generator (model: tasks/neural_gen.h).
#include "tasks/neural.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.h"
#include "runtime/philox.h"
#include "tasks/neural_gen.h"

namespace groove::tasks {

void NeuralDataset::validate(const std::string& what) const {
  GROOVE_CHECK(!sessions.empty(), what, ": no sessions");
  std::set<std::string> keys;
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    const NeuralSession& s = sessions[i];
    const std::string name = what + ": session " + std::to_string(i) + " ('" + s.key + "')";
    GROOVE_CHECK(!s.key.empty(), name, ": empty key");
    GROOVE_CHECK(keys.insert(s.key).second, name, ": duplicate key '", s.key, "'");
    GROOVE_CHECK(s.responses.defined(), name, ": responses undefined");
    GROOVE_CHECK(!s.responses.is_cuda(), name, ": responses must be a host tensor, got ", s.responses.str());
    GROOVE_CHECK(s.responses.dtype() == DType::f64 && s.responses.ndim() == 2, name,
                 ": responses must be f64 [trials, neurons], got ", s.responses.str());
    const std::int64_t trials = s.responses.dim(0), neurons = s.responses.dim(1);
    GROOVE_CHECK(trials >= 1 && neurons >= 1, name, ": responses ", s.responses.str(), " has no trials or no neurons");
    GROOVE_CHECK(static_cast<std::int64_t>(s.labels.size()) == trials, name, ": ", s.labels.size(), " labels for ",
                 trials, " trials");
    GROOVE_CHECK(static_cast<std::int64_t>(s.stimulus.size()) == trials, name, ": ", s.stimulus.size(),
                 " stimulus ids for ", trials, " trials");
    GROOVE_CHECK(static_cast<std::int64_t>(s.neuron_ids.size()) == neurons, name, ": ", s.neuron_ids.size(),
                 " neuron ids for ", neurons, " neurons");
    for (std::int64_t t = 0; t < trials; ++t) {
      const std::int32_t l = s.labels[static_cast<std::size_t>(t)];
      GROOVE_CHECK(l == static_cast<std::int32_t>(TrialLabel::nontarget) ||
                       l == static_cast<std::int32_t>(TrialLabel::target) ||
                       l == static_cast<std::int32_t>(TrialLabel::probe),
                   name, ": trial ", t, " has label ", l, " (expected 0 nontarget, 1 target or 2 probe)");
      const std::int32_t st = s.stimulus[static_cast<std::size_t>(t)];
      GROOVE_CHECK(st >= -1, name, ": trial ", t, " has stimulus id ", st, " (expected >= 0, or -1 for unknown)");
    }
    const double* r = s.responses.data<double>();
    for (std::int64_t k = 0; k < trials * neurons; ++k) {
      GROOVE_CHECK(std::isfinite(r[k]), name, ": response of trial ", k / neurons, ", neuron ", k % neurons, " is ",
                   r[k], " (not finite)");
    }
  }
}

namespace {

// What a stream draws; the stream id is (kind << 48) | (subject << 24) | day.
enum StreamKind : std::uint64_t {
  kCoding = 1,
  kBaseline = 2,
  kDrift = 3,
  kOffsets = 4,
  kNoise = 5,
  kOrder = 6,
};

std::uint64_t stream_id(StreamKind kind, std::int64_t subject, std::int64_t day) {
  return (static_cast<std::uint64_t>(kind) << 48) | (static_cast<std::uint64_t>(subject) << 24) |
         static_cast<std::uint64_t>(day);
}

// Standard normals i = 0..n-1 of (seed, stream): element i is lane i % 2 of block i / 2.
std::vector<double> normals(std::uint64_t seed, std::uint64_t stream, std::int64_t n) {
  std::vector<double> out(static_cast<std::size_t>(n));
  for (std::int64_t b = 0; 2 * b < n; ++b) {
    double z0, z1;
    normal_pair(philox_block(seed, stream, static_cast<std::uint64_t>(b)), z0, z1);
    out[static_cast<std::size_t>(2 * b)] = z0;
    if (2 * b + 1 < n) out[static_cast<std::size_t>(2 * b + 1)] = z1;
  }
  return out;
}

void check_spec(const NeuralLikeSpec& spec) {
  constexpr std::int64_t kMaxIndex = std::int64_t(1) << 24;
  const auto finite = [](double v) { return std::isfinite(v); };
  GROOVE_CHECK(spec.subjects >= 1 && spec.subjects < kMaxIndex, "neural-like: subjects = ", spec.subjects,
               " (need 1 .. ", kMaxIndex - 1, ")");
  GROOVE_CHECK(spec.days >= 1 && spec.days < kMaxIndex, "neural-like: days = ", spec.days, " (need 1 .. ",
               kMaxIndex - 1, ")");
  GROOVE_CHECK(spec.neurons >= 1 && spec.neurons <= (std::int64_t(1) << 30), "neural-like: neurons = ", spec.neurons,
               " (need 1 .. 2^30)");
  GROOVE_CHECK(spec.target_trials >= 1, "neural-like: target_trials = ", spec.target_trials, " (need >= 1)");
  GROOVE_CHECK(spec.nontarget_trials >= 1, "neural-like: nontarget_trials = ", spec.nontarget_trials, " (need >= 1)");
  GROOVE_CHECK(spec.probe_trials >= 0, "neural-like: probe_trials = ", spec.probe_trials, " (need >= 0)");
  const std::int64_t trials = spec.target_trials + spec.nontarget_trials + spec.probe_trials;
  GROOVE_CHECK(trials <= (std::int64_t(1) << 30) && trials * spec.neurons <= (std::int64_t(1) << 40),
               "neural-like: ", trials, " trials x ", spec.neurons, " neurons per session is too large");
  GROOVE_CHECK(spec.nontarget_stimuli >= 1 && spec.nontarget_stimuli <= 1000000,
               "neural-like: nontarget_stimuli = ", spec.nontarget_stimuli, " (need 1 .. 1000000)");
  GROOVE_CHECK(spec.probe_stimuli >= (spec.probe_trials > 0 ? 1 : 0) && spec.probe_stimuli <= 1000000,
               "neural-like: probe_stimuli = ", spec.probe_stimuli,
               spec.probe_trials > 0 ? " (need 1 .. 1000000 when probe_trials > 0)" : " (need 0 .. 1000000)");
  GROOVE_CHECK(finite(spec.baseline_mean), "neural-like: baseline_mean = ", spec.baseline_mean, " (not finite)");
  GROOVE_CHECK(finite(spec.baseline_std) && spec.baseline_std >= 0, "neural-like: baseline_std = ", spec.baseline_std,
               " (need finite, >= 0)");
  GROOVE_CHECK(finite(spec.drift) && spec.drift >= 0, "neural-like: drift = ", spec.drift, " (need finite, >= 0)");
  GROOVE_CHECK(finite(spec.stimulus_spread) && spec.stimulus_spread >= 0,
               "neural-like: stimulus_spread = ", spec.stimulus_spread, " (need finite, >= 0)");
  GROOVE_CHECK(finite(spec.noise) && spec.noise > 0, "neural-like: noise = ", spec.noise, " (need finite, > 0)");
  GROOVE_CHECK(finite(spec.separation_start) && finite(spec.separation_growth),
               "neural-like: separation_start and separation_growth must be finite (got ", spec.separation_start, ", ",
               spec.separation_growth, ")");
  const double last = spec.separation_start + spec.separation_growth * static_cast<double>(spec.days - 1);
  GROOVE_CHECK(spec.separation_start >= 0 && last >= 0, "neural-like: separation must be >= 0 on every day, got ",
               spec.separation_start, " on day 1 and ", last, " on day ", spec.days);
  GROOVE_CHECK(spec.probe_similarity >= 0 && spec.probe_similarity <= 1,
               "neural-like: probe_similarity = ", spec.probe_similarity, " (need 0 .. 1)");
  GROOVE_CHECK(spec.probe_decay >= 0 && spec.probe_decay <= 1, "neural-like: probe_decay = ", spec.probe_decay,
               " (need 0 .. 1)");
}

// Projects each of the `count` vectors (rows of v, length n) orthogonal to the unit vector w, then
// subtracts their mean.
void orthogonalize_and_centre(std::vector<double>& v, std::int64_t first, std::int64_t count,
                              const std::vector<double>& w) {
  const std::size_t n = w.size();
  if (count <= 0) return;
  for (std::int64_t k = first; k < first + count; ++k) {
    double* row = v.data() + static_cast<std::size_t>(k) * n;
    double dot = 0;
    for (std::size_t i = 0; i < n; ++i) dot += row[i] * w[i];
    for (std::size_t i = 0; i < n; ++i) row[i] -= dot * w[i];
  }
  for (std::size_t i = 0; i < n; ++i) {
    double mean = 0;
    for (std::int64_t k = first; k < first + count; ++k) mean += v[static_cast<std::size_t>(k) * n + i];
    mean /= static_cast<double>(count);
    for (std::int64_t k = first; k < first + count; ++k) v[static_cast<std::size_t>(k) * n + i] -= mean;
  }
}

}  // namespace

NeuralDataset generate_neural_like(const NeuralLikeSpec& spec, NeuralLikeTruth* truth) {
  check_spec(spec);
  const std::int64_t N = spec.neurons;
  const std::size_t n_sz = static_cast<std::size_t>(N);
  const std::int64_t n_nt = spec.nontarget_stimuli;
  const std::int64_t n_pr = spec.probe_trials > 0 ? spec.probe_stimuli : 0;
  const std::int64_t trials = spec.target_trials + spec.nontarget_trials + spec.probe_trials;

  NeuralDataset out;
  out.source = "neural_like";
  if (truth) *truth = NeuralLikeTruth{};

  std::vector<std::string> neuron_ids(n_sz);
  for (std::int64_t n = 0; n < N; ++n) neuron_ids[static_cast<std::size_t>(n)] = "n" + std::to_string(n);

  // Trial skeleton before shuffling: (label, stimulus).
  std::vector<std::pair<std::int32_t, std::int32_t>> skeleton;
  skeleton.reserve(static_cast<std::size_t>(trials));
  for (std::int64_t t = 0; t < spec.target_trials; ++t) skeleton.emplace_back(1, 0);
  for (std::int64_t t = 0; t < spec.nontarget_trials; ++t)
    skeleton.emplace_back(0, static_cast<std::int32_t>(1 + t % n_nt));
  for (std::int64_t t = 0; t < spec.probe_trials; ++t)
    skeleton.emplace_back(2, static_cast<std::int32_t>(1 + n_nt + t % n_pr));

  for (std::int64_t s = 0; s < spec.subjects; ++s) {
    const std::string subject = "M" + std::to_string(s + 1);
    // Coding direction.
    std::vector<double> w = normals(spec.seed, stream_id(kCoding, s, 0), N);
    double norm2 = 0;
    for (double v : w) norm2 += v * v;
    const double inv_norm = 1.0 / std::sqrt(norm2);
    for (double& v : w) v *= inv_norm;
    // Stimulus offsets: rows 0..n_nt-1 non-target odors 1..n_nt, rows n_nt.. probe odors.
    std::vector<double> offsets = normals(spec.seed, stream_id(kOffsets, s, 0), (n_nt + n_pr) * N);
    for (double& v : offsets) v *= spec.stimulus_spread;
    orthogonalize_and_centre(offsets, 0, n_nt, w);
    orthogonalize_and_centre(offsets, n_nt, n_pr, w);
    // Baselines on day 1.
    std::vector<double> baseline = normals(spec.seed, stream_id(kBaseline, s, 0), N);
    for (double& v : baseline) v = spec.baseline_mean + spec.baseline_std * v;

    if (truth) {
      truth->subjects.push_back(subject);
      truth->coding_direction.push_back(w);
    }

    for (std::int64_t d = 1; d <= spec.days; ++d) {
      if (d > 1) {
        const std::vector<double> step = normals(spec.seed, stream_id(kDrift, s, d), N);
        for (std::size_t n = 0; n < n_sz; ++n) baseline[n] += spec.drift * step[n];
      }
      const double sep = spec.separation_start + spec.separation_growth * static_cast<double>(d - 1);
      const double lambda = spec.probe_similarity * std::pow(spec.probe_decay, static_cast<double>(d - 1));

      // Trial order: sort trials by their Philox keys (ties broken by index).
      std::vector<std::pair<std::uint64_t, std::int64_t>> order(static_cast<std::size_t>(trials));
      for (std::int64_t t = 0; t < trials; ++t) {
        const U32x4 block = philox_block(spec.seed, stream_id(kOrder, s, d), static_cast<std::uint64_t>(t / 2));
        order[static_cast<std::size_t>(t)] = {permutation_key(block, static_cast<int>(t % 2)), t};
      }
      std::sort(order.begin(), order.end());

      NeuralSession session;
      session.subject = subject;
      session.day = d;
      session.key = subject + "/day" + std::to_string(d);
      session.neuron_ids = neuron_ids;
      session.responses = Tensor::host(Shape{trials, N}, DType::f64);
      double* r = session.responses.data<double>();
      const std::vector<double> z = normals(spec.seed, stream_id(kNoise, s, d), trials * N);
      std::vector<double> mean(n_sz);
      for (std::int64_t p = 0; p < trials; ++p) {
        const auto [label, stim] = skeleton[static_cast<std::size_t>(order[static_cast<std::size_t>(p)].second)];
        session.labels.push_back(label);
        session.stimulus.push_back(stim);
        double along;  // position along w relative to the baseline
        if (label == 1) {
          along = 0.5 * sep;
        } else if (label == 0) {
          along = -0.5 * sep;
        } else {
          along = (lambda - 0.5) * sep;
        }
        const double* off = stim > 0 ? offsets.data() + static_cast<std::size_t>(stim - 1) * n_sz : nullptr;
        for (std::size_t n = 0; n < n_sz; ++n) {
          double m = baseline[n] + along * w[n];
          if (off) m += off[n];
          const double rate = m + spec.noise * z[static_cast<std::size_t>(p) * n_sz + n];
          r[static_cast<std::size_t>(p) * n_sz + n] = spec.counts ? std::round(std::max(0.0, rate)) : rate;
        }
      }
      out.sessions.push_back(std::move(session));

      if (truth) {
        const double dprime = sep / spec.noise;
        truth->session_subject.push_back(s);
        truth->separation.push_back(sep);
        truth->probe_position.push_back(lambda);
        truth->dprime.push_back(dprime);
        truth->ideal_accuracy.push_back(0.5 * std::erfc(-dprime / (2.0 * std::sqrt(2.0))));
      }
    }
  }
  return out;
}

}  // namespace groove::tasks
