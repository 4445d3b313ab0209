// Neural population data: the synthetic neural-like generator (shapes, labels, determinism, and
// its ground truth: separation along the coding direction grows with day, probes move towards the
// non-targets, decoders reach the ideal accuracy), NeuralDataset::validate, and the Neural
// Decoding Toolbox raster loader (MAT files written here with libmatio, and by scipy through
// tests/tasks/ndt_write.py), including every error it reports.
#include <gtest/gtest.h>
#include <matio.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iostream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "tasks/ndt.h"
#include "tasks/neural.h"
#include "tasks/neural_gen.h"
#include "tests/common/mat_writer.h"
#include "tests/common/test_util.h"

namespace groove {
namespace {

using tasks::NdtInfo;
using tasks::NdtOptions;
using tasks::NeuralDataset;
using tasks::NeuralLikeSpec;
using tasks::NeuralLikeTruth;
using tasks::NeuralSession;
using test::char_var;
using test::Field;
using test::labels_var;
using test::numbers;
using test::raster_var;
using test::RasterClass;
using test::strings;
using test::write_mat;

// Runs fn, expecting a groove::Error whose message contains every one of `parts`.
void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> parts) {
  try {
    fn();
    ADD_FAILURE() << "no groove::Error thrown (expected one mentioning '" << *parts.begin() << "')";
  } catch (const Error& e) {
    for (const std::string& p : parts) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << "message lacks '" << p << "': " << e.what();
    }
  }
}

double response(const NeuralSession& s, std::int64_t t, std::int64_t n) {
  return s.responses.flat<double>(t * s.responses.dim(1) + n);
}

