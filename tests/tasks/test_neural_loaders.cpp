// Tests of the neural recording loaders (tasks/neural_loaders.h): round trips with archives and
// folders written by groove (write_npz / write_npy) and by numpy (neural_loaders_write.py), CSV
// text and files, and a groove::Error naming the file and the array / index or line / column for
// every kind of bad input.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

#include "runtime/error.h"
#include "runtime/npy.h"
#include "tasks/neural.h"
#include "tasks/neural_loaders.h"
#include "tests/common/test_util.h"

namespace groove::tasks {
namespace {

using test::TempDir;

// Expects a groove::Error whose message contains every one of the strings.
#define EXPECT_NEURAL_ERROR(statement, ...) \
  EXPECT_TRUE(test::throws_mentioning([&] { (void)(statement); }, {__VA_ARGS__}))

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

Tensor f64(const Shape& shape, const std::vector<double>& values) {
  return Tensor::from_vector<double>(shape, values);
}
Tensor f32(const Shape& shape, const std::vector<float>& values) {
  return Tensor::from_vector<float>(shape, values);
}
Tensor i32(const std::vector<std::int32_t>& values) {
  return Tensor::from_vector<std::int32_t>({static_cast<std::int64_t>(values.size())}, values);
}
Tensor f64v(const std::vector<double>& values) {
  return f64({static_cast<std::int64_t>(values.size())}, values);
}

std::vector<double> responses(const NeuralSession& s) {
  return s.responses.to_vector<double>();
}

std::vector<std::string> keys(const NeuralDataset& d) {
  std::vector<std::string> out;
  for (const NeuralSession& s : d.sessions) out.push_back(s.key);
  return out;
}

std::vector<std::string> ids(std::initializer_list<const char*> names) {
  return std::vector<std::string>(names.begin(), names.end());
}

std::vector<std::int32_t> unknown(std::size_t n) {
  return std::vector<std::int32_t>(n, -1);
}

// Two sessions: responses_0 [3, 2], labels_0; responses_1 [2, 3], labels_1.
std::vector<NamedTensor> base_arrays() {
  return {{"responses_0", f64({3, 2}, {1, 2, 3, 4, 5, 6})},
          {"labels_0", i32({1, 0, 2})},
          {"responses_1", f64({2, 3}, {7, 8, 9, 10, 11, 12})},
          {"labels_1", i32({0, 1})}};
}

std::vector<NamedTensor> with(std::vector<NamedTensor> arrays, const std::string& name, const Tensor& t) {
  for (NamedTensor& a : arrays) {
    if (a.name == name) {
      a.tensor = t;
      return arrays;
    }
  }
  arrays.push_back({name, t});
  return arrays;
}

std::vector<NamedTensor> without(std::vector<NamedTensor> arrays, const std::string& name) {
  std::vector<NamedTensor> out;
  for (NamedTensor& a : arrays) {
    if (a.name != name) out.push_back(std::move(a));
  }
  return out;
}

// ---- NPZ: round trips ----------------------------------------------------------------------

TEST(NeuralNpzLoader, DefaultsWithoutSubjectDayOrNames) {
  TempDir dir;
  const std::string p = dir.file("rec.npz");
  write_npz(p, base_arrays());
  const NeuralDataset d = load_neural_npz(p);
  EXPECT_EQ(d.source, p);
  ASSERT_EQ(d.sessions.size(), 2u);
  EXPECT_EQ(keys(d), ids({"S0/day1", "S0/day2"}));
  const NeuralSession& a = d.sessions[0];
  EXPECT_EQ(a.subject, "S0");
  EXPECT_EQ(a.day, 1);
  EXPECT_EQ(a.responses.dtype(), DType::f64);
  EXPECT_EQ(a.responses.shape(), Shape({3, 2}));
  EXPECT_EQ(responses(a), (std::vector<double>{1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(a.labels, (std::vector<std::int32_t>{1, 0, 2}));
  EXPECT_EQ(a.stimulus, unknown(3));
  EXPECT_EQ(a.neuron_ids, ids({"n0", "n1"}));
  const NeuralSession& b = d.sessions[1];
  EXPECT_EQ(b.day, 2);
  EXPECT_EQ(b.responses.shape(), Shape({2, 3}));
  EXPECT_EQ(responses(b), (std::vector<double>{7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(b.neuron_ids, ids({"n0", "n1", "n2"}));
  EXPECT_NO_THROW(d.validate("reloaded"));
}

TEST(NeuralNpzLoader, SubjectsDaysStimuliNamesAndOrder) {
  TempDir dir;
  // Archive order: (subject 1, day 5), (0, 7), (1, 2); loaded order: subject id, then day.
  std::vector<NamedTensor> arrays = {
      {"responses_0", f32({2, 2}, {0.5f, 1.5f, 2.5f, 3.5f})},
      {"labels_0", f32({2}, {1, 0})},  // whole-number floats
      {"stimulus_0", i32({4, 0})},
      {"responses_1", Tensor::from_vector<std::int32_t>({1, 3}, {3, 0, 12})},  // integer counts
      {"labels_1", i32({2})},
      {"responses_2", f64({3, 1}, {-1.25, 0, 1e300})},
      {"labels_2", i32({0, 0, 0})},  // no target trial: allowed
      {"stimulus_2", f64v({2, 2, 9})},
      {"subject", i32({1, 0, 1})},
      {"day", f64v({5, 7, 2})},
  };
  for (NpzCompression c : {NpzCompression::stored, NpzCompression::deflated}) {
    const std::string p = dir.file(c == NpzCompression::stored ? "stored.npz" : "deflated.npz");
    write_npz(p, arrays, c);
    const std::string json = p.substr(0, p.size() - 4) + ".neural.json";
    write_text(json, R"({"subjects": ["Ann", "Bob", "unused"], "neurons": {"2": ["left"], "0": ["a", "b"]}})");
    SCOPED_TRACE(p);
    const NeuralDataset d = load_neural_npz(p);
    EXPECT_EQ(keys(d), ids({"Ann/day7", "Bob/day2", "Bob/day5"}));
    ASSERT_EQ(d.sessions.size(), 3u);
    const NeuralSession& s0 = d.sessions[0];  // archive session 1
    EXPECT_EQ(s0.subject, "Ann");
    EXPECT_EQ(s0.day, 7);
    EXPECT_EQ(responses(s0), (std::vector<double>{3, 0, 12}));
    EXPECT_EQ(s0.labels, std::vector<std::int32_t>{2});
    EXPECT_EQ(s0.stimulus, unknown(1));
    EXPECT_EQ(s0.neuron_ids, ids({"n0", "n1", "n2"}));
    const NeuralSession& s1 = d.sessions[1];  // archive session 2
    EXPECT_EQ(s1.subject, "Bob");
    EXPECT_EQ(s1.day, 2);
    EXPECT_EQ(responses(s1), (std::vector<double>{-1.25, 0, 1e300}));
    EXPECT_EQ(s1.labels, (std::vector<std::int32_t>{0, 0, 0}));
    EXPECT_EQ(s1.stimulus, (std::vector<std::int32_t>{2, 2, 9}));
    EXPECT_EQ(s1.neuron_ids, ids({"left"}));
    const NeuralSession& s2 = d.sessions[2];  // archive session 0
    EXPECT_EQ(s2.day, 5);
    EXPECT_EQ(responses(s2), (std::vector<double>{0.5, 1.5, 2.5, 3.5}));
    EXPECT_EQ(s2.labels, (std::vector<std::int32_t>{1, 0}));
    EXPECT_EQ(s2.stimulus, (std::vector<std::int32_t>{4, 0}));
    EXPECT_EQ(s2.neuron_ids, ids({"a", "b"}));
  }
}

TEST(NeuralNpzLoader, SubjectsAreOrderedByIdNotByName) {
  TempDir dir;
  const std::string p = dir.file("ids.npz");
  write_npz(p, with(with(base_arrays(), "subject", i32({10, 2})), "day", i32({-3, 0})));
  const NeuralDataset d = load_neural_npz(p);
  EXPECT_EQ(keys(d), ids({"S2/day0", "S10/day-3"}));
  EXPECT_EQ(d.sessions[0].responses.shape(), Shape({2, 3}));
  // Same subject: sorted by day; many sessions sort numerically (responses_10 after responses_9).
  std::vector<NamedTensor> many;
  std::vector<double> days;
  for (int i = 0; i < 12; ++i) {
    many.push_back({"responses_" + std::to_string(i), f64({1, 1}, {static_cast<double>(i)})});
    many.push_back({"labels_" + std::to_string(i), i32({1})});
    days.push_back(100 - i);
  }
  many.push_back({"day", f64v(days)});
  const std::string q = dir.file("many.npz");
  write_npz(q, many);
  const NeuralDataset m = load_neural_npz(q);
  ASSERT_EQ(m.sessions.size(), 12u);
  for (int k = 0; k < 12; ++k) {
    EXPECT_EQ(m.sessions[static_cast<std::size_t>(k)].day, 89 + k);
    EXPECT_EQ(responses(m.sessions[static_cast<std::size_t>(k)]), std::vector<double>{11.0 - k});
  }
}

TEST(NeuralNpzLoader, FolderOfNpyFiles) {
  TempDir dir;
  const std::string folder = dir.file("rec");
  std::filesystem::create_directory(folder);
  for (const NamedTensor& a : with(base_arrays(), "stimulus_1", i32({3, 1}))) {
    write_npy(folder + "/" + a.name + ".npy", a.tensor);
  }
  write_text(folder + "/README.txt", "other files are ignored");
  write_text(folder + "/neural.json", R"({"subjects": ["Zed"], "neurons": {"1": ["x", "y", "z"]}})");
  const NeuralDataset d = load_neural_npz(folder);
  EXPECT_EQ(d.source, folder);
  EXPECT_EQ(keys(d), ids({"Zed/day1", "Zed/day2"}));
  EXPECT_EQ(d.sessions[1].neuron_ids, ids({"x", "y", "z"}));
  EXPECT_EQ(d.sessions[1].stimulus, (std::vector<std::int32_t>{3, 1}));
  EXPECT_EQ(d.sessions[0].neuron_ids, ids({"n0", "n1"}));
  EXPECT_EQ(responses(d.sessions[1]), (std::vector<double>{7, 8, 9, 10, 11, 12}));
}

// ---- NPZ: bad input ------------------------------------------------------------------------

class NeuralNpzErrors : public ::testing::Test {
 protected:
  std::string npz(const std::vector<NamedTensor>& arrays, const std::string& name = "rec.npz") {
    const std::string path = dir.file(name);
    write_npz(path, arrays);
    return path;
  }
  std::string folder(const std::vector<NamedTensor>& arrays, const std::string& name = "folder") {
    const std::string path = dir.file(name);
    std::filesystem::create_directory(path);
    for (const NamedTensor& a : arrays) write_npy(path + "/" + a.name + ".npy", a.tensor);
    return path;
  }
  TempDir dir;
};

TEST_F(NeuralNpzErrors, SessionArraysWithoutResponses) {
  std::string p = npz(with(base_arrays(), "labels_2", i32({0})));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'labels_2'", "has no responses_2",
                      "arrays present: 'labels_0', 'labels_1', 'labels_2', 'responses_0', 'responses_1'");
  p = npz(with(base_arrays(), "stimulus_5", i32({0})), "stim.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "stimulus_5 has no responses_5");
  const std::string f = folder(with(base_arrays(), "labels_3", i32({0})));
  EXPECT_NEURAL_ERROR(load_neural_npz(f), f + "/labels_3.npy", "has no responses_3",
                      "no responses_3.npy in the folder");
}

TEST_F(NeuralNpzErrors, NoSessionsGapsAndMissingLabels) {
  std::string p = npz({{"subject", i32({0})}, {"day", i32({1})}});
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "no sessions", "missing array 'responses_0'",
                      "arrays present: 'day', 'subject'");
  p = npz(without(without(base_arrays(), "responses_0"), "labels_0"), "gap0.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "missing array 'responses_0'", "without gaps", "responses_1");
  std::vector<NamedTensor> gap = base_arrays();
  gap.push_back({"responses_3", f64({1, 1}, {1})});
  gap.push_back({"labels_3", i32({1})});
  p = npz(gap, "gap.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "missing array 'responses_2'", "without gaps",
                      "the highest is responses_3");
  p = npz(without(base_arrays(), "labels_1"), "nolabels.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "missing array 'labels_1' for responses_1",
                      "arrays present: 'labels_0', 'responses_0', 'responses_1'");
  const std::string f = folder(without(base_arrays(), "labels_0"));
  EXPECT_NEURAL_ERROR(load_neural_npz(f), f, "missing array 'labels_0'", "no labels_0.npy");
  const std::string empty = dir.file("empty");
  std::filesystem::create_directory(empty);
  EXPECT_NEURAL_ERROR(load_neural_npz(empty), empty, "no sessions", "arrays present: (none)");
}

TEST_F(NeuralNpzErrors, UnknownMembersListWhatIsPresent) {
  std::string p = npz(with(base_arrays(), "response_2", f64({1, 1}, {1})));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "unexpected array 'response_2'", "responses_<i>",
                      "arrays present: 'labels_0', 'labels_1', 'response_2', 'responses_0', 'responses_1'");
  p = npz(with(base_arrays(), "subjects", i32({0, 0})), "subjects.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "unexpected array 'subjects'", ".neural.json");
  p = npz(with(base_arrays(), "labels_x", i32({0})), "labx.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "unexpected array 'labels_x'");
  p = npz(with(base_arrays(), "responses_01", f64({1, 1}, {1})), "zero.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'responses_01'", "leading zero", "responses_1");
  p = npz(with(base_arrays(), "labels_1234567890", i32({0})), "huge.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "labels_1234567890", "too large");
  const std::string f = folder(with(base_arrays(), "X_train", f64({1, 1}, {1})));
  EXPECT_NEURAL_ERROR(load_neural_npz(f), f + "/X_train.npy", "unexpected array file",
                      ".npy files present: 'X_train', 'labels_0'");
}

TEST_F(NeuralNpzErrors, BadResponses) {
  const double nan = std::numeric_limits<double>::quiet_NaN(), inf = std::numeric_limits<double>::infinity();
  std::string p = npz(with(base_arrays(), "responses_1", f64({6}, {1, 2, 3, 4, 5, 6})));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'responses_1'", "must be a 2-D [trials, neurons] array", "[6]");
  p = npz(with(base_arrays(), "responses_0", Tensor::host({0, 2}, DType::f64)), "empty.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "responses_0 is empty", "[0, 2]");
  p = npz(with(base_arrays(), "responses_0", Tensor::host({3, 0}, DType::f32)), "noneurons.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "responses_0 is empty", "[3, 0]");
  p = npz(with(base_arrays(), "responses_1", f64({2, 3}, {1, 2, 3, 4, 5, nan})), "nan.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'responses_1'", "responses_1[1, 2] is nan",
                      "NaN and Inf are not allowed");
  p = npz(with(base_arrays(), "responses_0", f32({3, 2}, {1, static_cast<float>(-inf), 3, 4, 5, 6})), "inf.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "responses_0[0, 1] is -inf");
}

TEST_F(NeuralNpzErrors, BadLabels) {
  std::string p = npz(with(base_arrays(), "labels_0", i32({1, 0})));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'labels_0'", "labels_0 has 2 entries but responses_0 has 3 trials");
  p = npz(with(base_arrays(), "labels_1", Tensor::from_vector<std::int32_t>({2, 1}, {0, 1})), "2d.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "labels_1 must be a 1-D array", "[2, 1]");
  p = npz(with(base_arrays(), "labels_0", i32({1, 3, 0})), "three.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "labels_0[1] = 3", "not a trial label",
                      "expected 0 nontarget, 1 target or 2 probe");
  p = npz(with(base_arrays(), "labels_1", i32({0, -1})), "neg.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "labels_1[1] = -1", "not a trial label");
  p = npz(with(base_arrays(), "labels_1", f64v({0.5, 1})), "frac.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "labels_1[0] = 0.5", "not a trial label");
  p = npz(with(base_arrays(), "labels_1", f64v({0, std::nan("")})), "nan.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "labels_1[1] = nan");
}

TEST_F(NeuralNpzErrors, BadStimuli) {
  std::string p = npz(with(base_arrays(), "stimulus_0", i32({1, 2})));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'stimulus_0'", "stimulus_0 has 2 entries but responses_0 has 3");
  p = npz(with(base_arrays(), "stimulus_0", i32({1, -1, 2})), "neg.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "stimulus_0[1] = -1", "out of range", "must be 0 .. 2^31 - 2");
  p = npz(with(base_arrays(), "stimulus_1", f64v({1, 2.5})), "frac.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "stimulus_1[1] = 2.5", "not an integer stimulus id");
  p = npz(with(base_arrays(), "stimulus_1", f64v({1, 1e12})), "big.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "stimulus_1[1] = 1e+12", "out of range");
}

TEST_F(NeuralNpzErrors, BadSubjectsAndDays) {
  std::string p = npz(with(base_arrays(), "subject", i32({0, 1, 2})));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'subject'", "subject has 3 entries but there are 2 sessions");
  p = npz(with(base_arrays(), "subject", i32({0, -2})), "neg.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "subject[1] = -2", "out of range (subject ids must be 0 .. 2^31 - 2)");
  p = npz(with(base_arrays(), "subject", f64v({0.5, 1})), "frac.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "subject[0] = 0.5", "not an integer subject id");
  p = npz(with(base_arrays(), "day", f64v({1, 2.5})), "day.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'day'", "day[1] = 2.5", "not an integer day");
  p = npz(with(base_arrays(), "day", f64v({std::nan(""), 2})), "nanday.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "day[0] = nan", "not an integer day");
  p = npz(with(base_arrays(), "day", f64v({1e20, 2})), "bigday.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "day[0] = 1e+20", "out of range");
  p = npz(with(base_arrays(), "day", Tensor::from_vector<std::int32_t>({1, 2}, {1, 2})), "day2d.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "day must be a 1-D array", "[1, 2]");
  p = npz(with(base_arrays(), "day", i32({1})), "shortday.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "day has 1 entries but there are 2 sessions (responses_0 .. responses_1)");
}

TEST_F(NeuralNpzErrors, DuplicateSessions) {
  std::vector<NamedTensor> a = base_arrays();
  a.push_back({"responses_2", f64({1, 1}, {1})});
  a.push_back({"labels_2", i32({1})});
  std::string p = npz(with(with(a, "subject", i32({4, 0, 4})), "day", i32({3, 3, 3})));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "array 'day'", "sessions 0 and 2 are both subject 'S4' (id 4), day 3",
                      "(subject, day) pair must be unique");
  p = npz(with(a, "day", i32({2, 1, 2})), "days.npz");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p, "sessions 0 and 2 are both subject 'S0' (id 0), day 2");
  // The same day for different subjects is fine.
  const NeuralDataset d =
      load_neural_npz(npz(with(with(a, "subject", i32({0, 1, 0})), "day", i32({1, 1, 2})), "ok.npz"));
  EXPECT_EQ(keys(d), ids({"S0/day1", "S0/day2", "S1/day1"}));
}

TEST_F(NeuralNpzErrors, BadNamesFile) {
  const std::string p = npz(with(base_arrays(), "subject", i32({0, 2})));
  const std::string json = dir.file("rec.neural.json");
  EXPECT_NO_THROW(load_neural_npz(p));
  write_text(json, R"({"subjects": ["a", "b"]})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p + ": array 'subject'", "subject[1] = 2", json, "names only 2 subjects");
  write_text(json, R"({"subjects": ["a", )");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "not valid JSON", "expected an object like");
  write_text(json, R"(["a", "b"])");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "expected a JSON object", "not a JSON array");
  write_text(json, R"({"subject": ["a", "b", "c"]})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "unknown key 'subject'", "\"subjects\" and \"neurons\"");
  write_text(json, R"({"subjects": "abc"})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "subjects must be a list of strings", "not a JSON string");
  write_text(json, R"({"subjects": ["a", 1, "c"]})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "subjects[1] is a number, not a string");
  write_text(json, R"({"subjects": ["a", " ", "c"]})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "subjects[1] is an empty name");
  write_text(json, R"({"subjects": ["a", "b", "a"]})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "subjects names 'a' twice (entries 0 and 2)");
  write_text(json, R"({"neurons": ["a"]})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "neurons must be an object", "not a JSON array");
  write_text(json, R"({"neurons": {"first": ["a", "b"]}})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "neurons key 'first' is not a session index");
  write_text(json, R"({"neurons": {"01": ["a", "b"]}})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "neurons key '01' is not a session index");
  write_text(json, R"({"neurons": {"2": ["a"]}})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "neurons names session 2 but the archive has 2 sessions");
  write_text(json, R"({"neurons": {"1": ["a", "b"]}})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "neurons[\"1\"] has 2 names but responses_1 has 3 neurons");
  write_text(json, R"({"neurons": {"0": ["a", "a"]}})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "neurons[\"0\"] names 'a' twice");
  write_text(json, R"({"neurons": {"0": "ab"}})");
  EXPECT_NEURAL_ERROR(load_neural_npz(p), json, "neurons[\"0\"] must be a list of strings");
  // Without a subject array every session is subject 0, named by subjects[0].
  const std::string q = npz(base_arrays(), "nosubject.npz");
  write_text(dir.file("nosubject.neural.json"), R"({"subjects": []})");
  EXPECT_NEURAL_ERROR(load_neural_npz(q), q, "subject id 0 (no subject array)", "names only 0 subjects");
  write_text(dir.file("nosubject.neural.json"), R"({"subjects": ["only"]})");
  EXPECT_EQ(keys(load_neural_npz(q)), ids({"only/day1", "only/day2"}));
}

TEST_F(NeuralNpzErrors, UnreadableFiles) {
  EXPECT_NEURAL_ERROR(load_neural_npz(dir.file("absent.npz")), dir.file("absent.npz"));
  const std::string p = npz(base_arrays());
  std::string bytes;
  {
    std::ifstream in(p, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  write_text(p, bytes.substr(0, bytes.size() / 2));
  EXPECT_NEURAL_ERROR(load_neural_npz(p), p);
  const std::string f = folder(base_arrays());
  write_text(f + "/labels_1.npy", "not an npy file");
  EXPECT_NEURAL_ERROR(load_neural_npz(f), f + "/labels_1.npy");
}

// ---- CSV: round trips ----------------------------------------------------------------------

NeuralDataset parse(const std::string& text, const NeuralCsvOptions& options = {}) {
  return parse_neural_csv(text, "mem.csv", options);
}

TEST(NeuralCsvLoader, SessionsLabelsStimuliAndPerSessionNeurons) {
  // Sessions: (M2, 3) lines 2 and 5, (M1, 1) line 3, (M2, 1) line 4, (M1, 10) line 6.
  const std::string text =
      "subject,day,label,odor,n1,n2,n3\n"
      "M2,3,target,7,1,,3\n"
      "M1,1,nontarget,0,4,5,6\n"
      "M2,1,probe,2,7,8,\n"
      "M2,3,Non-Target,7,10,,12\n"
      "M1,10, TARGET ,1,,,0.5\n";
  NeuralCsvOptions o;
  o.stimulus_column = "odor";
  const NeuralDataset d = parse(text, o);
  EXPECT_EQ(d.source, "mem.csv");
  // Subjects in order of first appearance (M2 first), days ascending within a subject.
  EXPECT_EQ(keys(d), ids({"M2/day1", "M2/day3", "M1/day1", "M1/day10"}));
  const NeuralSession& a = d.sessions[0];
  EXPECT_EQ(a.subject, "M2");
  EXPECT_EQ(a.day, 1);
  EXPECT_EQ(a.neuron_ids, ids({"n1", "n2"}));
  EXPECT_EQ(responses(a), (std::vector<double>{7, 8}));
  EXPECT_EQ(a.labels, std::vector<std::int32_t>{2});
  EXPECT_EQ(a.stimulus, std::vector<std::int32_t>{2});
  const NeuralSession& b = d.sessions[1];
  EXPECT_EQ(b.neuron_ids, ids({"n1", "n3"}));
  EXPECT_EQ(b.responses.shape(), Shape({2, 2}));
  EXPECT_EQ(responses(b), (std::vector<double>{1, 3, 10, 12}));
  EXPECT_EQ(b.labels, (std::vector<std::int32_t>{1, 0}));
  EXPECT_EQ(b.stimulus, (std::vector<std::int32_t>{7, 7}));
  const NeuralSession& c = d.sessions[2];
  EXPECT_EQ(c.neuron_ids, ids({"n1", "n2", "n3"}));
  EXPECT_EQ(responses(c), (std::vector<double>{4, 5, 6}));
  EXPECT_EQ(c.labels, std::vector<std::int32_t>{0});
  EXPECT_EQ(c.stimulus, std::vector<std::int32_t>{0});
  const NeuralSession& e = d.sessions[3];
  EXPECT_EQ(e.day, 10);
  EXPECT_EQ(e.neuron_ids, ids({"n3"}));
  EXPECT_EQ(responses(e), std::vector<double>{0.5});
  EXPECT_EQ(e.labels, std::vector<std::int32_t>{1});  // only a target trial: allowed
  EXPECT_NO_THROW(d.validate("reparsed"));
}

TEST(NeuralCsvLoader, FormatDetailsAndOptions) {
  // BOM, CRLF, blank lines, quoted cells, numeric labels ("1.0" matches "1"), days as "2.0",
  // stimulus names in order of first appearance, no stimulus column by default.
  const std::string text =
      "\xEF\xBB\xBF"
      "mouse,when,class,smell,\"a,b\",c\r\n\r\n"
      "\"M 1\",2.0,1.0,lemon, 1e-3 ,+2\r\n"
      "M 1,2,0,pine,-4,5E1\r\n"
      "   \r\n"
      "M 1,2,2,lemon,0,0";
  NeuralCsvOptions o;
  o.subject_column = "mouse";
  o.day_column = "when";
  o.label_column = "class";
  const NeuralDataset plain = [&] {
    NeuralCsvOptions p = o;
    p.neuron_columns = {"a,b", "c"};
    return parse(text, p);
  }();
  // Without neuron_columns, 'smell' would be a neuron column (and is not a number).
  EXPECT_NEURAL_ERROR(parse(text, o), "mem.csv: line 3", "column 'smell' (number 4)", "'lemon' is not a number");
  ASSERT_EQ(plain.sessions.size(), 1u);
  const NeuralSession& s = plain.sessions[0];
  EXPECT_EQ(s.key, "M 1/day2");
  EXPECT_EQ(s.neuron_ids, ids({"a,b", "c"}));
  EXPECT_EQ(responses(s), (std::vector<double>{1e-3, 2, -4, 50, 0, 0}));
  EXPECT_EQ(s.labels, (std::vector<std::int32_t>{1, 0, 2}));
  EXPECT_EQ(s.stimulus, unknown(3));

  o.stimulus_column = "smell";
  o.neuron_columns = {"c", "a,b"};  // neuron order follows the list
  const NeuralDataset named = parse(text, o);
  EXPECT_EQ(named.sessions[0].stimulus, (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(named.sessions[0].neuron_ids, ids({"c", "a,b"}));
  EXPECT_EQ(responses(named.sessions[0]), (std::vector<double>{2, 1e-3, 50, -4, 0, 0}));

  // A custom label map (keys trimmed and case-insensitive).
  NeuralCsvOptions custom;
  custom.labels.values = {{" Rewarded ", 1}, {"unrewarded", 0}, {"CATCH", 2}};
  const NeuralDataset c = parse("subject,day,label,x\nA,1,rewarded,1\nA,1,Catch,2\nA,1,UNREWARDED,3\n", custom);
  EXPECT_EQ(c.sessions[0].labels, (std::vector<std::int32_t>{1, 2, 0}));
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,target,1\n", custom), "line 2", "label 'target'",
                      "' Rewarded ', 'CATCH', 'unrewarded'");
  // Negative and zero days are integers like any other.
  EXPECT_EQ(keys(parse("subject,day,label,x\nA,0,1,1\nA,-2,0,1\n")), ids({"A/day-2", "A/day0"}));
}

TEST(NeuralCsvLoader, FileMatchesInMemoryParse) {
  TempDir dir;
  const std::string text = "subject,day,label,u,v\nM1,1,target,1,2\nM1,1,nontarget,3,4\nM1,2,probe,,5\n";
  write_text(dir.file("rec.csv"), text);
  const NeuralDataset a = load_neural_csv(dir.file("rec.csv"));
  const NeuralDataset b = parse(text);
  EXPECT_EQ(a.source, dir.file("rec.csv"));
  ASSERT_EQ(a.sessions.size(), 2u);
  EXPECT_EQ(keys(a), keys(b));
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(responses(a.sessions[i]), responses(b.sessions[i]));
    EXPECT_EQ(a.sessions[i].neuron_ids, b.sessions[i].neuron_ids);
    EXPECT_EQ(a.sessions[i].labels, b.sessions[i].labels);
  }
  EXPECT_EQ(a.sessions[1].neuron_ids, ids({"v"}));
}

TEST(NeuralCsvLoader, DocumentationExample) {
  // The CSV example of docs/data.md, "Neural recordings (groove decode input)".
  const std::string text =
      "subject,day,label,odor,n1,n2,n3\n"
      "M1,1,target,lemon,4,0,7\n"
      "M1,1,nontarget,pine,1,2,3\n"
      "M1,2,probe,mint,5,5,\n"
      "M1,2,target,lemon,6,1,\n"
      "M2,1,nontarget,lemon,0,3,2\n";
  NeuralCsvOptions o;
  o.stimulus_column = "odor";
  const NeuralDataset d = parse(text, o);
  EXPECT_EQ(keys(d), ids({"M1/day1", "M1/day2", "M2/day1"}));
  ASSERT_EQ(d.sessions.size(), 3u);
  EXPECT_EQ(d.sessions[0].neuron_ids, ids({"n1", "n2", "n3"}));
  EXPECT_EQ(d.sessions[1].neuron_ids, ids({"n1", "n2"}));
  EXPECT_EQ(responses(d.sessions[1]), (std::vector<double>{5, 5, 6, 1}));
  EXPECT_EQ(d.sessions[1].labels, (std::vector<std::int32_t>{2, 1}));
  EXPECT_EQ(d.sessions[1].stimulus, (std::vector<std::int32_t>{2, 0}));
  EXPECT_EQ(d.sessions[0].stimulus, (std::vector<std::int32_t>{0, 1}));
  EXPECT_EQ(d.sessions[2].responses.shape(), Shape({1, 3}));
}

// ---- CSV: bad input ------------------------------------------------------------------------

TEST(NeuralCsvErrors, EmptyFilesAndHeaders) {
  EXPECT_NEURAL_ERROR(parse(""), "mem.csv", "empty file");
  EXPECT_NEURAL_ERROR(parse("\n \r\n"), "mem.csv", "missing header row");
  EXPECT_NEURAL_ERROR(parse("1,2,0,5\n"), "mem.csv: line 1", "missing header row", "holds numbers");
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\n"), "mem.csv", "no data rows");
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x,day\nA,1,1,1,1\n"), "mem.csv: line 1", "names column 'day' twice",
                      "columns 2 and 5");
  TempDir dir;
  EXPECT_NEURAL_ERROR(load_neural_csv(dir.file("absent.csv")), dir.file("absent.csv"), "cannot open");
  EXPECT_NEURAL_ERROR(load_neural_csv(dir.path()), dir.path(), "not a regular file");
  write_text(dir.file("empty.csv"), "");
  EXPECT_NEURAL_ERROR(load_neural_csv(dir.file("empty.csv")), dir.file("empty.csv"), "empty file");
}

TEST(NeuralCsvErrors, ColumnsAndOptions) {
  EXPECT_NEURAL_ERROR(parse("mouse,day,label,x\nA,1,1,1\n"), "mem.csv", "unknown subject column 'subject'",
                      "'mouse', 'day', 'label', 'x'");
  EXPECT_NEURAL_ERROR(parse("subject,session,label,x\nA,1,1,1\n"), "unknown day column 'day'");
  EXPECT_NEURAL_ERROR(parse("subject,day,y,x\nA,1,1,1\n"), "unknown label column 'label'");
  NeuralCsvOptions o;
  o.stimulus_column = "odor";
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "unknown stimulus column 'odor'");
  o = {};
  o.neuron_columns = {"x", "z"};
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "unknown neuron column 'z'");
  o.neuron_columns = {"x", "x"};
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "neuron column 'x' is listed twice");
  o.neuron_columns = {"x", "day"};
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "neuron column 'day' is the day column");
  o = {};
  o.day_column = "subject";
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o),
                      "column 'subject' cannot be both the subject and the day column");
  o = {};
  o.stimulus_column = "label";
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "cannot be both the label and the stimulus column");
  o = {};
  o.label_column = "";
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "NeuralCsvOptions::label_column is empty");
  EXPECT_NEURAL_ERROR(parse("subject,day,label\nA,1,1\n"), "no neuron columns", "'subject', 'day', 'label'");
  EXPECT_NEURAL_ERROR(parse(",subject,day,label,x\n0,A,1,1,1\n"), "mem.csv: line 1", "column number 1 has no name",
                      "neuron_columns");
  o = {};
  o.labels.values = {{"target", 1}, {"odd", 3}};
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "mem.csv", "NeuralLabelMap maps 'odd' to 3",
                      "need 0 nontarget, 1 target or 2 probe");
  o.labels.values = {{"Target", 1}, {"target ", 0}};
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o),
                      "NeuralLabelMap maps 'target ' to 0 and 'Target' to 1", "case-insensitively");
  o.labels.values = {{"  ", 1}};
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "NeuralLabelMap has an empty key");
  o.labels.values = {};
  EXPECT_NEURAL_ERROR(parse("subject,day,label,x\nA,1,1,1\n", o), "NeuralLabelMap::values is empty");
}

TEST(NeuralCsvErrors, BadCells) {
  const std::string h = "subject,day,label,x,y\n";
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,2\nA,1,0,3\n"), "mem.csv: line 3",
                      "ragged row: 4 fields but the header has 5");
  EXPECT_NEURAL_ERROR(parse(h + " ,1,1,1,2\n"), "mem.csv: line 2", "column 'subject' (number 1)", "empty subject");
  EXPECT_NEURAL_ERROR(parse(h + "A,,1,1,2\n"), "line 2", "column 'day' (number 2)", "empty day");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,2\nA,2.5,1,1,2\n"), "line 3", "column 'day' (number 2)",
                      "day '2.5' is not an integer");
  EXPECT_NEURAL_ERROR(parse(h + "A,monday,1,1,2\n"), "line 2", "day 'monday' is not an integer");
  EXPECT_NEURAL_ERROR(parse(h + "A,1e20,1,1,2\n"), "line 2", "day '1e20' is too large");
  EXPECT_NEURAL_ERROR(parse(h + "A,nan,1,1,2\n"), "line 2", "day 'nan' is not an integer");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,,1,2\n"), "line 2", "column 'label' (number 3)", "empty label");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,targets,1,2\n"), "line 2", "column 'label' (number 3)",
                      "label 'targets' is not one of the labels", "'non-target'", "'probe'", "case-insensitive");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,3,1,2\n"), "line 2", "label '3' is not one of the labels");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1.5,1,2\n"), "line 2", "label '1.5' is not one of the labels");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,x2\n"), "line 2", "column 'y' (number 5)", "'x2' is not a number");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,nan,2\n"), "line 2", "column 'x' (number 4)", "'nan'", "NaN and Inf");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,-inf\n"), "line 2", "column 'y'", "'-inf'", "NaN and Inf");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,1e999\n"), "line 2", "column 'y'", "out of the range of a double");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,\"2\"x\n"), "mem.csv: line 2, character", "malformed CSV");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,\"2\n"), "mem.csv: line 2", "never closed");
}

TEST(NeuralCsvErrors, BadStimuli) {
  NeuralCsvOptions o;
  o.stimulus_column = "s";
  const std::string h = "subject,day,label,s,x\n";
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,,2\n", o), "line 2", "column 's' (number 4)", "empty stimulus");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,3,2\nA,1,0,pine,2\n", o), "mem.csv", "column 's' (number 4)",
                      "mixes numbers (line 2: '3') and names (line 3: 'pine')");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,-1,2\n", o), "line 2", "column 's'", "stimulus '-1' is negative");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,0.5,2\n", o), "line 2", "stimulus '0.5' is not an integer stimulus id");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,3e9,2\n", o), "line 2", "stimulus '3e9' is too large");
}

TEST(NeuralCsvErrors, NeuronColumnsPerSession) {
  const std::string h = "subject,day,label,x,y,z\n";
  // y has a value on line 2 but not on line 4 of session A/day1 (B/day1 on line 3 does not use y).
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,2,3\nB,1,1,1,,3\nA,1,0,4,,6\n"), "mem.csv: line 4", "column 'y' (number 5)",
                      "empty cell", "value on line 2 of the same session 'A/day1'",
                      "all of a session's rows or in none");
  // The first empty cell in file order is reported.
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,,,3\nA,1,0,4,5,6\n"), "mem.csv: line 2", "column 'x' (number 4)",
                      "value on line 3");
  EXPECT_NEURAL_ERROR(parse(h + "A,1,1,1,2,3\nA,2,1,,,\nA,2,0,,,\n"), "mem.csv", "session 'A/day2'",
                      "2 rows, first on line 3", "has no neuron values");
}

// ---- Files written by numpy and Python's csv module ----------------------------------------

TEST(NeuralLoadersPython, FilesWrittenByNumpyAndCsv) {
  if (test::python().empty()) GTEST_SKIP() << "no Python interpreter with numpy (run tools/install-deps)";
  TempDir dir;
  std::string output;
  const int rc =
      test::run_python("'" GROOVE_SOURCE_DIR "/tests/tasks/neural_loaders_write.py'", "'" + dir.path() + "'", &output);
  ASSERT_EQ(rc, 0) << "neural_loaders_write.py failed:\n" << output;

  // neural_loaders_write.py: response (archive session i, trial t, neuron j) = 100 i + 0.5 t + 0.25 j;
  // sessions (subject id, day): 0 -> (1, 4), 1 -> (0, 9), 2 -> (1, 2).
  const auto expect_savez = [](const NeuralDataset& d) {
    EXPECT_EQ(keys(d), ids({"mouse A/day9", "mouse B/day2", "mouse B/day4"}));
    ASSERT_EQ(d.sessions.size(), 3u);
    const int archive[] = {1, 2, 0};
    const std::int64_t trials[] = {5, 4, 3}, neurons[] = {3, 2, 4};
    for (std::size_t k = 0; k < 3; ++k) {
      const NeuralSession& s = d.sessions[k];
      const int i = archive[k];
      ASSERT_EQ(s.responses.shape(), Shape({trials[i], neurons[i]})) << s.key;
      for (std::int64_t t = 0; t < trials[i]; ++t) {
        for (std::int64_t j = 0; j < neurons[i]; ++j) {
          EXPECT_EQ(s.responses.flat<double>(t * neurons[i] + j), 100.0 * i + 0.5 * t + 0.25 * j) << s.key;
        }
      }
    }
    EXPECT_EQ(d.sessions[0].labels, (std::vector<std::int32_t>{0, 1, 1, 0}));
    EXPECT_EQ(d.sessions[0].stimulus, unknown(4));
    EXPECT_EQ(d.sessions[0].neuron_ids, ids({"n0", "n1"}));
    EXPECT_EQ(d.sessions[1].labels, (std::vector<std::int32_t>{2, 1, 0}));
    EXPECT_EQ(d.sessions[1].stimulus, (std::vector<std::int32_t>{5, 5, 6}));
    EXPECT_EQ(d.sessions[2].labels, (std::vector<std::int32_t>{1, 0, 2, 0, 1}));
    EXPECT_EQ(d.sessions[2].stimulus, (std::vector<std::int32_t>{0, 3, 7, 3, 0}));
    EXPECT_EQ(d.sessions[2].neuron_ids, ids({"cell-a", "cell-b", "cell-c"}));
    EXPECT_EQ(d.sessions[2].subject, "mouse B");
    EXPECT_EQ(d.sessions[2].day, 4);
  };
  {
    SCOPED_TRACE("np.savez, float32 responses, int64 labels, a names file");
    const NeuralDataset d = load_neural_npz(dir.file("np_savez.npz"));
    expect_savez(d);
    EXPECT_EQ(d.source, dir.file("np_savez.npz"));
  }
  {
    SCOPED_TRACE("a folder of np.save files with neural.json");
    expect_savez(load_neural_npz(dir.file("np_folder")));
  }
  {
    SCOPED_TRACE("np.savez_compressed: int64 counts, float64 labels, uint8 subject, default days");
    const NeuralDataset d = load_neural_npz(dir.file("np_compressed.npz"));
    EXPECT_EQ(keys(d), ids({"S0/day2", "S1/day1", "S1/day3"}));
    ASSERT_EQ(d.sessions.size(), 3u);
    EXPECT_EQ(d.sessions[0].responses.shape(), Shape({4, 2}));
    EXPECT_EQ(responses(d.sessions[0]), (std::vector<double>{10, 11, 11, 12, 12, 13, 13, 14}));
    EXPECT_EQ(d.sessions[2].labels, (std::vector<std::int32_t>{2, 1, 0}));
    EXPECT_EQ(responses(d.sessions[2]), (std::vector<double>{20, 21, 22, 23, 21, 22, 23, 24, 22, 23, 24, 25}));
  }
  EXPECT_NEURAL_ERROR(load_neural_npz(dir.file("np_strings.npz")), dir.file("np_strings.npz"), "subject",
                      "unsupported dtype", "np_strings.neural.json");
  {
    SCOPED_TRACE("the numpy example of docs/data.md");
    const NeuralDataset d = load_neural_npz(dir.file("doc_example.npz"));
    EXPECT_EQ(keys(d), ids({"M1/day1", "M1/day2"}));
    ASSERT_EQ(d.sessions.size(), 2u);
    EXPECT_EQ(d.sessions[0].responses.shape(), Shape({40, 25}));
    EXPECT_EQ(d.sessions[1].responses.shape(), Shape({38, 27}));
    EXPECT_EQ(d.sessions[1].neuron_ids.back(), "n26");
  }
  {
    SCOPED_TRACE("wide.csv from the csv module");
    NeuralCsvOptions o;
    o.stimulus_column = "odor";
    const NeuralDataset d = load_neural_csv(dir.file("wide.csv"), o);
    EXPECT_EQ(keys(d), ids({"Ann, jr/day1", "Ann, jr/day2", "Bo/day1"}));
    ASSERT_EQ(d.sessions.size(), 3u);
    EXPECT_EQ(responses(d.sessions[0]), (std::vector<double>{7, 8, 9}));
    EXPECT_EQ(d.sessions[0].neuron_ids, ids({"u1", "u2", "u3"}));
    EXPECT_EQ(d.sessions[0].labels, std::vector<std::int32_t>{0});
    EXPECT_EQ(d.sessions[0].stimulus, std::vector<std::int32_t>{0});
    EXPECT_EQ(responses(d.sessions[1]), (std::vector<double>{1.5, 3, 2.5, -1e-3}));
    EXPECT_EQ(d.sessions[1].neuron_ids, ids({"u1", "u3"}));
    EXPECT_EQ(d.sessions[1].labels, (std::vector<std::int32_t>{1, 2}));
    EXPECT_EQ(d.sessions[1].stimulus, (std::vector<std::int32_t>{0, 2}));
    EXPECT_EQ(responses(d.sessions[2]), (std::vector<double>{4, 5, 6, 10, 11, 12}));
    EXPECT_EQ(d.sessions[2].labels, (std::vector<std::int32_t>{0, 1}));
    EXPECT_EQ(d.sessions[2].stimulus, (std::vector<std::int32_t>{1, 0}));
  }
}

}  // namespace
}  // namespace groove::tasks
