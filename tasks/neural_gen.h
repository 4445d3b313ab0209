// Synthetic neural-like population data with a known ground truth: sessions (subject x day) of
// trials x neurons responses to a target odor, several non-target odors and probe odors, in which
// the target vs non-target separation along a fixed coding direction per subject grows with the
// day of training. The decoding job is checked against NeuralLikeTruth.
//
// Generative model (subject s = 0..subjects-1, named "M<s+1>"; day d = 1..days; neuron n):
//   Randomness: every draw is a standard normal z from Philox (normal_pair) addressed by
//   (seed, stream, index), where the stream encodes (what is drawn, subject, day); the data is a
//   pure function of the spec.
//   Coding direction   w_s = g / |g|, g_n ~ N(0, 1)                        (unit norm, fixed per subject)
//   Baselines          b_{s,1,n} = baseline_mean + baseline_std * z
//                      b_{s,d,n} = b_{s,d-1,n} + drift * z                 (per-day random walk)
//   Stimulus offsets   v_{s,k,n} = stimulus_spread * z for each non-target odor k and probe odor k,
//                      fixed across days; each one is projected orthogonal to w_s, then the
//                      non-target offsets are centred (minus their mean) and so are the probe
//                      offsets. The target odor has no offset. Class means therefore differ only
//                      along w_s, and the within-class covariance has w_s as an eigenvector, so
//                      w_s is exactly the LDA / Bayes-optimal direction for target vs non-target.
//   Separation         sep(d) = separation_start + separation_growth * (d - 1)
//   Probe position     lambda(d) = probe_similarity * probe_decay^(d - 1)   (fraction of the way
//                      from the non-target mean to the target mean along w_s)
//   Mean rates         target:           m = b_{s,d} + (sep(d) / 2) w_s
//                      non-target k:     m = b_{s,d} - (sep(d) / 2) w_s + v_{s,k}
//                      probe k:          m = b_{s,d} + (lambda(d) - 1/2) sep(d) w_s + v_{s,k'}
//   Trial response     r_{t,n} = m_n + noise * z                            (iid over trials, neurons)
//   Output             counts == true:  round(max(0, r))  (non-negative integer spike counts;
//                                         std::round, halves away from zero)
//                      counts == false: r                  (real-valued Gaussian rates)
// So the class-mean difference is sep(d) * w_s, the discriminability along w_s is
// d'(d) = sep(d) / noise, and the ideal accuracy (threshold at the midpoint of the projections)
// is Phi(d' / 2). Counts perturb this only slightly while the rates stay well above 0 (rounding
// adds variance 1/12 per neuron; clipping at 0 is rare for the default baselines).
//
// Trials of a session: target_trials target trials (stimulus 0), nontarget_trials non-target
// trials cycling through odors 1..nontarget_stimuli, probe_trials probe trials cycling through
// odors nontarget_stimuli+1 .. nontarget_stimuli+probe_stimuli; the trial order is then a random
// permutation (Philox sort keys) per session. Neurons are the same population every day (ids
// "n0".."n<N-1>"). Sessions are ordered subject-major, day-minor; keys are "M<s+1>/day<d>".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tasks/neural.h"

namespace groove::tasks {

struct NeuralLikeSpec {
  std::int64_t subjects = 2;           // mice, >= 1
  std::int64_t days = 5;               // sessions per subject (days 1..days), >= 1
  std::int64_t neurons = 40;           // neurons per session, >= 1
  std::int64_t target_trials = 40;     // target trials per session, >= 1
  std::int64_t nontarget_trials = 40;  // non-target trials per session, >= 1
  std::int64_t probe_trials = 20;      // probe trials per session, >= 0
  std::int64_t nontarget_stimuli = 4;  // distinct non-target odors, >= 1
  std::int64_t probe_stimuli = 2;      // distinct probe odors, >= 1 when probe_trials > 0
  double baseline_mean = 8.0;          // mean baseline rate on day 1
  double baseline_std = 2.0;           // spread of baselines across neurons, >= 0
  double drift = 0.5;                  // stddev of the per-day baseline random-walk step, >= 0
  double stimulus_spread = 1.0;        // stddev of per-odor offsets (orthogonal to w), >= 0
  double noise = 2.0;                  // per-trial, per-neuron noise stddev, > 0
  double separation_start = 1.0;       // separation on day 1
  double separation_growth = 1.0;      // added per day; sep(d) must be >= 0 on every day
  double probe_similarity = 0.8;       // lambda on day 1, in [0, 1]
  double probe_decay = 0.6;            // lambda shrinks by this factor per day, in [0, 1]
  bool counts = true;                  // round(max(0, rate)) counts, or Gaussian rates
  std::uint64_t seed = 0;
};

// The ground truth of a generated dataset. Per-session vectors follow dataset.sessions.
struct NeuralLikeTruth {
  std::vector<std::string> subjects;                  // "M1", "M2", ...
  std::vector<std::vector<double>> coding_direction;  // [subject][neuron], unit norm
  std::vector<std::int64_t> session_subject;          // per session: index into subjects
  std::vector<double> separation;                     // per session: sep(d), class-mean distance
  std::vector<double> probe_position;                 // per session: lambda(d)
  std::vector<double> dprime;                         // per session: sep(d) / noise
  std::vector<double> ideal_accuracy;                 // per session: Phi(d' / 2) (Gaussian model)
};

// Checks the spec (throws groove::Error naming the bad parameter) and generates the dataset;
// fills *truth when given.
NeuralDataset generate_neural_like(const NeuralLikeSpec& spec, NeuralLikeTruth* truth = nullptr);

}  // namespace groove::tasks