// Mean response vector of the trials with label `label`.
std::vector<double> class_mean(const NeuralSession& s, std::int32_t label) {
  const std::int64_t trials = s.responses.dim(0), neurons = s.responses.dim(1);
  std::vector<double> mean(static_cast<std::size_t>(neurons), 0.0);
  std::int64_t count = 0;
  for (std::int64_t t = 0; t < trials; ++t) {
    if (s.labels[static_cast<std::size_t>(t)] != label) continue;
    ++count;
    for (std::int64_t n = 0; n < neurons; ++n) mean[static_cast<std::size_t>(n)] += response(s, t, n);
  }
  for (double& m : mean) m /= static_cast<double>(count);
  return mean;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double sum = 0;
  for (std::size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

// Nearest-centroid target vs non-target accuracy: centroids from the even trials, tested on the
// odd ones (the trial order is random, so this is a random split).
double nearest_centroid_accuracy(const NeuralSession& s) {
  const std::int64_t trials = s.responses.dim(0), neurons = s.responses.dim(1);
  std::vector<double> c[2];
  std::int64_t count[2] = {0, 0};
  c[0].assign(static_cast<std::size_t>(neurons), 0.0);
  c[1].assign(static_cast<std::size_t>(neurons), 0.0);
  for (std::int64_t t = 0; t < trials; t += 2) {
    const std::int32_t l = s.labels[static_cast<std::size_t>(t)];
    if (l > 1) continue;
    ++count[l];
    for (std::int64_t n = 0; n < neurons; ++n) c[l][static_cast<std::size_t>(n)] += response(s, t, n);
  }
  for (int l = 0; l < 2; ++l)
    for (double& v : c[l]) v /= static_cast<double>(count[l]);
  std::int64_t right = 0, total = 0;
  for (std::int64_t t = 1; t < trials; t += 2) {
    const std::int32_t l = s.labels[static_cast<std::size_t>(t)];
    if (l > 1) continue;
    double d[2] = {0, 0};
    for (int k = 0; k < 2; ++k)
      for (std::int64_t n = 0; n < neurons; ++n) {
        const double diff = response(s, t, n) - c[k][static_cast<std::size_t>(n)];
        d[k] += diff * diff;
      }
    right += (d[1] < d[0] ? 1 : 0) == l;
    ++total;
  }
  return static_cast<double>(right) / static_cast<double>(total);
}

// Accuracy of the ideal decoder: projection on the true coding direction, threshold at the
// midpoint of the two class means' projections.
double projection_accuracy(const NeuralSession& s, const std::vector<double>& w) {
  const double mid = 0.5 * (dot(class_mean(s, 0), w) + dot(class_mean(s, 1), w));
  const std::int64_t trials = s.responses.dim(0), neurons = s.responses.dim(1);
  std::int64_t right = 0, total = 0;
  for (std::int64_t t = 0; t < trials; ++t) {
    const std::int32_t l = s.labels[static_cast<std::size_t>(t)];
    if (l > 1) continue;
    double p = 0;
    for (std::int64_t n = 0; n < neurons; ++n) p += response(s, t, n) * w[static_cast<std::size_t>(n)];
    right += (p > mid ? 1 : 0) == l;
    ++total;
  }
  return static_cast<double>(right) / static_cast<double>(total);
}

// ---------------------------------------------------------------------------------------------
// Generator

TEST(NeuralGen, ShapesLabelsStimuliAndKeys) {
  NeuralLikeSpec spec;
  spec.subjects = 3;
  spec.days = 4;
  spec.neurons = 7;
  spec.target_trials = 5;
  spec.nontarget_trials = 9;
  spec.probe_trials = 4;
  spec.nontarget_stimuli = 3;
  spec.probe_stimuli = 2;
  spec.seed = 11;
  NeuralLikeTruth truth;
  const NeuralDataset d = tasks::generate_neural_like(spec, &truth);
  EXPECT_NO_THROW(d.validate("generated"));
  EXPECT_EQ(d.source, "neural_like");
  ASSERT_EQ(d.sessions.size(), 12u);
  for (std::int64_t s = 0; s < 3; ++s) {
    for (std::int64_t day = 1; day <= 4; ++day) {
      const NeuralSession& sess = d.sessions[static_cast<std::size_t>(s * 4 + day - 1)];
      const std::string subject = "M" + std::to_string(s + 1);
      EXPECT_EQ(sess.subject, subject);
      EXPECT_EQ(sess.day, day);
      EXPECT_EQ(sess.key, subject + "/day" + std::to_string(day));
      EXPECT_EQ(sess.responses.shape(), (Shape{18, 7}));
      EXPECT_EQ(sess.responses.dtype(), DType::f64);
      ASSERT_EQ(sess.neuron_ids.size(), 7u);
      EXPECT_EQ(sess.neuron_ids[0], "n0");
      EXPECT_EQ(sess.neuron_ids[6], "n6");
      std::map<std::int32_t, int> labels;
      std::map<std::int32_t, int> stimuli[3];
      for (std::size_t t = 0; t < sess.labels.size(); ++t) {
        ++labels[sess.labels[t]];
        ++stimuli[sess.labels[t]][sess.stimulus[t]];
      }
      EXPECT_EQ(labels[1], 5);
      EXPECT_EQ(labels[0], 9);
      EXPECT_EQ(labels[2], 4);
      // Target = odor 0; non-targets cycle through odors 1..3; probes through 4..5.
      EXPECT_EQ(stimuli[1], (std::map<std::int32_t, int>{{0, 5}}));
      EXPECT_EQ(stimuli[0], (std::map<std::int32_t, int>{{1, 3}, {2, 3}, {3, 3}}));
      EXPECT_EQ(stimuli[2], (std::map<std::int32_t, int>{{4, 2}, {5, 2}}));
    }
  }
  // The trial order is shuffled (not all targets first), differently per session.
  std::vector<std::int32_t> unshuffled(5, 1);
  unshuffled.insert(unshuffled.end(), 9, 0);
  unshuffled.insert(unshuffled.end(), 4, 2);
  EXPECT_NE(d.sessions[0].labels, unshuffled);
  EXPECT_NE(d.sessions[0].labels, d.sessions[1].labels);
  // Truth: one entry per session / subject.
  EXPECT_EQ(truth.subjects, (std::vector<std::string>{"M1", "M2", "M3"}));
  ASSERT_EQ(truth.coding_direction.size(), 3u);
  for (const auto& w : truth.coding_direction) {
    ASSERT_EQ(w.size(), 7u);
    EXPECT_NEAR(dot(w, w), 1.0, 1e-12);
  }
  ASSERT_EQ(truth.separation.size(), 12u);
  EXPECT_EQ(truth.session_subject[5], 1);
  EXPECT_DOUBLE_EQ(truth.separation[0], spec.separation_start);
  EXPECT_DOUBLE_EQ(truth.separation[3], spec.separation_start + 3 * spec.separation_growth);
  EXPECT_DOUBLE_EQ(truth.probe_position[2], spec.probe_similarity * spec.probe_decay * spec.probe_decay);
  EXPECT_DOUBLE_EQ(truth.dprime[3], truth.separation[3] / spec.noise);
  EXPECT_NEAR(truth.ideal_accuracy[3], 0.5 * std::erfc(-truth.dprime[3] / (2 * std::sqrt(2.0))), 1e-15);
}

TEST(NeuralGen, CountsAreNonNegativeIntegersAndRatesAreNot) {
  NeuralLikeSpec spec;
  spec.baseline_mean = 1.0;  // low rates: clipping at 0 happens
  spec.seed = 5;
  const NeuralDataset counts = tasks::generate_neural_like(spec);
  bool zero = false;
  for (const NeuralSession& s : counts.sessions) {
    for (std::int64_t i = 0; i < s.responses.numel(); ++i) {
      const double v = s.responses.flat<double>(i);
      ASSERT_GE(v, 0.0);
      ASSERT_EQ(v, std::round(v));
      zero = zero || v == 0.0;
    }
  }
  EXPECT_TRUE(zero);
  spec.counts = false;
  const NeuralDataset rates = tasks::generate_neural_like(spec);
  bool negative = false, fractional = false;
  for (const NeuralSession& s : rates.sessions) {
    for (std::int64_t i = 0; i < s.responses.numel(); ++i) {
      const double v = s.responses.flat<double>(i);
      negative = negative || v < 0;
      fractional = fractional || v != std::round(v);
    }
  }
  EXPECT_TRUE(negative);
  EXPECT_TRUE(fractional);
  // Counts are exactly round(max(0, rate)) of the Gaussian rates.
  for (std::size_t k = 0; k < counts.sessions.size(); ++k) {
    for (std::int64_t i = 0; i < counts.sessions[k].responses.numel(); ++i) {
      ASSERT_EQ(counts.sessions[k].responses.flat<double>(i),
                std::round(std::max(0.0, rates.sessions[k].responses.flat<double>(i))));
    }
  }
}

TEST(NeuralGen, SameSeedIsBitwiseIdenticalAndSeedsDiffer) {
  NeuralLikeSpec spec;
  spec.seed = 42;
  NeuralLikeTruth ta, tb, tc;
  const NeuralDataset a = tasks::generate_neural_like(spec, &ta);
  const NeuralDataset b = tasks::generate_neural_like(spec, &tb);
  spec.seed = 43;
  const NeuralDataset c = tasks::generate_neural_like(spec, &tc);
  ASSERT_EQ(a.sessions.size(), b.sessions.size());
  for (std::size_t k = 0; k < a.sessions.size(); ++k) {
    EXPECT_TRUE(test::bitwise_equal(a.sessions[k].responses, b.sessions[k].responses)) << a.sessions[k].key;
    EXPECT_EQ(a.sessions[k].labels, b.sessions[k].labels);
    EXPECT_EQ(a.sessions[k].stimulus, b.sessions[k].stimulus);
    EXPECT_FALSE(test::bitwise_equal(a.sessions[k].responses, c.sessions[k].responses)) << a.sessions[k].key;
    EXPECT_NE(a.sessions[k].labels, c.sessions[k].labels);
  }
  EXPECT_EQ(ta.coding_direction, tb.coding_direction);
  EXPECT_NE(ta.coding_direction, tc.coding_direction);
  EXPECT_NE(ta.coding_direction[0], ta.coding_direction[1]);  // one direction per subject
}

// The data carries the truth: the class-mean difference is separation * w (up to sampling
// noise), so separation along w grows with day, and decoders improve from the first to the last
// day and match the ideal accuracy the truth predicts.
TEST(NeuralGen, SeparationAlongTheCodingDirectionGrowsWithDay) {
  NeuralLikeSpec spec;
  spec.subjects = 2;
  spec.days = 5;
  spec.neurons = 30;
  spec.target_trials = 300;
  spec.nontarget_trials = 300;
  spec.probe_trials = 0;
  spec.probe_stimuli = 0;
  spec.separation_start = 0.5;
  spec.separation_growth = 1.5;
  spec.seed = 7;
  NeuralLikeTruth truth;
  const NeuralDataset d = tasks::generate_neural_like(spec, &truth);
  // Sampling stddev of a class-mean difference along one unit direction.
  const double se = spec.noise * std::sqrt(2.0 / 300.0);
  for (std::int64_t s = 0; s < spec.subjects; ++s) {
    const std::vector<double>& w = truth.coding_direction[static_cast<std::size_t>(s)];
    double previous = -1;
    std::vector<double> centroid_acc;
    for (std::int64_t day = 1; day <= spec.days; ++day) {
      const std::size_t k = static_cast<std::size_t>(s * spec.days + day - 1);
      const NeuralSession& sess = d.sessions[k];
      const std::vector<double> mt = class_mean(sess, 1), mn = class_mean(sess, 0);
      std::vector<double> diff(mt.size());
      for (std::size_t n = 0; n < diff.size(); ++n) diff[n] = mt[n] - mn[n];
      const double along = dot(diff, w);
      EXPECT_NEAR(along, truth.separation[k], 5 * se) << sess.key;
      // Nothing but noise off the coding direction: |diff - along w|^2 ~ se^2 (N - 1).
      std::vector<double> off = diff;
      for (std::size_t n = 0; n < off.size(); ++n) off[n] -= along * w[n];
      EXPECT_LT(std::sqrt(dot(off, off)), 2 * se * std::sqrt(static_cast<double>(spec.neurons))) << sess.key;
      EXPECT_GT(along, previous) << sess.key;
      previous = along;
      // The ideal projection decoder reaches the truth's accuracy (sampling sd ~ 0.02).
      EXPECT_NEAR(projection_accuracy(sess, w), truth.ideal_accuracy[k], 0.06) << sess.key;
      centroid_acc.push_back(nearest_centroid_accuracy(sess));
    }
    EXPECT_GT(centroid_acc.back(), centroid_acc.front() + 0.2) << "subject " << s;
    EXPECT_LT(centroid_acc.front(), 0.7);
    EXPECT_GT(centroid_acc.back(), 0.85);
  }
}

TEST(NeuralGen, ProbesLieBetweenTheClassesAndMoveToTheNonTargets) {
  NeuralLikeSpec spec;
  spec.subjects = 1;
  spec.days = 4;
  spec.neurons = 20;
  spec.target_trials = 1000;
  spec.nontarget_trials = 1000;
  spec.probe_trials = 1000;
  spec.separation_start = 6;
  spec.separation_growth = 0;
  spec.probe_similarity = 0.9;
  spec.probe_decay = 0.4;
  spec.counts = false;
  spec.seed = 3;
  NeuralLikeTruth truth;
  const NeuralDataset d = tasks::generate_neural_like(spec, &truth);
  const std::vector<double>& w = truth.coding_direction[0];
  double previous = 2;
  for (std::size_t k = 0; k < d.sessions.size(); ++k) {
    const NeuralSession& s = d.sessions[k];
    const double nt = dot(class_mean(s, 0), w), t = dot(class_mean(s, 1), w), p = dot(class_mean(s, 2), w);
    const double fraction = (p - nt) / (t - nt);
    EXPECT_NEAR(fraction, truth.probe_position[k], 0.06) << s.key;
    EXPECT_LT(fraction, previous);
    previous = fraction;
  }
  EXPECT_NEAR(truth.probe_position[0], 0.9, 1e-15);
  EXPECT_NEAR(truth.probe_position[3], 0.9 * 0.4 * 0.4 * 0.4, 1e-15);
}

TEST(NeuralGen, DriftMovesTheBaselinesAcrossDays) {
  NeuralLikeSpec spec;
  spec.subjects = 1;
  spec.days = 6;
  spec.neurons = 50;
  spec.separation_growth = 0;
  spec.counts = false;
  spec.seed = 9;
  const auto shift = [&](double drift) {
    spec.drift = drift;
    const NeuralDataset d = tasks::generate_neural_like(spec);
    const std::vector<double> first = class_mean(d.sessions.front(), 0), last = class_mean(d.sessions.back(), 0);
    double sq = 0;
    for (std::size_t n = 0; n < first.size(); ++n) sq += (last[n] - first[n]) * (last[n] - first[n]);
    return std::sqrt(sq / static_cast<double>(first.size()));  // rms per neuron
  };
  const double none = shift(0.0), some = shift(1.0);
  // Without drift only sampling noise (sd 2 * sqrt(2 / 40) = 0.45); with it, sqrt(5) steps of 1.
  EXPECT_LT(none, 0.7);
  EXPECT_GT(some, 1.5);
}

TEST(NeuralGen, BadSpecsAreRejected) {
  const auto bad = [](const std::function<void(NeuralLikeSpec&)>& change, const std::string& name) {
    NeuralLikeSpec spec;
    change(spec);
    expect_error([&] { tasks::generate_neural_like(spec); }, {name});
  };
  bad([](NeuralLikeSpec& s) { s.subjects = 0; }, "subjects");
  bad([](NeuralLikeSpec& s) { s.days = 0; }, "days");
  bad([](NeuralLikeSpec& s) { s.neurons = 0; }, "neurons");
  bad([](NeuralLikeSpec& s) { s.target_trials = 0; }, "target_trials");
  bad([](NeuralLikeSpec& s) { s.nontarget_trials = 0; }, "nontarget_trials");
  bad([](NeuralLikeSpec& s) { s.probe_trials = -1; }, "probe_trials");
  bad([](NeuralLikeSpec& s) { s.nontarget_stimuli = 0; }, "nontarget_stimuli");
  bad([](NeuralLikeSpec& s) { s.probe_stimuli = 0; }, "probe_stimuli");
  bad([](NeuralLikeSpec& s) { s.noise = 0; }, "noise");
  bad([](NeuralLikeSpec& s) { s.drift = -1; }, "drift");
  bad([](NeuralLikeSpec& s) { s.baseline_std = std::nan(""); }, "baseline_std");
  bad([](NeuralLikeSpec& s) { s.stimulus_spread = -0.5; }, "stimulus_spread");
  bad([](NeuralLikeSpec& s) { s.separation_growth = -1; }, "separation");
  bad([](NeuralLikeSpec& s) { s.probe_similarity = 1.5; }, "probe_similarity");
  bad([](NeuralLikeSpec& s) { s.probe_decay = -0.1; }, "probe_decay");
  // No probes needs no probe odors.
  NeuralLikeSpec spec;
  spec.probe_trials = 0;
  spec.probe_stimuli = 0;
  EXPECT_NO_THROW(tasks::generate_neural_like(spec));
}

TEST(NeuralGen, ValidateCatchesBrokenDatasets) {
  NeuralLikeSpec spec;
  spec.subjects = 1;
  spec.days = 2;
  spec.neurons = 3;
  spec.target_trials = 2;
  spec.nontarget_trials = 2;
  spec.probe_trials = 1;
  spec.probe_stimuli = 1;
  const NeuralDataset good = tasks::generate_neural_like(spec);
  EXPECT_NO_THROW(good.validate("good"));
  const auto broken = [&](const std::function<void(NeuralDataset&)>& change, std::initializer_list<std::string> parts) {
    NeuralDataset d = good;
    for (NeuralSession& s : d.sessions) s.responses = s.responses.to_host();  // deep copy
    change(d);
    expect_error([&] { d.validate("mydata"); }, parts);
  };
  broken([](NeuralDataset& d) { d.sessions.clear(); }, {"mydata", "no sessions"});
  broken([](NeuralDataset& d) { d.sessions[1].labels.pop_back(); }, {"mydata", "M1/day2", "4 labels for 5 trials"});
  broken([](NeuralDataset& d) { d.sessions[0].labels[3] = 7; }, {"M1/day1", "trial 3", "label 7"});
  broken([](NeuralDataset& d) { d.sessions[0].stimulus.push_back(0); }, {"6 stimulus ids for 5 trials"});
  broken([](NeuralDataset& d) { d.sessions[0].stimulus[1] = -2; }, {"stimulus id -2"});
  broken([](NeuralDataset& d) { d.sessions[0].neuron_ids.pop_back(); }, {"2 neuron ids for 3 neurons"});
  broken([](NeuralDataset& d) { d.sessions[1].responses.flat<double>(4) = std::nan(""); },
         {"M1/day2", "trial 1, neuron 1", "not finite"});
  broken([](NeuralDataset& d) { d.sessions[1].responses.flat<double>(0) = INFINITY; }, {"not finite"});
  broken([](NeuralDataset& d) { d.sessions[1].key = d.sessions[0].key; }, {"duplicate key 'M1/day1'"});
  broken([](NeuralDataset& d) { d.sessions[1].key.clear(); }, {"empty key"});
  broken([](NeuralDataset& d) { d.sessions[0].responses = Tensor(); }, {"responses undefined"});
  broken(
      [](NeuralDataset& d) {
        d.sessions[0].responses = Tensor::host_zeros(Shape{5, 3}, DType::f32);
      },
      {"f64 [trials, neurons]"});
  broken([](NeuralDataset& d) { d.sessions[0].responses = Tensor::host_zeros(Shape{15}, DType::f64); },
         {"f64 [trials, neurons]"});
}

// ---------------------------------------------------------------------------------------------
// NDT raster files written with libmatio

// A neuron's file: raster (row-major [trials][bins]) and label fields.
struct Neuron {
  std::string file;
  std::size_t trials = 0, bins = 0;
  std::vector<double> raster;
  std::vector<Field> fields;
};

void write_neuron(const std::string& folder, const Neuron& n, RasterClass cls = RasterClass::f64,
                  mat_ft version = MAT_FT_MAT5) {
  write_mat(folder + "/" + n.file, {raster_var(n.trials, n.bins, n.raster, cls), labels_var(n.fields)}, version);
}

// The small test study: 2 mice x 2 days x 3 neurons, 6 trials x 20 bins, count window
// [onset 8 + 2, +5) = bins [10, 15).
constexpr std::size_t kTrials = 6, kBins = 20;
NdtOptions small_options() {
  NdtOptions o;
  o.onset_bin = 8;
  o.window_start = 2;
  o.window_bins = 5;
  o.stimulus_field = "odor";
  return o;
}

struct StudySession {
  std::string mouse;
  double day;
  std::vector<std::string> labels, odors;
  std::vector<std::string> files;  // one per neuron
};

std::vector<StudySession> study_sessions() {
  return {
      {"mouseB",
       10,
       {"target", "Non-Target", "probe", "TARGET", "nontarget", "non-target"},
       {"A", "C", "P1", "A", "B", "C"},
       {"b10_z.mat", "b10_a.mat", "b10_m.mat"}},
      {"mouseA",
       10,
       {"nontarget", "target", "target", "probe", " Probe ", "nontarget"},
       {"B", "A", "A", "P1", "P2", "C"},
       {"c1.mat", "c2.mat", "c3.mat"}},
      {"mouseB",
       2,
       {"target", "nontarget", "target", "nontarget", "probe", "target"},
       {"A", "B", "A", "C", "P2", "A"},
       {"a1.mat", "a2.mat", "a3.mat"}},
      {"mouseA",
       2,
       {"probe", "target", "nontarget", "target", "nontarget", "nontarget"},
       {"P1", "A", "B", "A", "C", "B"},
       {"d1.mat", "d2.mat", "d3.mat"}},
  };
}

// Spike counts per bin of neuron `g`: small integers, deterministic.
std::vector<double> study_raster(int g) {
  std::vector<double> r(kTrials * kBins);
  for (std::size_t t = 0; t < kTrials; ++t)
    for (std::size_t b = 0; b < kBins; ++b)
      r[t * kBins + b] =
          static_cast<double>((t * 7 + b * 3 + static_cast<std::size_t>(g) * 5) % 4 == 0 ? 1 + (t + b) % 3 : 0);
  return r;
}

// Writes the study; mouseA's day is numeric, mouseB's a string ("2", "10").
void write_study(const std::string& folder, RasterClass cls = RasterClass::f64, mat_ft version = MAT_FT_MAT5) {
  int g = 0;
  for (const StudySession& s : study_sessions()) {
    for (const std::string& file : s.files) {
      Neuron n;
      n.file = file;
      n.trials = kTrials;
      n.bins = kBins;
      n.raster = study_raster(g++);
      n.fields.push_back(strings("mouse_name", std::vector<std::string>(kTrials, s.mouse)));
      if (s.mouse == "mouseA") {
        n.fields.push_back(numbers("day_of_behavior", std::vector<double>(kTrials, s.day)));
      } else {
        n.fields.push_back(strings("day_of_behavior", std::vector<std::string>(kTrials, std::to_string(int(s.day)))));
      }
      n.fields.push_back(strings("stimulus_category_with_probes", s.labels));
      n.fields.push_back(strings("odor", s.odors));
      write_neuron(folder, n, cls, version);
    }
  }
}

std::int32_t label_of(const std::string& text) {
  std::string t;
  for (char c : text)
    if (c != ' ') t.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (t == "target") return 1;
  if (t == "probe") return 2;
  return 0;
}

void check_study(const NeuralDataset& d, const NdtInfo& info) {
  // Sessions sorted by mouse, then by day numerically (2 before 10).
  ASSERT_EQ(d.sessions.size(), 4u);
  const std::vector<std::string> keys = {"mouseA/day2", "mouseA/day10", "mouseB/day2", "mouseB/day10"};
  const std::vector<std::size_t> written = {3, 1, 2, 0};  // index into study_sessions()
  const std::vector<StudySession> study = study_sessions();
  // Stimulus ids: distinct odor names, sorted.
  EXPECT_EQ(info.stimulus_names, (std::vector<std::string>{"A", "B", "C", "P1", "P2"}));
  EXPECT_EQ(info.files.size(), 12u);
  EXPECT_EQ(info.files.front(), "a1.mat");
  for (std::size_t k = 0; k < 4; ++k) {
    const NeuralSession& s = d.sessions[k];
    const StudySession& w = study[written[k]];
    EXPECT_EQ(s.key, keys[k]);
    EXPECT_EQ(s.subject, w.mouse);
    EXPECT_EQ(s.day, static_cast<std::int64_t>(w.day));
    ASSERT_EQ(s.responses.shape(), (Shape{6, 3}));
    // Neurons in file-name order.
    std::vector<std::string> files = w.files;
    std::sort(files.begin(), files.end());
    EXPECT_EQ(s.neuron_ids, files);
    for (std::size_t t = 0; t < kTrials; ++t) {
      EXPECT_EQ(s.labels[t], label_of(w.labels[t])) << s.key << " trial " << t;
      const auto& names = info.stimulus_names;
      EXPECT_EQ(s.stimulus[t], std::find(names.begin(), names.end(), w.odors[t]) - names.begin());
    }
    for (std::size_t j = 0; j < 3; ++j) {
      // The neuron's global index g in write order.
      const std::size_t pos =
          static_cast<std::size_t>(std::find(w.files.begin(), w.files.end(), files[j]) - w.files.begin());
      const std::vector<double> r = study_raster(static_cast<int>(written[k] * 3 + pos));
      for (std::size_t t = 0; t < kTrials; ++t) {
        double expected = 0;
        for (std::size_t b = 10; b < 15; ++b) expected += r[t * kBins + b];
        EXPECT_EQ(response(s, static_cast<std::int64_t>(t), static_cast<std::int64_t>(j)), expected)
            << s.key << " " << files[j] << " trial " << t;
      }
    }
  }
}

TEST(NdtLoader, ReadsCountsSessionsLabelsAndStimuli) {
  test::TempDir dir;
  write_study(dir.path());
  NdtInfo info;
  const NeuralDataset d = tasks::load_ndt_rasters(dir.path(), small_options(), &info);
  EXPECT_EQ(d.source, dir.path());
  check_study(d, info);
}

TEST(NdtLoader, HandComputedWindowAndDefaultOnset) {
  // Default options: onset bin 5000 (0-based), window [5000, 5500).
  test::TempDir dir;
  Neuron n;
  n.file = "one.mat";
  n.trials = 2;
  n.bins = 5600;
  n.raster.assign(2 * 5600, 0.0);
  for (std::size_t b : {4999u, 5000u, 5499u, 5500u, 0u, 5599u}) n.raster[b] = 1;  // trial 0: 2 inside
  n.raster[5600 + 5000] = 3;                                                      // trial 1: 3 + 4 inside
  n.raster[5600 + 5250] = 4;
  n.raster[5600 + 4999] = 9;
  n.fields = {strings("mouse_name", {"m", "m"}), numbers("day_of_behavior", {1, 1}),
              strings("stimulus_category_with_probes", {"target", "nontarget"})};
  write_neuron(dir.path(), n);
  const NeuralDataset d = tasks::load_ndt_rasters(dir.path());
  ASSERT_EQ(d.sessions.size(), 1u);
  const NeuralSession& s = d.sessions[0];
  EXPECT_EQ(s.key, "m/day1");
  EXPECT_EQ(s.responses.to_vector<double>(), (std::vector<double>{2, 7}));
  EXPECT_EQ(s.labels, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(s.stimulus, (std::vector<std::int32_t>{-1, -1}));  // no stimulus_field
  EXPECT_EQ(s.neuron_ids, (std::vector<std::string>{"one.mat"}));
  // A window before onset (window_start < 0) and a shifted one.
  NdtOptions o;
  o.window_start = -1;
  o.window_bins = 2;
  EXPECT_EQ(tasks::load_ndt_rasters(dir.path(), o).sessions[0].responses.to_vector<double>(),
            (std::vector<double>{2, 12}));
  o.window_start = 499;
  o.window_bins = 1;
  EXPECT_EQ(tasks::load_ndt_rasters(dir.path(), o).sessions[0].responses.to_vector<double>(),
            (std::vector<double>{1, 0}));
}

TEST(NdtLoader, RasterClassesSparseAndV73) {
  for (RasterClass cls : {RasterClass::f32, RasterClass::u8, RasterClass::i16, RasterClass::sparse}) {
    test::TempDir dir;
    write_study(dir.path(), cls);
    NdtInfo info;
    SCOPED_TRACE(static_cast<int>(cls));
    check_study(tasks::load_ndt_rasters(dir.path(), small_options(), &info), info);
  }
  {
    // Logical rasters (0/1 spikes).
    test::TempDir dir;
    Neuron n;
    n.file = "l.mat";
    n.trials = 3;
    n.bins = 20;
    n.raster.assign(60, 0.0);
    for (std::size_t i = 0; i < 60; i += 3) n.raster[i] = 1;
    n.fields = {strings("mouse_name", {"m", "m", "m"}), numbers("day_of_behavior", {4, 4, 4}),
                strings("stimulus_category_with_probes", {"target", "nontarget", "probe"})};
    write_neuron(dir.path(), n, RasterClass::logical);
    NdtOptions o = small_options();  // bins [10, 15)
    o.stimulus_field.clear();
    const NeuralDataset d = tasks::load_ndt_rasters(dir.path(), o);
    // Row t has ones at bins b with (t * 20 + b) % 3 == 0.
    std::vector<double> expected(3, 0.0);
    for (std::size_t t = 0; t < 3; ++t)
      for (std::size_t b = 10; b < 15; ++b) expected[t] += (t * 20 + b) % 3 == 0 ? 1 : 0;
    EXPECT_EQ(d.sessions[0].responses.to_vector<double>(), expected);
  }
  {
    // MATLAB v7.3 (HDF5) files, when libmatio has HDF5.
    test::TempDir dir;
    mat_t* probe = Mat_CreateVer(dir.file("probe.h5").c_str(), nullptr, MAT_FT_MAT73);
    if (probe == nullptr) {
      std::cout << "[ SKIPPED  ] v7.3 part: libmatio was built without HDF5\n";
      return;
    }
    Mat_Close(probe);
    std::filesystem::remove(dir.file("probe.h5"));
    write_study(dir.path(), RasterClass::f64, MAT_FT_MAT73);
    NdtInfo info;
    check_study(tasks::load_ndt_rasters(dir.path(), small_options(), &info), info);
  }
}

TEST(NdtLoader, NumericLabelsCustomValuesAndOneSessionField) {
  test::TempDir dir;
  for (int k = 0; k < 2; ++k) {
    Neuron n;
    n.file = "n" + std::to_string(k) + ".mat";
    n.trials = 4;
    n.bins = 20;
    n.raster.assign(80, 1.0);
    n.fields = {strings("mouse_name", std::vector<std::string>(4, "solo")), numbers("category", {1, 0, 2, 1}),
                numbers("odor_id", {7, 3, 12, 7})};
    write_neuron(dir.path(), n);
  }
  NdtOptions o = small_options();
  o.session_fields = {"mouse_name"};
  o.label_field = "category";
  o.label_values = {{"0", 0}, {"1", 1}, {"2", 2}};
  o.stimulus_field = "odor_id";
  NdtInfo info;
  const NeuralDataset d = tasks::load_ndt_rasters(dir.path(), o, &info);
  ASSERT_EQ(d.sessions.size(), 1u);
  EXPECT_EQ(d.sessions[0].key, "solo");
  EXPECT_EQ(d.sessions[0].day, 1);  // no day field: rank within the subject
  EXPECT_EQ(d.sessions[0].labels, (std::vector<std::int32_t>{1, 0, 2, 1}));
  // Numeric stimuli are ordered numerically: 3, 7, 12.
  EXPECT_EQ(info.stimulus_names, (std::vector<std::string>{"3", "7", "12"}));
  EXPECT_EQ(d.sessions[0].stimulus, (std::vector<std::int32_t>{1, 0, 2, 1}));
  EXPECT_EQ(d.sessions[0].responses.to_vector<double>(), std::vector<double>(8, 5.0));
}

// ---------------------------------------------------------------------------------------------
// NDT loader errors

// Writes one valid neuron file `file` (6 trials x 20 bins) with the given changes.
Neuron valid_neuron(const std::string& file) {
  Neuron n;
  n.file = file;
  n.trials = kTrials;
  n.bins = kBins;
  n.raster = study_raster(0);
  n.fields = {
      strings("mouse_name", std::vector<std::string>(kTrials, "M1")),
      numbers("day_of_behavior", std::vector<double>(kTrials, 3)),
      strings("stimulus_category_with_probes", {"target", "nontarget", "probe", "target", "nontarget", "probe"}),
      strings("odor", {"A", "B", "P", "A", "B", "P"})};
  return n;
}

Field* field(Neuron& n, const std::string& name) {
  for (Field& f : n.fields)
    if (f.name == name) return &f;
  return nullptr;
}

TEST(NdtLoader, FolderErrors) {
  expect_error([] { tasks::load_ndt_rasters("/nonexistent/groove/rasters"); },
               {"/nonexistent/groove/rasters", "does not exist"});
  test::TempDir dir;
  expect_error([&] { tasks::load_ndt_rasters(dir.path()); }, {dir.path(), "no .mat files"});
  std::ofstream(dir.file("notes.txt")) << "not a raster\n";
  expect_error([&] { tasks::load_ndt_rasters(dir.path()); }, {"no .mat files"});
  expect_error([&] { tasks::load_ndt_rasters(dir.file("notes.txt")); }, {"notes.txt", "not a folder"});
}

TEST(NdtLoader, CorruptFile) {
  test::TempDir dir;
  write_neuron(dir.path(), valid_neuron("a.mat"));
  std::ofstream(dir.file("x.mat")) << "this is a text file, not MATLAB\n";
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), small_options()); }, {"x.mat", "cannot open"});
  // Truncated MAT file.
  test::TempDir dir2;
  write_neuron(dir2.path(), valid_neuron("t.mat"));
  std::filesystem::resize_file(dir2.file("t.mat"), 300);
  expect_error([&] { tasks::load_ndt_rasters(dir2.path(), small_options()); }, {"t.mat"});
}

TEST(NdtLoader, MissingOrWrongVariables) {
  const Neuron n = valid_neuron("v.mat");
  const auto load = [](const std::string& folder) { tasks::load_ndt_rasters(folder, small_options()); };
  {
    test::TempDir dir;
    write_mat(dir.file("v.mat"), {labels_var(n.fields)});
    expect_error([&] { load(dir.path()); }, {"v.mat", "no variable 'raster_data'", "'raster_labels'"});
  }
  {
    test::TempDir dir;
    write_mat(dir.file("v.mat"), {raster_var(n.trials, n.bins, n.raster)});
    expect_error([&] { load(dir.path()); }, {"v.mat", "no variable 'raster_labels'"});
  }
  {
    test::TempDir dir;
    write_mat(dir.file("v.mat"), {char_var("raster_data", "spikes"), labels_var(n.fields)});
    expect_error([&] { load(dir.path()); }, {"v.mat", "raster_data is a char"});
  }
  {
    test::TempDir dir;
    std::vector<double> one = {1.0};
    size_t dims[2] = {1, 1};
    write_mat(dir.file("v.mat"), {raster_var(n.trials, n.bins, n.raster),
                                  Mat_VarCreate("raster_labels", MAT_C_DOUBLE, MAT_T_DOUBLE, 2, dims, one.data(), 0)});
    expect_error([&] { load(dir.path()); }, {"v.mat", "raster_labels is a double", "struct"});
  }
}

TEST(NdtLoader, MissingOrMalformedFields) {
  const auto with = [](const std::function<void(Neuron&)>& change, const NdtOptions& o,
                       std::initializer_list<std::string> parts) {
    test::TempDir dir;
    write_neuron(dir.path(), valid_neuron("ok.mat"));
    Neuron n = valid_neuron("w.mat");
    change(n);
    write_neuron(dir.path(), n);
    expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, parts);
  };
  const NdtOptions o = small_options();
  with([](Neuron& n) { n.fields.erase(n.fields.begin() + 2); }, o,
       {"w.mat", "no field 'stimulus_category_with_probes'", "'mouse_name'", "'odor'"});
  with([](Neuron& n) { n.fields.erase(n.fields.begin()); }, o, {"w.mat", "no field 'mouse_name'"});
  NdtOptions other = o;
  other.stimulus_field = "odor_name";
  with([](Neuron&) {}, other, {"ok.mat", "no field 'odor_name'"});
  // A field with the wrong number of values.
  with([](Neuron& n) { field(n, "odor")->strings.pop_back(); }, o,
       {"w.mat", "raster_labels.odor", "5 values for the 6 trials"});
  with([](Neuron& n) { field(n, "day_of_behavior")->numbers.push_back(3); }, o,
       {"w.mat", "raster_labels.day_of_behavior", "7 values"});
  // A session field that changes within a neuron.
  with([](Neuron& n) { field(n, "day_of_behavior")->numbers[4] = 4; }, o,
       {"w.mat", "'day_of_behavior' varies", "'3' on trial 0", "'4' on trial 4"});
  with([](Neuron& n) { field(n, "mouse_name")->strings[1] = "M2"; }, o, {"w.mat", "'mouse_name' varies"});
}

TEST(NdtLoader, WindowOutOfRange) {
  test::TempDir dir;
  write_neuron(dir.path(), valid_neuron("w.mat"));
  NdtOptions o = small_options();
  o.onset_bin = 18;
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"w.mat", "bins [20, 25)", "20 bins"});
  o.onset_bin = 5000;  // the default on a short raster
  o.window_start = 0;
  o.window_bins = 500;
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"w.mat", "bins [5000, 5500)", "20 bins [0, 20)"});
  o.onset_bin = 0;
  o.window_start = -1;
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"window_start", "before bin 0"});
  o.onset_bin = -3;
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"onset_bin"});
  o = small_options();
  o.window_bins = 0;
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"window_bins"});
  // The window may end exactly at the last bin.
  o = small_options();
  o.onset_bin = 15;
  o.window_start = 0;
  EXPECT_NO_THROW(tasks::load_ndt_rasters(dir.path(), o));
}

TEST(NdtLoader, NonFiniteRaster) {
  for (double bad : {std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    test::TempDir dir;
    Neuron n = valid_neuron("nan.mat");
    n.raster[2 * kBins + 12] = bad;  // trial 2, bin 12: inside [10, 15)
    write_neuron(dir.path(), n);
    expect_error([&] { tasks::load_ndt_rasters(dir.path(), small_options()); },
                 {"nan.mat", std::isnan(bad) ? "nan" : "inf", "trial 2, bin 12"});
    // Outside the count window it is never read.
    n.raster[2 * kBins + 12] = 0;
    n.raster[2 * kBins + 3] = bad;
    write_neuron(dir.path(), n);
    EXPECT_NO_THROW(tasks::load_ndt_rasters(dir.path(), small_options()));
  }
}

TEST(NdtLoader, UnknownLabel) {
  test::TempDir dir;
  Neuron n = valid_neuron("lab.mat");
  field(n, "stimulus_category_with_probes")->strings[4] = "distractor";
  write_neuron(dir.path(), n);
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), small_options()); },
               {"lab.mat", "trial 4", "'distractor'", "'non-target', 'nontarget', 'probe', 'target'"});
  NdtOptions o = small_options();
  o.label_values["distractor"] = 0;
  EXPECT_EQ(tasks::load_ndt_rasters(dir.path(), o).sessions[0].labels[4], 0);
  o.label_values["DISTRACTOR"] = 1;
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"two different labels"});
  o = small_options();
  o.label_values["odd"] = 5;
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"label_values['odd'] = 5"});
}

TEST(NdtLoader, InconsistentTrialsWithinASession) {
  {
    test::TempDir dir;
    write_neuron(dir.path(), valid_neuron("a.mat"));
    Neuron n = valid_neuron("b.mat");
    n.trials = 5;
    n.raster.resize(5 * kBins);
    for (Field& f : n.fields) {
      if (!f.strings.empty()) f.strings.pop_back();
      if (!f.numbers.empty()) f.numbers.pop_back();
    }
    write_neuron(dir.path(), n);
    expect_error([&] { tasks::load_ndt_rasters(dir.path(), small_options()); },
                 {"b.mat", "5 trials", "a.mat", "6", "M1/day3"});
  }
  {
    test::TempDir dir;
    write_neuron(dir.path(), valid_neuron("a.mat"));
    Neuron n = valid_neuron("b.mat");
    std::swap(field(n, "stimulus_category_with_probes")->strings[0],
              field(n, "stimulus_category_with_probes")->strings[1]);
    write_neuron(dir.path(), n);
    expect_error([&] { tasks::load_ndt_rasters(dir.path(), small_options()); },
                 {"b.mat", "trial 0", "a.mat", "same order"});
  }
  {
    test::TempDir dir;
    write_neuron(dir.path(), valid_neuron("a.mat"));
    Neuron n = valid_neuron("b.mat");
    field(n, "odor")->strings[3] = "Z";
    write_neuron(dir.path(), n);
    expect_error([&] { tasks::load_ndt_rasters(dir.path(), small_options()); },
                 {"b.mat", "trial 3", "odor 'Z'", "a.mat"});
    // Without a stimulus field the odors are not compared.
    NdtOptions o = small_options();
    o.stimulus_field.clear();
    EXPECT_NO_THROW(tasks::load_ndt_rasters(dir.path(), o));
  }
  {
    // Neurons of different sessions may differ in their trials.
    test::TempDir dir;
    write_neuron(dir.path(), valid_neuron("a.mat"));
    Neuron n = valid_neuron("b.mat");
    field(n, "day_of_behavior")->numbers.assign(kTrials, 4);
    std::swap(field(n, "stimulus_category_with_probes")->strings[0],
              field(n, "stimulus_category_with_probes")->strings[1]);
    write_neuron(dir.path(), n);
    EXPECT_EQ(tasks::load_ndt_rasters(dir.path(), small_options()).sessions.size(), 2u);
  }
}

// ---------------------------------------------------------------------------------------------
// Files written by scipy.io.savemat (what MATLAB users and Python pipelines produce)

// neuron_field names neurons tracked across sessions; without it the file name does.
TEST(NdtLoader, NeuronField) {
  test::TempDir dir;
  for (const char* file : {"a.mat", "b.mat"}) {
    Neuron n = valid_neuron(file);
    n.fields.push_back(strings("unit", std::vector<std::string>(kTrials, file[0] == 'a' ? "u7" : "u2")));
    write_neuron(dir.path(), n);
  }
  EXPECT_EQ(tasks::load_ndt_rasters(dir.path(), small_options()).sessions[0].neuron_ids,
            (std::vector<std::string>{"a.mat", "b.mat"}));
  NdtOptions o = small_options();
  o.neuron_field = "unit";
  // File-name order, named by the field.
  EXPECT_EQ(tasks::load_ndt_rasters(dir.path(), o).sessions[0].neuron_ids, (std::vector<std::string>{"u7", "u2"}));
  // Two files naming the same neuron of one session.
  Neuron n = valid_neuron("b.mat");
  n.fields.push_back(strings("unit", std::vector<std::string>(kTrials, "u7")));
  write_neuron(dir.path(), n);
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"b.mat", "'u7'", "a.mat", "M1/day3", "unique"});
  // A name that changes across trials.
  field(n, "unit")->strings[3] = "u9";
  write_neuron(dir.path(), n);
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"b.mat", "'unit' varies", "'u9' on trial 3"});
  o.neuron_field = "cell";
  expect_error([&] { tasks::load_ndt_rasters(dir.path(), o); }, {"cell"});
}

TEST(NdtLoader, ReadsFilesWrittenByScipy) {
  if (test::python().empty()) GTEST_SKIP() << "no Python interpreter with numpy (run tools/install-deps)";
  test::TempDir dir;
  std::string output;
  const int rc = test::run_python(GROOVE_SOURCE_DIR "/tests/tasks/ndt_write.py", dir.path(), &output);
  if (rc == 77) GTEST_SKIP() << "scipy is not installed: " << output;
  ASSERT_EQ(rc, 0) << output;
  NdtOptions o;
  o.onset_bin = 30;
  o.window_start = 5;
  o.window_bins = 10;
  o.stimulus_field = "stimulus_name";
  NdtInfo info;
  const NeuralDataset d = tasks::load_ndt_rasters(dir.path(), o, &info);
  // ndt_write.py: 4 files, py_0..py_3, 5 trials x 60 bins; py_0..py_2 are mouse "Mx" day 2,
  // py_3 mouse "Mx" day 1. Value of (trial t, bin b) in file f: 1 + t % 2 when
  // (31 t + 7 b + 13 f) % 17 == 0, else 0.
  EXPECT_EQ(info.files, (std::vector<std::string>{"py_0.mat", "py_1.mat", "py_2.mat", "py_3.mat"}));
  ASSERT_EQ(d.sessions.size(), 2u);
  EXPECT_EQ(d.sessions[0].key, "Mx/day1");
  EXPECT_EQ(d.sessions[1].key, "Mx/day2");
  EXPECT_EQ(d.sessions[0].neuron_ids, (std::vector<std::string>{"py_3.mat"}));
  EXPECT_EQ(d.sessions[1].neuron_ids, (std::vector<std::string>{"py_0.mat", "py_1.mat", "py_2.mat"}));
  EXPECT_EQ(info.stimulus_names, (std::vector<std::string>{"odor A", "odor B", "probe 1"}));
  for (const NeuralSession& s : d.sessions) {
    EXPECT_EQ(s.labels, (std::vector<std::int32_t>{1, 0, 2, 0, 1}));
    EXPECT_EQ(s.stimulus, (std::vector<std::int32_t>{0, 1, 2, 1, 0}));
    for (std::size_t j = 0; j < s.neuron_ids.size(); ++j) {
      const int f = s.neuron_ids[j][3] - '0';
      for (int t = 0; t < 5; ++t) {
        double expected = 0;
        for (int b = 35; b < 45; ++b) expected += (31 * t + 7 * b + 13 * f) % 17 == 0 ? 1 + t % 2 : 0;
        EXPECT_EQ(response(s, t, static_cast<std::int64_t>(j)), expected) << s.neuron_ids[j] << " trial " << t;
      }
    }
  }
}

}  // namespace
}  // namespace groove
